"""The automation tests' fixtures (databases, a copy of the example catalog), for the drift tests."""

from tests.automation.conftest import db_url, env, open_store  # noqa: F401

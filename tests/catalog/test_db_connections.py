"""Plan limits: `db_connections`, the connection limit of a tenant's database login."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybill_iac.catalog import load_catalog
from paybill_iac.model.catalog import DEFAULT_DB_CONNECTIONS, MAX_DB_CONNECTIONS, Limits

from .conftest import one_issue

STARTER = "seats: 25, db_connections: 20}"


def test_the_example_plans_set_it_each_their_own() -> None:
    catalog = load_catalog(Path(__file__).resolve().parents[2] / "stacks" / "catalog")
    limits = {plan.id: plan.limits.db_connections for plan in catalog.plans.values()}
    assert limits == {"starter": 20, "growth": 60, "enterprise": 200, "sovereign": 150}


def test_it_defaults_to_25_when_a_plan_leaves_it_out(catalog_dir: Path) -> None:
    plans = catalog_dir / "plans.yaml"
    plans.write_text(plans.read_text().replace(STARTER, "seats: 25}"))
    assert load_catalog(catalog_dir).plans["starter"].limits.db_connections == DEFAULT_DB_CONNECTIONS == 25


@pytest.mark.parametrize(("value", "words"), [
    ("0", ("must be at least 1", "(0)")),
    ("10001", ("must be at most 10000",)),
    ("true", ("expected a whole number", "the boolean true")),
    ("'20'", ("expected a whole number", "'20'")),
    ("2.5", ("expected a whole number", "2.5")),
])
def test_bad_values_name_the_plan_and_the_field(catalog_dir: Path, value: str, words: tuple[str, ...]) -> None:
    plans = catalog_dir / "plans.yaml"
    plans.write_text(plans.read_text().replace(STARTER, f"seats: 25, db_connections: {value}}}"))
    one_issue(catalog_dir, "plans.yaml", "starter", "plans.0.limits.db_connections", *words)


def test_the_ceiling_is_the_data_plane_s() -> None:
    from paybill_iac.dataplane.model import MAX_CONNECTION_LIMIT

    assert MAX_DB_CONNECTIONS == MAX_CONNECTION_LIMIT
    assert Limits.model_fields["db_connections"].default == DEFAULT_DB_CONNECTIONS

"""Alembic's environment: migrations run on the connection `paybill_iac.automation.store.migrate` hands
over (inside its transaction), with paybill's own version table."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=context.config.attributes["version_table"])
with context.begin_transaction():
    context.run_migrations()

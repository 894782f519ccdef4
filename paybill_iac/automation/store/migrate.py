"""Migrations own the state database's schema (Alembic revisions in `migrations/versions/`), and on
PostgreSQL the service's role gets the least privilege each table needs.

    ensure(connection)                  a read when the schema is current; else upgrade (on SQLite, and by an
                                        owner on PostgreSQL), or say who must run `paybill-iac migrate`
    upgrade(connection)                 to the newest revision; a database made before migrations existed
                                        (its tables, no version) is stamped at 0001 first, not created again
    revision(connection), head()        where the database is, where the code is
    grant_service_role(connection, role)   PostgreSQL: what SERVICE_PRIVILEGES says, nothing more

Who runs what on PostgreSQL: an owner role (the one that created the tables) runs `paybill-iac migrate
--service-role paybill_service`; `paybill-iac serve` connects as `paybill_service`, which may INSERT and
SELECT the journal and nothing else there (no UPDATE, DELETE, TRUNCATE, ALTER, no trigger changes: those
need the owner), and only SELECT principals and tokens (tokens are made and revoked with the owner's URL).
SQLite is the embedded default for one host: whoever can write the file owns everything in it, so there
the service's process is the boundary (agents reach the state only through the service).

This module imports nothing of the store (db.py calls it), so the migrations never see the models: each
revision spells its tables out, and `tests/service/test_migrations.py` checks they match the models.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from paybill_iac.errors import OperationError, UsageError

VERSION_TABLE = "paybill_schema_version"
FIRST = "0001"
_LOCK_KEY = 0x70617962  # "payb": one migrating process at a time on PostgreSQL

SERVICE_PRIVILEGES: dict[str, str] = {
    "paybill_journal": "SELECT, INSERT",
    "paybill_leases": "SELECT, INSERT, UPDATE, DELETE",
    "paybill_review_flags": "SELECT, INSERT, UPDATE (cleared_at, cleared_by)",
    "paybill_approvals": "SELECT, INSERT, UPDATE (status, decided_by, decided_at, used_at)",
    "paybill_workflows": "SELECT, INSERT, UPDATE (status, finished_at)",
    "paybill_workflow_steps": "SELECT, INSERT",
    "paybill_retained": "SELECT, INSERT",
    "paybill_fleet_runs": "SELECT, INSERT, UPDATE (status, halted, finished_at, owner, claimed_until)",
    "paybill_fleet_outcomes": "SELECT, INSERT, DELETE",
    "paybill_saved_plans": "SELECT, INSERT",
    "paybill_drift_reports": "SELECT, INSERT",
    "paybill_drift_seen": "SELECT, INSERT, UPDATE (op, paths, last_seen), DELETE",
    "paybill_principals": "SELECT",
    "paybill_tokens": "SELECT",
    VERSION_TABLE: "SELECT",
}
"""What the service's role may do on each table (PostgreSQL). A table missing here gets nothing."""

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes.update(connection=connection, version_table=VERSION_TABLE)
    return config


@functools.cache
def head() -> str:
    """The newest revision this code knows."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None
    return found


def revision(connection: Connection) -> str | None:
    """The revision the database is at; None when it has no version (empty, or made before migrations)."""
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def ensure(connection: Connection, url: str = "") -> None:
    """Bring the schema to head inside the caller's transaction; a read when it is there already."""
    current = revision(connection)
    if current == head():
        return
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
    try:
        upgrade(connection)
    except DBAPIError as error:
        if connection.dialect.name != "postgresql":
            raise
        raise OperationError(
            f"the state database{f' at {url}' if url else ''} is at revision {current or 'none'}, this paybill-iac "
            f"needs {head()}, and its user may not change the schema ({_first_line(error)}). The database's owner "
            "runs `paybill-iac migrate --state-url <the owner's URL> --service-role <this user>`") from None


def upgrade(connection: Connection, target: str = "head") -> None:
    """Apply every revision up to `target` inside the caller's transaction (migrations/env.py runs them on
    this connection)."""
    if revision(connection) is None and inspect(connection).has_table("paybill_journal"):
        command.stamp(_config(connection), FIRST)  # made by create_all before migrations: it holds exactly 0001
    command.upgrade(_config(connection), target)


def grant_service_role(connection: Connection, role: str) -> list[str]:
    """Give `role` exactly SERVICE_PRIVILEGES on this schema's tables (revoking anything else it had on them)
    and the sequences its inserts need; returns the statements run. PostgreSQL only."""
    if connection.dialect.name != "postgresql":
        raise UsageError("--service-role applies to PostgreSQL: on SQLite whoever writes the file owns it")
    if not _ROLE.fullmatch(role):
        raise UsageError(f"service role '{role}' is not a plain PostgreSQL role name (lowercase, digits, _)")
    exists = connection.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %(role)s", {"role": role}).first()
    if exists is None:
        raise UsageError(f"role '{role}' does not exist: create it first (CREATE ROLE {role} LOGIN PASSWORD ...)")
    owner = connection.exec_driver_sql("SELECT current_user").scalar()
    if owner == role:
        raise UsageError(f"the service role '{role}' is the user running the migration, which owns the tables: "
                         "give the service a role of its own")
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
    present = set(inspect(connection).get_table_names())
    statements = [f'GRANT USAGE ON SCHEMA "{schema}" TO {role}']
    for table in sorted(present):
        if table.startswith("paybill_"):
            statements.append(f'REVOKE ALL ON TABLE "{table}" FROM {role}')
            if table in SERVICE_PRIVILEGES:
                statements.append(f'GRANT {SERVICE_PRIVILEGES[table]} ON TABLE "{table}" TO {role}')
    for table in sorted(present & set(SERVICE_PRIVILEGES)):
        if "INSERT" not in SERVICE_PRIVILEGES[table]:
            continue
        for column in inspect(connection).get_columns(table):
            sequence = connection.exec_driver_sql("SELECT pg_get_serial_sequence(%(table)s, %(column)s)",
                                                  {"table": f'"{schema}"."{table}"',
                                                   "column": column["name"]}).scalar()
            if sequence:
                statements.append(f"GRANT USAGE ON SEQUENCE {sequence} TO {role}")
    for statement in statements:
        connection.exec_driver_sql(statement)
    return statements


def _first_line(error: Exception) -> str:
    return str(getattr(error, "orig", error)).strip().splitlines()[0]

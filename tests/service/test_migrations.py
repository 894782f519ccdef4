"""The database as a boundary: Alembic migrations own the schema (they build exactly the tables the code
declares, adopt a database made before them, and run once), and on the real PostgreSQL server the
service's role may INSERT and SELECT the journal and nothing else there."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from paybill_iac.automation.store import Store
from paybill_iac.automation.store.db import metadata
from paybill_iac.automation.store.migrate import SERVICE_PRIVILEGES, VERSION_TABLE, head, revision, upgrade
from paybill_iac.automation.store.principals import Principals  # noqa: F401 - declares its tables
from paybill_iac.errors import OperationError


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))  # a fresh schema (tests/conftest.py)


def test_the_migrations_build_exactly_the_declared_tables(any_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    Store(any_url).close()
    engine = create_engine(any_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            assert revision(conn) == head()
            differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    finally:
        engine.dispose()
    differences = [d for d in differences if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)]
    assert differences == [], "a table or column declared in the store has no migration: add a revision in " \
                              f"paybill_iac/automation/store/migrations/versions ({differences})"


def test_every_table_is_named_in_the_service_s_privileges() -> None:
    assert set(metadata.tables) | {VERSION_TABLE} == set(SERVICE_PRIVILEGES), \
        "a new table needs its line in migrate.SERVICE_PRIVILEGES (what the service's role may do on it)"
    assert SERVICE_PRIVILEGES["paybill_journal"] == "SELECT, INSERT"
    assert SERVICE_PRIVILEGES["paybill_tokens"] == SERVICE_PRIVILEGES["paybill_principals"] == "SELECT"


def test_a_database_made_before_migrations_is_adopted_not_recreated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            upgrade(conn, "0001")
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))  # as create_all left it: tables, no version
            conn.execute(text("INSERT INTO paybill_journal (op_id, event, at, actor, stack, operation, owner) "
                              "VALUES ('old', 'start', 1.0, 'human', 'paybill-tenant/acme', 'up', 'o')"))
    finally:
        engine.dispose()
    store = Store(url)
    try:
        assert [entry.op_id for entry in store.journal.entries()] == ["old"]
        with store.db.transaction() as conn:
            assert revision(conn) == head()
            columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(paybill_approvals)")}
        assert "expires_at" in columns
    finally:
        store.close()
    Store(url).close()  # and again: nothing to do


def test_sqlite_keeps_the_journal_append_only(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        store.journal.start(op_id="x", actor="human", stack="paybill-tenant/acme", tenant="acme", operation="up",
                            owner="o")
        for statement in ("UPDATE paybill_journal SET actor = 'human:forged'", "DELETE FROM paybill_journal"):
            with pytest.raises(Exception, match="append-only"), store.db.engine.begin() as conn:
                conn.exec_driver_sql(statement)
    finally:
        store.close()


def _service_role(postgres_url: str) -> tuple[str, str]:
    """A login role given the service's privileges by `paybill-iac migrate --service-role`; its URL."""
    from click.testing import CliRunner

    from paybill_iac.cli_service import migrate

    role = f"r_{uuid.uuid4().hex[:12]}"
    password = uuid.uuid4().hex
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    finally:
        engine.dispose()
    result = CliRunner().invoke(migrate, ["--state-url", postgres_url, "--service-role", role])
    assert result.exit_code == 0, result.output
    assert "journal: SELECT, INSERT only" in result.output
    return role, make_url(postgres_url).set(username=role, password=password).render_as_string(hide_password=False)


REFUSED_TO_THE_SERVICE = [
    "UPDATE paybill_journal SET actor = 'human:forged'",
    "DELETE FROM paybill_journal",
    "TRUNCATE paybill_journal",
    "ALTER TABLE paybill_journal DISABLE TRIGGER paybill_journal_append_only",
    "ALTER TABLE paybill_journal DISABLE TRIGGER ALL",
    "DROP TRIGGER paybill_journal_append_only ON paybill_journal",
    "ALTER TABLE paybill_journal ADD COLUMN forged text",
    "DROP TABLE paybill_journal",
    "SET session_replication_role = replica",
    "INSERT INTO paybill_principals (name, kind, role, tenants, max_changes, created_at, created_by) "
    "VALUES ('mallory', 'human', 'admin', '[\"*\"]', 1000, 0, 'x')",
    "UPDATE paybill_tokens SET revoked_at = NULL",
    "DELETE FROM paybill_tokens",
    "UPDATE paybill_approvals SET requested_by = 'agent:other'",
    "UPDATE paybill_approvals SET expires_at = 1e12",
    "DELETE FROM paybill_approvals",
    "UPDATE paybill_schema_version SET version_num = '0001'",
    "CREATE TABLE paybill_extra (id int)",
]


@pytest.mark.postgres
@pytest.mark.parametrize("statement", REFUSED_TO_THE_SERVICE, ids=lambda s: " ".join(s.split()[:4]))
def test_the_service_role_cannot(postgres_url: str, statement: str) -> None:
    _, service_url = _service_role(postgres_url)
    store = Store(service_url)  # opens at head: a read of the version, no DDL
    try:
        store.journal.start(op_id="x", actor="agent:bot", stack="paybill-tenant/acme", tenant="acme",
                            operation="up", owner="o")
        store.approvals.request(stack="paybill-tenant/acme", tenant="acme", operation="up", requested_by="agent:bot",
                                reasons=["r"], change_summary={}, plan_path="", plan_sha256="")
        with pytest.raises(Exception, match="permission denied|must be owner|must be superuser|"
                                            "permission to set|set parameter"), store.db.engine.begin() as conn:
            conn.exec_driver_sql(statement)
        [entry] = store.journal.entries()
        assert entry.actor == "agent:bot"
    finally:
        store.close()


@pytest.mark.postgres
def test_the_service_role_can_do_what_the_service_does(postgres_url: str) -> None:
    role, service_url = _service_role(postgres_url)
    store = Store(service_url)
    try:
        store.journal.start(op_id="x", actor="agent:bot", stack="paybill-tenant/acme", tenant="acme",
                            operation="up", owner="o")
        store.journal.end(op_id="x", result="succeeded")
        assert store.journal.entries()[0].result == "succeeded"
        request = store.approvals.request(stack="paybill-tenant/acme", tenant="acme", operation="up",
                                          requested_by="agent:bot", reasons=["r"], change_summary={}, plan_path="",
                                          plan_sha256="")
        assert store.approvals.approve(request, "human:alice") and store.approvals.use(request, "agent:bot")
        lease = store.leases.acquire("paybill-tenant/acme", "o", "up", "agent:bot", 30)
        assert store.leases.release("paybill-tenant/acme", lease.owner)
        store.flags.add("paybill-tenant/acme", "checked")
        assert store.clear("paybill-tenant/acme", "human:alice") == 1
        with store.db.engine.connect() as conn:
            owned = conn.exec_driver_sql("SELECT count(*) FROM pg_tables WHERE tableowner = current_user").scalar()
        assert owned == 0 and role
    finally:
        store.close()


@pytest.mark.postgres
def test_a_role_that_may_not_migrate_is_told_who_must(postgres_url: str) -> None:
    role = f"r_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'x'")
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    finally:
        engine.dispose()
    url = make_url(postgres_url).set(username=role, password="x").render_as_string(hide_password=False)
    with pytest.raises(OperationError, match="paybill-iac migrate"):
        Store(url)

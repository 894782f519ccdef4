"""Two tenants on one real PostgreSQL server: what each can and cannot do, and the lifecycle
(apply, suspend, resume, offboard, drop) with its idempotence and its recovery from a broken run.

Logins use the passwords the data plane generated. The test server trusts loopback connections (see
conftest), so every refusal asserted here is one PostgreSQL enforces whatever the authentication:
the CONNECT privilege and the LOGIN attribute.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors as pgerrors
from psycopg import sql

from paybill_iac.dataplane import (
    AdminConnection,
    InMemorySecretStore,
    LockHeld,
    TenantDatabase,
    apply,
    drop,
    offboard,
    pg_dump_hook,
    resume,
    status,
    suspend,
)
from paybill_iac.dataplane import sql as q
from tests.dataplane.conftest import Names, Server

pytestmark = pytest.mark.postgres


def login(server: Server, target: TenantDatabase, store: InMemorySecretStore, dbname: str | None = None,
          **options: Any) -> psycopg.Connection[Any]:
    """A session as the tenant's login role, with the password the data plane stored."""
    password = store.get(target.auth.secret_name)  # type: ignore[union-attr]
    return server.connect(dbname or target.database, user=target.login_role, password=password, **options)


def test_two_tenants_are_isolated(server: Server, admin: AdminConnection, store: InMemorySecretStore,
                                  names: Names, role_password_is: Any) -> None:
    a, b = names.tenant("a"), names.tenant("b")
    for target in (a, b):
        report = apply(target, admin, store)
        assert "database" in report.changed and "password" in report.changed
        # the role's SCRAM verifier is the stored password's: the password itself never reached the server
        assert role_password_is(target.login_role, store.get(target.auth.secret_name))  # type: ignore[union-attr]

    with login(server, b, store) as conn_b:
        conn_b.execute("CREATE TABLE b_secret (card text)")
        conn_b.execute("INSERT INTO b_secret VALUES ('4111-1111')")

    with login(server, a, store) as conn_a:
        # sessions start as the owner role: what the workload creates belongs to the tenant's owner
        assert conn_a.execute("SELECT session_user::text, current_user::text").fetchone() == (
            a.login_role, a.owner_role)
        conn_a.execute("CREATE TABLE a_orders (id int)")
        owner = conn_a.execute("SELECT tableowner::text FROM pg_tables WHERE tablename = 'a_orders'").fetchone()
        assert owner == (a.owner_role,)
        # B's tables are in another database: invisible, and not reachable by name
        assert conn_a.execute("SELECT count(*) FROM pg_class WHERE relname = 'b_secret'").fetchone() == (0,)
        with pytest.raises(pgerrors.FeatureNotSupported, match="cross-database references"):
            conn_a.execute(sql.SQL("SELECT * FROM {}.public.b_secret").format(sql.Identifier(b.database)))
        # no CONNECT, no TEMPORARY on B's database (pg_database is shared, so this is visible from here)
        rights = conn_a.execute(
            "SELECT has_database_privilege(session_user, %s, 'CONNECT'), "
            "has_database_privilege(session_user, %s, 'TEMP')", (b.database, b.database)).fetchone()
        assert rights == (False, False)

    # a real connection to B's database with A's credentials is refused
    with pytest.raises(psycopg.OperationalError, match=f'permission denied for database "{b.database}"'):
        login(server, a, store, dbname=b.database)

    # nothing outside its own database: not in the maintenance database's public schema, no new database
    with login(server, a, store, dbname=server.dbname) as conn:
        with pytest.raises(pgerrors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.a_escape (id int)")
        with pytest.raises(pgerrors.InsufficientPrivilege):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(f"dp_{names.token}_a_more")))
        with pytest.raises(pgerrors.InsufficientPrivilege):
            conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(f"dp_{names.token}_a_friend")))

    # PUBLIC lost CONNECT: a role that is neither tenant cannot open A's database either
    stranger = f"dp_{names.token}_stranger"
    with server.connect() as su:
        su.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(stranger)))
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        server.connect(a.database, user=stranger)

    # and B's data is intact and B works
    with login(server, b, store) as conn_b:
        assert conn_b.execute("SELECT card FROM b_secret").fetchall() == [("4111-1111",)]

    seen = status(a, admin, store)
    assert seen.healthy, seen.problems
    assert seen.owner == a.owner_role and seen.public_privileges == ()
    assert seen.schema_public_owner == a.owner_role and seen.schema_public_open_to_public is False
    assert seen.logins[0].connection_limit == 5 and seen.logins[0].can_login is True
    assert seen.auth_mapping_present is True


def test_lifecycle_suspend_resume_drop(server: Server, admin: AdminConnection, store: InMemorySecretStore,
                                       names: Names) -> None:
    a, b = names.tenant("a"), names.tenant("b")
    apply(a, admin, store)
    apply(b, admin, store)
    again = apply(a, admin, store)
    assert again.changed == () and not again.changed_anything and again.statements == ()
    assert "database" in again.unchanged and "password" in again.unchanged

    open_a = login(server, a, store)
    open_b = login(server, b, store)
    try:
        report = suspend(a, admin, store)
        assert report.changed == ("login_disabled", "sessions_terminated")
        assert any("1 of 1 session(s) terminated" in note for note in report.notes)
        with pytest.raises(psycopg.OperationalError):
            open_a.execute("SELECT 1")  # its open session was terminated
        with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
            login(server, a, store)
        assert open_b.execute("SELECT 1").fetchone() == (1,)  # B keeps working, same session
        assert suspend(a, admin, store).changed == ()

        # a plan change while suspended: apply with active=False keeps A out
        report = apply(replace(a, connection_limit=9), admin, store, active=False)
        assert report.changed == ("login_attributes",)
        with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
            login(server, a, store)

        seen = status(a, admin, store)
        assert seen.logins[0].can_login is False and seen.logins[0].connection_limit == 9

        assert resume(a, admin, store).changed == ("login_enabled",)
        assert resume(a, admin, store).changed == ()
        with login(server, a, store) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        open_a.close()
        open_b.close()

    report = drop(a, admin, store)
    assert report.changed == ("login_disabled", "database_dropped", "login_role_dropped", "owner_role_dropped")
    assert drop(a, admin, store).changed == ()
    with server.connect() as su:
        left = su.execute("SELECT datname::text FROM pg_database WHERE datname LIKE %s ORDER BY 1",
                          (f"dp_{names.token}%",)).fetchall()
        roles = su.execute("SELECT rolname::text FROM pg_roles WHERE rolname LIKE %s ORDER BY 1",
                           (f"dp_{names.token}%",)).fetchall()
    assert left == [(b.database,)]
    assert roles == [(b.login_role,), (b.owner_role,)]
    with login(server, b, store) as conn_b:
        assert conn_b.execute("SELECT 1").fetchone() == (1,)


def test_a_broken_or_drifted_state_is_completed_by_the_next_apply(
        server: Server, admin: AdminConnection, store: InMemorySecretStore, names: Names) -> None:
    a = names.tenant("a")
    # a run killed right after CREATE DATABASE: the owner role and the database exist, nothing else
    with server.connect() as su:
        su.execute(q.create_role(a.owner_role, login=False).query)
        su.execute(q.create_database(a.database, a.owner_role).query)
    report = apply(a, admin, store)
    assert {"owner_role", "database"} <= set(report.unchanged)
    assert report.changed == ("database_public_revoked", "login_role", "login_member_of_owner", "login_connect",
                              "password", "login_default_role", "schema_public_owner", "schema_public_revoked")

    # grants dropped or given away, attributes changed behind our back: each step puts back its own part
    with server.connect() as su:
        su.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(
            sql.Identifier(a.database), sql.Identifier(a.login_role)))
        su.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO PUBLIC").format(sql.Identifier(a.database)))
        su.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 99 CREATEDB").format(sql.Identifier(a.login_role)))
    with server.connect(a.database) as su:
        su.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    report = apply(a, admin, store)
    assert report.changed == ("database_public_revoked", "login_attributes", "login_connect", "schema_public_revoked")
    assert f'ALTER ROLE "{a.login_role}" NOCREATEDB CONNECTION LIMIT 5' in report.statements
    assert apply(a, admin, store).changed == ()

    # the password secret lost: a new one is generated, stored first, then set
    old = store.get(a.auth.secret_name)  # type: ignore[union-attr]
    store.delete(a.auth.secret_name)  # type: ignore[union-attr]
    report = apply(a, admin, store)
    assert report.changed == ("password",)
    assert store.get(a.auth.secret_name) != old  # type: ignore[union-attr]
    with login(server, a, store) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_dry_run_lists_the_statements_and_changes_nothing(
        server: Server, admin: AdminConnection, store: InMemorySecretStore, names: Names) -> None:
    a = names.tenant("a")
    plan = apply(a, admin, store, dry_run=True)
    assert plan.dry_run and "database" in plan.changed
    assert any(text.startswith("CREATE DATABASE") for text in plan.statements)
    assert f"ALTER ROLE \"{a.login_role}\" PASSWORD '***'" in plan.statements
    assert store.names() == []  # nothing generated, nothing stored
    assert status(a, admin, store).database_exists is False
    apply(a, admin, store)
    assert apply(a, admin, store, dry_run=True).changed == ()


def test_one_operation_at_a_time_per_tenant_database(
        server: Server, admin: AdminConnection, store: InMemorySecretStore, names: Names) -> None:
    a = names.tenant("a")
    apply(a, admin, store)
    with server.connect() as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (q.lock_key(a.database),))
        with pytest.raises(LockHeld) as caught:
            suspend(a, admin, store)
        assert a.tenant in str(caught.value) and admin.endpoint in str(caught.value)
    # two concurrent applies of different tenants do not wait on each other
    errors: list[BaseException] = []

    def run(key: str) -> None:
        try:
            apply(names.tenant(key), admin, store)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(key,)) for key in ("c", "d")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []


def test_offboard_revokes_logins_dumps_and_keeps_the_database(
        server: Server, admin: AdminConnection, store: InMemorySecretStore, names: Names, tmp_path: Path) -> None:
    a = names.tenant("a")
    apply(a, admin, store)
    with login(server, a, store) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    calls: list[tuple[str, AdminConnection]] = []
    report = offboard(a, admin, store, dump=lambda db, where: calls.append((db, where)))
    assert report.changed == ("login_disabled", "final_dump")
    assert calls == [(a.database, admin.for_database(a.database))]
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        login(server, a, store)
    assert status(a, admin, store).database_exists

    pg_dump = shutil.which("pg_dump") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))), None)
    if pg_dump is None:
        pytest.skip("pg_dump is not installed: the real dump hook is not exercised")
    report = offboard(a, admin, store, dump=pg_dump_hook(tmp_path, store, pg_dump=str(pg_dump)))
    assert report.changed == ("final_dump",)
    assert (tmp_path / f"{a.database}.dump").stat().st_size > 0


def test_a_cloud_like_admin_without_superuser_runs_the_whole_lifecycle(
        server: Server, admin: AdminConnection, store: InMemorySecretStore, names: Names) -> None:
    """The clouds' admins are not superusers (RDS rds_superuser, Azure azure_pg_admin, Cloud SQL
    cloudsqlsuperuser, OCI's admin): CREATEROLE, CREATEDB and pg_signal_backend. The data plane makes
    that admin a member of each tenant's owner role, which is all it needs beyond that."""
    cloud_admin = f"dp_{names.token}_cloud_admin"
    with server.connect() as su:
        su.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB").format(sql.Identifier(cloud_admin)))
        su.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(sql.Identifier(cloud_admin)))
    limited = replace(admin, user=cloud_admin, password_secret=None)
    a, b = names.tenant("a"), names.tenant("b")
    report = apply(a, limited, store)
    assert "admin_member_of_owner" in report.changed
    assert f'GRANT "{a.owner_role}" TO CURRENT_USER' in report.statements
    apply(b, limited, store)
    assert apply(a, limited, store).changed == ()
    assert status(a, limited, store).healthy

    with login(server, a, store) as conn:
        conn.execute("CREATE TABLE orders (id int)")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        login(server, a, store, dbname=b.database)
    open_a = login(server, a, store)
    dba = server.connect(a.database)  # a superuser on the tenant's database: not the cloud admin's to end
    try:
        report = suspend(a, limited, store)
        assert report.changed == ("login_disabled", "sessions_terminated")
        with pytest.raises(psycopg.OperationalError):
            open_a.execute("SELECT 1")
        assert "1 of 2 session(s) terminated" in report.notes
        assert any(note.startswith("not terminated") and f"{dba.info.backend_pid} (" in note for note in report.notes)
        assert dba.execute("SELECT 1").fetchone() == (1,)
    finally:
        open_a.close()
        dba.close()
    assert resume(a, limited, store).changed == ("login_enabled",)
    assert drop(a, limited, store).changed == (
        "login_disabled", "database_dropped", "login_role_dropped", "owner_role_dropped")
    with login(server, b, store) as conn_b:
        assert conn_b.execute("SELECT 1").fetchone() == (1,)

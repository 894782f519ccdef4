"""`paybill-iac db ...` on the real PostgreSQL server: the catalog's tenant, its database as the data
plane keeps it, the admin connection from the environment, and the errors a user sees (no traceback,
no password).

Each test adds a tenant of its own to a copy of the example catalog (`t<token>`, so its database and
roles carry the token the `names` fixture cleans up); AWS tenants need a `rds_iam` role, which the
STAND-IN of test_clouds creates.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli_invoke import run_cli
from tests.dataplane.conftest import Names, Server
from tests.dataplane.test_clouds import ensure_rds_iam_stand_in

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
OCI_PASSWORD = "vault-made-Pa55word-never-shown"


@dataclass
class Cli:
    catalog: Path
    tenant: str
    env: dict[str, str]

    def names(self, tag: str = "p") -> tuple[str, str]:
        base = f"pb_{self.tenant}_{tag}"
        return f"{base}_db", f"{base}_app"


Run = Callable[..., tuple[int, str, str]]


def _tenant_file(catalog: Path, tenant: str, *, plan: str = "starter", cloud: str = "aws",
                 region: str = "eu-west-1", state: str = "active") -> None:
    (catalog / "tenants" / f"{tenant}.yaml").write_text(
        f"id: {tenant}\nname: Test tenant\nplan: {plan}\ncloud: {cloud}\nregion: {region}\nstate: {state}\n"
        "subscription: {seats: 5, start: 2026-01-01}\n")


def admin_env(server: Server) -> dict[str, str]:
    """PAYBILL_DB_* for the test server (its password, if any, through the env secret store)."""
    env = {"PAYBILL_DB_ADMIN_URL": f"postgresql://{server.user}@{server.host}:{server.port}/{server.dbname}"
                                   f"?sslmode={server.sslmode}"}
    if server.password:
        env.update(PAYBILL_DB_ADMIN_SECRET="admin", PAYBILL_SECRET_ADMIN=server.password)
    return env


@pytest.fixture
def cli(tmp_path: Path, names: Names, server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    ensure_rds_iam_stand_in(server)
    catalog = tmp_path / "catalog"
    shutil.copytree(REPO / "stacks" / "catalog", catalog)
    tenant = f"t{names.token}"
    _tenant_file(catalog, tenant)
    for name in [name for name in os.environ if name.startswith(("PAYBILL_DB_", "PAYBILL_SECRET_"))]:
        monkeypatch.delenv(name)
    env = admin_env(server)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield Cli(catalog, tenant, env)


@pytest.fixture
def run(cli: Cli, capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: str, tenant: str | None = None) -> tuple[int, str, str]:
        code, out, err = run_cli(capsys, "db", *args, "--tenant", tenant or cli.tenant, "--catalog", str(cli.catalog))
        # The first line names the project the command used; the messages under test follow it.
        assert err.startswith("paybill-iac: "), err
        return code, out, err.split("\n", 1)[1]

    return invoke


def test_apply_twice_then_status(run: Run, cli: Cli, server: Server) -> None:
    database, login = cli.names()
    code, out, err = run("apply")
    assert code == 0, err
    assert out.startswith(f"apply tenant '{cli.tenant}' database '{database}' on {server.host}:{server.port}: "
                          "changed owner_role, database, database_public_revoked, login_role")
    assert "auth_rds_iam" in out
    code, out, _ = run("apply")
    assert code == 0 and "changed nothing (everything already in place)" in out.splitlines()[0]
    assert "changed" not in out.split("\n", 1)[1]  # every step in place
    code, out, _ = run("status", "--format", "json")
    found = json.loads(out)
    assert code == 0 and found["healthy"] and found["problems"] == []
    assert (found["database"], found["owner"], found["public_privileges"]) == (database, f"pb_{cli.tenant}_p_owner", [])
    [role] = found["logins"]
    assert (role["role"], role["can_login"], role["connection_limit"]) == (login, True, 20)  # the starter plan's
    assert found["auth"] == "rds_iam membership" and found["auth_mapping_present"] is True
    code, out, _ = run("status")
    assert code == 0 and out.splitlines()[0].endswith(": healthy") and f"role {login}" in out


def test_dry_run_lists_the_sql_and_changes_nothing(run: Run, cli: Cli, superuser: psycopg.Connection[Any]) -> None:
    database, login = cli.names()
    code, out, _ = run("apply", "--dry-run")
    assert code == 0 and "would change owner_role" in out and "SQL that would run:" in out
    assert f'CREATE DATABASE "{database}" OWNER' in out and f'GRANT "rds_iam" TO "{login}"' in out
    assert superuser.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None
    code, out, _ = run("apply", "--dry-run", "--format", "json")
    assert code == 0 and json.loads(out)["dry_run"] is True


def test_suspend_ends_the_open_session_and_refuses_logins_until_resume(run: Run, cli: Cli, server: Server) -> None:
    database, login = cli.names()
    assert run("apply")[0] == 0
    session = server.connect(dbname=database, user=login)
    assert session.execute("SELECT current_user").fetchone() == (f"pb_{cli.tenant}_p_owner",)
    code, out, _ = run("suspend")
    assert code == 0 and "login_disabled" in out and "note: 1 of 1 session(s) terminated" in out
    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    session.close()
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        server.connect(dbname=database, user=login)
    code, out, _ = run("status", "--format", "json")
    assert code == 0 and json.loads(out)["logins"][0]["can_login"] is False
    assert "changed nothing" in run("suspend")[1]
    code, out, _ = run("resume")
    assert code == 0 and "changed login_enabled" in out
    with server.connect(dbname=database, user=login) as again:
        assert again.execute("SELECT 1").fetchone() == (1,)


def test_a_suspended_tenant_is_applied_with_its_logins_off_and_not_resumed_by_hand(
        run: Run, cli: Cli, server: Server) -> None:
    _tenant_file(cli.catalog, cli.tenant, state="suspended")
    database, login = cli.names()
    assert run("apply")[0] == 0
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        server.connect(dbname=database, user=login)
    code, _, err = run("resume")
    assert code == 2 and f"tenant '{cli.tenant}' is suspended in the catalog" in err
    assert f"paybill-iac lifecycle resume {cli.tenant}" in err


def test_errors_are_one_clear_line_without_a_password(run: Run, cli: Cli, server: Server,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run("apply", tenant="nobody")
    assert code == 2 and err.startswith("error: unknown tenant 'nobody' (tenants: acme,")
    code, _, err = run("status", tenant="vandelay")
    assert code == 2 and "tenant 'vandelay' is pooled but placed on no cell" in err
    where = f"tenant '{cli.tenant}' (cell 'aws-euw1-a', {server.host}:{server.port})"
    monkeypatch.setenv("PAYBILL_DB_ADMIN_SECRET", "cell-admin")
    monkeypatch.delenv("PAYBILL_SECRET_CELL_ADMIN", raising=False)
    code, _, err = run("apply")
    assert code == 1 and err == (f"error: {where}: cannot read the admin password (secret 'cell-admin'): secret "
                                 "'cell-admin' is not set (environment variable PAYBILL_SECRET_CELL_ADMIN)\n")
    monkeypatch.delenv("PAYBILL_DB_ADMIN_SECRET")
    monkeypatch.setenv("PAYBILL_DB_ADMIN_URL__CELL_AWS_EUW1_A", "postgresql://admin@127.0.0.1:1/postgres?sslmode=disable")
    code, _, err = run("suspend")
    assert code == 1 and err.startswith(f"error: tenant '{cli.tenant}' (cell 'aws-euw1-a', 127.0.0.1:1): cannot "
                                        "open a session on database 'postgres' as 'admin'")
    assert len(err.splitlines()) == 1  # said once, not also by a logger
    monkeypatch.setenv("PAYBILL_DB_ADMIN_URL__CELL_AWS_EUW1_A", "postgresql://admin:hunter2@127.0.0.1:1/postgres")
    code, _, err = run("status")
    assert code == 2 and "carries a password" in err and "hunter2" not in err
    monkeypatch.delenv("PAYBILL_DB_ADMIN_URL__CELL_AWS_EUW1_A")
    monkeypatch.delenv("PAYBILL_DB_ADMIN_URL")
    code, _, err = run("apply")
    assert code == 2 and "no admin connection for server cell:aws-euw1-a: set PAYBILL_DB_ADMIN_URL__CELL_AWS_EUW1_A" \
        in err


def test_an_oci_tenant_gets_the_vault_s_password_which_is_never_shown(
        run: Run, cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch,
        role_password_is: Callable[[str, str], bool]) -> None:
    tenant = f"{cli.tenant}o"
    _tenant_file(cli.catalog, tenant, cloud="oci", region="eu-frankfurt-1")
    secret = f"PAYBILL_SECRET_PB_{tenant.upper()}_P_DB_SECRET"  # the tenant's vault secret, by its name
    monkeypatch.setenv(secret, json.dumps({"host": "10.0.0.5", "username": "x", "password": OCI_PASSWORD}))
    outputs: list[str] = []
    for args in (("apply",), ("apply", "--format", "json"), ("status", "--format", "json"), ("apply", "--dry-run")):
        code, out, err = run(*args, tenant=tenant)
        assert code == 0, err
        outputs.append(out + err)
    assert all(OCI_PASSWORD not in text for text in outputs)
    assert role_password_is(f"pb_{tenant}_p_app", OCI_PASSWORD)
    assert json.loads(outputs[2])["auth"] == f"password in secret 'pb-{tenant}-p-db-secret'"
    monkeypatch.delenv(secret)
    code, _, err = run("apply", tenant=tenant)
    assert code == 1 and f"secret 'pb-{tenant}-p-db-secret' is not set" in err


def test_the_command_runs_as_a_process_as_the_container_job_does(cli: Cli) -> None:
    env = {**os.environ, **cli.env, "PAYBILL_CATALOG": str(cli.catalog)}
    command = [sys.executable, "-m", "paybill_iac.cli", "db", "apply", "--tenant", cli.tenant, "--format", "json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changed_anything"] is True
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] == []


def test_status_exits_1_when_something_is_wrong(run: Run, cli: Cli, superuser: psycopg.Connection[Any]) -> None:
    database, _ = cli.names()
    assert run("apply")[0] == 0
    superuser.execute(f'GRANT CONNECT ON DATABASE "{database}" TO PUBLIC')
    code, out, _ = run("status")
    assert code == 1 and "problem" in out and "PUBLIC holds CONNECT on the database" in out
    assert "changed database_public_revoked" in run("apply")[1]
    assert run("status")[0] == 0

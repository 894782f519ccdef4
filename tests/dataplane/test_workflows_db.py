"""The lifecycle workflows with the real data plane (DirectDataPlane) on the real PostgreSQL server;
stacks through the runner double. One tenant through its whole life: onboard (its database appears
before it is active), suspend and resume (its logins), offboard (logins revoked, database kept),
retention end (dropped), each step in the journal."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from paybill_iac.automation import Automation, DataPlaneFailed, DirectDataPlane, RetryPolicy
from paybill_iac.catalog import load_catalog
from paybill_iac.generate import generate
from tests.automation.conftest import Clock
from tests.automation.doubles import FakeRunner
from tests.dataplane.conftest import Names, Server
from tests.dataplane.test_cli_db import admin_env
from tests.dataplane.test_clouds import ensure_rds_iam_stand_in

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
DAY = 86400.0


def _stacks(tmp_path: Path, tenant: str) -> Path:
    stacks = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks" / "catalog", stacks / "catalog")
    for project in ("tenant", "cell"):
        (stacks / project).mkdir(parents=True)
        for name in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(REPO / "stacks" / project / name, stacks / project / name)
    (stacks / "catalog" / "tenants" / f"{tenant}.yaml").write_text(
        f"id: {tenant}\nname: Test tenant\nplan: starter\ncloud: aws\nregion: eu-west-1\nstate: onboarding\n"
        "subscription: {seats: 5, start: 2026-01-01}\n")
    generate(load_catalog(stacks / "catalog"), stacks)
    return stacks


def _can_log_in(server: Server, database: str, login: str) -> bool:
    try:
        with server.connect(dbname=database, user=login) as session:
            return session.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def test_a_tenant_s_whole_life_on_the_real_server(tmp_path: Path, names: Names, server: Server,
                                                  superuser: psycopg.Connection[Any]) -> None:
    ensure_rds_iam_stand_in(server)
    tenant = f"t{names.token}"
    stacks = _stacks(tmp_path, tenant)
    database, login = f"pb_{tenant}_p_db", f"pb_{tenant}_p_app"
    clock = Clock()
    plane = DirectDataPlane(environ=admin_env(server))

    def make(actor: str = "human") -> Automation:
        return Automation.open(stacks / "catalog", actor=actor, runner=FakeRunner(), data_plane=plane,
                               state_url=f"sqlite:///{tmp_path / 'state.db'}", state_dir=tmp_path / "state",
                               retry=RetryPolicy(attempts=1), clock=clock, sleep=lambda _: None)

    with make() as auto:
        results = auto.onboard(tenant)
        assert [result.operation for result in results][-1] == "db-apply"
        assert _can_log_in(server, database, login)
        owner = superuser.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                                  (database,)).fetchone()
        assert owner == (f"pb_{tenant}_p_owner",)
        auto.suspend(tenant)
        assert not _can_log_in(server, database, login)
        auto.resume(tenant)
        assert _can_log_in(server, database, login)
        auto.offboard(tenant)
        assert not _can_log_in(server, database, login)
        assert superuser.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() == (1,)
        clock.advance(8 * DAY)
        [dropped] = [result for result in auto.retention_end(tenant) if result.operation == "db-drop"]
        assert "database_dropped" in dropped.report.changed
        assert superuser.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None
        journal = [(entry.operation, entry.result) for entry in reversed(auto.journal(tenant=tenant, limit=None))]
        assert [operation for operation, result in journal if operation.startswith("db-")] == [
            "db-apply", "db-suspend", "db-resume", "db-offboard", "db-drop"]
        assert all(result == "succeeded" for _, result in journal)
        [entry] = [entry for entry in auto.journal(tenant=tenant) if entry.operation == "db-drop"]
        assert entry.change_summary is not None and any("DROP DATABASE" in text
                                                        for text in entry.change_summary["statements"])


def test_a_server_that_cannot_be_reached_fails_the_step_and_the_next_run_completes_it(
        tmp_path: Path, names: Names, server: Server) -> None:
    ensure_rds_iam_stand_in(server)
    tenant = f"t{names.token}"
    stacks = _stacks(tmp_path, tenant)
    env = admin_env(server)
    database, login = f"pb_{tenant}_p_db", f"pb_{tenant}_p_app"

    def make(environ: dict[str, str]) -> Automation:
        return Automation.open(stacks / "catalog", runner=FakeRunner(), data_plane=DirectDataPlane(environ=environ),
                               state_url=f"sqlite:///{tmp_path / 'state.db'}", state_dir=tmp_path / "state",
                               retry=RetryPolicy(attempts=1), sleep=lambda _: None)

    broken = {**env, "PAYBILL_DB_ADMIN_URL__CELL_AWS_EUW1_A": "postgresql://postgres@127.0.0.1:1/postgres?sslmode=disable"}
    with make(broken) as auto, pytest.raises(DataPlaneFailed) as failed:
        auto.onboard(tenant)
    assert f"tenant '{tenant}' (cell 'aws-euw1-a', 127.0.0.1:1): cannot open a session" in str(failed.value)
    assert "state: onboarding" in (stacks / "catalog" / "tenants" / f"{tenant}.yaml").read_text()
    with make(env) as auto:
        auto.onboard(tenant)
        assert _can_log_in(server, database, login)
        assert [(entry.operation, entry.result) for entry in auto.journal(tenant=tenant)][:3] == [
            ("db-apply", "succeeded"), ("db-apply", "failed"), ("up", "succeeded")]  # resumed at the failed step

"""`paybill-iac drift`, `refresh` (the drift it adopted), `fleet check`: output, exit codes and usage errors, on
the stateful engine double."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.automation.conftest import Env
from tests.automation.engine_double import DB, StatefulRunner
from tests.cli_invoke import run_cli

Run = Callable[..., tuple[int, str, str]]
STACK = "paybill-tenant/cyberdyne"


@pytest.fixture
def runner(env: Env) -> StatefulRunner:
    return StatefulRunner(str(env.root / "engine.json"))


@pytest.fixture
def run(env: Env, runner: StatefulRunner, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setattr("paybill_iac.automation.operator._pulumi_runner", lambda: runner)
    monkeypatch.delenv("PAYBILL_STATE_URL", raising=False)
    monkeypatch.chdir(env.root)

    def invoke(*args: str) -> tuple[int, str, str]:
        return run_cli(capsys, *args, "--catalog", str(env.catalog), "--state-dir", str(env.state))

    return invoke


def _db(runner: StatefulRunner) -> str:
    return next(urn for urn, item in runner.read()["stacks"][STACK]["resources"].items() if item["type"] == DB)


def test_drift_of_a_tenant_in_each_format_and_its_exit_code(run: Run, runner: StatefulRunner) -> None:
    assert run("up", "--tenant", "cyberdyne")[0] == 0
    code, out, _ = run("drift", "--tenant", "cyberdyne")
    assert code == 0 and "paybill-tenant/cyberdyne (enterprise, aws): in_sync" in out
    runner.drift(STACK, _db(runner), inputs={"publiclyAccessible": True})
    code, out, _ = run("drift", "--tenant", "cyberdyne")
    assert code == 1 and ": drifted, checked " in out
    line = next(line for line in out.splitlines() if line.startswith("update"))
    assert "aws:rds/instance:Instance" in line and "publiclyAccessible" in line
    assert "aws-rds-instance-not-public" in line
    code, out, _ = run("drift", "--tenant", "cyberdyne", "--format", "json")
    [report] = json.loads(out)["reports"]
    assert code == 1 and report["status"] == "drifted" and report["resources"][0]["paths"] == ["publiclyAccessible"]
    code, out, _ = run("drift", "--tenant", "cyberdyne", "--format", "markdown")
    assert code == 1 and "### paybill-tenant/cyberdyne" in out and "| OP | TYPE |" in out
    code, out, _ = run("refresh", "--tenant", "cyberdyne")
    assert code == 0 and "adopted update aws:rds/instance:Instance cyberdyne-s-db: publiclyAccessible" in out


def test_drift_without_a_check_shows_the_stored_statuses_and_the_rollup(run: Run) -> None:
    assert run("up", "--tenant", "cyberdyne")[0] == 0
    assert run("drift", "--tenant", "cyberdyne")[0] == 0
    code, out, _ = run("drift")
    assert code == 0 and "cyberdyne" in out and "not_checked" in out and "in_sync" in out
    assert "(schedule: every 24 h)" in out and "by plan: " in out
    code, out, _ = run("drift", "--format", "json")
    data = json.loads(out)
    assert data["rollup"]["status"]["in_sync"] == 1 and data["schedule_hours"] == 24


def test_drift_usage_errors_exit_2(run: Run, env: Env) -> None:
    code, _, err = run("drift", "--tenant", "cyberdyne", "--fleet")
    assert code == 2 and "give one of --tenant ID, --cell ID and --fleet" in err
    code, _, err = run("drift", "--tenant", "nobody")
    assert code == 2 and "unknown tenant 'nobody'" in err
    (env.root / "paybill.yaml").write_text("drift:\n  schedule_hours: -1\n")
    code, _, err = run("drift")
    assert code == 2 and "paybill.yaml" in err and "drift.schedule_hours" in err and "-1" in err
    (env.root / "paybill.yaml").write_text("drift:\n  hook: nowhere.at_all:hook\n")
    code, _, err = run("drift")
    assert code == 2 and "drift.hook" in err and "nowhere.at_all" in err


def test_fleet_check_reports_findings_with_exit_1(run: Run) -> None:
    assert run("up", "--tenant", "cyberdyne")[0] == 0
    code, out, _ = run("fleet", "check")
    rows = [line.split()[:2] for line in out.splitlines()[1:-1]]
    assert code == 1 and ["tenant-without-stack", "acme"] in rows and ["tenant-without-stack", "cyberdyne"] not in rows
    assert out.splitlines()[-1] == f"{len(rows)} finding(s)"
    code, out, _ = run("fleet", "check", "--format", "json")
    data = json.loads(out)
    assert code == 1 and not data["clean"] and data["counts"]["tenant-without-stack"] == len(data["findings"])

"""Fleet tasks as portable data, fleet runs recorded in the state database, and a coordinator that crashed
mid-wave resuming at its wave (SQLite and the real PostgreSQL server)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from paybill_iac.automation.fleet import FleetTask, TaskRefused, TenantOutcome
from paybill_iac.errors import UsageError
from tests.automation.conftest import Clock, Env
from tests.automation.doubles import FakeRunner, read_log
from tests.automation.test_cli_ops import Run, run  # noqa: F401 - the CLI fixture
from tests.automation.test_fleet import WITH_STACKS

CANARIES = ("dunder-mifflin", "hooli")


def test_a_task_round_trips_through_json() -> None:
    task = FleetTask.for_tenant("run-1", 2, "refresh", "acme", actor="agent:bot", regions=["eu", "us"], retries=3)
    text = task.to_json()
    assert json.loads(text) == {"run_id": "run-1", "wave": 2, "operation": "refresh", "tenant": "acme",
                                "stack": "paybill-tenant/acme", "project": "paybill-tenant",
                                "options": {"actor": "agent:bot", "regions": ["eu", "us"], "retries": 3}}
    assert FleetTask.from_json(text) == task
    assert FleetTask.from_json(text).to_json() == text


@pytest.mark.parametrize(("options", "message"), [
    ({"catalog": Path("stacks/catalog")}, "local path"),
    ({"state": "/var/lib/paybill/state.db"}, "local path"),
    ({"work": "./work"}, "local path"),
    ({"home": "~/plans"}, "local path"),
    ({"plans": ["ok", "/tmp/plan.json"]}, "local path"),
    ({"notify": print}, "callable"),
    ({"on_done": lambda outcome: None}, "callable"),
    ({"settings": object()}, "not JSON data"),
    ({3: "x"}, "not text"),
])
def test_a_task_holding_a_path_or_a_callable_is_refused(options: dict[Any, Any], message: str) -> None:
    with pytest.raises(TaskRefused, match=message):
        FleetTask("run-1", 1, "up", "acme", "paybill-tenant/acme", options=options)


@pytest.mark.parametrize(("data", "message"), [
    ({"operation": "destroy"}, "operation 'destroy'"),
    ({"tenant": "../etc"}, "not a valid id"),
    ({"stack": "paybill-cell/aws-euw1-a"}, "not the tenant's stack"),
    ({"wave": 0}, "wave 0"),
    ({"run_id": "/tmp/run"}, "local path"),
    ({"settings": {"catalog_dir": "stacks/catalog"}}, "unknown field"),
])
def test_a_task_from_json_is_checked(data: dict[str, Any], message: str) -> None:
    task = FleetTask.for_tenant("run-1", 1, "up", "acme").as_dict()
    with pytest.raises(TaskRefused, match=message):
        FleetTask.from_json(json.dumps({**task, **data}))
    with pytest.raises(TaskRefused, match="missing field"):
        FleetTask.from_json(json.dumps({"tenant": "acme"}))
    with pytest.raises(TaskRefused, match="not JSON"):
        FleetTask.from_json("{")


def test_an_engine_refuses_a_task_for_another_actor(env: Env) -> None:
    from paybill_iac.automation.fleet import engine_settings, run_task

    auto = env.make(runner=FakeRunner())
    outcome = run_task(engine_settings(auto), FleetTask.for_tenant("run-1", 1, "up", "acme", actor="agent:bot"))
    assert outcome.result == "failed" and "acts as agent:bot" in outcome.error
    anonymous = FleetTask("run-1", 1, "up", "acme", "paybill-tenant/acme")  # no actor: not taken as the engine's
    outcome = run_task(engine_settings(auto), anonymous)
    assert outcome.result == "failed" and "acts as nobody named" in outcome.error


def test_a_fleet_run_and_its_outcomes_are_in_the_database(env: Env, db_url: str) -> None:
    auto = env.make(runner=FakeRunner(), state_url=db_url)
    report = auto.fleet("up", tenants=["acme", "globex", "hooli"], concurrency=2)
    assert report.ok and report.resumed == 0
    fleet_run = auto.store.fleet_runs.get(report.run_id)
    assert fleet_run is not None and fleet_run.status == "finished" and fleet_run.operation == "up"
    assert fleet_run.actor == "human"
    assert fleet_run.waves == (("hooli",), ("acme", "globex"))
    stored = auto.store.fleet_runs.outcomes(report.run_id)
    assert sorted((item["tenant"], item["wave"], item["result"]) for item in stored) == [
        ("acme", 2, "succeeded"), ("globex", 2, "succeeded"), ("hooli", 1, "succeeded")]
    assert [TenantOutcome(**item) for item in stored] == report.outcomes
    # the same rollout again is a new run: the first one finished
    assert env.make(runner=FakeRunner(), state_url=db_url).fleet("up", tenants=["acme", "globex", "hooli"]).ok


class CoordinatorDied(BaseException):
    """The coordinator process dying mid-wave (nothing below it catches a BaseException)."""


def _dies_after(count: int) -> Any:
    seen: list[TenantOutcome] = []

    def progress(outcome: TenantOutcome, done: int, total: int) -> None:
        seen.append(outcome)
        if len(seen) == count:
            raise CoordinatorDied(f"killed after {count} outcomes")

    return progress


def test_a_crashed_coordinator_resumes_at_its_wave(env: Env, db_url: str) -> None:
    log = str(env.root / "calls.jsonl")
    clock = Clock()
    first = env.make(runner=FakeRunner(log=log), state_url=db_url, clock=clock)
    with pytest.raises(CoordinatorDied):  # wave 1 (the two canaries) done, then one tenant of wave 2
        first.fleet("up", concurrency=1, progress=_dies_after(3))
    [fleet_run] = first.store.fleet_runs.unfinished()
    assert fleet_run.status == "running" and len(first.store.fleet_runs.outcomes(fleet_run.id)) == 3

    second = env.make(runner=FakeRunner(log=log), state_url=db_url, clock=clock)
    with pytest.raises(UsageError, match=f"fleet run {fleet_run.id} of the same rollout .* not finish: 3 of 14"):
        second.fleet("up")  # the same rollout again: refused, naming the run to resume
    with pytest.raises(UsageError, match="still holds the run"):
        second.fleet("up", resume=fleet_run.id)  # its coordinator's claim has not expired yet
    with pytest.raises(UsageError, match="keeps the run's own waves"):
        second.fleet("up", resume=fleet_run.id, tenants=["acme"])
    clock.advance(60)  # the claim expired: the coordinator is gone
    seen: list[tuple[int, int]] = []
    report = second.fleet("up", resume=fleet_run.id, progress=lambda outcome, done, total: seen.append((done, total)))
    assert report.ok and report.run_id == fleet_run.id and report.resumed == 3
    assert sorted(outcome.tenant for outcome in report.outcomes) == WITH_STACKS
    assert seen[0] == (4, 14) and seen[-1] == (14, 14)
    ups = Counter(call["stack"].split("/")[1] for call in read_log(log) if call["op"] == "up")
    assert ups == Counter({tenant: 1 for tenant in WITH_STACKS})  # nobody ran twice, canaries not again
    order = [call["stack"].split("/")[1] for call in read_log(log)]
    assert set(order[:2]) == set(CANARIES)  # the waves as planned at the start
    finished = second.store.fleet_runs.get(fleet_run.id)
    assert finished is not None and finished.status == "finished"
    with pytest.raises(UsageError, match="the run is finished"):
        second.fleet("up", resume=fleet_run.id)
    with pytest.raises(UsageError, match="no fleet run"):
        second.fleet("up", resume="nope")


def test_a_resumed_run_counts_the_failures_before_the_crash(env: Env, db_url: str) -> None:
    clock = Clock()
    runner = FakeRunner(script={"hooli": ["fail"], "acme": ["fail"]})
    first = env.make(runner=runner, state_url=db_url, clock=clock)
    with pytest.raises(CoordinatorDied):
        first.fleet("up", concurrency=1, max_failures=1, progress=_dies_after(2))  # after the canaries
    [fleet_run] = first.store.fleet_runs.unfinished()
    clock.advance(60)
    resumed = env.make(runner=runner, state_url=db_url, clock=clock).fleet("up", resume=fleet_run.id)
    results = {outcome.tenant: outcome.result for outcome in resumed.outcomes}
    assert results["hooli"] == "failed" and results["acme"] == "failed"
    assert "halted after 2 failures (more than 1 allowed), in wave 2" in resumed.halted
    assert {results[tenant] for tenant in ("stark", "wayne", "wonka")} == {"skipped"}
    stored = first.store.fleet_runs.get(fleet_run.id)
    assert stored is not None and stored.status == "halted" and "halted after 2" in stored.halted
    with pytest.raises(UsageError, match="the run is halted"):
        first.fleet("up", resume=fleet_run.id)
    with pytest.raises(UsageError, match="is a fleet up, not a fleet refresh"):
        other = env.make(runner=runner, state_url=db_url, clock=clock)
        with pytest.raises(CoordinatorDied):
            other.fleet("up", tenants=["globex", "hooli"], concurrency=1, progress=_dies_after(1))
        clock.advance(60)
        [pending] = other.store.fleet_runs.unfinished()
        other.fleet("refresh", resume=pending.id)


def test_new_starts_over_beside_an_unfinished_run(env: Env) -> None:
    first = env.make(runner=FakeRunner())
    with pytest.raises(CoordinatorDied):
        first.fleet("up", tenants=["acme", "hooli"], concurrency=1, progress=_dies_after(1))
    report = env.make(runner=FakeRunner()).fleet("up", tenants=["acme", "hooli"], new=True)
    assert report.ok and report.resumed == 0
    assert len(first.store.fleet_runs.unfinished()) == 1  # the crashed one stays, to resume or to leave


def test_cli_fleet_runs_and_resume(run: Run) -> None:  # noqa: F811 - the CLI fixture
    code, out, _ = run("fleet", "up", "--tenant", "globex", "--tenant", "initech")
    assert code == 0 and "2 tenants: 2 succeeded" in out
    run_id = out.strip().splitlines()[-1].split()[2]
    code, out, _ = run("fleet", "runs")
    assert code == 0 and out.startswith("RUN") and f"{run_id}  up" in out and "finished" in out and "2/2" in out
    code, _, err = run("fleet", "up", "--resume", run_id)
    assert code == 2 and "the run is finished: nothing to resume" in err
    code, _, err = run("fleet", "up", "--resume", "nope")
    assert code == 2 and "no fleet run with that id" in err


COORDINATOR = """
import sys
from paybill_iac.automation import Automation, RetryPolicy
from tests.automation.doubles import FakeRunner

catalog, state, url, log = sys.argv[1:5]
runner = FakeRunner(script={"acme": ["sleep:120"]}, log=log)  # acme, the first of wave 2, never finishes
auto = Automation.open(catalog, runner=runner, state_dir=state, state_url=url, lease_ttl=1.0,
                       retry=RetryPolicy(attempts=1))
auto.fleet("up", concurrency=1)
"""


def test_a_coordinator_killed_mid_wave_resumes_at_its_wave(env: Env, db_url: str) -> None:
    """A real SIGKILL of the coordinator and its workers (the host died) while wave 2 runs."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.automation.conftest import REPO

    log = env.root / "calls.jsonl"
    process = subprocess.Popen([sys.executable, "-c", COORDINATOR, str(env.catalog), str(env.state), db_url, str(log)],
                               cwd=REPO, start_new_session=True, env={**os.environ, "PYTHONPATH": str(REPO)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while not any(call["op"] == "up" and call["stack"].endswith("/acme") for call in read_log(log)):
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "the coordinator never reached wave 2"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if process.stderr:
            process.stderr.close()
    later = Clock(time.time() + 3600)  # the dead coordinator's claim has expired
    auto = env.make(runner=FakeRunner(log=str(log)), state_url=db_url, clock=later)
    [fleet_run] = auto.store.fleet_runs.unfinished()
    assert sorted(item["tenant"] for item in auto.store.fleet_runs.outcomes(fleet_run.id)) == sorted(CANARIES)
    report = auto.fleet("up", resume=fleet_run.id)
    results = {outcome.tenant: outcome.result for outcome in report.outcomes}
    assert sorted(results) == WITH_STACKS and report.resumed == 2
    # acme died half-way: flagged for review (or still leased by the dead worker), never silently run again
    assert results["acme"] in ("needs-review", "busy")
    assert {result for tenant, result in results.items() if tenant != "acme"} == {"succeeded"}
    ups = Counter(call["stack"].split("/")[1] for call in read_log(log) if call["op"] == "up")
    assert ups == Counter({tenant: 1 for tenant in WITH_STACKS})  # the canaries did not run again


def test_a_run_the_engine_refuses_is_stopped_not_left_to_resume(env: Env) -> None:
    from paybill_iac.catalog import load_catalog
    from paybill_iac.pko.engine import PkoFleetRunner
    from paybill_iac.pko.settings import parse_settings
    from tests.pko.conftest import SETTINGS
    from tests.pko.test_status_rollout import FakeCluster

    auto = env.make(runner=FakeRunner())
    operator = PkoFleetRunner(FakeCluster(), load_catalog(env.catalog), parse_settings(SETTINGS), actor="human")
    with pytest.raises(UsageError, match="--engine local"):
        auto.fleet("refresh", tenants=["acme"], runner=operator)
    [stopped] = auto.store.fleet_runs.find()
    assert stopped.status == "halted" and stopped.halted.startswith("stopped: the operator engine runs")
    assert auto.fleet("refresh", tenants=["acme"]).ok  # the same rollout again: nothing left to resume


def test_the_operator_engine_s_run_is_recorded_and_resumed_too(env: Env) -> None:
    from paybill_iac.catalog import load_catalog
    from paybill_iac.pko.engine import PkoFleetRunner
    from paybill_iac.pko.settings import parse_settings
    from tests.pko.conftest import SETTINGS
    from tests.pko.test_status_rollout import FakeCluster

    def operator(cluster: FakeCluster) -> PkoFleetRunner:
        return PkoFleetRunner(cluster, load_catalog(env.catalog), parse_settings(SETTINGS), actor="human",
                              sleep=lambda _s: None)

    clock = Clock()
    first = env.make(runner=FakeRunner(), clock=clock)
    with pytest.raises(CoordinatorDied):  # after the canary wave
        first.fleet("up", tenants=["acme", "hooli"], runner=operator(FakeCluster()), progress=_dies_after(1))
    [fleet_run] = first.store.fleet_runs.unfinished()
    clock.advance(60)
    cluster = FakeCluster()
    report = env.make(runner=FakeRunner(), clock=clock).fleet("up", resume=fleet_run.id, runner=operator(cluster))
    assert report.ok and report.resumed == 1
    assert [name for name in cluster.applied if name.startswith("tenant-")] == ["tenant-acme"]  # hooli not again
    stored = {item["tenant"]: item["summary"] for item in first.store.fleet_runs.outcomes(fleet_run.id)}
    assert stored == {"hooli": "Stack tenant-hooli: ready", "acme": "Stack tenant-acme: ready"}

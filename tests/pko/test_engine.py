"""The operator as a fleet engine: it takes the same serialisable tasks as the local engine, turns each into its
tenant's Stack, and reports the Stacks' settled states as the tenants' outcomes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from paybill_iac.automation.fleet import FleetPlan, FleetTask, plan_waves, tasks_of
from paybill_iac.errors import UsageError
from paybill_iac.pko.engine import PkoFleetRunner
from tests.pko.test_status_rollout import FakeCluster


def _plan(catalog: Any, operation: str = "up", actor: str = "human", max_failures: int = 0,
          tenants: list[str] | None = None) -> FleetPlan:
    waves = plan_waves(catalog, None, tenants)
    # the tasks travel as JSON, as they would to another host
    tasks = tuple(tuple(FleetTask.from_json(task.to_json()) for task in wave)
                  for wave in tasks_of("run-1", operation, waves, actor))
    return FleetPlan("run-1", operation, tasks, max_failures=max_failures)


def _engine(cluster: FakeCluster, catalog: Any, settings: Any) -> PkoFleetRunner:
    return PkoFleetRunner(cluster, catalog, settings, actor="human", poll=1, sleep=lambda _s: None)


def test_the_operator_runs_the_fleet_s_tasks_wave_by_wave(catalog: Any, settings: Any) -> None:
    cluster = FakeCluster({"tenant-acme": ["running", "ready"]})
    plan = _plan(catalog)
    seen: list[tuple[int, int]] = []
    report = _engine(cluster, catalog, settings).run(plan, lambda outcome, done, total: seen.append((done, total)))
    assert report.ok and sorted(outcome.tenant for outcome in report.outcomes) == sorted(plan.tenants)
    cells = sorted({f"cell-{catalog.placements[tenant]}" for tenant in plan.tenants if tenant in catalog.placements})
    assert cluster.applied[:len(cells)] == cells  # the cells first
    assert cluster.applied[len(cells):] == [f"tenant-{tenant}" for tenant in plan.tenants]  # then the waves in order
    assert {outcome.summary for outcome in report.outcomes} == {f"Stack tenant-{o.tenant}: ready"
                                                                for o in report.outcomes}
    assert seen[-1] == (len(plan.tenants), len(plan.tenants))


def test_a_failed_stack_halts_the_later_waves(catalog: Any, settings: Any) -> None:
    plan = _plan(catalog)
    first = plan.waves[0][0].tenant
    cluster = FakeCluster({f"tenant-{first}": ["stalled"]})
    report = _engine(cluster, catalog, settings).run(plan)
    results = {outcome.tenant: outcome for outcome in report.outcomes}
    assert results[first].result == "failed" and "stalled" in results[first].error
    later = [task.tenant for wave in plan.waves[1:] for task in wave]
    assert {results[tenant].result for tenant in later} == {"skipped"} and "halted after 1 failure" in report.halted
    assert not any(f"tenant-{tenant}" in cluster.applied for tenant in later)


def test_a_failed_cell_applies_no_tenant(catalog: Any, settings: Any) -> None:
    plan = _plan(catalog, tenants=["acme"])
    cell = f"cell-{catalog.placements['acme']}"
    report = _engine(FakeCluster(refuse={cell}), catalog, settings).run(plan)
    assert [(o.tenant, o.result) for o in report.outcomes] == [("acme", "skipped")] and cell in report.halted


def test_an_agent_s_tasks_are_refused_and_preview_is_not_the_operator_s(catalog: Any, settings: Any) -> None:
    cluster = FakeCluster()
    report = _engine(cluster, catalog, settings).run(_plan(catalog, actor="agent:bot", tenants=["acme", "hooli"]))
    assert {outcome.result for outcome in report.outcomes} == {"refused"}
    assert not any(name.startswith("tenant-") for name in cluster.applied)
    with pytest.raises(UsageError, match="--engine local"):
        _engine(FakeCluster(), catalog, settings).run(_plan(catalog, operation="refresh"))


def test_a_resumed_run_past_its_threshold_applies_nothing(catalog: Any, settings: Any) -> None:
    from dataclasses import replace

    cluster = FakeCluster()
    plan = replace(_plan(catalog, tenants=["acme", "hooli"]), failed_before=1)  # max_failures 0
    report = _engine(cluster, catalog, settings).run(plan)
    assert {outcome.result for outcome in report.outcomes} == {"skipped"} and cluster.applied == []
    assert report.halted.startswith("halted after 1 failure (more than 0 allowed)")


def test_a_named_person_s_run_is_applied_and_only_tasks_of_the_coordinator_s_own_actor(catalog: Any,
                                                                                       settings: Any) -> None:
    def engine(cluster: FakeCluster, actor: str) -> PkoFleetRunner:
        return PkoFleetRunner(cluster, catalog, settings, actor=actor, poll=1, sleep=lambda _s: None)

    # the CLI's coordinator acts as `human:<OS user>`: its own run goes to the operator
    cluster = FakeCluster()
    report = engine(cluster, "human:alice").run(_plan(catalog, actor="human:alice", tenants=["acme"]))
    assert [o.result for o in report.outcomes] == ["succeeded"] and "tenant-acme" in cluster.applied
    # an agent coordinating its own run: refused, nothing applied
    cluster = FakeCluster()
    report = engine(cluster, "agent:bot").run(_plan(catalog, actor="agent:bot", tenants=["acme"]))
    assert [o.result for o in report.outcomes] == ["refused"] and "the human deployer" in report.outcomes[0].error
    assert "tenant-acme" not in cluster.applied
    # a task claiming another actor than the coordinator's, or none: refused
    claimed = _plan(catalog, actor="human", tenants=["acme"])
    report = engine(FakeCluster(), "agent:bot").run(claimed)
    assert [o.result for o in report.outcomes] == ["refused"]
    assert "this coordinator as agent:bot" in report.outcomes[0].error
    task = claimed.waves[0][0]
    anonymous = FleetPlan("run-1", "up", ((replace(task, options={}),),))
    report = engine(FakeCluster(), "human").run(anonymous)
    assert [o.result for o in report.outcomes] == ["refused"] and "nobody named" in report.outcomes[0].error

"""What issue 11 found, each as a test against the stateful engine double: the gate before any change, the
workflow's record, one workflow per tenant, leases on the database's clock, retries and partial updates,
resuming without a record."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from paybill_iac.automation import ApprovalNeeded, NeedsReview, RunFailed, TransientFailure, WorkflowBusy
from paybill_iac.automation.store import Store
from paybill_iac.automation.store.db import workflows_table
from paybill_iac.errors import LeaseHeld
from tests.automation.conftest import Env
from tests.automation.doubles import FakeRunner
from tests.automation.lifecycle_double import TYPES, LifecycleRunner

AGENT = "agent:billing-bot"
DATABASE = TYPES["azure"]["secret"]  # a pooled tenant's database on its cell's server


def _deployed(env: Env, *stacks: tuple[str, str]) -> LifecycleRunner:
    runner = LifecycleRunner(str(env.root / "engine.json"))
    human = env.make(runner=runner)
    for kind, name in stacks:
        human.up(**{kind: name})
    return runner


def _resources(runner: LifecycleRunner, stack: str) -> dict[str, Any]:
    return runner.read()["stacks"][stack]["resources"]


def _protected(runner: LifecycleRunner, stack: str) -> set[str]:
    return {urn for urn, item in _resources(runner, stack).items() if item.get("protect")}


def test_an_agent_s_plan_change_lifts_no_guard_before_a_human_approved_it(env: Env) -> None:
    runner = _deployed(env, ("cell", "azure-weu-a"), ("tenant", "globex"))
    old = _protected(runner, "paybill-tenant/globex")
    assert old and all("-p-database" in urn for urn in old)
    agent = env.make(actor=AGENT, runner=runner)
    with pytest.raises(ApprovalNeeded, match="lifts the deletion guards of the old pooled shape") as lift:
        agent.change_plan("globex", "growth", data_move=lambda context: None)
    assert old <= _protected(runner, "paybill-tenant/globex")  # still protected: the gate came first
    human = env.make(runner=runner)
    with pytest.raises(WorkflowBusy, match="change-plan workflow .* stopped before it finished"):
        human.up(tenant="globex")  # nothing else deploys the tenant meanwhile
    human.approve(lift.value.approval_id)
    with pytest.raises(ApprovalNeeded, match="retires the old pooled shape") as retire:
        agent.change_plan("globex", "growth", approval=lift.value.approval_id)
    assert not old & _protected(runner, "paybill-tenant/globex") and runner.read()["lost"] == []
    human.approve(retire.value.approval_id)
    agent.change_plan("globex", "growth", approval=retire.value.approval_id)
    [lost] = runner.read()["lost"]
    assert (lost["stack"], lost["type"]) == ("paybill-tenant/globex", DATABASE)
    assert not [event for event in runner.read()["events"] if event["event"] in ("protect", "unprotect")]


def test_a_failed_retire_is_carried_on_by_running_the_workflow_again(env: Env) -> None:
    runner = _deployed(env, ("cell", "azure-weu-a"), ("tenant", "globex"))
    human = env.make(runner=runner)
    original = runner.run
    ups: list[str] = []

    def failing_retire(invocation: Any) -> Any:  # the retire's up fails before it deletes anything
        if invocation.operation == "up" and invocation.stack.kind == "tenant":
            ups.append(invocation.stack.name)
            if len(ups) == 3:
                raise RunFailed("up of paybill-tenant/globex failed: the cloud said no")
        return original(invocation)

    runner.run = failing_retire  # type: ignore[method-assign]
    with pytest.raises(RunFailed, match="the cloud said no"):
        human.change_plan("globex", "growth", data_move=lambda context: None)
    assert runner.read()["lost"] == [] and any("-p-" in urn for urn in _resources(runner, "paybill-tenant/globex"))
    runner.run = original  # type: ignore[method-assign]
    human.change_plan("globex", "growth")  # resumed at the retire
    assert not any("-p-" in urn for urn in _resources(runner, "paybill-tenant/globex"))


def test_the_provision_changes_nothing_that_exists(env: Env) -> None:
    runner = _deployed(env, ("cell", "azure-weu-a"), ("tenant", "globex"))
    before = _resources(runner, "paybill-tenant/globex")
    results = env.make(runner=runner).change_plan("globex", "growth", data_move=lambda context: None)
    [provision] = [result for result in results if result.operation == "up" and result.stack.endswith("globex")][:1]
    assert {step.op for step in provision.summary.steps if step.urn in before} == {"same"}
    assert {step.op for step in provision.summary.steps if step.urn not in before} == {"create"}


def test_one_workflow_per_tenant_and_operations_wait_for_it(env: Env) -> None:
    runner = _deployed(env, ("cell", "azure-weu-a"), ("tenant", "globex"))
    agent = env.make(actor=AGENT, runner=runner)
    with pytest.raises(ApprovalNeeded):
        agent.change_plan("globex", "growth", data_move=lambda context: None)
    human = env.make(runner=runner)
    with pytest.raises(WorkflowBusy, match="half-way through the change-plan workflow"):
        human.suspend("globex")
    with pytest.raises(WorkflowBusy, match="change-plan workflow"):
        human.offboard("globex")
    with pytest.raises(WorkflowBusy, match="change-plan workflow"):
        human.up(tenant="globex")
    human.preview(tenant="acme")  # other tenants carry on
    [stopped] = human.review().stopped  # the review lists it: it waits for its caller to run it again
    assert (stopped.kind, stopped.tenant) == ("change-plan", "globex") and "provision" in stopped.steps
    [entry] = [entry for entry in human.journal(tenant="globex") if entry.result == "busy"]
    assert "change-plan" in (entry.error or "")  # the refusal is journaled, naming the workflow
    with human.hold("suspend", "acme") as hold:  # a live workflow on acme: others are refused, naming its step
        hold.step("up")
        with pytest.raises(WorkflowBusy, match=r"the suspend workflow run by human holds it \(step up"):
            env.make(runner=runner).refresh(tenant="acme")
        with pytest.raises(WorkflowBusy, match="suspend workflow"), env.make(runner=runner).hold("offboard", "acme"):
            pass


def test_the_fleet_reports_a_tenant_in_a_workflow_as_busy(env: Env) -> None:
    auto = env.make(runner=FakeRunner())
    with auto.hold("suspend", "acme"):
        report = env.make(runner=FakeRunner()).fleet("up", tenants=["acme", "globex"], concurrency=1)
    results = {outcome.tenant: outcome.result for outcome in report.outcomes}
    assert results == {"acme": "busy", "globex": "succeeded"}


def test_a_workflow_without_its_record_is_not_resumed(env: Env) -> None:
    runner = _deployed(env, ("cell", "azure-weu-a"), ("tenant", "globex"))
    auto = env.make(runner=runner)
    with auto.store.engine.begin() as conn:  # as an older paybill-iac left it: no record step
        conn.execute(workflows_table.insert().values(id="legacy", kind="change-plan", tenant="globex",
                                                     params='{"to": "growth"}', actor="human", started_at=1.0,
                                                     status="running"))
    with pytest.raises(NeedsReview, match="has no record of what it needs to finish or undo"):
        auto.change_plan("globex", "growth", data_move=lambda context: None)
    assert yaml.safe_load(env.tenant_file("globex").read_text())["plan"] == "starter"


def test_leases_expire_by_the_database_s_clock_not_the_host_s(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    first = Store(env.url)
    first.leases.acquire("paybill-tenant/acme", "owner-a", "up", "human", ttl=60)
    monkeypatch.setattr(time, "time", lambda: 1e10)  # a host whose clock runs far ahead
    ahead = Store(env.url)
    try:
        with pytest.raises(LeaseHeld, match="is busy"):
            ahead.leases.acquire("paybill-tenant/acme", "owner-b", "up", "human", ttl=60)
        assert ahead.scan() == []  # and its scan does not call the live lease expired
    finally:
        monkeypatch.undo()
        first.close()
        ahead.close()


@pytest.mark.postgres
def test_leases_expire_by_the_postgres_server_s_clock(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = Store(postgres_url)
    first.leases.acquire("paybill-tenant/acme", "owner-a", "up", "human", ttl=60)
    monkeypatch.setattr(time, "time", lambda: time.monotonic() + 400 + 1.8e9)  # this client is 400 s+ ahead
    ahead = Store(postgres_url)
    try:
        with pytest.raises(LeaseHeld, match="is busy"):
            ahead.leases.acquire("paybill-tenant/acme", "owner-b", "up", "human", ttl=60)
        assert ahead.scan() == [] and ahead.db.now() < 1.8e9 + 400
    finally:
        monkeypatch.undo()
        first.close()
        ahead.close()


class _Partial(FakeRunner):
    """An up that fails transiently after changing resources, once."""

    failed = False

    def run(self, invocation: Any) -> Any:
        if invocation.operation == "up" and not self.failed:
            self.failed = True
            self.calls.append(invocation)
            failure = TransientFailure("up of paybill-tenant/acme failed transiently (backend 503)")
            failure.partial = 2
            raise failure
        return super().run(invocation)


def test_a_partial_update_is_refreshed_before_it_is_tried_again(env: Env) -> None:
    runner = _Partial()
    auto = env.make(runner=runner)
    result = auto.up(tenant="acme")
    assert [call.operation for call in runner.calls] == ["up", "refresh", "up"]
    assert result.attempts == 2 and auto.journal(tenant="acme")[0].details["refreshed"] == 1


def test_a_partial_update_bound_to_a_saved_plan_is_not_run_again(env: Env) -> None:
    runner = _Partial()
    agent = env.make(actor=AGENT, runner=runner)
    with pytest.raises(RunFailed, match="changed 2 resource.*not run again"):
        agent.up(tenant="acme")
    assert [call.operation for call in runner.calls] == ["preview", "up"]


def test_the_workflow_s_catalog_edit_and_the_ledger_follow_a_change_plan(env: Env) -> None:
    from paybill_iac.catalog import ledger, load_catalog

    runner = _deployed(env, ("cell", "azure-weu-a"), ("tenant", "globex"))
    env.make(runner=runner).change_plan("globex", "enterprise", data_move=lambda context: None)
    entry = ledger.read(env.catalog).entries["globex"]
    assert (entry.location.isolation, entry.location.cell, entry.declared) == ("silo", None, None)
    tenant = load_catalog(env.catalog).tenants["globex"]
    assert (tenant.plan, tenant.cell) == ("enterprise", None)


def _path(env: Env, name: str) -> Path:
    return env.root / name

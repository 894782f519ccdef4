"""Drift checks and adoption against the stateful engine double (its refresh preview emits the published event
shape, read by the same parser as the Pulumi runner's), with the real state database."""

from __future__ import annotations

from typing import Any

import pytest

from paybill_iac.automation import ApprovalNeeded
from paybill_iac.automation.drift import DriftReport, fleet_statuses, rollup
from paybill_iac.automation.store import Store
from paybill_iac.errors import LeaseHeld
from tests.automation.conftest import Clock, Env
from tests.automation.engine_double import DB, ROLE, StatefulRunner

AGENT = "agent:billing-bot"
STACK = "paybill-tenant/cyberdyne"


def _deployed(env: Env, **options: Any) -> tuple[StatefulRunner, Any]:
    runner = StatefulRunner(str(env.root / "engine.json"))
    human = env.make(runner=runner, **options)
    human.up(tenant="cyberdyne")
    return runner, human


def _urn(runner: StatefulRunner, stack: str, type_token: str) -> str:
    return next(urn for urn, item in runner.read()["stacks"][stack]["resources"].items() if item["type"] == type_token)


def test_a_check_reports_drift_with_its_paths_data_facts_and_the_rule_it_breaks(env: Env) -> None:
    runner, human = _deployed(env)
    assert human.check_drift(tenant="cyberdyne").report.status == "in_sync"
    before = runner.read()["stacks"]
    runner.drift(STACK, _urn(runner, STACK, DB), inputs={"publiclyAccessible": True})
    report: DriftReport = human.check_drift(tenant="cyberdyne").report
    assert runner.read()["stacks"] == before  # a refresh preview writes nothing to the state
    assert (report.status, report.plan, report.cloud, report.cell) == ("drifted", "enterprise", "aws", None)
    [item] = report.resources
    assert (item.op, item.type, item.paths, item.holds_data, item.protected) == (
        "update", DB, ("publiclyAccessible",), True, True)
    assert item.rules == ("aws-rds-instance-not-public",) and item.new and item.first_seen == report.checked_at
    assert [violation["policy"] for violation in report.violations] == ["aws-rds-instance-not-public"]
    [entry, *_] = human.journal(stack=STACK)
    assert (entry.operation, entry.result) == ("preview-refresh", "succeeded")  # through the lease and journal
    assert human.store.leases.get(STACK) is None


def test_first_seen_is_kept_across_checks_and_the_hook_hears_only_new_drift(env: Env) -> None:
    clock = Clock()
    runner, human = _deployed(env, clock=clock)
    db, role = _urn(runner, STACK, DB), _urn(runner, STACK, ROLE)
    heard: list[DriftReport] = []
    runner.drift(STACK, db, inputs={"publiclyAccessible": True})
    first = human.check_drift(tenant="cyberdyne", hook=heard.append).report
    clock.advance(3600)
    second = human.check_drift(tenant="cyberdyne", hook=heard.append).report
    assert len(heard) == 1 and second.resources[0].first_seen == first.checked_at and not second.resources[0].new
    clock.advance(60)
    runner.drift(STACK, role, inputs={"granted": False})  # a second resource drifts: new drift again
    third = human.check_drift(tenant="cyberdyne", hook=heard.append).report
    assert len(heard) == 2 and [item.urn for item in heard[1].new] == [role]
    assert {item.urn: item.first_seen for item in third.resources} == {db: first.checked_at, role: clock.now}
    human.refresh(tenant="cyberdyne")  # adopted: in sync, and the drift seen so far forgotten
    assert human.check_drift(tenant="cyberdyne").report.status == "in_sync"
    assert human.store.drift.seen(STACK) == {}
    clock.advance(60)
    runner.drift(STACK, db, inputs={"publiclyAccessible": False, "multiAz": True})
    again = human.check_drift(tenant="cyberdyne", hook=heard.append).report
    assert again.resources[0].first_seen == clock.now and len(heard) == 3


def test_a_failing_hook_is_said_and_the_check_still_stands(env: Env) -> None:
    runner, human = _deployed(env)
    runner.drift(STACK, _urn(runner, STACK, DB), inputs={"publiclyAccessible": True})

    def broken(report: DriftReport) -> None:
        raise ConnectionError("the pager is down")

    assert human.check_drift(tenant="cyberdyne", hook=broken).report.status == "drifted"
    assert env.notes[-1] == f"the drift hook failed for {STACK}: ConnectionError: the pager is down"
    assert human.store.drift.latest()[STACK].status == "drifted"


def test_a_check_refused_by_the_lease_is_stored_as_an_error(env: Env) -> None:
    runner, human = _deployed(env)
    human.store.leases.acquire(STACK, "someone-else", "up", "human", 60.0, tenant="cyberdyne")
    with pytest.raises(LeaseHeld):
        human.check_drift(tenant="cyberdyne")
    stored = human.store.drift.latest(with_report=True)[STACK]
    assert stored.status == "error" and "someone-else" in (stored.error or "")


def test_refresh_adopts_drift_on_purpose_and_journals_what_it_adopted(env: Env) -> None:
    runner, human = _deployed(env)
    db = _urn(runner, STACK, DB)
    runner.drift(STACK, db, inputs={"publiclyAccessible": True})
    result = human.refresh(tenant="cyberdyne")
    assert [(item.op, item.urn, item.paths) for item in result.report] == [("update", db, ("publiclyAccessible",))]
    assert runner.read()["stacks"][STACK]["resources"][db]["inputs"]["publiclyAccessible"] is True
    refresh, preview, *_ = human.journal(stack=STACK)
    assert (refresh.operation, preview.operation) == ("refresh", "preview-refresh")
    assert refresh.details["adopts"] == [{"op": "update", "urn": db, "type": DB, "paths": ["publiclyAccessible"],
                                          "holds_data": True, "protected": True}]
    assert refresh.change_summary["counts"]["update"] == 1  # no longer "no change"


def test_an_agent_adopting_drift_on_data_needs_an_approval_and_on_the_rest_does_not(env: Env) -> None:
    runner, _ = _deployed(env)
    agent = env.make(actor=AGENT, runner=runner)
    role, db = _urn(runner, STACK, ROLE), _urn(runner, STACK, DB)
    runner.drift(STACK, role, inputs={"granted": False})
    agent.refresh(tenant="cyberdyne")  # an identity's drift: no data at stake
    runner.drift(STACK, db, inputs={"publiclyAccessible": True})
    with pytest.raises(ApprovalNeeded, match="adopts drift .* aws:rds/instance:Instance 'cyberdyne-s-db', a "
                                             "protected resource") as refused:
        agent.refresh(tenant="cyberdyne")
    assert runner.read()["stacks"][STACK]["resources"][db]["inputs"].get("publiclyAccessible") is None
    human = env.make(runner=runner)
    human.approve(refused.value.approval_id)
    agent.refresh(tenant="cyberdyne", approval=refused.value.approval_id)
    assert runner.read()["stacks"][STACK]["resources"][db]["inputs"]["publiclyAccessible"] is True


def test_statuses_against_the_schedule_and_the_rollup(env: Env) -> None:
    clock = Clock()
    runner, human = _deployed(env, clock=clock)
    human.up(tenant="hooli")
    runner.drift("paybill-tenant/hooli", _urn(runner, "paybill-tenant/hooli", DB), gone=True)
    human.check_drift(tenant="cyberdyne")
    clock.advance(7200)
    human.check_drift(tenant="hooli")
    catalog = human.reload()
    entries = {entry.tenant: entry for entry in fleet_statuses(human.store, catalog, clock.now, 3600.0)}
    assert (entries["cyberdyne"].status, entries["hooli"].status, entries["acme"].status) == (
        "stale", "drifted", "not_checked")
    summary = rollup(entries.values())
    assert summary["tenants"] == len(entries) and summary["status"]["drifted"] == 1
    assert summary["by_plan"]["growth"]["drifted"] == 1 and summary["by_plan"]["enterprise"]["stale"] == 1
    assert summary["by_cloud"]["aws"]["drifted"] == 1
    assert sum(counts["not_checked"] for counts in summary["by_cell"].values()) == len(entries) - 2
    daily = {entry.tenant: entry.status for entry in fleet_statuses(human.store, catalog, clock.now, 86400.0)}
    assert (daily["cyberdyne"], daily["hooli"]) == ("in_sync", "drifted")  # within a daily schedule


def test_the_fleet_checks_every_tenant_through_the_fleet_runner(env: Env) -> None:
    from paybill_iac.automation.drift import check_fleet

    runner, human = _deployed(env)
    human.up(tenant="hooli")
    runner.drift("paybill-tenant/hooli", _urn(runner, "paybill-tenant/hooli", DB), inputs={"storageType": "gp2"})
    heard: list[DriftReport] = []
    report, newly = check_fleet(human, tenants=["cyberdyne", "hooli"], concurrency=2, hook=heard.append, cells=False)
    assert sorted(outcome.tenant for outcome in report.outcomes) == ["cyberdyne", "hooli"]
    assert {outcome.result for outcome in report.outcomes} == {"succeeded"}
    assert [item.stack for item in heard] == ["paybill-tenant/hooli"] == [item.stack for item in newly]
    latest = human.store.drift.latest()
    assert (latest[STACK].status, latest["paybill-tenant/hooli"].status) == ("in_sync", "drifted")
    assert {entry.operation for entry in human.journal(stack="paybill-tenant/hooli")} >= {"preview-refresh"}
    _, again = check_fleet(human, tenants=["cyberdyne", "hooli"], concurrency=2, hook=heard.append, cells=False)
    assert again == [] and len(heard) == 1  # seen before: no hook


def test_the_store_keeps_reports_on_sqlite_and_postgresql(db_url: str, open_store: Any) -> None:
    store: Store = open_store(db_url)
    urn = "urn:pulumi:acme::paybill-tenant::paybill:tenant:Pooled$aws:secretsmanager/secret:Secret::acme-p-secret"
    report = {"resources": [{"urn": urn, "op": "update", "paths": ["description"]}]}
    first, seen = store.drift.record(stack="paybill-tenant/acme", tenant="acme", status="drifted", actor="human",
                                     plan="starter", cloud="aws", cell="aws-euw1-a",
                                     drifted=[(urn, "update", ("description",))], report=report)
    assert seen[urn].new and seen[urn].first_seen == first
    _, seen = store.drift.record(stack="paybill-tenant/acme", tenant="acme", status="drifted", actor="human",
                                 plan="starter", cloud="aws", cell="aws-euw1-a",
                                 drifted=[(urn, "update", ("description",))], report=report)
    assert not seen[urn].new and seen[urn].first_seen == first
    store.drift.record(stack="paybill-tenant/acme", tenant="acme", status="error", actor="human", plan="starter",
                       cloud="aws", cell="aws-euw1-a", drifted=[], report={"resources": []}, error="busy")
    assert store.drift.seen("paybill-tenant/acme") == {urn: first}  # a failed check forgets nothing
    latest = store.drift.latest(with_report=True)["paybill-tenant/acme"]
    assert (latest.status, latest.error, latest.report) == ("error", "busy", {"resources": []})
    assert [item.status for item in store.drift.history("paybill-tenant/acme")] == ["error", "drifted", "drifted"]
    store.drift.record(stack="paybill-tenant/acme", tenant="acme", status="in_sync", actor="human", plan="starter",
                       cloud="aws", cell="aws-euw1-a", drifted=[], report={"resources": []})
    assert store.drift.seen("paybill-tenant/acme") == {}


def test_the_fleet_check_covers_the_cells_in_use_too(env: Env) -> None:
    from paybill_iac.automation.drift import check_fleet

    runner = StatefulRunner(str(env.root / "engine.json"))
    human = env.make(runner=runner)
    human.up(cell="aws-euw1-a")
    cell = "paybill-cell/aws-euw1-a"
    runner.drift(cell, _urn(runner, cell, DB), inputs={"allocatedStorage": 512})
    heard: list[DriftReport] = []
    human.up(tenant="acme")
    _, newly = check_fleet(human, tenants=["acme"], concurrency=1, hook=heard.append)
    assert [item.stack for item in heard] == [cell] == [item.stack for item in newly]
    latest = human.store.drift.latest()
    in_use = sorted(set(human.catalog.placements.values()))
    assert {key for key in latest if key.startswith("paybill-cell/")} == {f"paybill-cell/{name}" for name in in_use}
    assert latest[cell].status == "drifted" and latest["paybill-cell/oci-fra-a"].status == "error"  # no stack yet

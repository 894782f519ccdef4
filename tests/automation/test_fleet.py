"""Fleet operations: waves, bounded concurrency in separate processes, the failure threshold."""

from __future__ import annotations

import pytest

from paybill_iac.automation import LocalProcessFleetRunner, plan_waves
from paybill_iac.automation.fleet import engine_settings
from paybill_iac.catalog import load_catalog
from paybill_iac.errors import UsageError
from tests.automation.conftest import Env
from tests.automation.doubles import FakeRunner, read_log

WITH_STACKS = ["acme", "cyberdyne", "dunder-mifflin", "globex", "hooli", "initech", "nakatomi", "oscorp", "soylent",
               "stark", "tyrell", "umbrella", "wayne", "wonka"]  # vandelay is offboarded


def test_default_waves_are_canaries_then_one_per_plan(env: Env) -> None:
    waves = plan_waves(load_catalog(env.catalog))
    assert waves[0] == ("dunder-mifflin", "hooli")  # canary: true
    assert waves[1] == ("acme", "globex", "initech", "umbrella")  # starter, plans.yaml order
    assert waves[2] == ("stark", "wayne", "wonka")  # growth
    assert sorted(tenant for wave in waves for tenant in wave) == WITH_STACKS


def test_wave_selectors(env: Env) -> None:
    catalog = load_catalog(env.catalog)
    waves = plan_waves(catalog, ["acme,globex", "cloud:gcp", "isolation:silo"])
    assert waves[0] == ("acme", "globex")
    assert waves[1] == ("initech", "soylent", "wayne")
    assert waves[2] == ("cyberdyne", "nakatomi", "oscorp", "tyrell")
    assert set(waves[3]) == {"dunder-mifflin", "hooli", "stark", "umbrella", "wonka"}  # the rest
    assert plan_waves(catalog, ["canary"], tenants=["acme", "hooli"]) == (("hooli",), ("acme",))
    with pytest.raises(UsageError, match="unknown plan"):
        plan_waves(catalog, ["plan:gold"])
    with pytest.raises(UsageError, match="is not canary"):
        plan_waves(catalog, ["nobody"])
    with pytest.raises(UsageError, match="unknown tenant"):
        plan_waves(catalog, None, tenants=["nobody"])


def test_fleet_up_runs_every_tenant_in_separate_processes(env: Env) -> None:
    log = str(env.root / "calls.jsonl")
    auto = env.make(runner=FakeRunner(log=log))
    seen = []
    report = auto.fleet("up", concurrency=2, progress=lambda outcome, done, total: seen.append((done, total)))
    assert report.ok and report.counts() == {"succeeded": len(WITH_STACKS)}
    assert seen[-1] == (len(WITH_STACKS), len(WITH_STACKS)) and len(seen) == len(WITH_STACKS)
    calls = read_log(log)
    assert sorted(call["stack"].split("/")[1] for call in calls) == WITH_STACKS
    import os

    assert os.getpid() not in {call["pid"] for call in calls}  # worker processes did the work
    assert len({call["pid"] for call in calls}) <= 2
    assert len([entry for entry in auto.journal(limit=None) if entry.result == "succeeded"]) == len(WITH_STACKS)
    # waves run in order: every canary finished before any other tenant started
    entries = {entry.tenant: entry for entry in auto.journal(limit=None)}
    last_canary = max(entries[tenant].ended_at for tenant in ("dunder-mifflin", "hooli"))
    assert all(entries[tenant].started_at >= last_canary for tenant in WITH_STACKS
               if tenant not in ("dunder-mifflin", "hooli"))


def test_failures_past_the_threshold_halt_the_fleet(env: Env) -> None:
    auto = env.make(runner=FakeRunner(script={"hooli": ["fail"]}))
    report = auto.fleet("up", concurrency=2, max_failures=0)
    results = {outcome.tenant: outcome.result for outcome in report.outcomes}
    assert results["hooli"] == "failed" and results["dunder-mifflin"] == "succeeded"
    assert {results[tenant] for tenant in WITH_STACKS if tenant not in ("hooli", "dunder-mifflin")} == {"skipped"}
    assert "halted after 1 failure" in report.halted and not report.ok
    tolerant = env.make(runner=FakeRunner(script={"hooli": ["fail"]})).fleet("refresh", max_failures=1)
    assert not tolerant.halted and tolerant.failures == 1


def test_a_crashed_worker_is_reported_and_the_fleet_goes_on(env: Env) -> None:
    auto = env.make(runner=FakeRunner(script={"acme": ["crash"]}))
    report = auto.fleet("up", tenants=["acme", "globex", "initech"], concurrency=1, max_failures=5,
                        runner=LocalProcessFleetRunner(engine_settings(auto), "fork"))
    results = {outcome.tenant: outcome.result for outcome in report.outcomes}
    assert results == {"acme": "crashed", "globex": "succeeded", "initech": "succeeded"}
    [open_entry] = auto.store.journal.entries(open_only=True)
    assert open_entry.tenant == "acme"  # found on the next start once its lease expires


def test_refused_and_busy_tenants_are_reported_not_counted_as_failures(env: Env) -> None:
    runner = FakeRunner(changes={"paybill-tenant/acme": [("delete", "aws:rds/instance:Instance", "db", True)]})
    auto = env.make(actor="agent:fleet-bot", runner=runner)
    auto.store.leases.acquire("paybill-tenant/globex", "another", "up", "human", ttl=600)
    report = auto.fleet("up", tenants=["acme", "globex", "initech"], concurrency=2)
    results = {outcome.tenant: outcome for outcome in report.outcomes}
    assert results["acme"].result == "refused" and results["acme"].approval is not None
    assert results["globex"].result == "busy"
    assert results["initech"].result == "succeeded"
    assert not report.halted


def test_fleet_arguments_are_checked(env: Env) -> None:
    auto = env.make()
    with pytest.raises(UsageError, match="fleet runs"):
        auto.fleet("destroy")
    with pytest.raises(UsageError, match="concurrency"):
        auto.fleet("up", concurrency=0)

"""Stack operations against the runner double: leases, the journal, retries, gates, crash recovery."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from paybill_iac.automation import ApprovalNeeded, NeedsReview, RunFailed, StackLocked
from paybill_iac.errors import GateRefused, LeaseHeld, OperationError, TransitionError, UsageError
from tests.automation.conftest import Env
from tests.automation.doubles import FakeRunner

DB = "aws:rds/instance:Instance"
ROLE = "aws:iam/role:Role"


def test_up_is_journaled_and_releases_its_lease(env: Env) -> None:
    runner = FakeRunner(changes={"paybill-tenant/acme": [("create", ROLE, "acme-role", False)]})
    auto = env.make(runner=runner)
    result = auto.up(tenant="acme")
    assert result.summary.counts == {"create": 1}
    [call] = runner.calls
    assert call.operation == "up" and call.plan_file is None  # humans are not gated
    assert call.tags["paybill-tenant"] == "acme" and call.tags["paybill-plan"] == "starter"
    [entry] = auto.journal(tenant="acme")
    assert (entry.operation, entry.result, entry.state, entry.actor) == ("up", "succeeded", "active", "human")
    assert entry.change_summary["counts"] == {"create": 1}
    assert auto.store.leases.get("paybill-tenant/acme") is None


def test_every_operation_kind_runs_with_its_invocation(env: Env) -> None:
    runner = FakeRunner()
    auto = env.make(runner=runner)
    auto.preview(tenant="acme")
    auto.refresh(cell="aws-euw1-a")
    assert [(call.operation, call.stack.key) for call in runner.calls] == [
        ("preview", "paybill-tenant/acme"), ("preview-refresh", "paybill-cell/aws-euw1-a"),
        ("refresh", "paybill-cell/aws-euw1-a")]  # a refresh shows the drift it adopts first (drift.adopt)
    assert [entry.operation for entry in auto.journal()] == ["refresh", "preview-refresh", "preview"]


def test_lock_conflicts_are_retried_with_backoff(env: Env) -> None:
    runner = FakeRunner(script={"acme": ["conflict", "transient", "ok"]})
    auto = env.make(runner=runner)
    result = auto.up(tenant="acme")
    assert result.attempts == 3
    assert len(env.sleeps) == 2
    assert 0 <= env.sleeps[0] <= 1.0 and 0 <= env.sleeps[1] <= 2.0  # full jitter under 1s, then 2s caps
    assert any("retrying" in note for note in env.notes)
    assert auto.journal()[0].details["attempts"] == 3


def test_retries_run_out_and_the_failure_is_journaled(env: Env) -> None:
    auto = env.make(runner=FakeRunner(script={"acme": ["conflict"] * 10}))
    with pytest.raises(StackLocked):
        auto.up(tenant="acme")
    assert len(env.sleeps) == 3  # 4 attempts
    [entry] = auto.journal()
    assert entry.result == "failed" and "lock" in entry.error and entry.details["attempts"] == 4
    assert auto.store.leases.get("paybill-tenant/acme") is None


def test_a_real_failure_is_not_retried(env: Env) -> None:
    runner = FakeRunner(script={"acme": ["fail"]})
    auto = env.make(runner=runner)
    with pytest.raises(RunFailed, match="the cloud said no"):
        auto.up(tenant="acme")
    assert len(runner.calls) == 1 and env.sleeps == []
    assert auto.journal()[0].result == "failed"


def test_a_busy_stack_is_refused_and_journaled(env: Env) -> None:
    auto = env.make()
    auto.store.leases.acquire("paybill-tenant/acme", "someone-else", "up", "agent:other", ttl=60)
    with pytest.raises(LeaseHeld, match="agent:other"):
        auto.up(tenant="acme")
    [entry] = auto.journal()
    assert entry.result == "busy" and entry.ended_at is not None
    assert auto.store.leases.get("paybill-tenant/acme").owner == "someone-else"


def test_unknown_stacks_and_bad_calls_are_usage_errors(env: Env) -> None:
    auto = env.make()
    with pytest.raises(UsageError, match="unknown tenant 'nobody'"):
        auto.up(tenant="nobody")
    with pytest.raises(UsageError, match="unknown cell"):
        auto.up(cell="nowhere")
    with pytest.raises(UsageError, match="exactly one stack"):
        auto.up(tenant="acme", cell="aws-euw1-a")
    with pytest.raises(UsageError, match="offboarded: it has no stack"):
        auto.up(tenant="vandelay")
    with pytest.raises(UsageError, match="not 'human' or 'agent:<name>'"):
        env.make(actor="root")
    assert auto.journal() == []


def test_destroy_refuses_live_tenants_and_occupied_cells(env: Env) -> None:
    runner = FakeRunner()
    auto = env.make(runner=runner)
    with pytest.raises(UsageError, match="lifecycle offboard acme"):
        auto.destroy(tenant="acme")
    with pytest.raises(OperationError, match="never destroyed while tenants remain"):
        auto.destroy(cell="aws-euw1-a")
    auto.destroy(cell="aws-use1-a")  # no tenant on it
    assert [call.operation for call in runner.calls] == ["destroy"]


def test_up_follows_the_lifecycle_from_the_state_last_deployed(env: Env) -> None:
    auto = env.make()
    auto.up(tenant="acme")  # deploys active
    text = env.tenant_file("acme").read_text()
    env.tenant_file("acme").write_text(text.replace("state: active", "state: onboarding"))
    auto.reload()
    with pytest.raises(TransitionError, match="cannot go from active to onboarding"):
        auto.up(tenant="acme")


# --- agent gates -----------------------------------------------------------------------------------


def test_an_agent_applies_exactly_what_it_previewed(env: Env) -> None:
    runner = FakeRunner(changes={"paybill-tenant/acme": [("update", ROLE, "acme-role", False)]})
    auto = env.make(actor="agent:billing-bot", runner=runner)
    auto.up(tenant="acme")
    preview, up = runner.calls
    assert preview.operation == "preview" and preview.plan_file
    assert up.operation == "up" and up.plan_file == preview.plan_file
    assert up.api_kwargs()["plan"] == preview.plan_file
    assert "--save-plan" in preview.command_line() and "--plan" in up.command_line()
    assert up.policy_configs["agent-guardrails"] and len(up.policy_packs) == 3


@pytest.mark.parametrize(("changes", "reason"), [
    ([("delete", f"paybill:tenant:Silo${DB}", "acme-db", True)], "deletes the protected resource"),
    ([("replace", f"paybill:tenant:Silo${DB}", "acme-db", False)], "replaces the stateful resource"),
    ([("create", ROLE, f"r{index}", False) for index in range(11)], "over the agent change budget of 10"),
])
def test_an_agent_is_refused_destructive_or_large_changes(env: Env, changes: list, reason: str) -> None:
    runner = FakeRunner(changes={"paybill-tenant/acme": changes})
    auto = env.make(actor="agent:billing-bot", runner=runner)
    with pytest.raises(ApprovalNeeded, match=reason) as refused:
        auto.up(tenant="acme")
    assert f"review --approve {refused.value.approval_id}" in str(refused.value)
    assert [call.operation for call in runner.calls] == ["preview"]  # nothing applied
    [entry] = auto.journal()
    assert entry.result == "refused" and entry.details["approval_requested"] == refused.value.approval_id
    assert isinstance(refused.value, GateRefused) and refused.value.exit_code == 1


def test_an_agent_deleting_a_resource_group_needs_approval_but_a_bucket_policy_does_not(env: Env) -> None:
    group = "azure-native:resources:ResourceGroup"
    runner = FakeRunner(changes={"paybill-tenant/acme": [("delete", f"paybill:tenant:Silo${group}", "acme-rg", False)],
                                 "paybill-tenant/globex": [("delete", "aws:s3/bucketPolicy:BucketPolicy", "p", False)]})
    auto = env.make(actor="agent:billing-bot", runner=runner)
    with pytest.raises(ApprovalNeeded, match=f"deletes the stateful resource {group} 'acme-rg'"):
        auto.up(tenant="acme")
    auto.up(tenant="globex")
    assert [(call.operation, call.stack.name) for call in runner.calls] == [
        ("preview", "acme"), ("preview", "globex"), ("up", "globex")]


def test_an_agent_touching_a_cell_needs_approval(env: Env) -> None:
    runner = FakeRunner(changes={"paybill-cell/aws-euw1-a": [("update", "aws:kms/key:Key", "k", True)]})
    auto = env.make(actor="agent:billing-bot", runner=runner)
    with pytest.raises(ApprovalNeeded, match="changes the cell stack aws-euw1-a"):
        auto.up(cell="aws-euw1-a")
    auto.up(cell="aws-use1-a")  # a cell preview without changes is fine


def test_a_human_approval_applies_the_reviewed_plan_once(env: Env) -> None:
    runner = FakeRunner(changes={"paybill-tenant/acme": [("delete", DB, "acme-db", True)]})
    agent = env.make(actor="agent:billing-bot", runner=runner)
    with pytest.raises(ApprovalNeeded) as refused:
        agent.up(tenant="acme")
    request = refused.value.approval_id
    [saved] = runner.plans_saved
    with pytest.raises(GateRefused, match="only a human may approve"):
        agent.approve(request)
    with pytest.raises(GateRefused, match="not approved"):
        agent.up(tenant="acme", approval=request)
    human = env.make()
    assert human.review().approvals[0].id == request
    assert human.approve(request).status == "approved"
    with pytest.raises(UsageError, match="not up of paybill-tenant/globex"):
        agent.up(tenant="globex", approval=request)
    runner.calls.clear()
    result = agent.up(tenant="acme", approval=request)
    assert result.approval == request
    [up] = runner.calls  # no new preview: exactly the reviewed plan, from the database
    assert up.operation == "up" and runner.plans_applied == [saved]
    assert not Path(up.plan_file or "").exists()  # written for the call only
    with pytest.raises(GateRefused, match="already used"):
        agent.up(tenant="acme", approval=request)


def test_a_changed_saved_plan_voids_the_approval(env: Env) -> None:
    runner = FakeRunner(changes={"paybill-tenant/acme": [("delete", DB, "acme-db", True)]})
    agent = env.make(actor="agent:billing-bot", runner=runner)
    with pytest.raises(ApprovalNeeded) as refused:
        agent.up(tenant="acme")
    env.make().approve(refused.value.approval_id)
    from sqlalchemy import update

    from paybill_iac.automation.store.fleet_runs import saved_plans_table

    with agent.store.db.transaction() as conn:  # the saved plan changed after review
        conn.execute(update(saved_plans_table).values(content='{"tampered": true}'))
    with pytest.raises(GateRefused, match="changed since it was reviewed"):
        agent.up(tenant="acme", approval=refused.value.approval_id)


def test_an_agent_destroy_is_gated_on_what_it_deletes(env: Env) -> None:
    runner = FakeRunner(state={"paybill-cell/aws-use1-a": [("same", DB, "cell-db", True)]})
    agent = env.make(actor="agent:ops", runner=runner)
    with pytest.raises(ApprovalNeeded, match="deletes the protected resource"):
        agent.destroy(cell="aws-use1-a")
    assert [call.operation for call in runner.calls] == ["preview-destroy"]


# --- crash recovery --------------------------------------------------------------------------------


def _crashing_up(catalog: str, state_dir: str, url: str) -> None:
    from paybill_iac.automation import Automation

    auto = Automation.open(catalog, state_dir=state_dir, state_url=url, lease_ttl=1.0,
                           runner=FakeRunner(script={"acme": ["crash"]}))
    auto.up(tenant="acme")


def test_a_crashed_operation_is_flagged_for_review_never_cancelled(env: Env) -> None:
    process = multiprocessing.get_context("fork").Process(
        target=_crashing_up, args=(str(env.catalog), str(env.state), env.url))
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 137  # died in the middle of its up
    runner = FakeRunner()
    auto = env.make(runner=runner)
    [open_entry] = auto.store.journal.entries(open_only=True)
    assert open_entry.operation == "up" and open_entry.tenant == "acme"
    time.sleep(1.1)  # the dead process's lease expires
    review = auto.review()
    assert {flag.stack for flag in review.found_now} == {"paybill-tenant/acme"}
    assert any("flagged for review" in note for note in env.notes)
    with pytest.raises(NeedsReview, match="review --clear paybill-tenant/acme"):
        auto.up(tenant="acme")
    auto.up(tenant="globex")  # other stacks carry on
    assert [call.stack.name for call in runner.calls] == ["globex"]
    with pytest.raises(GateRefused, match="only a human"):
        env.make(actor="agent:bot").clear_review("paybill-tenant/acme")
    assert auto.clear_review("tenant/acme") >= 1
    auto.up(tenant="acme")
    results = {entry.result for entry in auto.journal(tenant="acme")}
    assert {"abandoned", "needs-review", "succeeded"} <= results
    with pytest.raises(UsageError, match="no open review flag"):
        auto.clear_review("tenant/acme")


def test_an_interrupted_operation_flags_its_stack(env: Env) -> None:
    class Interrupting(FakeRunner):
        def run(self, invocation):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt

    auto = env.make(runner=Interrupting())
    with pytest.raises(KeyboardInterrupt):
        auto.up(tenant="acme")
    assert auto.journal()[0].result == "interrupted"
    assert [flag.stack for flag in auto.store.flags.find()] == ["paybill-tenant/acme"]
    assert auto.store.leases.get("paybill-tenant/acme") is None


def test_the_lease_is_renewed_while_an_operation_runs(env: Env) -> None:
    auto = env.make(runner=FakeRunner(script={"acme": ["sleep:0.6"]}), lease_ttl=0.3)
    auto.up(tenant="acme")  # would have expired 2x over without the heartbeat
    assert auto.store.flags.find() == []
    assert auto.journal()[0].result == "succeeded"

"""Lifecycle workflows against the runner double: what runs in which order, what the catalog says after."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from paybill_iac.automation import ApprovalNeeded, MoveContext, RunFailed
from paybill_iac.automation.catalog_edit import commit, edit_text, propose
from paybill_iac.errors import CatalogError, TransitionError, UsageError
from tests.automation.conftest import Env
from tests.automation.doubles import FakeRunner, tenant_outputs

POOLED = "paybill:tenant:Pooled"
DB = "aws:rds/instance:Instance"


def _state(env: Env, tenant: str) -> str:
    return yaml.safe_load(env.tenant_file(tenant).read_text())["state"]


def _deployed(call) -> str:  # type: ignore[no-untyped-def]
    return call.stack_config["config"]["paybill:state"]


def test_edit_text_keeps_comments_and_layout() -> None:
    text = "id: acme\n# the plan\nplan: starter   # cheap\nstate: active\nsubscription: {seats: 2}\n"
    edited = edit_text(text, {"state": "suspended", "plan": "growth"})
    assert edited == "id: acme\n# the plan\nplan: growth   # cheap\nstate: suspended\nsubscription: {seats: 2}\n"
    with pytest.raises(UsageError, match="expected one top-level 'state:'"):
        edit_text("id: a\n", {"state": "active"})
    with pytest.raises(UsageError, match="edit only"):
        edit_text(text, {"name": "Acme"})
    assert edit_text(text, {"cell": "aws-euw1-b"}).endswith("subscription: {seats: 2}\ncell: aws-euw1-b\n")
    assert edit_text("id: a\ncell: x   # pinned\nplan: p\n", {"cell": None}) == "id: a\nplan: p\n"
    with pytest.raises(UsageError, match="cannot be removed"):
        edit_text(text, {"plan": None})


def test_a_bad_edit_writes_nothing(env: Env) -> None:
    before = env.tenant_file("initech").read_bytes()
    with pytest.raises(CatalogError, match="does not allow gcp"):
        propose(env.catalog, "initech", {"plan": "sovereign"})
    with pytest.raises(CatalogError):
        commit(env.catalog, "initech", {"plan": "sovereign"})
    assert env.tenant_file("initech").read_bytes() == before
    assert not list((env.catalog / "tenants").glob(".*"))


def test_onboard_brings_up_a_new_cell_then_the_tenant_then_sets_active(env: Env) -> None:
    runner = FakeRunner()
    auto = env.make(runner=runner)
    results = auto.onboard("umbrella")
    assert [(call.operation, call.stack.key) for call in runner.calls] == [
        ("up", "paybill-cell/oci-fra-a"), ("up", "paybill-tenant/umbrella")]
    assert _deployed(runner.calls[1]) == "active"
    assert [result.operation for result in results] == ["up", "up", "db-apply"]
    assert _state(env, "umbrella") == "active"
    assert '"active"' in (env.stacks / "tenant" / "Pulumi.umbrella.yaml").read_text()
    assert auto.store.journal.last_state("umbrella") == "active"
    assert auto.onboard("umbrella") == []  # run again once it finished (its caller may not have heard): nothing to do
    text = env.tenant_file("acme").read_text()
    with pytest.raises(TransitionError, match="is active; onboard takes"):
        auto.onboard("acme")  # never onboarded by a workflow
    assert env.tenant_file("acme").read_text() == text


def test_a_failed_onboard_leaves_the_catalog_and_resumes(env: Env) -> None:
    runner = FakeRunner(script={"umbrella": ["fail"]})
    auto = env.make(runner=runner)
    with pytest.raises(RunFailed):
        auto.onboard("umbrella")
    assert _state(env, "umbrella") == "onboarding"
    runner.calls.clear()
    auto.onboard("umbrella")
    assert [call.stack.key for call in runner.calls] == ["paybill-tenant/umbrella"]  # the cell is already up
    assert _state(env, "umbrella") == "active"


def test_suspend_and_resume(env: Env) -> None:
    runner = FakeRunner()
    auto = env.make(runner=runner)
    auto.suspend("acme")
    assert _state(env, "acme") == "suspended" and _deployed(runner.calls[-1]) == "suspended"
    assert auto.suspend("acme") == []  # already suspended and deployed: nothing to do
    auto.resume("acme")
    assert _state(env, "acme") == "active" and _deployed(runner.calls[-1]) == "active"
    assert [entry.state for entry in auto.journal(tenant="acme") if entry.operation == "up"] == ["active", "suspended"]
    with pytest.raises(TransitionError, match="cannot go from onboarding to suspended"):
        auto.suspend("umbrella")
    assert _state(env, "umbrella") == "onboarding"


def test_an_agent_suspend_needs_approval_when_it_is_destructive(env: Env) -> None:
    runner = FakeRunner(changes={"paybill-tenant/acme": [("replace", DB, "acme-db", True)]})
    auto = env.make(actor="agent:bot", runner=runner)
    with pytest.raises(ApprovalNeeded) as refused:
        auto.suspend("acme")
    assert _state(env, "acme") == "active"
    env.make().approve(refused.value.approval_id)
    auto.suspend("acme", approval=refused.value.approval_id)
    assert _state(env, "acme") == "suspended"


def _pooled_state() -> list[tuple[str, str, str, bool]]:
    return [
        ("same", "pulumi:pulumi:Stack", "paybill-tenant-acme", False),
        ("same", "pulumi:providers:azure-native", "acme-provider", False),
        ("same", POOLED, "acme", False),
        ("same", f"{POOLED}$aws:secretsmanager/secret:Secret", "acme-secret", True),
        ("same", f"{POOLED}$aws:iam/role:Role", "acme-role", False),
    ]


def _retiring(invocation: Any) -> tuple[str, str] | None:
    """The retiring shape an up deploys beside the new one (isolation, guards), None when it deploys none."""
    found = invocation.stack_config["config"].get("paybill:retiring")
    return (found["isolation"], found["guards"]) if found else None


def test_change_plan_pooled_to_bridge_provisions_beside_lifts_then_retires(env: Env) -> None:
    outputs = {"database": {"name": "pb_acme_db"}, **tenant_outputs("globex")}
    runner = FakeRunner(state={"paybill-tenant/globex": _pooled_state()},
                        outputs_by_stack={"paybill-tenant/globex": outputs})
    auto = env.make(runner=runner)
    moves: list[MoveContext] = []
    cut: list[str] = []

    def data_move(context: MoveContext) -> None:
        assert context.from_isolation == "pooled" and context.to_isolation == "bridge"
        assert context.old_outputs == outputs
        assert yaml.safe_load(env.tenant_file("globex").read_text())["plan"] == "starter"  # not cut over yet
        moves.append(context)

    auto.change_plan("globex", "growth", data_move=data_move, cut_over=lambda context: cut.append(context.to_plan))
    cell_up, provision, lift, retire = runner.calls
    assert cell_up.stack.key == "paybill-cell/azure-weu-a"  # the cell was never brought up by us
    assert [call.operation for call in (provision, lift, retire)] == ["up", "up", "up"]
    assert provision.stack_config["config"]["paybill:isolation"] == "bridge" and provision.excludes == ()
    assert [_retiring(call) for call in (provision, lift, retire)] == [("pooled", "kept"), ("pooled", "lifted"), None]
    assert provision.stack_config["config"]["paybill:generation"] == 1  # names the cloud never frees: a new generation
    assert len(moves) == 1 and cut == ["growth"]
    assert yaml.safe_load(env.tenant_file("globex").read_text())["plan"] == "growth"
    assert retire.stack_config["config"]["paybill:plan"] == "growth"
    assert runner.unprotected == []  # no `pulumi state unprotect`: the lift step's up lifts the guards
    assert auto.store.workflows.running("change-plan", "globex") is None


def test_change_plan_resumes_after_a_failed_data_move(env: Env) -> None:
    runner = FakeRunner(state={"paybill-tenant/globex": _pooled_state()})
    auto = env.make(runner=runner)

    def broken(context: MoveContext) -> None:
        raise RuntimeError("copy failed")

    with pytest.raises(RuntimeError, match="copy failed"):
        auto.change_plan("globex", "growth", data_move=broken)
    assert yaml.safe_load(env.tenant_file("globex").read_text())["plan"] == "starter"
    with pytest.raises(UsageError, match="half-way through a change to plan 'growth'"):
        auto.change_plan("globex", "enterprise", data_move=broken)
    with pytest.raises(UsageError, match="still needs its data moved"):
        auto.change_plan("globex", "growth")
    runner.calls.clear()
    auto.change_plan("globex", "growth", data_move=lambda context: None)
    assert [(call.operation, _retiring(call)) for call in runner.calls] == [("up", ("pooled", "lifted")),
                                                                           ("up", None)]  # the lift, the retire
    assert yaml.safe_load(env.tenant_file("globex").read_text())["plan"] == "growth"


def test_change_plan_refuses_bad_requests_before_anything_runs(env: Env) -> None:
    runner = FakeRunner()
    auto = env.make(runner=runner)
    with pytest.raises(UsageError, match="give a data-move hook"):
        auto.change_plan("globex", "growth")
    with pytest.raises(UsageError, match="already on plan"):
        auto.change_plan("globex", "starter")
    with pytest.raises(CatalogError, match="does not allow gcp"):
        auto.change_plan("initech", "sovereign", data_move=lambda context: None)
    with pytest.raises(TransitionError, match="only active or suspended"):
        auto.change_plan("umbrella", "growth", data_move=lambda context: None)
    assert runner.calls == [] and auto.store.workflows.running("change-plan", "globex") is None


def test_an_agent_cannot_lift_or_retire_the_old_shape_without_approval(env: Env) -> None:
    runner = FakeRunner(state={"paybill-tenant/globex": _pooled_state()})
    agent = env.make(actor="agent:bot", runner=runner)
    original = runner.run

    def run(invocation):  # type: ignore[no-untyped-def]
        retiring = _retiring(invocation) is not None
        runner.changes["paybill-tenant/globex"] = [  # the retire (no retiring shape left) deletes the old one
            ("create", "paybill:tenant:Bridge$aws:iam/role:Role", "r", False) if retiring else
            ("delete", f"{POOLED}$aws:secretsmanager/secret:Secret", "acme-secret", True)]
        return original(invocation)

    runner.run = run  # type: ignore[method-assign]
    with pytest.raises(ApprovalNeeded, match="lifts the deletion guards of the old pooled shape"):
        agent.change_plan("globex", "growth", data_move=lambda context: None)
    assert yaml.safe_load(env.tenant_file("globex").read_text())["plan"] == "growth"  # cut over already
    for _ in range(2):  # the lift, then the retire
        request = agent.review().approvals[-1].id
        env.make().approve(request)
        if _ == 0:
            with pytest.raises(ApprovalNeeded, match="retires the old pooled shape"):
                agent.change_plan("globex", "growth", approval=request)
        else:
            agent.change_plan("globex", "growth", approval=request)
    assert agent.store.workflows.running("change-plan", "globex") is None


def test_offboard_snapshots_and_retains_and_keeps_the_stack(env: Env) -> None:
    state = [("same", f"{POOLED}$aws:secretsmanager/secret:Secret", "acme-secret", True),
             ("same", f"{POOLED}$aws:iam/role:Role", "acme-role", False)]
    runner = FakeRunner(state={"paybill-tenant/acme": state}, outputs_by_stack={"paybill-tenant/acme": {"x": 1}})
    auto = env.make(runner=runner)
    snapshots = []
    auto.offboard("acme", snapshot=lambda context: snapshots.append(context))
    assert [call.operation for call in runner.calls] == ["up"]  # no destroy: the stack stays until retention end
    assert _deployed(runner.calls[0]) == "offboarding"
    assert snapshots[0].outputs == {"x": 1}
    retained = auto.store.retained.find("acme")
    assert {item.urn.rsplit("::", 1)[-1] for item in retained} == {"acme-secret", "acme-role"}
    assert retained[0].retain_until == pytest.approx(auto.clock() + 7 * 86400, abs=60)
    assert _state(env, "acme") == "offboarding"
    assert (env.stacks / "tenant" / "Pulumi.acme.yaml").exists()
    assert auto.offboard("acme") == []  # run again once it finished: nothing to do
    with pytest.raises(UsageError, match="already offboarded"):
        auto.offboard("vandelay")  # offboarded before any workflow record
    assert auto.review().retention_ended == []


def test_offboard_resumes_at_a_failed_up(env: Env) -> None:
    runner = FakeRunner(script={"up:acme": ["fail"]})
    auto = env.make(runner=runner)
    with pytest.raises(RunFailed):
        auto.offboard("acme")
    assert _state(env, "acme") == "active"  # the tenant file says offboarding only once it is deployed
    runner.calls.clear()
    auto.offboard("acme")
    assert [call.operation for call in runner.calls] == ["up"]
    assert _state(env, "acme") == "offboarding"

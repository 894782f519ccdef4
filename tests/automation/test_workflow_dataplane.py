"""The workflows' data-plane steps, against the runner and data-plane doubles: which step runs when, on
which database, what the journal says, and how a failed step leaves the workflow resumable."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from paybill_iac.automation import ApprovalNeeded, DataPlaneFailed, MoveContext
from paybill_iac.automation.dataplane import DirectDataPlane
from paybill_iac.errors import GateRefused, TransitionError, UsageError
from tests.automation.conftest import Clock, Env
from tests.automation.doubles import ENDPOINT, FakeRunner, RecordingDataPlane

DAY = 86400.0


def _state(env: Env, tenant: str) -> str:
    return str(yaml.safe_load(env.tenant_file(tenant).read_text())["state"])


def _plan(env: Env, tenant: str) -> str:
    return str(yaml.safe_load(env.tenant_file(tenant).read_text())["plan"])


def _ops(auto: Any, tenant: str) -> list[tuple[str, str | None]]:
    """The tenant stack's journal, oldest first: (operation, result)."""
    return [(entry.operation, entry.result) for entry in reversed(auto.journal(stack=f"tenant/{tenant}", limit=None))]


def test_onboard_applies_the_database_after_the_tenant_is_up_and_before_it_is_active(env: Env) -> None:
    runner = FakeRunner()
    auto = env.make(runner=runner)
    seen: list[str] = []
    apply = env.data_plane.apply

    def spy(target: Any, *, active: bool) -> Any:
        seen.append(_state(env, "umbrella"))  # the catalog does not say active yet
        return apply(target, active=active)

    env.data_plane.apply = spy  # type: ignore[method-assign]
    results = auto.onboard("umbrella")
    assert seen == ["onboarding"] and _state(env, "umbrella") == "active"
    assert env.data_plane.calls == [("apply", "umbrella", "pb_umbrella_p_db")] and env.data_plane.active == [True]
    [target] = env.data_plane.targets
    assert (target.server, target.cell, target.database.connection_limit) == ("cell:oci-fra-a", "oci-fra-a", 20)
    assert _ops(auto, "umbrella") == [("up", "succeeded"), ("db-apply", "succeeded")]
    entry = auto.journal(stack="tenant/umbrella")[0]
    assert entry.details["database"] == "pb_umbrella_p_db" and entry.details["cell"] == "oci-fra-a"
    assert entry.details["server"] == "cell:oci-fra-a" and entry.details["workflow"] == "onboard"
    assert entry.change_summary is not None and entry.change_summary["counts"] == {"changed": 1, "in place": 1}
    assert entry.change_summary["endpoint"] == ENDPOINT and entry.change_summary["statements"]
    assert results[-1].operation == "db-apply" and results[-1].report.changed == ("apply_step",)
    assert results[-1].describe() == "db-apply paybill-tenant/umbrella: 1 changed"


def test_a_failed_db_apply_leaves_the_tenant_onboarding_and_the_next_run_carries_on(env: Env) -> None:
    env.data_plane.script["apply"] = ["unreachable"]
    runner = FakeRunner()
    auto = env.make(runner=runner)
    with pytest.raises(DataPlaneFailed) as failed:
        auto.onboard("umbrella")
    message = str(failed.value)
    assert "db-apply of paybill-tenant/umbrella failed: tenant 'umbrella' (cell 'oci-fra-a', 10.0.0.5:5432)" in message
    assert "connection refused" in message and "run it again to carry on" in message
    assert failed.value.exit_code == 1
    assert _state(env, "umbrella") == "onboarding"
    assert _ops(auto, "umbrella") == [("up", "succeeded"), ("db-apply", "failed")]
    assert "10.0.0.5:5432" in (auto.journal(stack="tenant/umbrella")[0].error or "")
    runner.calls.clear()
    auto.onboard("umbrella")
    assert runner.calls == []  # the up is recorded as done: the workflow carries on at the db-apply
    assert env.data_plane.operations("umbrella") == ["apply"] and _state(env, "umbrella") == "active"


def test_suspend_and_resume_switch_the_logins_after_the_up(env: Env) -> None:
    auto = env.make()
    assert [result.operation for result in auto.suspend("acme")] == ["up", "db-suspend"]
    assert _state(env, "acme") == "suspended"
    assert auto.suspend("acme") == []  # deployed, and the database already suspended
    assert [result.operation for result in auto.resume("acme")] == ["up", "db-resume"]
    assert env.data_plane.operations("acme") == ["suspend", "resume"]
    assert [op for op, _ in _ops(auto, "acme")] == ["up", "db-suspend", "up", "db-resume"]
    assert env.data_plane.targets[0].database.database == "pb_acme_p_db"


def test_a_failed_db_suspend_keeps_the_catalog_and_a_second_suspend_completes_it(env: Env) -> None:
    env.data_plane.script["suspend"] = ["no-secret"]
    auto = env.make()
    with pytest.raises(DataPlaneFailed, match="secret 'admin' is not set"):
        auto.suspend("acme")
    assert _state(env, "acme") == "active"  # the stack is suspended, the catalog not yet
    assert auto.store.journal.last_state("acme") == "suspended"
    assert [result.operation for result in auto.suspend("acme")] == ["db-suspend"]  # the up is recorded as done
    assert _state(env, "acme") == "suspended" and env.data_plane.operations("acme") == ["suspend"]


def test_change_plan_applies_the_new_shape_before_the_data_move_and_offboards_the_old_login_after_cut_over(
        env: Env) -> None:
    runner = FakeRunner()
    auto = env.make(runner=runner)
    plane = env.data_plane

    def data_move(context: MoveContext) -> None:
        assert plane.calls == [("apply", "globex", "pb_globex_b_db")]

    def cut_over(context: MoveContext) -> None:
        assert [operation for operation, _, _ in plane.calls] == ["apply"]

    results = auto.change_plan("globex", "growth", data_move=data_move, cut_over=cut_over)
    assert plane.calls == [("apply", "globex", "pb_globex_b_db"), ("offboard", "globex", "pb_globex_p_db")]
    new, old = plane.targets
    assert (new.server, new.database.connection_limit, plane.active) == ("tenant:globex", 60, [True])
    assert (old.server, old.database.connection_limit) == ("cell:azure-weu-a", 20)
    assert old.database.auth.object_id == new.database.auth.object_id  # type: ignore[union-attr]
    assert [result.operation for result in results] == ["up", "up", "db-apply", "db-offboard", "up", "up"]
    assert [op for op, _ in _ops(auto, "globex")] == ["up", "db-apply", "db-offboard", "up", "up"]  # lift, retire
    assert _plan(env, "globex") == "growth"


def test_change_plan_of_a_suspended_tenant_keeps_its_logins_off_and_within_one_shape_offboards_nothing(
        env: Env) -> None:
    auto = env.make()
    auto.change_plan("nakatomi", "enterprise")  # silo to silo: the same database, a new connection limit
    assert env.data_plane.calls == [("apply", "nakatomi", "pb_nakatomi_s_db")]
    assert env.data_plane.targets[0].database.connection_limit == 200 and env.data_plane.active == [True]
    assert _state(env, "initech") == "suspended"
    auto.change_plan("initech", "growth", data_move=lambda context: None)
    assert env.data_plane.operations("initech") == ["apply", "offboard"]
    assert env.data_plane.active[-1] is False and _state(env, "initech") == "suspended"


def test_change_plan_resumes_at_a_failed_db_apply_without_provisioning_again(env: Env) -> None:
    env.data_plane.script["apply:globex"] = ["unreachable"]
    runner = FakeRunner()
    auto = env.make(runner=runner)
    moves: list[str] = []
    with pytest.raises(DataPlaneFailed):
        auto.change_plan("globex", "growth", data_move=lambda context: moves.append("moved"))
    assert moves == [] and _plan(env, "globex") == "starter"
    runner.calls.clear()
    auto.change_plan("globex", "growth", data_move=lambda context: moves.append("moved"))
    # only the lift and the retire: no second provision
    assert [call.operation for call in runner.calls] == ["up", "up"]
    assert "paybill:retiring" not in runner.calls[-1].stack_config["config"]
    assert moves == ["moved"] and env.data_plane.operations("globex") == ["apply", "offboard"]


def test_offboard_revokes_the_logins_before_the_snapshot_and_records_the_database(env: Env) -> None:
    runner = FakeRunner()
    auto = env.make(runner=runner)
    order: list[str] = []
    dump_hook = lambda database, where: None  # noqa: E731 - passed through, not called by the double

    def snapshot(context: Any) -> None:
        order.append(f"snapshot after {env.data_plane.operations('acme')}")

    auto.offboard("acme", snapshot=snapshot, dump=dump_hook)
    assert order == ["snapshot after ['offboard']"] and env.data_plane.dumps == [dump_hook]
    assert [op for op, _ in _ops(auto, "acme")] == ["up", "db-offboard", "final-backup"]  # the stack stays
    workflow = auto.store.workflows.latest("offboard", "acme", status="completed")
    recorded = auto.store.workflows.step_detail(workflow.id, "db-offboard")
    assert recorded["target"]["database"] == "pb_acme_p_db" and recorded["target"]["cell"] == "aws-euw1-a"
    assert auto.journal(stack="tenant/acme")[1].details["dump"] is True


def test_offboard_resumes_at_a_failed_db_offboard(env: Env) -> None:
    env.data_plane.script["offboard"] = ["boom"]
    runner = FakeRunner()
    auto = env.make(runner=runner)
    with pytest.raises(RuntimeError, match="the double broke"):
        auto.offboard("acme")
    assert _state(env, "acme") == "offboarding" and _ops(auto, "acme")[-1] == ("db-offboard", "failed")
    runner.calls.clear()
    auto.offboard("acme")
    assert runner.calls == []  # the up is recorded as done: it carries on at the db-offboard
    assert env.data_plane.operations("acme") == ["offboard"] and _state(env, "acme") == "offboarding"


def _offboarded(env: Env, clock: Clock, tenant: str = "acme") -> None:
    auto = env.make(clock=clock)
    auto.offboard(tenant)


def test_retention_end_drops_the_recorded_database_once_the_retention_ended(env: Env) -> None:
    clock = Clock()
    _offboarded(env, clock)
    auto = env.make(clock=clock)
    with pytest.raises(UsageError, match="the retention of tenant 'acme' runs until .*: its data is kept"):
        auto.retention_end("acme")
    clock.advance(8 * DAY)  # starter keeps backups 7 days
    results = auto.retention_end("acme")
    assert [result.operation for result in results] == ["up", "db-drop", "destroy"]
    assert env.data_plane.calls[-1] == ("drop", "acme", "pb_acme_p_db")
    assert env.data_plane.targets[-1].cell == "aws-euw1-a"  # from the offboarding's record
    assert auto.retention_end("acme") == []  # done already
    assert _ops(auto, "acme")[-2:] == [("db-drop", "succeeded"), ("destroy", "succeeded")]
    assert _state(env, "acme") == "offboarded"


def test_an_agent_s_retention_end_waits_for_a_human_approval_before_the_drop(env: Env) -> None:
    from tests.automation.doubles import FakeRunner

    clock = Clock()
    _offboarded(env, clock)
    clock.advance(8 * DAY)
    runner = FakeRunner(state={"paybill-tenant/acme": [
        ("same", "paybill:tenant:Pooled$aws:secretsmanager/secret:Secret", "acme-secret", True)]})
    agent = env.make(actor="agent:bot", clock=clock, runner=runner)
    with pytest.raises(ApprovalNeeded) as refused:
        agent.retention_end("acme")
    request = refused.value.approval_id
    assert "drops database 'pb_acme_p_db' and its roles on cell:aws-euw1-a" in str(refused.value)
    assert "drop" not in env.data_plane.operations("acme") and _ops(agent, "acme")[-1] == ("destroy", "refused")
    with pytest.raises(GateRefused, match="is pending, not approved"):
        agent.retention_end("acme", approval=request)
    env.make(clock=clock).approve(request)
    results = agent.retention_end("acme", approval=request)
    assert [result.operation for result in results] == ["db-drop", "destroy"]
    assert results[-1].approval == request and env.data_plane.operations("acme")[-1] == "drop"
    assert agent.store.approvals.get(request).status == "used"


def test_retention_end_refuses_a_tenant_that_is_not_offboarding_or_never_was(env: Env) -> None:
    auto = env.make()
    with pytest.raises(TransitionError, match="tenant 'acme' is active: retention end takes an offboarding"):
        auto.retention_end("acme")
    with pytest.raises(TransitionError, match="'vandelay' is offboarded"):
        auto.retention_end("vandelay")
    with pytest.raises(UsageError, match="'wayne' has no completed offboarding on record"):
        auto.retention_end("wayne")
    assert env.data_plane.calls == []


def test_a_flagged_stack_refuses_a_data_plane_step_too(env: Env) -> None:
    auto = env.make()
    auto.store.flags.add("paybill-tenant/acme", "crashed during db-suspend")
    with pytest.raises(Exception, match="needs review"):
        auto.suspend("acme")
    assert env.data_plane.calls == []


def test_the_real_data_plane_says_which_setting_is_missing(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAYBILL_DB_ADMIN_URL", "PAYBILL_DB_ADMIN_URL__CELL_OCI_FRA_A"):
        monkeypatch.delenv(name, raising=False)
    auto = env.make(data_plane=DirectDataPlane())
    with pytest.raises(DataPlaneFailed) as failed:
        auto.onboard("umbrella")
    assert "no admin connection for server cell:oci-fra-a: set PAYBILL_DB_ADMIN_URL__CELL_OCI_FRA_A" \
        in str(failed.value)
    assert failed.value.exit_code == 2 and _state(env, "umbrella") == "onboarding"
    assert isinstance(env.make().data_plane, RecordingDataPlane)

"""Issue 10's workflows against the lifecycle engine double (the components' lifecycle on each cloud's types,
the engine's protect and retain semantics) and the state database: offboarding keeps the stack and records
its final backup; retention end releases the guards, empties what OCI deletes only empty, drops a pooled
database and destroys; a cancelled offboarding goes back to the original spec; a plan change in every
direction provisions beside, lifts, then retires, with no `pulumi state unprotect`; names the cloud never
frees get a new generation that survives a reload."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from paybill_iac.automation import ApprovalNeeded, MoveContext
from paybill_iac.automation.cloudcli import CloudCommandFailed, gcp_backup_commands, oci_empty_bucket_command
from paybill_iac.catalog import ledger, load_catalog
from paybill_iac.errors import OperationError, TransitionError, UsageError
from tests.automation.conftest import Clock, Env
from tests.automation.lifecycle_double import NAMESPACE, TYPES, CloudCliDouble, LifecycleRunner

DAY = 86400.0
AGENT = "agent:billing-bot"


def _state(env: Env, tenant: str) -> str:
    return str(yaml.safe_load(env.tenant_file(tenant).read_text())["state"])


def _ops(auto: Any, tenant: str) -> list[str]:
    """The tenant stack's successful operations, oldest first."""
    return [entry.operation for entry in reversed(auto.journal(stack=f"tenant/{tenant}", limit=None))
            if entry.result == "succeeded"]


def _entries(auto: Any, tenant: str, operation: str) -> list[Any]:
    return [entry for entry in reversed(auto.journal(stack=f"tenant/{tenant}", limit=None))
            if entry.operation == operation and entry.result == "succeeded"]


def _resources(runner: LifecycleRunner, tenant: str) -> dict[str, Any]:
    return dict(runner.read()["stacks"].get(f"paybill-tenant/{tenant}", {}).get("resources", {}))


def _types(runner: LifecycleRunner, tenant: str) -> set[str]:
    return {item["type"] for item in _resources(runner, tenant).values()}


def _setup(env: Env, *stacks: tuple[str, str], clock: Clock | None = None, actor: str = "human",
           cli: CloudCliDouble | None = None) -> tuple[Any, LifecycleRunner, CloudCliDouble]:
    for kind, name in stacks:
        if kind == "tenant":  # within every plan's seats and sizes, so that any plan change is valid
            path = env.tenant_file(name)
            path.write_text(re.sub(r"overrides: .*\n", "", re.sub(r"seats: \d+", "seats: 20", path.read_text())))
    runner = LifecycleRunner(str(env.root / "engine.json"))
    cli = cli or CloudCliDouble()
    human = env.make(runner=runner, cloud_cli=cli, **({"clock": clock} if clock else {}))
    for kind, name in stacks:
        human.up(**{kind: name})
    auto = human if actor == "human" else env.make(actor=actor, runner=runner, cloud_cli=cli,
                                                  **({"clock": clock} if clock else {}))
    return auto, runner, cli


def _moved(context: MoveContext) -> None:
    assert context.new_database is not None


# --- offboarding keeps the stack -----------------------------------------------------------------------------


def test_offboard_keeps_the_stack_removes_only_the_access_and_journals_the_final_backup(env: Env) -> None:
    auto, runner, cli = _setup(env, ("tenant", "oscorp"))
    before = _resources(runner, "oscorp")
    auto.offboard("oscorp")
    after = _resources(runner, "oscorp")
    assert _state(env, "oscorp") == "offboarding"
    assert "destroy" not in _ops(auto, "oscorp") and runner.read()["lost"] == []
    gone = set(before) - set(after)
    assert {before[urn]["type"] for urn in gone} == {TYPES["oci"]["access"]}  # only the access path went
    kept = {urn: item for urn, item in after.items() if item["type"] != "pulumi:pulumi:Stack"}
    assert kept and all(item["retain"] for item in kept.values())  # everything the data needs, retained on delete
    assert all(item["protect"] for item in kept.values() if item["type"] in (TYPES["oci"]["db"],
                                                                             TYPES["oci"]["bucket"]))
    assert TYPES["oci"]["backup"] in {item["type"] for item in after.values()}
    [backup] = _entries(auto, "oscorp", "final-backup")
    assert backup.change_summary["final_backup"]["id"] == "oscorp-s-final-backup-id"
    workflow = auto.store.workflows.latest("offboard", "oscorp", status="completed")
    assert auto.store.workflows.step_detail(workflow.id, "final-backup")["final_backup"]["kind"] == "oci final backup"
    assert runner.read()["stacks"]["paybill-tenant/oscorp"]["outputs"]["final_backup"]["id"].endswith("backup-id")
    assert cli.commands == []  # OCI: the stack takes it
    assert auto.offboard("oscorp") == []  # run again once it finished: nothing to do


@pytest.mark.parametrize("answer_with_id", [True, False])
def test_gcp_offboarding_takes_its_on_demand_backup_with_gcloud(env: Env, answer_with_id: bool) -> None:
    cli = CloudCliDouble(answer_with_id=answer_with_id)
    auto, runner, _ = _setup(env, ("tenant", "soylent"), cli=cli)
    auto.offboard("soylent")
    workflow = auto.store.workflows.latest("offboard", "soylent", status="completed")
    description = f"paybill-iac final backup of soylent (offboard {workflow.id})"
    create, find = gcp_backup_commands("soylent-s-db", "pb-tenants-prod", description)
    assert cli.commands == ([create] if answer_with_id else [create, find])
    assert create[:5] == ["gcloud", "sql", "backups", "create", "--instance=soylent-s-db"]
    [entry] = _entries(auto, "soylent", "final-backup")
    assert entry.change_summary["final_backup"]["id"] == ("1764590000000" if answer_with_id else "1764590000001")
    assert entry.details["workflow"] == "offboard"


def test_a_failed_gcloud_backup_stops_the_offboarding_and_a_second_run_carries_on(env: Env) -> None:
    cli = CloudCliDouble(fail=["sql"])
    auto, runner, _ = _setup(env, ("tenant", "soylent"), cli=cli)
    with pytest.raises(OperationError, match="final-backup of paybill-tenant/soylent failed: .*the cloud said no"):
        auto.offboard("soylent")
    assert [(e.operation, e.result) for e in auto.journal(stack="tenant/soylent", limit=1)] == [
        ("final-backup", "failed")]
    auto.offboard("soylent")
    assert len(_entries(auto, "soylent", "final-backup")) == 1
    assert len([command for command in cli.commands if command[3] == "create"]) == 2


def test_the_cli_runner_says_when_a_cli_is_missing() -> None:
    from paybill_iac.automation.cloudcli import run_command

    with pytest.raises(UsageError, match="the `paybill-no-such-cli` CLI is not installed"):
        run_command(["paybill-no-such-cli", "sql", "backups", "create"])
    with pytest.raises(CloudCommandFailed, match="failed \\(exit 3\\)"):
        run_command(["sh", "-c", "echo nope >&2; exit 3"])


# --- retention end -------------------------------------------------------------------------------------------


def test_retention_end_releases_the_guards_empties_the_oci_bucket_then_destroys(env: Env) -> None:
    clock = Clock()
    auto, runner, cli = _setup(env, ("tenant", "oscorp"), clock=clock)
    auto.offboard("oscorp")
    with pytest.raises(UsageError, match="the retention of tenant 'oscorp' runs until"):
        auto.retention_end("oscorp")
    clock.advance(40 * DAY)
    auto.retention_end("oscorp")
    ops = _ops(auto, "oscorp")
    assert ops[-3:] == ["up", "empty-buckets", "destroy"]
    [release] = [entry for entry in _entries(auto, "oscorp", "up") if entry.details.get("step") == "release"]
    assert release.details["deploys"]["guards"] == "released" and release.details["deploys"]["state"] == "offboarding"
    assert runner.read()["deployed"][-1]["guards"] == "released"
    bucket = "oscorp-s-data-g0"
    assert cli.commands == [oci_empty_bucket_command(NAMESPACE, bucket)]
    assert cli.commands[0][:4] == ["oci", "os", "object", "bulk-delete-versions"]
    assert _resources(runner, "oscorp") == {}
    assert _state(env, "oscorp") == "offboarded"
    assert ledger.read(env.catalog).entries["oscorp"].location.offboarded
    assert not (env.stacks / "tenant" / "Pulumi.oscorp.yaml").exists()
    assert auto.retention_end("oscorp") == []


def test_retention_end_refuses_a_tenant_that_is_not_offboarding(env: Env) -> None:
    auto, _, _ = _setup(env)
    with pytest.raises(TransitionError, match="tenant 'acme' is active: retention end takes an offboarding"):
        auto.retention_end("acme")


def test_an_agent_s_retention_end_waits_for_one_approval_before_anything_irreversible(env: Env) -> None:
    clock = Clock()
    human, runner, _ = _setup(env, ("cell", "aws-euw1-a"), ("tenant", "acme"), clock=clock)
    human.offboard("acme")
    clock.advance(8 * DAY)
    agent = env.make(actor=AGENT, runner=runner, cloud_cli=CloudCliDouble(), clock=clock)
    with pytest.raises(ApprovalNeeded, match="drops database 'pb_acme_p_db'") as refused:
        agent.retention_end("acme")
    assert env.data_plane.operations("acme") == ["offboard"]  # nothing dropped
    assert _resources(runner, "acme") and runner.read()["lost"] == []
    human.approve(refused.value.approval_id)
    agent.retention_end("acme", approval=refused.value.approval_id)
    assert env.data_plane.operations("acme") == ["offboard", "drop"]
    assert env.data_plane.targets[-1].cell == "aws-euw1-a"  # the database the offboarding recorded
    assert _resources(runner, "acme") == {} and _state(env, "acme") == "offboarded"
    assert _ops(agent, "acme")[-2:] == ["db-drop", "destroy"]


# --- cancelling an offboarding -------------------------------------------------------------------------------


def test_cancelling_an_offboarding_restores_the_active_spec_and_lets_the_final_backup_go(env: Env) -> None:
    auto, runner, _ = _setup(env, ("tenant", "oscorp"))
    active = _resources(runner, "oscorp")
    auto.offboard("oscorp")
    auto.cancel_offboarding("oscorp")
    assert _state(env, "oscorp") == "active"
    back = _resources(runner, "oscorp")
    assert {urn: (item.get("protect"), item.get("retain")) for urn, item in back.items()} == {
        urn: (item.get("protect"), item.get("retain")) for urn, item in active.items()}
    kept = runner.read()["kept"]
    assert [item["type"] for item in kept] == [TYPES["oci"]["backup"]]  # retained: it stays in the cloud
    assert runner.read()["lost"] == []
    events = [event["event"] for event in runner.read()["events"] if event["event"] in ("unprotect", "protect")]
    assert events == ["unprotect"]  # the final backup's, after the gate
    assert env.data_plane.operations("oscorp")[-1] == "resume"


# --- change plan: provision beside, lift, retire -------------------------------------------------------------

DIRECTIONS = [("dunder-mifflin", "growth"), ("dunder-mifflin", "enterprise"), ("hooli", "enterprise"),
              ("hooli", "starter"),
              ("cyberdyne", "growth"), ("cyberdyne", "starter")]


@pytest.mark.parametrize(("tenant", "plan"), DIRECTIONS)
def test_a_plan_change_provisions_beside_lifts_then_retires_in_every_direction(env: Env, tenant: str,
                                                                               plan: str) -> None:
    auto, runner, _ = _setup(env, ("cell", "aws-euw1-a"), ("tenant", tenant))
    old = _resources(runner, tenant)
    auto.change_plan(tenant, plan, data_move=_moved)
    deployed = [(item["guards"], item["retiring"]) for item in runner.read()["deployed"]
                if item["stack"] == f"paybill-tenant/{tenant}"][1:]
    old_isolation = {"dunder-mifflin": "pooled", "hooli": "bridge", "cyberdyne": "silo"}[tenant]
    assert deployed == [("kept", old_isolation), ("kept", old_isolation), ("kept", None)]
    steps = [entry.details.get("step") for entry in _entries(auto, tenant, "up")][1:]
    assert steps == ["provision", "lift", "retire"]
    lift = [entry for entry in _entries(auto, tenant, "up") if entry.details.get("step") == "lift"][0]
    assert lift.details["deploys"]["retiring"]["guards"] == "lifted"
    assert not [event for event in runner.read()["events"] if event["event"] in ("unprotect", "protect")]
    after = _resources(runner, tenant)
    assert not set(old) - {urn for urn in old if "pulumi:pulumi:Stack" in urn} & set(after)  # the old shape went
    lost = {item["type"] for item in runner.read()["lost"]}
    assert lost and all(item["operation"] == "up" for item in runner.read()["lost"])  # deleted at the retire only
    assert ledger.read(env.catalog).entries[tenant].location.generation == 1
    assert (env.stacks / "tenant" / f"Pulumi.{tenant}.yaml").read_text().count("retiring") == 0


def test_the_lift_and_the_retire_each_judge_the_spec_they_deploy(env: Env) -> None:
    auto, runner, _ = _setup(env, ("tenant", "cyberdyne"))
    seen: list[tuple[str | None, Any]] = []
    original = runner.run

    def spy(invocation: Any) -> Any:
        if invocation.operation == "up" and invocation.stack.kind == "tenant":
            found = invocation.policy_configs["tenant-isolation"]["aws-rds-instance-deletion-protection"]["context"]
            seen.append(((found.get("retiring") or {}).get("guards"), found.get("guards")))
        return original(invocation)

    runner.run = spy  # type: ignore[method-assign]
    auto.change_plan("cyberdyne", "growth", data_move=_moved)
    assert seen == [("kept", "kept"), ("lifted", "kept"), (None, "kept")]


def test_an_oci_round_trip_takes_a_new_generation_each_time_and_it_survives_a_reload(env: Env) -> None:
    auto, runner, cli = _setup(env, ("tenant", "oscorp"))
    auto.change_plan("oscorp", "growth", data_move=_moved)
    assert load_catalog(env.catalog).generations["oscorp"] == 1
    auto.change_plan("oscorp", "enterprise", data_move=_moved)
    assert load_catalog(env.catalog).generations["oscorp"] == 2
    assert ledger.read(env.catalog).entries["oscorp"].location.generation == 2
    assert "paybill:generation: 2" in (env.stacks / "tenant" / "Pulumi.oscorp.yaml").read_text()
    # each retire emptied the bucket of the shape it deleted, never the live one
    assert [command[-2] for command in cli.commands] == ["oscorp-s-data-g0", "oscorp-b-data-g1"]
    buckets = {item["inputs"].get("name") for item in _resources(runner, "oscorp").values()} - {None}
    assert buckets == {"oscorp-s-data-g2"}


def test_an_agent_s_plan_change_needs_a_human_for_the_lift_and_for_the_retire_before_any_bucket_empties(
        env: Env) -> None:
    human, runner, cli = _setup(env, ("cell", "oci-fra-a"), ("tenant", "oscorp"))
    agent = env.make(actor=AGENT, runner=runner, cloud_cli=cli)
    with pytest.raises(ApprovalNeeded, match="lifts the deletion guards of the old silo shape") as lift:
        agent.change_plan("oscorp", "growth", data_move=_moved)
    assert runner.read()["lost"] == [] and cli.commands == []
    human.approve(lift.value.approval_id)
    with pytest.raises(ApprovalNeeded, match="retires the old silo shape") as retire:
        agent.change_plan("oscorp", "growth", approval=lift.value.approval_id)
    assert runner.read()["lost"] == [] and cli.commands == []  # nothing emptied before the retire's approval
    human.approve(retire.value.approval_id)
    agent.change_plan("oscorp", "growth", approval=retire.value.approval_id)
    assert [command[-2] for command in cli.commands] == ["oscorp-s-data-g0"]
    assert {item["type"] for item in runner.read()["lost"]} >= {TYPES["oci"]["db"], TYPES["oci"]["bucket"]}


def test_a_tenant_offboarded_by_the_earlier_workflow_gets_its_database_dropped_alone(env: Env) -> None:
    from paybill_iac.automation.dataplane import target_for

    clock = Clock()
    auto, runner, _ = _setup(env, clock=clock)
    recorded = target_for(auto.catalog, "acme").to_dict() | {"tenant": "vandelay"}
    records = auto.store.workflows
    earlier = records.start("offboard", "vandelay", {"from_state": "active"}, "human", {"edit": {}})
    for step, detail in (("retain", {}), ("db-offboard", {"target": recorded}),
                         ("retention", {"retain_until": clock() + 7 * DAY}), ("destroy", None), ("commit", None)):
        records.step_done(earlier.id, step, detail)
    records.finish(earlier.id)
    with pytest.raises(UsageError, match="the retention of tenant 'vandelay' runs until"):
        auto.retention_end("vandelay")
    clock.advance(8 * DAY)
    [dropped] = auto.retention_end("vandelay")  # the stack went at its offboarding: the database alone
    assert dropped.operation == "db-drop" and env.data_plane.calls == [("drop", "vandelay", "pb_acme_p_db")]
    assert auto.retention_end("vandelay") == [] and runner.read()["stacks"] == {}


def test_a_pooled_oci_shape_s_slice_of_its_cell_s_bucket_is_never_emptied(env: Env) -> None:
    clock = Clock()
    auto, runner, cli = _setup(env, ("cell", "oci-fra-a"), clock=clock)
    auto.onboard("umbrella")
    auto.change_plan("umbrella", "enterprise", data_move=_moved)  # pooled -> silo: the old shape owns no bucket
    assert cli.commands == []
    auto.change_plan("umbrella", "starter", data_move=_moved)  # silo -> pooled: the silo bucket is emptied
    assert [command[-2] for command in cli.commands] == ["umbrella-s-data-g1"]
    auto.offboard("umbrella")
    clock.advance(8 * DAY)
    auto.retention_end("umbrella")  # a pooled tenant at retention end: its database dropped, no bucket emptied
    assert [command[-2] for command in cli.commands] == ["umbrella-s-data-g1"]
    assert env.data_plane.operations("umbrella")[-1] == "drop" and _resources(runner, "umbrella") == {}


def test_a_cell_built_again_after_its_destroy_takes_new_names_and_the_ledger_keeps_them(env: Env) -> None:
    from paybill_iac.model import naming
    from paybill_iac.model.spec import cell_spec

    auto, runner, _ = _setup(env)  # its stack holds nothing here (the double refuses to delete a protected server)
    before = cell_spec(load_catalog(env.catalog), "aws-use1-a")
    auto.destroy(cell="aws-use1-a")
    assert ledger.read(env.catalog).cells == {"aws-use1-a": 1}
    catalog = load_catalog(env.catalog)  # a reload reads it back (the YAML path: the file now has cells:)
    assert catalog.generations["aws-use1-a"] == 1
    again = cell_spec(catalog, "aws-use1-a")
    never_freed = set(naming.NEVER_FREED["aws"]) & set(again.names)
    assert never_freed and all(again.names[key] != before.names[key] for key in never_freed)
    assert {key for key in again.names if again.names[key] != before.names[key]} == never_freed
    auto.destroy(cell="aws-use1-a")  # destroyed again (nothing to delete): the generation moves on once more
    assert ledger.read(env.catalog).cells == {"aws-use1-a": 2}
    assert "acme" in ledger.read(env.catalog).entries  # the tenants' entries are untouched

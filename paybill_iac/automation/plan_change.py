"""The workflows that move a tenant's data: change plan (across isolation models too) and move (to another
cell, region or cloud). Both hold the tenant for all their steps and record, before anything changes,
what they need to finish or undo: the old shape's outputs, resources (with their protect flags) and
database, the catalog edit and the ledger entry they lead to. A resumed workflow works from that record,
never from the stack as it is then (which may hold the new shape already).

    change plan  between isolation models: provision (`up` of the new spec building the old shape beside it,
                 `new.with_retiring(old, "kept")`: creates only, the old shape's guards stay; the new shape's
                 names the cloud never frees take the next generation, recorded in the ledger), db-apply on
                 the new shape, the service's data-move hook, cut over (its hook, then the tenant file names
                 the new plan and the ledger records the new shape), db-offboard of the old shape's login
                 (its database is kept), lift (`up` of `new.with_retiring(old, "lifted")`: updates only,
                 protect and the cloud-side guards of the old shape off; an agent needs an approval), the
                 buckets of the old shape the cloud deletes only empty emptied (OCI), retire (`up` of the new
                 spec alone: the old shape is deleted; its key and final backup stay in the cloud; an agent
                 needs an approval). Within one model: the new plan is an update in place.
    move         a pooled tenant to another cell, region or cloud (its data lives on the cell's server and
                 in the cell's storage): db-apply on the new cell's server, the data-move hook, cut over
                 (hook, the tenant file's cell/region/cloud, the ledger), the up that moves the tenant's own
                 resources (protection lifted only after the gate, as above), db-apply again (the identity's
                 new outputs), db-offboard of the old login
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import paybill_iac.automation.cloudcli as cloudcli
from paybill_iac.automation.catalog_edit import Changes, propose
from paybill_iac.automation.dataplane import target_for, target_from_dict
from paybill_iac.automation.execution import Unguard
from paybill_iac.automation.gates import is_agent
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.lifecycle_steps import buckets_to_empty, check_approval, deploy, empty_buckets
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.runbook import (
    Approvals,
    Run,
    begin,
    cell_is_up,
    commit_edit,
    data_step,
    finished,
    regenerate_files,
    tenant_of,
    under,
)
from paybill_iac.automation.runner import ChangeSummary, Step
from paybill_iac.automation.specs import at_generation, spec_from_record, spec_record, tenant_spec_of
from paybill_iac.automation.store import Workflow
from paybill_iac.automation.workflows import MoveContext, MoveHook
from paybill_iac.catalog import ledger
from paybill_iac.catalog.ledger import Declared, Location
from paybill_iac.errors import TransitionError, UsageError
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.words import unknown


def _old_shape(op: Operator, tenant_id: str, catalog: Catalog, old_catalog: Catalog, moves: bool) -> dict[str, Any]:
    """What the workflow records of the stack before it changes anything."""
    stack = StackRef.tenant(tenant_id)
    existing = op.resources(stack, catalog)
    old_outputs = op.outputs(stack, catalog)
    return {"old_outputs": old_outputs,
            "old": [[step.urn, step.type, step.protect, step.retain_on_delete] for step in existing],
            "old_database": target_for(old_catalog, tenant_id, old_outputs).to_dict() if moves else None}


def _location(root: Any, catalog: Catalog, tenant_id: str) -> Location:
    entry = ledger.read(root).entries.get(tenant_id)
    return entry.location if entry is not None and entry.location.isolation else ledger.location_of(catalog, tenant_id)


def _check_live(op: Operator, catalog: Catalog, tenant_id: str, what: str) -> None:
    tenant = tenant_of(catalog, tenant_id)
    if tenant.state not in ("active", "suspended"):
        raise TransitionError(f"tenant '{tenant_id}' is {tenant.state}; only active or suspended tenants {what}")
    op.check_deployed_transition(tenant_id, tenant.state)


def _declared(run: Run) -> Declared:
    return ledger.declared_from(run.record["declared"], run.workflow.tenant)


def _retire_unguard(run: Run, component: str | None) -> Unguard:
    """The old shape's resources the retiring up deletes, as recorded (`component`: those under it only)."""
    old = [(urn, type_, bool(protect), bool(retain)) for urn, type_, protect, retain in run.record["old"]
           if type_ != "pulumi:pulumi:Stack" and not type_.startswith("pulumi:providers:")
           and (component is None or under(urn, component))]
    reviewed = ChangeSummary.from_steps(Step("delete", urn, type_, protect, retain)
                                        for urn, type_, protect, retain in old)
    return Unguard(tuple(urn for urn, _, protect, _ in old if protect), reviewed)


def change_plan(op: Operator, tenant_id: str, plan: str, *, data_move: MoveHook | None = None,
                cut_over: MoveHook | None = None, approval: int | None = None) -> list[OperationResult]:
    """Move a tenant to another plan, across isolation models too. Resumable: run it again with the
    same plan after a failure, an interrupt or an approval and it carries on from its record."""
    root = op.settings.catalog_dir
    stack = StackRef.tenant(tenant_id)
    with op.hold("change-plan", tenant_id) as hold:
        def start() -> tuple[dict[str, Any], dict[str, Any]] | None:
            catalog = op.reload()
            tenant = tenant_of(catalog, tenant_id)
            if plan not in catalog.plans:
                raise UsageError(unknown("plan", plan, catalog.plans))
            entry = ledger.read(root).entries.get(tenant_id)
            merged = entry is not None and entry.declared is not None and entry.declared.workflow == "change-plan" \
                and entry.declared.plan == plan and tenant.plan == plan
            from_plan = entry.declared.from_plan if merged and entry and entry.declared else tenant.plan
            if from_plan == plan and finished(op, "change-plan", tenant_id, to=plan):
                return None  # run again after it finished: nothing to do
            if from_plan == plan or from_plan is None:
                raise UsageError(f"tenant '{tenant_id}' is already on plan '{plan}'")
            _check_live(op, catalog, tenant_id, "change plan")
            old_catalog = catalog if tenant.plan == from_plan else propose(root, tenant_id, {"plan": from_plan})[0]
            params = {"from": from_plan, "to": plan, "from_isolation": old_catalog.plans[from_plan].isolation,
                      "to_isolation": catalog.plans[plan].isolation}
            moves = params["from_isolation"] != params["to_isolation"]
            if moves and data_move is None:
                raise UsageError(f"moving tenant '{tenant_id}' from {params['from_isolation']} to "
                                 f"{params['to_isolation']} moves its data: give a data-move hook")
            changes: dict[str, str | None] = {"plan": plan}
            if params["to_isolation"] == "silo" and tenant.cell is not None:
                changes["cell"] = None  # a silo tenant has no cell
            old_location = _location(root, old_catalog, tenant_id)
            declare = Declared("change-plan", ledger.plan_change_to(old_location, params["to_isolation"]),
                               from_plan=from_plan, plan=plan)
            target = propose(root, tenant_id, changes, declare=declare)[0]  # refuses a bad plan now
            declare = replace(declare, to=replace(declare.to, cell=target.placements.get(tenant_id)))
            old_spec = at_generation(tenant_spec_of(old_catalog, tenant_id), old_location.generation)
            record = {**_old_shape(op, tenant_id, catalog, old_catalog, moves), "edit": changes,
                      "declared": declare.as_dict(), "old_location": old_location.as_dict(),
                      "old_spec": spec_record(old_spec)}
            return params, record

        def same(workflow: Workflow) -> None:
            if workflow.params["to"] != plan:
                raise UsageError(f"tenant '{tenant_id}' is half-way through a change to plan '{workflow.params['to']}'"
                                 f"; finish it first (change-plan {tenant_id} --plan {workflow.params['to']})")

        run = begin(op, hold, "change-plan", tenant_id, start, same)
        if run is None:
            return []
        params = run.params
        moves = params["from_isolation"] != params["to_isolation"]
        if moves and data_move is None and "data-move" not in run.steps:
            raise UsageError(f"tenant '{tenant_id}' still needs its data moved: give the data-move hook")
        declared = _declared(run)
        target = propose(root, tenant_id, run.record["edit"], declare=declared)[0]
        approvals = Approvals(approval)
        results: list[OperationResult] = []
        details = {"workflow": "change-plan", "from": params["from"], "to": plan}
        old_spec = spec_from_record(tenant_id, run.record["old_spec"]) if moves else None
        new_spec = tenant_spec_of(target, tenant_id)
        if run.pending("provision"):
            cell_id = target.placements.get(tenant_id)
            if cell_id and not cell_is_up(op, cell_id):
                results.append(op.run_step(StackRef.cell(cell_id), "up", catalog=target, approval=approvals.take(),
                                           details=details))
            if old_spec is not None:  # the new shape beside the old one, whose guards stay: nothing existing changes
                provisioned = deploy(op, new_spec.with_retiring(old_spec, "kept"), target, step="provision",
                                     details=details, approval=approvals.take())
            else:  # within one model the new plan updates the shape in place, at the retire step
                untouched = tuple(urn for urn, type_, _, _ in run.record["old"] if type_ != "pulumi:pulumi:Stack")
                provisioned = op.run_step(stack, "up", catalog=target, excludes=untouched, approval=approvals.take(),
                                          details={**details, "step": "provision"})
            results.append(provisioned)
            run.done("provision", {"new_outputs": provisioned.outputs})
        new_outputs = run.detail("provision").get("new_outputs") or {}
        new_database = target_for(target, tenant_id, new_outputs)
        if run.pending("db-apply"):
            active = target.tenants[tenant_id].state == "active"
            results.append(data_step(op, "db-apply", new_database, {**details, "step": "db-apply"}, active=active))
            run.done("db-apply")
        context = MoveContext(tenant_id, params["from"], plan, params["from_isolation"], params["to_isolation"],
                              run.record.get("old_outputs") or {}, new_outputs, run.id, run.record.get("old_database"),
                              new_database.to_dict())
        _move_and_cut_over(op, run, context, data_move, cut_over, declared)
        if run.pending("db-offboard-old"):
            if run.record.get("old_database"):
                results.append(data_step(op, "db-offboard", target_from_dict(run.record["old_database"]),
                                         {**details, "step": "db-offboard-old"}))
            run.done("db-offboard-old")
        old_isolation = params["from_isolation"]

        def gated(summary: ChangeSummary) -> list[str]:
            deleted = summary.urns("delete", "delete-replaced")
            return [f"it retires the old {old_isolation} shape of tenant '{tenant_id}' "
                    f"({len(deleted)} resources deleted)"] if deleted else []

        if old_spec is not None and run.pending("lift"):
            # the old shape's guards lifted (updates only); its final backup is what its deletion leaves
            recorded = [urn for urn, type_, _, _ in run.record["old"] if type_ != "pulumi:pulumi:Stack"
                        and not type_.startswith("pulumi:providers:")]

            def lifting(_: ChangeSummary) -> list[str]:
                return [f"it lifts the deletion guards of the old {old_isolation} shape of tenant '{tenant_id}' "
                        f"({len(recorded)} resources), which its retire step then deletes"]

            lifted = deploy(op, new_spec.with_retiring(old_spec, "lifted"), op.reload(), step="lift",
                            details=details, approval=approvals.take(), gated=lifting)
            results.append(lifted)
            retiring = lifted.outputs.get("retiring") if isinstance(lifted.outputs.get("retiring"), dict) else {}
            backup = cloudcli.from_outputs((retiring or {}).get("final_backup"))
            run.done("lift", {"outputs": lifted.outputs, "final_backup": backup.as_dict() if backup else None})
        if run.pending("retire"):
            current = op.reload()
            given = approvals.take()
            lift_outputs = run.detail("lift").get("outputs") or {}
            buckets = (buckets_to_empty(op, stack, current, lift_outputs, old_isolation, "retiring")
                       if old_spec is not None else [])
            if buckets and is_agent(op.actor) and given is None:
                # refused with an approval request (its plan saved) before any bucket is emptied
                results.append(op.run_step(stack, "up", catalog=current, gated=gated,
                                           details={**details, "step": "retire"}))
            else:
                if buckets:
                    if given is not None:
                        check_approval(op, given, stack, "up")
                    empty_buckets(op, stack, buckets, {**details, "step": "empty-old-buckets"})
                results.append(op.run_step(stack, "up", catalog=current, approval=given, gated=gated,
                                           details={**details, "step": "retire",
                                                    "final_backup": run.detail("lift").get("final_backup")}))
            regenerate_files(op)  # the stack file: the new shape alone, as deployed
            run.done("retire")
        run.finish()
        return results


def _move_and_cut_over(op: Operator, run: Run, context: MoveContext, data_move: MoveHook | None,
                       cut_over: MoveHook | None, declared: Declared) -> None:
    """The data-move hook, then the cut-over: its hook, the tenant file, the ledger settled."""
    if run.pending("data-move"):
        if data_move is not None:
            data_move(context)
        run.done("data-move")
    if run.pending("cut-over"):
        if cut_over is not None:
            cut_over(context)
        commit_edit(op, context.tenant, run.record["edit"], declare=declared, settle=True)
        run.done("cut-over")


def move(op: Operator, tenant_id: str, *, cell: str | None = None, region: str | None = None,
         cloud: str | None = None, data_move: MoveHook | None = None, cut_over: MoveHook | None = None,
         approval: int | None = None) -> list[OperationResult]:
    """Move a pooled tenant to another cell, region or cloud, its data with it. Resumable like change_plan."""
    root = op.settings.catalog_dir
    stack = StackRef.tenant(tenant_id)
    wanted: Changes = {key: value for key, value in (("cloud", cloud), ("region", region), ("cell", cell))
                       if value is not None}
    with op.hold("move", tenant_id) as hold:
        def start() -> tuple[dict[str, Any], dict[str, Any]] | None:
            catalog = op.reload()
            tenant = tenant_of(catalog, tenant_id)
            entry = ledger.read(root).entries.get(tenant_id)
            merged = entry is not None and entry.declared is not None and entry.declared.workflow == "move"
            old_location = _location(root, catalog, tenant_id)
            isolation = old_location.isolation or catalog.plans[tenant.plan].isolation
            if isolation != "pooled":
                raise UsageError(f"tenant '{tenant_id}' is {isolation}: its data lives in its own resources, which a "
                                 "move would have to provision beside the old ones under names of a new generation; "
                                 "paybill-iac moves pooled tenants only so far (their data lives on the cell)")
            if not wanted and not merged:
                raise UsageError("say where to: --cell, --region and/or --cloud")
            _check_live(op, catalog, tenant_id, "move")
            if data_move is None:
                raise UsageError(f"moving tenant '{tenant_id}' moves its data: give a data-move hook")
            old_catalog = catalog
            if merged and entry is not None:  # the catalog says where to already (a merged --plan-only)
                old = {"cloud": old_location.cloud, "region": old_location.region, "cell": old_location.cell}
                old_catalog = propose(root, tenant_id, {k: v for k, v in old.items() if v}, declare=entry.declared)[0]
            current = {"cloud": tenant.cloud, "region": tenant.region, "cell": catalog.placements.get(tenant_id)}
            changes: dict[str, str | None] = dict(wanted) if wanted else {k: v for k, v in current.items() if v}
            to = Location("pooled", changes.get("cloud") or tenant.cloud, changes.get("region") or tenant.region,
                          changes.get("cell"), old_location.generation)
            # placed as a new tenant of its new region unless a cell is named; the file then pins that cell
            target = propose(root, tenant_id, {**changes, "cell": changes.get("cell")},
                             declare=Declared("move", to))[0]
            new_cell = target.placements.get(tenant_id)
            if new_cell == old_location.cell and (to.cloud, to.region) == (old_location.cloud, old_location.region):
                if finished(op, "move", tenant_id, to=Location("pooled", to.cloud, to.region, new_cell,
                                                              old_location.generation).as_dict()):
                    return None  # run again after it finished: nothing to do
                raise UsageError(f"tenant '{tenant_id}' is on cell '{new_cell}' already")
            changes["cell"] = new_cell
            declare = Declared("move", replace(to, cell=new_cell))
            record = {**_old_shape(op, tenant_id, catalog, old_catalog, True), "edit": changes,
                      "declared": declare.as_dict(), "old_location": old_location.as_dict()}
            return {"to": declare.to.as_dict()}, record

        run = begin(op, hold, "move", tenant_id, start)
        if run is None:
            return []
        declared = _declared(run)
        target = propose(root, tenant_id, run.record["edit"], declare=declared)[0]
        approvals = Approvals(approval)
        results: list[OperationResult] = []
        details = {"workflow": "move", "to": declared.to.describe()}
        old_outputs = run.record.get("old_outputs") or {}
        new_cell = declared.to.cell
        if run.pending("cell-up"):
            if new_cell and not cell_is_up(op, new_cell):
                results.append(op.run_step(StackRef.cell(new_cell), "up", catalog=target, approval=approvals.take(),
                                           details=details))
            run.done("cell-up")
        active = target.tenants[tenant_id].state == "active"
        if run.pending("db-apply"):
            results.append(data_step(op, "db-apply", target_for(target, tenant_id, old_outputs),
                                     {**details, "step": "db-apply"}, active=active))
            run.done("db-apply")
        context = MoveContext(tenant_id, target.tenants[tenant_id].plan, target.tenants[tenant_id].plan, "pooled",
                              "pooled", old_outputs, old_outputs, run.id, run.record.get("old_database"),
                              target_for(target, tenant_id, old_outputs).to_dict())
        _move_and_cut_over(op, run, context, data_move, cut_over, declared)
        if run.pending("up"):
            moved = op.run_step(stack, "up", catalog=op.reload(), approval=approvals.take(),
                                unguard=_retire_unguard(run, None), details={**details, "step": "up"})
            results.append(moved)
            run.done("up", {"outputs": moved.outputs})
        if run.pending("db-apply-outputs"):
            outputs = run.detail("up").get("outputs") or old_outputs
            results.append(data_step(op, "db-apply", target_for(op.reload(), tenant_id, outputs),
                                     {**details, "step": "db-apply-outputs"}, active=active))
            run.done("db-apply-outputs")
        if run.pending("db-offboard-old"):
            results.append(data_step(op, "db-offboard", target_from_dict(run.record["old_database"]),
                                     {**details, "step": "db-offboard-old"}))
            run.done("db-offboard-old")
        run.finish()
        return results

"""Lifecycle workflows: onboard, change plan, suspend, resume, offboard (retention end: retention.py).

Each workflow works out the catalog it leads to first (the tenant file with its new state or plan,
validated with every catalog check, nothing written), deploys that catalog's stack config, runs the
data plane on the tenant's database (paybill_iac.dataplane, through `Operator.data_plane`), and
writes the tenant file only when both succeeded. So a failed or refused workflow leaves the catalog
as it was, and running it again carries on: steps already done (recorded in the database) are
skipped, and data-plane steps complete whatever a failed run left. Data-plane steps are journaled
like stack operations, as db-apply, db-suspend, db-resume, db-offboard (and db-drop).

    onboard      onboarding -> active: place, generate, bring up the cell if it is new, bring up
                 the tenant, db-apply (database, roles, grants, auth mapping, logins on), set active
    change plan  provision the new shape next to the old one (an update that touches no existing
                 resource), db-apply on the new shape, run the service's data-move hook, cut over (its
                 hook, then the tenant file names the new plan), db-offboard of the old shape's login
                 (when the shape changed: its database is kept), retire the old shape (lift its
                 protection, update)
    suspend      active -> suspended: up (the identity is granted nothing; data stays), db-suspend
                 (NOLOGIN, open sessions terminated)
    resume       suspended -> active: up, db-resume (LOGIN)
    offboard     -> offboarding (data resources unprotected, kept in the cloud on delete, final
                 snapshots), db-offboard (NOLOGIN, sessions terminated, the final dump hook; the
                 database is kept and its target recorded for retention end), the service's snapshot
                 hook, retention recorded, destroy the stack (what holds no data goes; data stays in
                 the cloud until its retention ends, listed by `paybill-iac review` when it does),
                 -> offboarded
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paybill_iac.automation.catalog_edit import commit, propose
from paybill_iac.automation.dataplane import DataTarget, target_for, target_from_dict
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.runner import ChangeSummary
from paybill_iac.automation.specs import regenerate, stack_file
from paybill_iac.errors import TransitionError, UsageError
from paybill_iac.model.catalog import Catalog, Tenant
from paybill_iac.model.lifecycle import check_transition

if TYPE_CHECKING:
    from paybill_iac.dataplane import DumpHook

DAY = 86400.0


@dataclass(frozen=True)
class MoveContext:
    """What a service's data-move or cut-over hook receives while a tenant changes plan."""

    tenant: str
    from_plan: str
    to_plan: str
    from_isolation: str
    to_isolation: str
    old_outputs: dict[str, Any] = field(default_factory=dict)
    """The stack outputs of the old shape (before provisioning)."""
    new_outputs: dict[str, Any] = field(default_factory=dict)
    """The stack outputs once the new shape is provisioned."""
    workflow_id: str = ""


@dataclass(frozen=True)
class OffboardContext:
    """What a service's snapshot hook receives before a tenant's stack is destroyed."""

    tenant: str
    outputs: dict[str, Any]
    retain_until: float


MoveHook = Callable[[MoveContext], Any]
"""A service's data-move or cut-over hook."""
SnapshotHook = Callable[[OffboardContext], Any]
"""A service's final-snapshot hook."""


class _Approval:
    """An approval applies to the first operation a resumed workflow runs (the one it was given for)."""

    def __init__(self, approval: int | None):
        self.value = approval

    def take(self) -> int | None:
        value, self.value = self.value, None
        return value


def _tenant(catalog: Catalog, tenant_id: str) -> Tenant:
    tenant = catalog.tenants.get(tenant_id)
    if tenant is None:
        names = ", ".join(sorted(catalog.tenants)[:12]) or "none"
        raise UsageError(f"unknown tenant '{tenant_id}' (tenants: {names}); onboarding starts with its file "
                         f"tenants/{tenant_id}.yaml in state onboarding")
    return tenant


def _regenerate(op: Operator) -> None:
    regenerate(op.reload(), op.layout.stacks_dir)


def _commit(op: Operator, tenant_id: str, changes: dict[str, str]) -> None:
    commit(op.settings.catalog_dir, tenant_id, changes)
    _regenerate(op)


def cell_is_up(op: Operator, cell_id: str) -> bool:
    """Whether the journal shows the cell's stack deployed (its last successful up or destroy is an up)."""
    last = op.store.journal.last_success(StackRef.cell(cell_id).key, "up", "destroy")
    return last is not None and last.operation == "up"


def _check_start(op: Operator, tenant: Tenant, new_state: str) -> None:
    # Deployed already in the new state: a run of this workflow that failed after its up (a data-plane
    # step) and is carried on now.
    if op.store.journal.last_state(tenant.id) != new_state:
        op.check_deployed_transition(tenant.id, tenant.state)
    check_transition(tenant.id, tenant.state, new_state)


def _db(op: Operator, operation: str, target: DataTarget, details: dict[str, Any], *, active: bool = True,
        dump: DumpHook | None = None) -> OperationResult:
    """One data-plane step on the tenant's database (db-apply with logins on when `active`, db-suspend,
    db-resume, db-offboard with the final `dump` hook), journaled on the tenant's stack."""
    plane = op.data_plane
    calls = {"db-apply": lambda: plane.apply(target, active=active), "db-suspend": lambda: plane.suspend(target),
             "db-resume": lambda: plane.resume(target), "db-offboard": lambda: plane.offboard(target, dump=dump)}
    extra = {"active": active} if operation == "db-apply" else {"dump": dump is not None} if dump else {}
    return op.run_data_step(StackRef.tenant(target.tenant), operation, target, calls[operation],
                            details={**details, **extra})


def onboard(op: Operator, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
    """Validate, place, generate, bring up the cell if new, bring up the tenant, set it active."""
    catalog = op.reload()
    tenant = _tenant(catalog, tenant_id)
    if tenant.state != "onboarding":
        raise TransitionError(f"tenant '{tenant_id}' is {tenant.state}; onboard takes a tenant in state "
                              "onboarding (a new tenants/<id>.yaml)")
    _check_start(op, tenant, "active")
    approvals = _Approval(approval)
    _regenerate(op)  # writes the placement ledger and the stack files: the tenant's cell is now sticky
    target, _ = propose(op.settings.catalog_dir, tenant_id, {"state": "active"})
    results = []
    cell_id = target.placements.get(tenant_id)
    if cell_id and not cell_is_up(op, cell_id):
        results.append(op.run_step(StackRef.cell(cell_id), "up", catalog=target, approval=approvals.take(),
                                     details={"workflow": "onboard", "tenant": tenant_id}))
    deployed = op.run_step(StackRef.tenant(tenant_id), "up", catalog=target, approval=approvals.take(),
                           details={"workflow": "onboard"})
    results.append(deployed)
    results.append(_db(op, "db-apply", target_for(target, tenant_id, deployed.outputs), {"workflow": "onboard"}))
    _commit(op, tenant_id, {"state": "active"})
    return results


def set_state(op: Operator, tenant_id: str, new_state: str, *,
              approval: int | None = None) -> list[OperationResult]:
    """Suspend (new_state="suspended") or resume ("active") a tenant."""
    catalog = op.reload()
    tenant = _tenant(catalog, tenant_id)
    verb = "suspend" if new_state == "suspended" else "resume"
    if tenant.state == new_state and op.store.journal.last_state(tenant_id) == new_state \
            and _database_in_state(op, tenant_id, new_state):
        return []
    if tenant.state != new_state:
        _check_start(op, tenant, new_state)
    target, _ = propose(op.settings.catalog_dir, tenant_id, {"state": new_state})
    result = op.run_step(StackRef.tenant(tenant_id), "up", catalog=target, approval=approval,
                           details={"workflow": verb})
    database = _db(op, f"db-{verb}", target_for(target, tenant_id, result.outputs), {"workflow": verb})
    if tenant.state != new_state:
        _commit(op, tenant_id, {"state": new_state})
    return [result, database]


def _database_in_state(op: Operator, tenant_id: str, state: str) -> bool:
    """Whether the tenant's last data-plane step left its logins as `state` wants them."""
    last = op.store.journal.last_success(StackRef.tenant(tenant_id).key, "db-apply", "db-suspend", "db-resume")
    wanted = ("db-suspend",) if state == "suspended" else ("db-apply", "db-resume")
    return last is not None and last.operation in wanted


def _retention_days(catalog: Catalog, tenant: Tenant) -> int:
    plan = catalog.plans[tenant.plan]
    return tenant.overrides.backup_retention_days or plan.limits.backup_retention_days


def offboard(op: Operator, tenant_id: str, *, snapshot: SnapshotHook | None = None, dump: DumpHook | None = None,
             approval: int | None = None) -> list[OperationResult]:
    """Logins revoked, final dump and snapshot, retention first, then destroy what holds no data, then
    offboarded. `dump` is the data plane's final dump hook (e.g. paybill_iac.dataplane.pg_dump_hook)."""
    catalog = op.reload()
    tenant = _tenant(catalog, tenant_id)
    if tenant.state == "offboarded":
        raise UsageError(f"tenant '{tenant_id}' is already offboarded")
    records = op.store.workflows
    workflow = records.running("offboard", tenant_id)
    if workflow is None:
        if tenant.state != "offboarding":
            _check_start(op, tenant, "offboarding")
        workflow = records.start("offboard", tenant_id, {"from_state": tenant.state}, op.actor)
    approvals = _Approval(approval)
    stack = StackRef.tenant(tenant_id)
    results: list[OperationResult] = []
    steps = set(workflow.steps)
    outputs: dict[str, Any] | None = None
    if "retain" not in steps:
        # Deploy the offboarding shape: data resources unprotected but kept in the cloud on delete.
        target = catalog if tenant.state == "offboarding" else propose(
            op.settings.catalog_dir, tenant_id, {"state": "offboarding"})[0]
        retained = op.run_step(stack, "up", catalog=target, approval=approvals.take(),
                               details={"workflow": "offboard", "step": "retain"})
        results.append(retained)
        outputs = retained.outputs
        if tenant.state != "offboarding":
            _commit(op, tenant_id, {"state": "offboarding"})
        records.step_done(workflow.id, "retain")
    catalog = op.reload()
    tenant = catalog.tenants[tenant_id]
    if "db-offboard" not in steps:
        database = target_for(catalog, tenant_id, op.outputs(stack, catalog) if outputs is None else outputs)
        results.append(_db(op, "db-offboard", database, {"workflow": "offboard", "step": "db-offboard"}, dump=dump))
        # what retention end drops, once the tenant has left its cell and its stack is gone
        records.step_done(workflow.id, "db-offboard", {"target": database.to_dict()})
    retain_until = op.clock() + _retention_days(catalog, tenant) * DAY
    if "snapshot" not in steps:
        if snapshot is not None:
            outputs = op.outputs(stack, catalog)
            snapshot(OffboardContext(tenant_id, outputs, retain_until))
        records.step_done(workflow.id, "snapshot")
    if "retention" not in steps:
        preview = op.run_step(stack, "preview-destroy", catalog=catalog,
                                details={"workflow": "offboard", "step": "retention"})
        kept = [(step.urn, step.type) for step in preview.summary.steps if step.retain_on_delete]
        op.store.retained.record(tenant_id, stack.key, kept, retain_until)
        records.step_done(workflow.id, "retention", {"retained": len(kept), "retain_until": retain_until})
    if "destroy" not in steps:
        results.append(op.run_step(stack, "destroy", catalog=catalog, approval=approvals.take(),
                                     details={"workflow": "offboard", "step": "destroy"}))
        records.step_done(workflow.id, "destroy")
    check_transition(tenant_id, "offboarding", "offboarded")
    _commit(op, tenant_id, {"state": "offboarded"})
    stack_file(op.layout.stacks_dir, "tenant", tenant_id).unlink(missing_ok=True)
    records.finish(workflow.id)
    return results


def _under(urn: str, component_type: str) -> bool:
    """Whether `urn` is the component of `component_type` or a resource under it."""
    parts = urn.split("::")
    if len(parts) < 4:
        return False
    chain = parts[2].split("$")
    return component_type in chain


def change_plan(op: Operator, tenant_id: str, plan: str, *,
                data_move: MoveHook | None = None,
                cut_over: MoveHook | None = None,
                approval: int | None = None) -> list[OperationResult]:
    """Move a tenant to another plan, across isolation models too. Resumable: run it again with the
    same plan after a failure or an approval and it carries on from the step that did not finish."""
    catalog = op.reload()
    tenant = _tenant(catalog, tenant_id)
    if plan not in catalog.plans:
        raise UsageError(f"unknown plan '{plan}' (plans: {', '.join(sorted(catalog.plans))})")
    records = op.store.workflows
    workflow = records.running("change-plan", tenant_id)
    if workflow is not None and workflow.params["to"] != plan:
        raise UsageError(f"tenant '{tenant_id}' is half-way through a change to plan '{workflow.params['to']}'; "
                         f"finish it first (change-plan {tenant_id} --plan {workflow.params['to']})")
    if workflow is None:
        if tenant.plan == plan:
            raise UsageError(f"tenant '{tenant_id}' is already on plan '{plan}'")
        if tenant.state not in ("active", "suspended"):
            raise TransitionError(f"tenant '{tenant_id}' is {tenant.state}; only active or suspended tenants "
                                  "change plan")
        op.check_deployed_transition(tenant_id, tenant.state)
        propose(op.settings.catalog_dir, tenant_id, {"plan": plan})  # refuse a bad plan now
        params = {"from": tenant.plan, "to": plan, "from_isolation": catalog.plans[tenant.plan].isolation,
                  "to_isolation": catalog.plans[plan].isolation}
        if params["from_isolation"] != params["to_isolation"] and data_move is None:
            raise UsageError(f"moving tenant '{tenant_id}' from {params['from_isolation']} to "
                             f"{params['to_isolation']} moves its data: give a data-move hook")
        workflow = records.start("change-plan", tenant_id, params, op.actor)
    params = workflow.params
    steps = set(workflow.steps)
    moves = params["from_isolation"] != params["to_isolation"]
    if moves and data_move is None and "data-move" not in steps:
        raise UsageError(f"tenant '{tenant_id}' still needs its data moved: give the data-move hook")
    target = catalog if "cut-over" in steps else propose(
        op.settings.catalog_dir, tenant_id, {"plan": plan})[0]
    approvals = _Approval(approval)
    stack = StackRef.tenant(tenant_id)
    results: list[OperationResult] = []
    details = {"workflow": "change-plan", "from": params["from"], "to": plan}

    if "provision" not in steps:
        cell_id = target.placements.get(tenant_id)
        if cell_id and not cell_is_up(op, cell_id):
            results.append(op.run_step(StackRef.cell(cell_id), "up", catalog=target, approval=approvals.take(),
                                         details=details))
        existing = op.resources(stack, catalog)
        old_outputs = op.outputs(stack, catalog)
        # the old shape's login, offboarded after the cut-over (built now: refused before anything changes)
        old_database = target_for(catalog, tenant_id, old_outputs).to_dict() if moves else None
        untouched = tuple(step.urn for step in existing if step.type != "pulumi:pulumi:Stack")
        provisioned = op.run_step(stack, "up", catalog=target, excludes=untouched, approval=approvals.take(),
                                    details={**details, "step": "provision"})
        results.append(provisioned)
        records.step_done(workflow.id, "provision", {
            "old_outputs": old_outputs, "new_outputs": provisioned.outputs, "old_database": old_database,
            "old": [[step.urn, step.type, step.protect] for step in existing]})
    provision = records.step_detail(workflow.id, "provision") or {}
    if "db-apply" not in steps:
        new_database = target_for(target, tenant_id, provision.get("new_outputs") or {})
        results.append(_db(op, "db-apply", new_database, {**details, "step": "db-apply"},
                           active=tenant.state == "active"))
        records.step_done(workflow.id, "db-apply")
    context = MoveContext(tenant_id, params["from"], plan, params["from_isolation"], params["to_isolation"],
                          provision.get("old_outputs") or {}, provision.get("new_outputs") or {}, workflow.id)
    if "data-move" not in steps:
        if data_move is not None:
            data_move(context)
        records.step_done(workflow.id, "data-move")
    if "cut-over" not in steps:
        if cut_over is not None:
            cut_over(context)
        _commit(op, tenant_id, {"plan": plan})
        records.step_done(workflow.id, "cut-over")
    if "db-offboard-old" not in steps:
        if provision.get("old_database"):
            results.append(_db(op, "db-offboard", target_from_dict(provision["old_database"]),
                               {**details, "step": "db-offboard-old"}))
        records.step_done(workflow.id, "db-offboard-old")
    if "retire" not in steps:
        old_component = f"paybill:tenant:{params['from_isolation'].title()}"
        retiring = [urn for urn, _type, protect in provision.get("old", [])
                    if protect and moves and _under(urn, old_component)]

        def gated(summary: ChangeSummary) -> list[str]:
            deleted = summary.urns("delete", "delete-replaced")
            return [f"it retires the old {params['from_isolation']} shape of tenant '{tenant_id}' "
                    f"({len(deleted)} resources deleted)"] if deleted else []

        results.append(op.run_step(stack, "up", catalog=op.reload(), approval=approvals.take(), gated=gated,
                                     prepare=lambda invocation: op.runner.unprotect(invocation, retiring),
                                     details={**details, "step": "retire"}))
        records.step_done(workflow.id, "retire")
    records.finish(workflow.id)
    return results

"""Lifecycle workflows: onboard, suspend, resume, offboard (change plan and move: plan_change.py;
retention end: retention.py; what they share: runbook.py).

Each workflow holds its tenant for all its steps (one workflow per tenant; every other operation on the
tenant is refused meanwhile, naming the workflow and its step), and records before it changes anything
what it needs to finish or undo: the catalog edit it intends, the state it starts from, the outputs the
stack had. It deploys the catalog it leads to (the tenant file with its new state, validated with every
catalog check, nothing written), runs the data plane on the tenant's database (through
`Operator.data_plane`), and writes the tenant file last. A failed, refused or interrupted workflow
leaves the catalog as it was, and running it again carries on from its record: steps already done are
skipped, a step that was under way runs again (each is idempotent). Data-plane steps are journaled like
stack operations, as db-apply, db-suspend, db-resume, db-offboard (and db-drop).

    onboard      onboarding -> active: place, generate, bring up the cell if it is new, bring up
                 the tenant, db-apply (database, roles, grants, auth mapping, logins on), set active
    suspend      active -> suspended: up (the identity is granted nothing; data stays), db-suspend
                 (NOLOGIN, open sessions terminated)
    resume       suspended -> active: up, db-resume (LOGIN)
    offboard     -> offboarding: up (no access path; a final backup; everything the data needs kept:
                 protected as before and retained on delete), db-offboard (NOLOGIN, sessions
                 terminated, the final dump hook; the database target recorded for retention end), the
                 final backup's id journaled (`final-backup`: the stack's own, or on GCP the workflow's
                 `gcloud sql backups create`), the service's snapshot hook, retention recorded. The stack
                 stays until retention end (retention.py), which releases its guards and destroys it
    cancel       offboarding -> active before retention end (`cancel_offboarding`, i.e. resume): up (the
                 access path back; the final backups leave the stack, protect lifted only after the gate,
                 retained in the cloud for their retention), db-resume
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paybill_iac.automation.catalog_edit import propose
from paybill_iac.automation.dataplane import target_for
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.lifecycle_steps import final_backup, final_backup_unguard
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.runbook import (
    Approvals,
    begin,
    cell_is_up,
    commit_edit,
    data_step,
    finished,
    regenerate_files,
    tenant_of,
)
from paybill_iac.automation.specs import tenant_spec_of
from paybill_iac.catalog import ledger
from paybill_iac.errors import TransitionError, UsageError
from paybill_iac.model.catalog import Catalog, Tenant
from paybill_iac.model.lifecycle import check_transition

if TYPE_CHECKING:
    from paybill_iac.dataplane import DumpHook

DAY = 86400.0


@dataclass(frozen=True)
class MoveContext:
    """What a service's data-move or cut-over hook receives while a tenant changes plan or moves."""

    tenant: str
    from_plan: str
    to_plan: str
    from_isolation: str
    to_isolation: str
    old_outputs: dict[str, Any] = field(default_factory=dict)
    """The stack outputs of the old shape, as the workflow recorded them before it changed anything."""
    new_outputs: dict[str, Any] = field(default_factory=dict)
    """The stack outputs once the new shape is provisioned."""
    workflow_id: str = ""
    old_database: dict[str, Any] | None = None
    """The old shape's database (the data plane's target, as recorded), when the data moves."""
    new_database: dict[str, Any] | None = None
    """The new shape's database, once it is applied."""


@dataclass(frozen=True)
class OffboardContext:
    """What a service's snapshot hook receives before a tenant's stack is destroyed."""

    tenant: str
    outputs: dict[str, Any]
    retain_until: float
    final_backup: dict[str, Any] = field(default_factory=dict)
    """The final backup the workflow recorded (kind, id, who took it), {} when none."""


MoveHook = Callable[[MoveContext], Any]
"""A service's data-move or cut-over hook (it may run twice when a workflow is resumed: make it idempotent)."""
SnapshotHook = Callable[[OffboardContext], Any]
"""A service's final-snapshot hook."""


def _check_start(op: Operator, tenant: Tenant, new_state: str) -> None:
    # Deployed already in the new state: a run that failed after its up is carried on (from before records).
    if op.store.journal.last_state(tenant.id) != new_state:
        op.check_deployed_transition(tenant.id, tenant.state)
    check_transition(tenant.id, tenant.state, new_state)


def _record_start(op: Operator, tenant: Tenant, changes: dict[str, str]) -> dict[str, Any]:
    """What a state workflow records: the edit it intends and where it starts from."""
    return {"edit": changes, "from_state": tenant.state, "tenant_file": str(op.catalog.tenant_file(tenant.id))}


def onboard(op: Operator, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
    """Validate, place, generate, bring up the cell if new, bring up the tenant, set it active."""
    with op.hold("onboard", tenant_id) as hold:
        def start() -> tuple[dict[str, Any], dict[str, Any]] | None:
            tenant = tenant_of(op.reload(), tenant_id)
            if tenant.state == "active" and finished(op, "onboard", tenant_id):
                return None  # run again after it finished (its caller may not have heard): nothing to do
            if tenant.state != "onboarding":
                raise TransitionError(f"tenant '{tenant_id}' is {tenant.state}; onboard takes a tenant in state "
                                      "onboarding (a new tenants/<id>.yaml)")
            _check_start(op, tenant, "active")
            return {"to": "active"}, _record_start(op, tenant, {"state": "active"})

        run = begin(op, hold, "onboard", tenant_id, start)
        if run is None:
            return []
        approvals = Approvals(approval)
        results: list[OperationResult] = []
        if run.pending("place"):
            regenerate_files(op)  # writes the ledger and the stack files: the tenant's cell is now sticky
            run.done("place", {"cell": op.catalog.placements.get(tenant_id)})
        target = propose(op.settings.catalog_dir, tenant_id, run.record["edit"])[0]
        cell_id = target.placements.get(tenant_id)
        if run.pending("cell-up"):
            if cell_id and not cell_is_up(op, cell_id):
                results.append(op.run_step(StackRef.cell(cell_id), "up", catalog=target, approval=approvals.take(),
                                           details={"workflow": "onboard", "tenant": tenant_id}))
            run.done("cell-up")
        if run.pending("up"):
            deployed = op.run_step(StackRef.tenant(tenant_id), "up", catalog=target, approval=approvals.take(),
                                   details={"workflow": "onboard", "step": "up"})
            results.append(deployed)
            run.done("up", {"outputs": deployed.outputs})
        if run.pending("db-apply"):
            outputs = run.detail("up").get("outputs") or {}
            results.append(data_step(op, "db-apply", target_for(target, tenant_id, outputs), {"workflow": "onboard"}))
            run.done("db-apply")
        if run.pending("commit"):
            commit_edit(op, tenant_id, run.record["edit"])
            run.done("commit")
        run.finish()
        return results


def set_state(op: Operator, tenant_id: str, new_state: str, *, approval: int | None = None) -> list[OperationResult]:
    """Suspend (new_state="suspended") or resume ("active") a tenant."""
    verb = "suspend" if new_state == "suspended" else "resume"
    with op.hold(verb, tenant_id) as hold:
        def start() -> tuple[dict[str, Any], dict[str, Any]] | None:
            tenant = tenant_of(op.reload(), tenant_id)
            if tenant.state == new_state and op.store.journal.last_state(tenant_id) == new_state \
                    and _database_in_state(op, tenant_id, new_state):
                return None  # deployed, and the database already so: nothing to do
            if tenant.state != new_state:
                _check_start(op, tenant, new_state)
            return {"to": new_state}, _record_start(op, tenant, {"state": new_state})

        run = begin(op, hold, verb, tenant_id, start)
        if run is None:
            return []
        results: list[OperationResult] = []
        target = propose(op.settings.catalog_dir, tenant_id, run.record["edit"])[0]
        if run.pending("up"):
            stack = StackRef.tenant(tenant_id)
            # cancelling an offboarding: its final backups leave the stack (kept in the cloud), after the gate
            unguard = final_backup_unguard(op, stack, target) if run.record.get("from_state") == "offboarding" else None
            result = op.run_step(stack, "up", catalog=target, approval=approval, unguard=unguard,
                                 details={"workflow": verb, "step": "up"})
            results.append(result)
            run.done("up", {"outputs": result.outputs})
        if run.pending(f"db-{verb}"):
            outputs = run.detail("up").get("outputs") or {}
            results.append(data_step(op, f"db-{verb}", target_for(target, tenant_id, outputs), {"workflow": verb}))
            run.done(f"db-{verb}")
        if run.pending("commit"):
            commit_edit(op, tenant_id, run.record["edit"])
            run.done("commit")
        run.finish()
        return results


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
    """Access revoked, logins off, the final dump and backup, retention recorded; the stack stays (everything
    the data needs, protected and retained on delete) until retention end (retention.py). `dump` is the data
    plane's final dump hook (e.g. paybill_iac.dataplane.pg_dump_hook)."""
    stack = StackRef.tenant(tenant_id)
    with op.hold("offboard", tenant_id) as hold:
        def start() -> tuple[dict[str, Any], dict[str, Any]] | None:
            catalog = op.reload()
            tenant = tenant_of(catalog, tenant_id)
            if tenant.state in ("offboarding", "offboarded") and finished(op, "offboard", tenant_id):
                return None  # run again after it finished: nothing to do
            if tenant.state == "offboarded":
                raise UsageError(f"tenant '{tenant_id}' is already offboarded")
            if tenant.state != "offboarding":
                _check_start(op, tenant, "offboarding")
            record = _record_start(op, tenant, {"state": "offboarding"})
            return {"from_state": tenant.state}, {**record, "outputs": op.outputs(stack, catalog)}

        run = begin(op, hold, "offboard", tenant_id, start)
        if run is None:
            return []
        approvals = Approvals(approval)
        results: list[OperationResult] = []
        details = {"workflow": "offboard"}
        if run.pending("retain"):
            # The offboarding shape: no access path, a final backup, everything else kept (protect, retain on delete).
            target = propose(op.settings.catalog_dir, tenant_id, {"state": "offboarding"})[0]
            retained = op.run_step(stack, "up", catalog=target, approval=approvals.take(),
                                   details={**details, "step": "retain"})
            results.append(retained)
            commit_edit(op, tenant_id, {"state": "offboarding"})
            run.done("retain", {"outputs": retained.outputs})
        catalog = op.reload()
        tenant = catalog.tenants[tenant_id]
        outputs = run.detail("retain").get("outputs") or run.record.get("outputs") or {}
        if run.pending("db-offboard"):
            database = target_for(catalog, tenant_id, outputs)
            results.append(data_step(op, "db-offboard", database, {**details, "step": "db-offboard"}, dump=dump))
            # what retention end drops (a pooled tenant's database on its cell's server)
            run.done("db-offboard", {"target": database.to_dict()})
        if run.pending("final-backup"):
            backup = final_backup(op, tenant_spec_of(catalog, tenant_id), outputs, {**details, "step": "final-backup"},
                                  f"paybill-iac final backup of {tenant_id} (offboard {run.id})")
            run.done("final-backup", {"final_backup": backup})
        if run.pending("snapshot"):
            retain_until = op.clock() + _retention_days(catalog, tenant) * DAY
            if snapshot is not None:
                snapshot(OffboardContext(tenant_id, op.outputs(stack, catalog), retain_until,
                                         run.detail("final-backup").get("final_backup") or {}))
            run.done("snapshot", {"retain_until": retain_until})
        if run.pending("retention"):
            retain_until = float(run.detail("snapshot").get("retain_until") or
                                 op.clock() + _retention_days(catalog, tenant) * DAY)
            # everything the stack holds stays until retention end (the engine's own types are not cloud resources)
            kept = [(step.urn, step.type) for step in op.resources(stack, catalog)
                    if not step.type.startswith("pulumi:")]
            op.store.retained.record(tenant_id, stack.key, kept, retain_until)
            run.done("retention", {"retained": len(kept), "retain_until": retain_until})
        if run.pending("commit"):
            entry = ledger.read(op.settings.catalog_dir).entries.get(tenant_id)
            if entry is not None and entry.declared is not None:  # a declared offboard ran: the data stays put
                commit_edit(op, tenant_id, {"state": "offboarding"}, settle=True, location=entry.location)
            run.done("commit")
        run.finish()
        return results


def cancel_offboarding(op: Operator, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
    """An offboarding tenant back to active before its retention ended (resume from offboarding): the active
    stack (the access path back), its final backups let go of the stack (protect lifted only after the gate;
    retained on delete, they stay in the cloud for their retention), then LOGIN again."""
    return set_state(op, tenant_id, "active", approval=approval)

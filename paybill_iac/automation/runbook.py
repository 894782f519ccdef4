"""What every lifecycle workflow shares: its hold on the tenant, its record, its steps, its catalog edits.

    with op.hold(kind, tenant) as hold:         the tenant's workflow lease for all the steps
        run = begin(op, hold, kind, tenant, start, same)
            a workflow of this tenant recorded as running is resumed (another kind: WorkflowBusy; one
            recorded without what it needs to finish or undo: NeedsReview); otherwise `start()` checks the
            request against the catalog and the journal, reads what the workflow will need (the old
            shape's outputs and resources, the intended catalog edit...) and returns (params, record),
            written with the new workflow in one transaction before anything changes (None: nothing to do)
        if run.pending("up"):  ... run.done("up", detail)   each step once; the hold says which one runs
        run.finish()

A step's effects and its `done` row are not one transaction (a deployment is not a database write): a
crash between them runs the step again on resume, so every step is idempotent (an `up` of the same
config, a data-plane step, a catalog edit already made) and the services' hooks must be too. What a
step needs from before the workflow began comes from the record, never from the stack as it is now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from paybill_iac.automation.catalog_edit import Changes, commit
from paybill_iac.automation.dataplane import DataTarget
from paybill_iac.automation.errors import NeedsReview, WorkflowBusy
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.specs import regenerate
from paybill_iac.automation.store import Workflow
from paybill_iac.automation.tenancy import TenantHold
from paybill_iac.catalog.ledger import Declared, Location
from paybill_iac.errors import UsageError
from paybill_iac.model.catalog import Catalog, Tenant
from paybill_iac.model.words import unknown

if TYPE_CHECKING:
    from paybill_iac.dataplane import DumpHook

Start = Callable[[], tuple[dict[str, Any], dict[str, Any]] | None]


class Run:
    """One workflow under way: its record and the steps it completed."""

    def __init__(self, op: Operator, hold: TenantHold, workflow: Workflow, record: dict[str, Any]):
        self.op, self.hold, self.workflow, self.record = op, hold, workflow, record
        self.steps = set(workflow.steps)

    @property
    def id(self) -> str:
        return self.workflow.id

    @property
    def params(self) -> dict[str, Any]:
        return self.workflow.params

    def pending(self, step: str) -> bool:
        """Whether `step` is still to run (the hold then says the workflow is at it)."""
        if step in self.steps:
            return False
        self.hold.step(step)
        return True

    def done(self, step: str, detail: dict[str, Any] | None = None) -> None:
        self.op.store.workflows.step_done(self.id, step, detail)
        self.steps.add(step)

    def detail(self, step: str) -> dict[str, Any]:
        return self.op.store.workflows.step_detail(self.id, step) or {}

    def finish(self) -> None:
        self.op.store.workflows.finish(self.id)


def begin(op: Operator, hold: TenantHold, kind: str, tenant_id: str, start: Start,
          same: Callable[[Workflow], None] | None = None) -> Run | None:
    """The tenant's running `kind` workflow resumed, or a new one from `start()` (see the module)."""
    records = op.store.workflows
    workflow = records.running_for(tenant_id)
    if workflow is not None and workflow.kind != kind:
        raise WorkflowBusy(f"tenant '{tenant_id}' is half-way through the {workflow.kind} workflow {workflow.id} "
                           f"(steps done: {', '.join(workflow.steps) or 'none'}): one workflow per tenant at a time; "
                           f"carry it on with `paybill-iac lifecycle {workflow.kind} {tenant_id} ...` first")
    if workflow is None:
        made = start()
        if made is None:
            return None
        params, made_record = made
        workflow = records.start(kind, tenant_id, params, op.actor, made_record)
    elif same is not None:
        same(workflow)
    record = records.record(workflow.id)
    if record is None:
        raise NeedsReview(f"the {kind} workflow {workflow.id} of tenant '{tenant_id}' has no record of what it needs "
                          "to finish or undo (the old shape's outputs and resources, its catalog edit): it is not "
                          "resumed, since guessing them from the stack as it is now could move the wrong data. A human "
                          "checks the tenant's stacks and finishes it by hand")
    return Run(op, hold, workflow, record)


def finished(op: Operator, kind: str, tenant_id: str, **params: Any) -> bool:
    """Whether the tenant's last `kind` workflow completed (with these params): run again, it has nothing to do."""
    last = op.store.workflows.latest(kind, tenant_id)
    return last is not None and last.status == "completed" and all(last.params.get(k) == v for k, v in params.items())


class Approvals:
    """An approval applies to the first gated operation a resumed workflow runs (the one it was given for)."""

    def __init__(self, approval: int | None):
        self.value = approval

    def take(self) -> int | None:
        value, self.value = self.value, None
        return value


def tenant_of(catalog: Catalog, tenant_id: str) -> Tenant:
    tenant = catalog.tenants.get(tenant_id)
    if tenant is None:
        raise UsageError(f"{unknown('tenant', tenant_id, catalog.tenants)}; onboarding starts with its file "
                         f"tenants/{tenant_id}.yaml in state onboarding")
    return tenant


def regenerate_files(op: Operator) -> None:
    """The stack files and the ledger for the catalog as it is now (what `paybill-iac generate` writes)."""
    regenerate(op.reload(), op.layout.stacks_dir)


def commit_edit(op: Operator, tenant_id: str, changes: Changes, *, declare: Declared | None = None,
                settle: bool = False, location: Location | None = None) -> None:
    """The workflow's catalog edit (catalog_edit.commit), then the stack files regenerated."""
    commit(op.settings.catalog_dir, tenant_id, changes, declare=declare, settle=settle, location=location)
    regenerate_files(op)


def cell_is_up(op: Operator, cell_id: str) -> bool:
    """Whether the journal shows the cell's stack deployed (its last successful up or destroy is an up)."""
    last = op.store.journal.last_success(StackRef.cell(cell_id).key, "up", "destroy")
    return last is not None and last.operation == "up"


def under(urn: str, component_type: str) -> bool:
    """Whether `urn` is the component of `component_type` or a resource under it."""
    parts = urn.split("::")
    if len(parts) < 4:
        return False
    return component_type in parts[2].split("$")


def data_step(op: Operator, operation: str, target: DataTarget, details: dict[str, Any], *, active: bool = True,
              dump: DumpHook | None = None) -> OperationResult:
    """One data-plane step on the tenant's database (db-apply with logins on when `active`, db-suspend,
    db-resume, db-offboard with the final `dump` hook), journaled on the tenant's stack."""
    plane = op.data_plane
    calls = {"db-apply": lambda: plane.apply(target, active=active), "db-suspend": lambda: plane.suspend(target),
             "db-resume": lambda: plane.resume(target), "db-offboard": lambda: plane.offboard(target, dump=dump)}
    extra = {"active": active} if operation == "db-apply" else {"dump": dump is not None} if dump else {}
    return op.run_data_step(StackRef.tenant(target.tenant), operation, target, calls[operation],
                            details={**details, **extra})

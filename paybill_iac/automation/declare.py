"""Workflows declared in a pull request, run once it is merged.

A change that moves a tenant's data (another isolation model, cell, region or cloud, or offboarding) is
refused as a hand edit by validate, generate and preview (paybill_iac.catalog.guard). To make it through
a pull request, `paybill-iac lifecycle change-plan|move|offboard ... --plan-only` edits the tenant file,
declares the move in the ledger (`declared:` in placements.yaml) and regenerates the stack files,
touching no stack: the pull request then holds the whole change, its preview shows it as the workflow
that will run, and nothing deploys it but that workflow (`up` refuses a tenant with a declared move).
Once merged, `paybill-iac lifecycle run-declared` (the deployment job on the main branch) runs each
declared workflow; it settles the ledger (the declaration becomes where the data lives) as it cuts over.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from paybill_iac.automation.catalog_edit import Changes, commit, propose
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.plan_change import change_plan, move
from paybill_iac.automation.runbook import regenerate_files, tenant_of
from paybill_iac.automation.workflows import MoveHook, SnapshotHook, offboard
from paybill_iac.catalog import ledger
from paybill_iac.catalog.ledger import Declared, Location
from paybill_iac.errors import PaybillError, TransitionError, UsageError
from paybill_iac.model.words import unknown

if TYPE_CHECKING:
    from paybill_iac.dataplane import DumpHook


@dataclass(frozen=True)
class DeclaredRun:
    """What `run_declared` did for one tenant."""

    tenant: str
    workflow: str
    results: list[OperationResult]
    error: str = ""


def _entry_location(op: Operator, tenant_id: str) -> Location:
    catalog = op.reload()
    entry = ledger.read(op.settings.catalog_dir).entries.get(tenant_id)
    if entry is not None and entry.declared is not None:
        raise UsageError(f"tenant '{tenant_id}' already has a declared move: {entry.declared.describe(tenant_id)}; "
                         "it runs on merge (`paybill-iac lifecycle run-declared`)")
    tenant = tenant_of(catalog, tenant_id)
    if tenant.state not in ("active", "suspended"):
        raise TransitionError(f"tenant '{tenant_id}' is {tenant.state}; only active or suspended tenants move")
    if entry is not None and entry.location.isolation:
        return entry.location
    return ledger.location_of(catalog, tenant_id)


def _declare(op: Operator, tenant_id: str, changes: Changes, declared: Declared) -> Declared:
    commit(op.settings.catalog_dir, tenant_id, changes, declare=declared)
    regenerate_files(op)
    return declared


def declare_change_plan(op: Operator, tenant_id: str, plan: str) -> Declared:
    """Edit the tenant's plan and declare the change-plan workflow that moves its data (see the module)."""
    location = _entry_location(op, tenant_id)
    catalog = op.catalog
    tenant = catalog.tenants[tenant_id]
    if plan not in catalog.plans:
        raise UsageError(unknown("plan", plan, catalog.plans))
    if plan == tenant.plan:
        raise UsageError(f"tenant '{tenant_id}' is already on plan '{plan}'")
    isolation = catalog.plans[plan].isolation
    changes: dict[str, str | None] = {"plan": plan}
    if isolation == "silo" and tenant.cell is not None:
        changes["cell"] = None
    declared = Declared("change-plan", ledger.plan_change_to(location, isolation), tenant.plan, plan)
    target = propose(op.settings.catalog_dir, tenant_id, changes, declare=declared)[0]
    declared = replace(declared, to=replace(declared.to, cell=target.placements.get(tenant_id)))
    return _declare(op, tenant_id, changes, declared)


def declare_move(op: Operator, tenant_id: str, *, cell: str | None = None, region: str | None = None,
                 cloud: str | None = None) -> Declared:
    """Edit the tenant's cell, region or cloud and declare the move workflow (pooled tenants)."""
    location = _entry_location(op, tenant_id)
    if location.isolation != "pooled":
        raise UsageError(f"tenant '{tenant_id}' is {location.isolation}: paybill-iac moves pooled tenants only so far")
    changes: dict[str, str | None] = {k: v for k, v in (("cloud", cloud), ("region", region)) if v is not None}
    if not changes and cell is None:
        raise UsageError("say where to: --cell, --region and/or --cloud")
    to = Location("pooled", cloud or location.cloud, region or location.region, cell, location.generation)
    target = propose(op.settings.catalog_dir, tenant_id, {**changes, "cell": cell}, declare=Declared("move", to))[0]
    new_cell = target.placements.get(tenant_id)
    if new_cell == location.cell and (to.cloud, to.region) == (location.cloud, location.region):
        raise UsageError(f"tenant '{tenant_id}' is on cell '{new_cell}' already")
    changes["cell"] = new_cell
    return _declare(op, tenant_id, changes, Declared("move", replace(to, cell=new_cell)))


def declare_offboard(op: Operator, tenant_id: str) -> Declared:
    """Set the tenant offboarding and declare the offboard workflow (data kept until its retention ends)."""
    location = _entry_location(op, tenant_id)
    return _declare(op, tenant_id, {"state": "offboarding"}, Declared("offboard", replace(location, offboarded=True)))


def run_declared(op: Operator, *, data_move: MoveHook | None = None, cut_over: MoveHook | None = None,
                 snapshot: SnapshotHook | None = None, dump: DumpHook | None = None,
                 tenants: list[str] | None = None) -> list[DeclaredRun]:
    """Run every workflow the ledger declares (or those of `tenants`), one tenant after another. A tenant's
    failure is reported and the others still run; each is resumable as its own workflow."""
    found = ledger.read(op.settings.catalog_dir).declared()
    done: list[DeclaredRun] = []
    for tenant_id, declared in found.items():
        if tenants is not None and tenant_id not in tenants:
            continue
        try:
            if declared.workflow == "change-plan":
                assert declared.plan is not None
                results = change_plan(op, tenant_id, declared.plan, data_move=data_move, cut_over=cut_over)
            elif declared.workflow == "move":
                results = move(op, tenant_id, data_move=data_move, cut_over=cut_over)
            else:
                results = offboard(op, tenant_id, snapshot=snapshot, dump=dump)
        except PaybillError as error:
            done.append(DeclaredRun(tenant_id, declared.workflow, [], str(error)))
            continue
        done.append(DeclaredRun(tenant_id, declared.workflow, results))
    return done

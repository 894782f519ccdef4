"""A catalog tenant's transition: its stack now (the catalog's spec) and where a state or a plan takes it.

A plan change is worked out the way the workflow would: the tenant file with the new plan, placed
(a pooled or bridge tenant keeps its cell, or goes to its region's cell with room), and, when the
isolation model changes, the next generation of the names the cloud never frees.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from paybill_iac.errors import UsageError
from paybill_iac.lifecycle_plan.transitions import Transition, plan_transition, state_transition
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.spec import CellSpec, TenantSpec, cell_spec, cell_stack_name, tenant_spec
from paybill_iac.model.words import unknown


@dataclass(frozen=True)
class CatalogTransition:
    transition: Transition
    cells: dict[str, CellSpec]
    """The cells its shapes use, by qualified stack name."""


def _cells(catalog: Catalog, *specs: TenantSpec | None) -> dict[str, CellSpec]:
    found = {}
    for spec in specs:
        for shape in (spec, spec.retiring_spec() if spec else None):
            if shape is not None and shape.cell:
                found[cell_stack_name(catalog.settings.pulumi_org, shape.cell)] = cell_spec(catalog, shape.cell)
    return found


def current_spec(catalog: Catalog, tenant_id: str) -> TenantSpec:
    if tenant_id not in catalog.tenants:
        raise UsageError(unknown("tenant", tenant_id, catalog.tenants))
    spec = tenant_spec(catalog, tenant_id)
    if spec is None:
        raise UsageError(f"tenant '{tenant_id}' is offboarded: it has no stack")
    return spec


def with_plan(catalog: Catalog, tenant_id: str, plan: str) -> Catalog:
    """The catalog with the tenant on `plan`, placed, at its next generation when the model changes."""
    from paybill_iac.catalog.place import needs_cell, place

    if plan not in catalog.plans:
        raise UsageError(unknown("plan", plan, catalog.plans))
    tenant = catalog.tenants[tenant_id]
    if tenant.plan == plan:
        raise UsageError(f"tenant '{tenant_id}' is already on plan '{plan}'")
    moved = tenant.model_copy(update={"plan": plan})
    target = copy.copy(catalog)
    target.tenants = {**catalog.tenants, tenant_id: moved}
    placements, issues = place(target, dict(catalog.placements), str)
    if needs_cell(target, moved) and tenant_id not in placements:
        reasons = "; ".join(issue.message for issue in issues if issue.id == tenant_id) or "no cell"
        raise UsageError(f"tenant '{tenant_id}' cannot move to plan '{plan}': {reasons}")
    target.placements = {key: value for key, value in placements.items() if key == tenant_id or
                         key in catalog.placements}
    if not needs_cell(target, moved):
        target.placements.pop(tenant_id, None)
    if catalog.plans[tenant.plan].isolation != catalog.plans[plan].isolation:
        target.generations = {**catalog.generations, tenant_id: catalog.generations.get(tenant_id, 0) + 1}
    return target


def transition_to_state(catalog: Catalog, tenant_id: str, state: str) -> CatalogTransition:
    spec = current_spec(catalog, tenant_id)
    transition = state_transition(spec, state)
    return CatalogTransition(transition, _cells(catalog, spec))


def transition_to_plan(catalog: Catalog, tenant_id: str, plan: str) -> CatalogTransition:
    from paybill_iac.model.sizing import SizingError

    old = current_spec(catalog, tenant_id)
    target = with_plan(catalog, tenant_id, plan)
    try:
        new = tenant_spec(target, tenant_id)
    except SizingError as error:
        raise UsageError(f"tenant '{tenant_id}' cannot move to plan '{plan}': {error}") from None
    if new is None:  # pragma: no cover - the tenant has a stack in both
        raise UsageError(f"tenant '{tenant_id}' has no stack on plan '{plan}'")
    transition = plan_transition(old, new)
    cells = _cells(catalog, old)
    cells.update(_cells(target, new))
    return CatalogTransition(transition, cells)

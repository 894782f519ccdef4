"""The policy context of a stack, built by the control plane from the catalog.

The rule library (`paybill_policies`) never reads a catalog: `policy check`, the preview and the
automation build each stack's context here and hand it to the rules directly or, for a CrossGuard
pack, as policy config (`paybill_policies.policy_config`).

`context_from_catalog` is the only entry point; its body is kept small and self-contained so that it
can be rebuilt on the stack specs (`paybill_iac.model.spec`) without touching its callers.
"""

from __future__ import annotations

from paybill_policies import ContextError, PlanLimits, PolicyContext
from paybill_policies.context import CELL_PROJECT, TENANT_PROJECT

from paybill_iac.model import naming
from paybill_iac.model.catalog import DEDICATED_DB_ISOLATIONS, Catalog, Tenant

__all__ = ["ContextError", "context_from_catalog"]


def context_from_catalog(catalog: Catalog, project: str, stack: str, actor: str = "human") -> PolicyContext:
    """The context of stack `project/stack` from a loaded `catalog`, for `actor` (human, agent:<name>).

    Raises ContextError (a LookupError) when the catalog has no such tenant (project paybill-tenant) or
    cell (paybill-cell), or the project is neither.
    """
    org = catalog.settings.org
    if project == CELL_PROJECT:
        cell = catalog.cells.get(stack)
        if cell is None:
            raise ContextError(f"unknown cell '{stack}': the catalog at {catalog.root} has no such cell "
                               f"(cells: {', '.join(sorted(catalog.cells)) or 'none'})")
        return PolicyContext(
            project=project, stack=stack, actor=actor, kind="cell", cell=cell.id, isolation="pooled",
            cloud=cell.cloud, region=cell.region, state="active", org=org,
            limits=PlanLimits(cell.db_vcpus, cell.db_storage_gb, cell.backup_retention_days, 1, (cell.region,)),
            names=dict(naming.names_for(cell.cloud, org, cell.id)),
            foreign_names=_foreign_names(catalog, own_tenant=None, own_cells={cell.id}),
        )
    if project != TENANT_PROJECT:
        raise ContextError(f"unknown project '{project}': paybill-iac stacks belong to {TENANT_PROJECT} "
                           f"or {CELL_PROJECT}")
    tenant = catalog.tenants.get(stack)
    if tenant is None:
        raise ContextError(f"unknown tenant '{stack}': the catalog at {catalog.root} has no such tenant "
                           f"(tenants: {', '.join(sorted(catalog.tenants)) or 'none'})")
    plan = catalog.plans[tenant.plan]
    cell_id = catalog.placements.get(tenant.id, "") or (tenant.cell or "")
    limits = PlanLimits(
        db_vcpus=plan.limits.db_vcpus, db_storage_gb=plan.limits.db_storage_gb,
        backup_retention_days=plan.limits.backup_retention_days,
        max_db_instances=1 if plan.isolation in DEDICATED_DB_ISOLATIONS else 0,
        regions=tuple(plan.limits.regions) if plan.limits.regions is not None else None,
    )
    return PolicyContext(
        project=project, stack=stack, actor=actor, kind="tenant", tenant=tenant.id, cell=cell_id,
        plan=plan.id, isolation=plan.isolation, cloud=tenant.cloud, region=tenant.region, state=tenant.state,
        org=org, limits=limits, names=dict(_tenant_names(catalog, tenant)),
        cell_names=dict(naming.names_for(tenant.cloud, org, cell_id)) if cell_id else {},
        foreign_names=_foreign_names(catalog, own_tenant=tenant.id, own_cells={cell_id} if cell_id else set()),
    )


def _tenant_names(catalog: Catalog, tenant: Tenant) -> dict[str, str]:
    isolation = catalog.plans[tenant.plan].isolation
    return dict(naming.tenant_names(tenant.cloud, catalog.settings.org, tenant.id, isolation))


def _foreign_names(catalog: Catalog, own_tenant: str | None, own_cells: set[str]) -> frozenset[str]:
    """Every other tenant's and cell's names: the catalog's names (indexed once per catalog, since
    preview and fleets ask for every stack) less the stack's own and its cell's."""
    mine: set[str] = set()
    if own_tenant is not None and own_tenant in catalog.tenants:
        mine.update(_tenant_names(catalog, catalog.tenants[own_tenant]).values())
    for cell_id in own_cells:
        if cell_id in catalog.cells:
            mine.update(naming.names_for(catalog.cells[cell_id].cloud, catalog.settings.org, cell_id).values())
    return _name_index(catalog) - mine


# id(catalog) -> (catalog, every tenant's and cell's names); the catalog is kept so its id stays unique.
_NAME_INDEX: dict[int, tuple[Catalog, frozenset[str]]] = {}


def _name_index(catalog: Catalog) -> frozenset[str]:
    cached = _NAME_INDEX.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    org = catalog.settings.org
    found: set[str] = set()
    for tenant in catalog.tenants.values():
        found.update(_tenant_names(catalog, tenant).values())
    for cell in catalog.cells.values():
        found.update(naming.names_for(cell.cloud, org, cell.id).values())
        found.discard(naming.tenant_prefix(cell.id))  # cells have no objects of their own prefix
    if len(_NAME_INDEX) > 8:
        _NAME_INDEX.clear()
    _NAME_INDEX[id(catalog)] = (catalog, frozenset(found))
    return _NAME_INDEX[id(catalog)][1]

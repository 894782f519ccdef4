"""The policy context of a stack, built by the control plane from the stack's spec.

The rule library (`paybill_policies`) never reads a catalog: `policy check`, the preview and the
automation build each stack's context here, from the same `TenantSpec` / `CellSpec` that `generate`
writes and the stack program reads, and hand it to the rules directly or, for a CrossGuard pack, as
policy config (`paybill_policies.policy_config`). So a stack's plan, limits, cell and names are the
same fact everywhere.
"""

from __future__ import annotations

from paybill_policies import ContextError, PolicyContext
from paybill_policies.context import context_from_spec as _library_context_from_spec

from paybill_iac.model import naming
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.projects import CELL_PROJECT, TENANT_PROJECT
from paybill_iac.model.spec import CellSpec, TenantSpec, stack_spec

__all__ = ["ContextError", "context_from_catalog", "context_from_spec"]


def context_from_catalog(catalog: Catalog, project: str, stack: str, actor: str = "human",
                         spec: TenantSpec | CellSpec | None = None) -> PolicyContext:
    """The context of stack `project/stack` from a loaded `catalog`, for `actor` (human, agent:<name>).
    `spec` overrides the catalog's spec of the stack (a workflow step's, such as a plan change building the
    retiring shape beside the new one): the other owners' names still come from the catalog.

    Raises ContextError (a LookupError) when the catalog has no such tenant with a stack (project
    paybill-tenant) or cell (paybill-cell), or the project is neither.
    """
    if spec is not None:
        own = _own_names(spec)
        old = spec.retiring_spec() if isinstance(spec, TenantSpec) else None
        if old is not None:
            own |= _own_names(old)
        return context_from_spec(spec, actor, foreign_names=_name_index(catalog) - own)
    if project not in (TENANT_PROJECT, CELL_PROJECT):
        raise ContextError(f"unknown project '{project}': paybill-iac stacks belong to {TENANT_PROJECT} "
                           f"or {CELL_PROJECT}")
    spec = stack_spec(catalog, project, stack)
    if spec is None:
        kind, known = ("cell", catalog.cells) if project == CELL_PROJECT else ("tenant", catalog.tenants)
        if stack in known:
            raise ContextError(f"tenant '{stack}' is {catalog.tenants[stack].state}: it has no stack")
        raise ContextError(f"unknown {kind} '{stack}': the catalog at {catalog.root} has no such {kind} "
                           f"({kind}s: {', '.join(sorted(known)) or 'none'})")
    return context_from_spec(spec, actor, foreign_names=_name_index(catalog) - _own_names(spec))


def context_from_spec(spec: TenantSpec | CellSpec, actor: str = "human",
                      foreign_names: frozenset[str] = frozenset()) -> PolicyContext:
    """The context of one stack from its spec (paybill_policies.context_from_spec); `foreign_names` are
    every other owner's names."""
    return _library_context_from_spec(spec, actor, foreign_names)


def _own_names(spec: TenantSpec | CellSpec) -> set[str]:
    """The stack's own names and, for a tenant, its cell's (shared, so not foreign)."""
    own = set(spec.all_names.values())
    if isinstance(spec, TenantSpec):
        own.update(spec.cell_names.values())
    return own


# id(catalog) -> (catalog, every tenant's and cell's names); the catalog is kept so its id stays unique.
_NAME_INDEX: dict[int, tuple[Catalog, frozenset[str]]] = {}


def _name_index(catalog: Catalog) -> frozenset[str]:
    """Every owner's reserved names, indexed once per catalog (preview and fleets ask for every stack)."""
    cached = _NAME_INDEX.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    org = catalog.settings.org
    found: set[str] = set()
    for tenant in catalog.tenants.values():
        isolation = catalog.plans[tenant.plan].isolation
        found.update(naming.tenant_names(tenant.cloud, org, tenant.id, isolation).values())
    for cell in catalog.cells.values():
        found.update(naming.names_for(cell.cloud, org, cell.id).values())
        found.discard(naming.tenant_prefix(cell.id))  # cells have no objects of their own prefix
    if len(_NAME_INDEX) > 8:
        _NAME_INDEX.clear()
    _NAME_INDEX[id(catalog)] = (catalog, frozenset(found))
    return _NAME_INDEX[id(catalog)][1]

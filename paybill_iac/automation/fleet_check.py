"""`paybill-iac fleet check`: the invariants no single stack can see, over the whole fleet.

    stack-without-tenant     a stack in the backend whose tenant (or cell) the catalog does not have with a stack
                             (removed from the catalog, or offboarded and its stack left behind)
    tenant-without-stack     a tenant the catalog says has a stack (active, suspended, offboarding), or a cell
                             tenants are placed on, without one in the backend
    two-shapes               a tenant stack holding two tenant shapes (two `paybill:tenant:<Isolation>` components)
                             while no plan change or move is under way (running, or declared in the ledger)
    cell-fuller-than-catalog a cell holding, in reality, tenants the catalog does not place on it (outside a move under
                             way) or more than its capacity: tenants whose data the placement ledger records on the
                             cell and whose stack exists in the backend
    retention-ended          data an offboarding kept whose retention ended, and no retention-end ran for it

Facts are gathered once (`gather`: the catalog, the placement ledger, the state database's workflows and retained
data, the backend's stack list and each tenant stack's resources) and judged by `findings`, a pure function of
them (tested without a backend). Exit code of the command: 0 clean, 1 findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from paybill_iac.automation.invocation import POLICY_PACKS, Invocation, StackRef, build_invocation
from paybill_iac.automation.specs import CELL_PROJECT, TENANT_PROJECT
from paybill_iac.catalog import ledger
from paybill_iac.errors import UsageError
from paybill_iac.model.lifecycle import HAS_STACK
from paybill_iac.model.words import plural

if TYPE_CHECKING:
    from paybill_iac.automation.operator import Operator
    from paybill_iac.model.catalog import Catalog

SHAPE_TYPES = frozenset({"paybill:tenant:Silo", "paybill:tenant:Bridge", "paybill:tenant:Pooled"})
"""The component of each tenant shape (components/paybill_components/topology.py): one per shape in a stack."""
MOVING_WORKFLOWS = ("change-plan", "move")
"""The workflows during which a tenant stands in two shapes on purpose."""
CHECKS = ("stack-without-tenant", "tenant-without-stack", "two-shapes", "cell-fuller-than-catalog",
          "retention-ended")


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    """The stack key, tenant or cell the finding is about."""
    message: str


@dataclass(frozen=True)
class RetainedItem:
    tenant: str
    urn: str
    type: str
    retain_until: float


@dataclass
class FleetFacts:
    """Everything the checks read, gathered once."""

    tenant_states: dict[str, str]
    cells: dict[str, int]
    """cell -> capacity."""
    placements: dict[str, str]
    """tenant -> cell, as the catalog places them."""
    recorded: dict[str, str]
    """tenant -> cell its data is on, as the placement ledger records it (offboarded tenants left out)."""
    backend: dict[str, set[str]]
    """project -> the stack names in the backend."""
    shapes: dict[str, list[str]] = field(default_factory=dict)
    """tenant -> the URNs of the tenant-shape components in its stack."""
    moving: set[str] = field(default_factory=set)
    """Tenants with a plan change or move running or declared."""
    retained: list[RetainedItem] = field(default_factory=list)
    retention_done: set[str] = field(default_factory=set)
    """Tenants whose retention end completed."""
    now: float = 0.0


def findings(facts: FleetFacts) -> list[Finding]:
    """Every fleet invariant broken in `facts` (see the module)."""
    found: list[Finding] = []
    with_stack = {tenant for tenant, state in facts.tenant_states.items() if state in HAS_STACK}
    tenant_stacks = facts.backend.get(TENANT_PROJECT, set())
    cell_stacks = facts.backend.get(CELL_PROJECT, set())
    for name in sorted(tenant_stacks - with_stack):
        state = facts.tenant_states.get(name)
        why = f"the tenant is {state}" if state else "the catalog has no such tenant"
        found.append(Finding("stack-without-tenant", f"{TENANT_PROJECT}/{name}",
                             f"stack {TENANT_PROJECT}/{name} exists in the backend but {why}"))
    for name in sorted(cell_stacks - set(facts.cells)):
        found.append(Finding("stack-without-tenant", f"{CELL_PROJECT}/{name}",
                             f"stack {CELL_PROJECT}/{name} exists in the backend but the catalog has no such cell"))
    for tenant in sorted(with_stack - tenant_stacks):
        if facts.tenant_states[tenant] == "onboarding":
            continue  # its first up has not run yet
        found.append(Finding("tenant-without-stack", tenant, f"tenant {tenant} is {facts.tenant_states[tenant]} in "
                                                             f"the catalog but has no stack in the backend"))
    for cell in sorted(set(facts.placements.values()) - cell_stacks):
        hosted = sorted(tenant for tenant, on in facts.placements.items() if on == cell)
        found.append(Finding("tenant-without-stack", cell,
                             f"cell {cell} hosts {plural(len(hosted), 'tenant')} ({', '.join(hosted[:5])}) "
                             "but has no stack "
                             "in the backend"))
    for tenant, urns in sorted(facts.shapes.items()):
        if len(urns) > 1 and tenant not in facts.moving:
            shapes = ", ".join(urn.split("::")[-2].rsplit(":", 1)[-1] for urn in urns)
            found.append(Finding("two-shapes", tenant, f"tenant {tenant}'s stack holds {len(urns)} shapes ({shapes}) "
                                                       "and no plan change or move is under way"))
    found += _fuller_cells(facts, tenant_stacks)
    for item in facts.retained:
        if item.retain_until <= facts.now and item.tenant not in facts.retention_done:
            found.append(Finding("retention-ended", item.tenant,
                                 f"{item.type} {item.urn.rsplit('::', 1)[-1]} of tenant {item.tenant} is kept past "
                                 f"its retention end ({_iso(item.retain_until)}): run `paybill-iac lifecycle "
                                 f"retention-end {item.tenant}`"))
    return found


def _fuller_cells(facts: FleetFacts, tenant_stacks: set[str]) -> list[Finding]:
    found = []
    for cell, capacity in sorted(facts.cells.items()):
        catalog = {tenant for tenant, on in facts.placements.items() if on == cell}
        reality = {tenant for tenant, on in facts.recorded.items() if on == cell and tenant in tenant_stacks}
        extra = sorted(reality - catalog - facts.moving)  # a move under way holds both cells on purpose
        if extra or len(reality) > capacity:
            over = f", over its capacity of {capacity}" if len(reality) > capacity else ""
            found.append(Finding("cell-fuller-than-catalog", cell,
                                 f"cell {cell} holds {plural(len(reality), 'tenant')} in reality and "
                                 f"{len(catalog)} in the "
                                 f"catalog{over}" + (f"; not in the catalog's count: {', '.join(extra[:10])}"
                                                     if extra else "")))
    return found


def _iso(epoch: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def gather(op: Operator, catalog: Catalog | None = None) -> FleetFacts:
    """The facts of the fleet: the catalog and its ledger, the state database, the backend's stack list and the
    resources of every tenant stack in it."""
    catalog = catalog or op.reload()
    store = op.store
    recorded_ledger = ledger.read(op.settings.catalog_dir)
    backend = {project: set(op.runner.list_stacks(op.layout, project)) for project in (TENANT_PROJECT, CELL_PROJECT)}
    moving = {workflow.tenant for workflow in store.workflows.all_running() if workflow.kind in MOVING_WORKFLOWS}
    moving |= {tenant for tenant, entry in recorded_ledger.entries.items()
               if entry.declared is not None and entry.declared.workflow in MOVING_WORKFLOWS}
    shapes = {}
    for name in sorted(backend[TENANT_PROJECT]):
        found = [step.urn for step in op.runner.resources(_stack_invocation(op, catalog, name))
                 if step.type in SHAPE_TYPES]
        shapes[name] = found
    retained = [RetainedItem(item.tenant, item.urn, item.type, item.retain_until) for item in store.retained.find()]
    done = {item.tenant for item in retained
            if store.workflows.latest("retention-end", item.tenant, "completed") is not None}
    return FleetFacts(
        tenant_states={tenant_id: tenant.state for tenant_id, tenant in catalog.tenants.items()},
        cells={cell_id: cell.capacity for cell_id, cell in catalog.cells.items()},
        placements=dict(catalog.placements),
        recorded={tenant: entry.location.cell for tenant, entry in recorded_ledger.entries.items()
                  if entry.location.cell and not entry.location.offboarded},
        backend=backend, shapes=shapes, moving=moving, retained=retained, retention_done=done, now=store.clock())


def _stack_invocation(op: Operator, catalog: Catalog, name: str) -> Invocation:
    """An invocation naming tenant stack `name`, to read its resources: the catalog's, or for a stack the catalog
    has no config for, one with an empty config (reading a state needs only the stack's name and backend)."""
    stack = StackRef(TENANT_PROJECT, name)
    try:
        return op.invocation("up", stack, catalog)
    except UsageError:
        return build_invocation("up", stack, {}, layout=op.layout, policy_configs={pack: {} for pack in POLICY_PACKS},
                                actor=op.actor)


def as_dict(found: Iterable[Finding]) -> dict[str, Any]:
    items = [asdict(item) for item in found]
    counts = {check: sum(1 for item in items if item["check"] == check) for check in CHECKS}
    return {"findings": items, "counts": counts, "clean": not items}

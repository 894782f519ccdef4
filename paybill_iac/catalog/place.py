"""Placement of pooled and bridge tenants on cells: deterministic, within capacity, and sticky.

Moving a tenant between cells moves its data, so a placement, once made, never changes by itself:

- a pin (`cell:` in the tenant file) is honoured, or rejected with the reason;
- a tenant already in the ledger (`placements.yaml`, ledger.py: written by `paybill-iac generate` for
  new tenants and by the lifecycle workflows) stays on its cell, even when the cell stopped accepting
  tenants; a pin, a region or a cell that would move it is refused by the guards (guard.py) unless a
  lifecycle workflow is declared for it;
- a new tenant goes to the accepting cell of its cloud and region with the most free room (ties:
  the cell id), new tenants taken in id order;
- when no cell has room, validation says which cloud and region need a new cell.

So adding or removing a tenant never moves another one. Offboarded tenants free their slot.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from paybill_iac.catalog import ledger
from paybill_iac.errors import CatalogIssue
from paybill_iac.model.catalog import SHARED_ISOLATIONS, Catalog, Tenant

LEDGER_FILE = ledger.LEDGER_FILE


def needs_cell(catalog: Catalog, tenant: Tenant) -> bool:
    return catalog.plans[tenant.plan].isolation in SHARED_ISOLATIONS and tenant.state != "offboarded"


def read_ledger(root: Path, reader: Any) -> ledger.Ledger:
    """The ledger (ledger.py), or an empty one when there is none yet. A malformed ledger is an issue."""
    try:
        return current_ledger(root)
    except ledger.LedgerProblem as problem:
        reader.issues.append(CatalogIssue(reader.rel(root / LEDGER_FILE), "catalog", "", "tenants", str(problem)))
        return ledger.Ledger()


# The last ledger read, and which file it was read from: `paybill-iac generate` reads it again right
# after loading the catalog, and parsing 10,000 entries takes a quarter of a second. Read-only: those
# who change a ledger read their own copy (ledger.update).
_LAST: tuple[Path, tuple[int, ...], ledger.Ledger] | None = None


def current_ledger(root: Path) -> ledger.Ledger:
    """ledger.read(root), parsed again only when the file is not the one last read (another inode, size,
    modification or change time: a write, atomic or not, changes one of them). Do not modify it."""
    global _LAST
    path = Path(root) / LEDGER_FILE
    try:
        status = path.stat()
    except OSError:
        return ledger.read(root)
    identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
    if _LAST is not None and _LAST[0] == path and _LAST[1] == identity:
        return _LAST[2]
    found = ledger.read(root)  # after the stat: a write in between makes the next stat differ
    _LAST = (path, identity, found)
    return found


def sticky_cells(catalog: Catalog, found: ledger.Ledger) -> dict[str, str]:
    """tenant -> the cell the ledger keeps it on: its recorded cell, or the cell of a move declared for it once
    the tenant file says that move (its pin, or the cloud and region it moves to)."""
    cells = {}
    for tenant_id, entry in found.entries.items():
        tenant = catalog.tenants.get(tenant_id)
        if entry.location.offboarded or tenant is None:
            continue
        cell = entry.location.cell
        declared = entry.declared
        if declared is not None and declared.to.cell and (
                tenant.cell == declared.to.cell
                or (tenant.cloud, tenant.region) != (entry.location.cloud, entry.location.region)):
            cell = declared.to.cell
        if cell:
            cells[tenant_id] = cell
    return cells


def place(
    catalog: Catalog, ledger: dict[str, str], rel: Callable[[Path], str]
) -> tuple[dict[str, str], list[CatalogIssue]]:
    """Every pooled and bridge tenant's cell, and the issues that prevent a placement."""
    placed: dict[str, str] = {}
    waiting: list[Tenant] = []
    for tenant_id in sorted(catalog.tenants):
        tenant = catalog.tenants[tenant_id]
        if not needs_cell(catalog, tenant):
            continue
        previous = catalog.cells.get(ledger.get(tenant_id, ""))
        if tenant.cell is not None:
            placed[tenant_id] = tenant.cell
        elif previous is not None and (previous.cloud, previous.region) == (tenant.cloud, tenant.region):
            placed[tenant_id] = previous.id
        else:
            waiting.append(tenant)

    load = {cell_id: 0 for cell_id in catalog.cells}
    for cell_id in placed.values():
        load[cell_id] += 1
    issues: list[CatalogIssue] = []
    for tenant in waiting:
        candidates = [
            cell for cell in catalog.cells.values()
            if cell.accepting and (cell.cloud, cell.region) == (tenant.cloud, tenant.region)
            and load[cell.id] < cell.capacity
        ]
        if not candidates:
            where = (tenant.cloud, tenant.region)
            existing = [cell.id for cell in catalog.cells.values() if (cell.cloud, cell.region) == where]
            state = f"cells {', '.join(existing)} are full or not accepting" if existing else "there is no cell"
            issues.append(CatalogIssue(str(catalog.files[f"tenant:{tenant.id}"]), "tenant", tenant.id, "cell",
                                       f"no room: {state} in {tenant.cloud} {tenant.region}; "
                                       f"add a cell for {tenant.cloud} {tenant.region} to cells.yaml"))
            continue
        best = min(candidates, key=lambda cell: (-(cell.capacity - load[cell.id]), cell.id))
        placed[tenant.id] = best.id
        load[best.id] += 1

    cells_file = rel(catalog.root / "cells.yaml")
    for cell_id, count in sorted(load.items()):
        capacity = catalog.cells[cell_id].capacity
        if count > capacity:
            pinned = sorted(t for t, c in placed.items() if c == cell_id and catalog.tenants[t].cell == cell_id)
            issues.append(CatalogIssue(cells_file, "cell", cell_id, "capacity",
                                       f"{count} tenants are placed here but the capacity is {capacity} "
                                       f"(pinned: {', '.join(pinned) or 'none'})"))
    return dict(sorted(placed.items())), issues

"""The catalog guards its tenants' data: an edit that would move or drop a tenant's data is refused unless
a lifecycle workflow does it.

The ledger (ledger.py) records where each tenant's data lives. Against it, `validate`, `generate` and
`preview` (all of which load the catalog) refuse, naming the workflow that makes the change safely:

    a plan of another isolation model     lifecycle change-plan  (new shape beside the old, data moved,
                                                                  cut over, old shape retired)
    another cloud or region               lifecycle move
    a pin (`cell:`) to another cell       lifecycle move
    a tenant file removed, or its state   lifecycle offboard     (data kept until its retention ends)
    set to offboarded, while its data
    still lives
    a cell removed, or moved to another   lifecycle move, for each tenant on it first
    cloud or region, while tenants are
    placed on it

A tenant still onboarding has no data yet: its entry follows its file until it is active. Each of the
above is accepted when the ledger holds the same move declared (`paybill-iac lifecycle ...
--plan-only` writes both in one pull request; the workflow runs when it is merged). Placement follows
the ledger, so a tenant is never silently placed elsewhere either. A ledger entry that does not record a
field yet (the ledger's earlier form) is not judged on it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from paybill_iac.catalog.ledger import Declared, Entry, Ledger, Location
from paybill_iac.model.catalog import SHARED_ISOLATIONS, Catalog, Tenant
from paybill_iac.model.errors import CatalogIssue
from paybill_iac.model.words import plural

PLAN_ONLY = ("or, in a pull request, the same with --plan-only: it edits the catalog and declares the move, which "
             "runs on merge")


def check(catalog: Catalog, ledger: Ledger, rel: Callable[[Path], str]) -> list[CatalogIssue]:
    """Every data-moving edit of `catalog` that no declared workflow covers."""
    issues: list[CatalogIssue] = []
    for tenant_id, entry in sorted(ledger.entries.items()):
        tenant = catalog.tenants.get(tenant_id)
        if tenant is None:
            if not entry.location.offboarded:
                issues.append(CatalogIssue(rel(catalog.tenant_file(tenant_id)), "tenant", tenant_id, "", (
                    f"the file of tenant '{tenant_id}' was removed while its data still lives in "
                    f"{entry.location.describe()}: that would strand or delete it. Offboard the tenant first: "
                    f"`paybill-iac lifecycle offboard {tenant_id}` ({PLAN_ONLY}); the file may go once the "
                    "tenant is offboarded")))
            continue
        problems = _tenant_problems(catalog, tenant, entry)
        if problems:  # the file's name only then: making it for each of 10,000 entries is a tenth of the check
            file = rel(catalog.tenant_file(tenant_id))
            issues += [CatalogIssue(file, "tenant", tenant_id, field_name, message) for field_name, message in problems]
    issues += _cell_issues(catalog, ledger, rel)
    return issues


def _isolation(catalog: Catalog, tenant: Tenant) -> str | None:
    plan = catalog.plans.get(tenant.plan)
    return plan.isolation if plan is not None else None


def _tenant_problems(catalog: Catalog, tenant: Tenant, entry: Entry) -> list[tuple[str, str]]:
    """(field, message) of each data-moving edit of the tenant's file."""
    recorded, declared = entry.location, entry.declared
    if recorded.offboarded or (tenant.state == "onboarding" and declared is None):
        return []  # no data (yet): an onboarding tenant's entry follows its file until it is active
    isolation = _isolation(catalog, tenant)
    if declared is not None:
        return _declared_problems(tenant, recorded, isolation, declared)
    issues = []
    if recorded.isolation is not None and isolation is not None and isolation != recorded.isolation:
        issues.append(("plan", (
            f"plan '{tenant.plan}' is {isolation}, but the data of tenant '{tenant.id}' lives in its "
            f"{recorded.isolation} shape: changing the plan by hand would have the stack delete that shape with "
            f"its data and create an empty {isolation} one. Change plans with `paybill-iac lifecycle change-plan "
            f"{tenant.id} --plan {tenant.plan}` (new shape beside the old, data moved, then the old retired), "
            f"{PLAN_ONLY}")))
    for field_name, now, then in (("cloud", tenant.cloud, recorded.cloud), ("region", tenant.region, recorded.region)):
        if then is not None and now != then:
            issues.append((field_name, (
                f"the data of tenant '{tenant.id}' lives in {then}; changing its {field_name} to {now} by hand would "
                f"create an empty tenant there and delete the one in {then}. Move it with `paybill-iac lifecycle "
                f"move {tenant.id} --{field_name} {now}`, {PLAN_ONLY}")))
    if tenant.cell is not None and recorded.cell is not None and tenant.cell != recorded.cell:
        issues.append(("cell", (
            f"tenant '{tenant.id}' is placed on cell '{recorded.cell}', where its data lives; pinning it to "
            f"'{tenant.cell}' would move it without its data. Move it with `paybill-iac lifecycle move {tenant.id} "
            f"--cell {tenant.cell}`, {PLAN_ONLY}")))
    if tenant.state == "offboarded":
        issues.append(("state", (
            f"tenant '{tenant.id}' is set to offboarded by hand while its data still lives in "
            f"{recorded.describe()}: its stack would be dropped without the retention and the final backup. "
            f"Offboard it with `paybill-iac lifecycle offboard {tenant.id}`, {PLAN_ONLY}")))
    return issues


def _declared_problems(tenant: Tenant, recorded: Location, isolation: str | None,
                       declared: Declared) -> list[tuple[str, str]]:
    """A declared workflow covers the catalog's edit when the tenant file says what it declares (or still says
    where the data is: the workflow has not written the file yet)."""
    if declared.workflow == "offboard":
        applied = tenant.state in ("offboarding", "offboarded")
    else:
        to = declared.to
        applied = ((to.isolation is None or isolation == to.isolation) and (to.cloud or tenant.cloud) == tenant.cloud
                   and (to.region or tenant.region) == tenant.region
                   and (tenant.cell is None or to.cell is None or tenant.cell == to.cell)
                   and (declared.plan is None or declared.plan == tenant.plan))
    unchanged = (recorded.isolation in (None, isolation) and recorded.cloud in (None, tenant.cloud)
                 and recorded.region in (None, tenant.region) and tenant.state != "offboarded"
                 and (tenant.cell is None or recorded.cell in (None, tenant.cell)))
    if applied or unchanged:
        return []
    return [("", (
        f"the ledger declares `{declared.describe(tenant.id)}` for tenant '{tenant.id}', but its file says plan "
        f"'{tenant.plan}', {tenant.cloud} {tenant.region}, state {tenant.state}: declare the move again with "
        f"`paybill-iac lifecycle {declared.workflow} {tenant.id} ... --plan-only`, which edits both"))]


def _cell_issues(catalog: Catalog, ledger: Ledger, rel: Callable[[Path], str]) -> list[CatalogIssue]:
    """Cells removed, or moved to another cloud or region, while tenants are placed on them."""
    cells_file = rel(catalog.root / "cells.yaml")
    on: dict[str, list[tuple[str, Location]]] = {}
    for tenant_id, entry in ledger.entries.items():
        location = entry.location
        tenant = catalog.tenants.get(tenant_id)
        leaving = entry.declared is not None and entry.declared.to.cell != location.cell
        shared = location.isolation is None or location.isolation in SHARED_ISOLATIONS
        live = tenant is not None and tenant.state != "onboarding"
        if location.cell and not location.offboarded and shared and not leaving and live:
            on.setdefault(location.cell, []).append((tenant_id, location))
    issues = []
    for cell_id, placed in sorted(on.items()):
        names = ", ".join(tenant for tenant, _ in placed[:10]) + (", ..." if len(placed) > 10 else "")
        first = placed[0][0]
        cell = catalog.cells.get(cell_id)
        if cell is None:
            issues.append(CatalogIssue(cells_file, "cell", cell_id, "", (
                f"cell '{cell_id}' was removed while {plural(len(placed), 'tenant')} "
                f"{'is' if len(placed) == 1 else 'are'} placed on it ({names}): their data "
                f"lives on its servers. Move them first, one by one (`paybill-iac lifecycle move {first} --cell "
                "<another cell>`), then remove the cell")))
            continue
        here = (cell.cloud, cell.region)
        moved = sorted({f"{loc.cloud} {loc.region}" for _, loc in placed
                        if loc.cloud is not None and (loc.cloud, loc.region) != here})
        if moved:
            issues.append(CatalogIssue(cells_file, "cell", cell_id, "region", (
                f"cell '{cell_id}' is now in {cell.cloud} {cell.region}, but {plural(len(placed), 'tenant')} "
                "placed on it "
                f"({names}) have their data in it in {', '.join(moved)}: a cell is never replaced under its tenants. "
                f"Add a new cell instead and move them (`paybill-iac lifecycle move {first} --cell <the new cell>`)")))
    return issues

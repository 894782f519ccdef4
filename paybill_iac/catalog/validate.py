"""Checks across catalog files: references, plan limits, regions, sizes and physical-name collisions.

Each function returns CatalogIssues; none raises for a catalog problem, so one run reports them all.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from paybill_iac.errors import CatalogIssue
from paybill_iac.model import naming, regions, sizing
from paybill_iac.model.catalog import DEDICATED_DB_ISOLATIONS, SHARED_ISOLATIONS, Catalog, Plan, Tenant
from paybill_iac.model.spec import dedicated_database
from paybill_iac.model.words import unknown

Rel = Callable[[Path], str]

_ACCOUNT_FIELDS = {"gcp": "accounts.gcp_project", "oci": "accounts.oci_parent_compartment_id"}


@dataclass(frozen=True)
class Unread:
    """Plans and cells whose own problems are reported already (their file or their entry failed to load):
    a tenant naming one is not reported again as naming an unknown plan or cell, so that one slip in
    plans.yaml gives one error, not one per tenant."""

    plans: frozenset[str] = frozenset()
    cells: frozenset[str] = frozenset()
    every_plan: bool = False  # plans.yaml itself could not be read
    every_cell: bool = False  # cells.yaml itself could not be read

    def plan(self, plan_id: str) -> bool:
        return self.every_plan or plan_id in self.plans

    def cell(self, cell_id: str) -> bool:
        return self.every_cell or cell_id in self.cells


NOTHING_UNREAD = Unread()




def cross_check(catalog: Catalog, rel: Rel, settings_ok: bool, *, tenants_checked: bool = False) -> list[CatalogIssue]:
    """Plans, cells and accounts against each other and the tenants; and each tenant against its plan
    and cell (`check_tenant`), unless the caller did that already (`tenants_checked`)."""
    issues: list[CatalogIssue] = []
    plans_file, cells_file = rel(catalog.root / "plans.yaml"), rel(catalog.root / "cells.yaml")
    for plan in catalog.plans.values():
        for position, region in enumerate(plan.limits.regions or []):
            if not any(region in regions.REGIONS[cloud] for cloud in plan.clouds):
                issues.append(CatalogIssue(plans_file, "plan", plan.id, f"limits.regions.{position}",
                                           f"'{region}' is not a region of any of the plan's clouds "
                                           f"({', '.join(plan.clouds)})"))
    for cell in catalog.cells.values():
        problem = regions.region_problem(cell.cloud, cell.region)
        if problem:
            issues.append(CatalogIssue(cells_file, "cell", cell.id, "region", problem))
        try:
            sizing.database_size(cell.cloud, cell.db_vcpus, cell.db_storage_gb, cell.backup_retention_days)
        except sizing.SizingError as error:
            issues.append(CatalogIssue(cells_file, "cell", cell.id, error.field, str(error)))
    clouds_in_use: dict[str, str] = {}
    for tenant in catalog.tenants.values():
        if not tenants_checked:
            issues += check_tenant(catalog, tenant, str(catalog.files[f"tenant:{tenant.id}"]))
        clouds_in_use.setdefault(tenant.cloud, f"tenant '{tenant.id}'")
    for cell in catalog.cells.values():
        clouds_in_use.setdefault(cell.cloud, f"cell '{cell.id}'")
    if settings_ok:
        settings_file = rel(catalog.root / "catalog.yaml")
        accounts = catalog.settings.accounts
        for cloud, field_name in _ACCOUNT_FIELDS.items():
            if cloud in clouds_in_use and not accounts.for_cloud(cloud):
                issues.append(CatalogIssue(settings_file, "catalog", "", field_name,
                                           f"is required: {clouds_in_use[cloud]} runs on {cloud}"))
        if "oci" in clouds_in_use and accounts.for_cloud("oci") and "tenancy_id" not in accounts.for_cloud("oci"):
            issues.append(CatalogIssue(settings_file, "catalog", "", "accounts.oci_tenancy_id",
                                       "is required when the parent compartment is not the tenancy: "
                                       "OCI keeps dynamic groups in the tenancy"))
        if "oci" in clouds_in_use and accounts.oci_home_region is None:
            issues.append(CatalogIssue(settings_file, "catalog", "", "accounts.oci_home_region",
                                       f"is required: {clouds_in_use['oci']} runs on oci, and OCI creates, changes "
                                       "and deletes compartments, dynamic groups and policies only in the tenancy's "
                                       "home region (e.g. eu-frankfurt-1; the OCI console shows it)"))
    return issues


def check_tenant(catalog: Catalog, tenant: Tenant, file: str, unread: Unread = NOTHING_UNREAD) -> list[CatalogIssue]:
    """One tenant against its plan and cell: needs the catalog's plans and cells, no other tenant. A plan or
    cell in `unread` failed to load and is reported already: naming it is not an error of the tenant's."""
    def issue(field: str, message: str) -> CatalogIssue:
        return CatalogIssue(file, "tenant", tenant.id, field, message)

    found: list[CatalogIssue] = []
    plan = catalog.plans.get(tenant.plan)
    if plan is None:
        return [] if unread.plan(tenant.plan) else [issue("plan", unknown("plan", tenant.plan, catalog.plans))]
    if tenant.cloud not in plan.clouds:
        found.append(issue("cloud", f"plan '{plan.id}' does not allow {tenant.cloud} "
                                    f"(allowed: {', '.join(plan.clouds)})"))
    region_problem = regions.region_problem(tenant.cloud, tenant.region)
    if region_problem:
        found.append(issue("region", region_problem))
    elif plan.limits.regions is not None and tenant.region not in plan.limits.regions:
        found.append(issue("region", f"plan '{plan.id}' does not allow region '{tenant.region}' "
                                     f"(allowed: {', '.join(plan.limits.regions)})"))
    if tenant.subscription.seats > plan.limits.seats:
        found.append(issue("subscription.seats", f"{tenant.subscription.seats} seats is more than plan "
                                                 f"'{plan.id}' allows ({plan.limits.seats})"))
    found += _check_overrides(plan, tenant, issue)
    if tenant.cell is not None and not (tenant.cell not in catalog.cells and unread.cell(tenant.cell)):
        found += _check_pin(catalog, plan, tenant, issue)
    return found


def _check_overrides(plan: Plan, tenant: Tenant, issue: Callable[[str, str], CatalogIssue]) -> list[CatalogIssue]:
    found = []
    overrides, limits = tenant.overrides, plan.limits
    for key in ("db_storage_gb", "db_vcpus"):
        value = getattr(overrides, key)
        if value is not None and value > getattr(limits, key):
            found.append(issue(f"overrides.{key}", f"{value} is above plan '{plan.id}''s limit of "
                                                   f"{getattr(limits, key)}"))
    retention = overrides.backup_retention_days
    if retention is not None and retention < limits.backup_retention_days:
        found.append(issue("overrides.backup_retention_days",
                           f"{retention} days is below plan '{plan.id}''s minimum of {limits.backup_retention_days}"))
    if not found and plan.isolation in DEDICATED_DB_ISOLATIONS:
        try:
            dedicated_database(plan, tenant)
        except sizing.SizingError as error:
            field = f"overrides.{error.field}" if getattr(overrides, error.field) is not None else "plan"
            found.append(issue(field, f"{error} (plan '{plan.id}' on {tenant.cloud})"))
    return found


def _check_pin(
    catalog: Catalog, plan: Plan, tenant: Tenant, issue: Callable[[str, str], CatalogIssue]
) -> list[CatalogIssue]:
    cell = catalog.cells.get(tenant.cell or "")
    if plan.isolation not in SHARED_ISOLATIONS:
        return [issue("cell", f"only pooled and bridge tenants live on cells; plan '{plan.id}' is {plan.isolation}")]
    if cell is None:
        return [issue("cell", unknown("cell", tenant.cell or "", catalog.cells))]
    if (cell.cloud, cell.region) != (tenant.cloud, tenant.region):
        return [issue("cell", f"cell '{cell.id}' is in {cell.cloud} {cell.region}, the tenant in "
                              f"{tenant.cloud} {tenant.region}")]
    return []


def rounding_warnings(catalog: Catalog) -> list[CatalogIssue]:
    """Warnings, not errors: each database size a cloud provisions differently from what the catalog asks
    (Azure's fixed storage sizes, a cloud's vCPU classes, its shortest backup retention), naming the tenant
    (with a stack and its own database) or cell, the field the value came from, what was asked and what is
    provisioned. Valid catalogs only."""
    found = []
    for tenant in catalog.tenants.values():
        plan = catalog.plans[tenant.plan]
        if plan.isolation not in DEDICATED_DB_ISOLATIONS or tenant.state == "offboarded":
            continue
        overrides, limits = tenant.overrides, plan.limits
        for rounding in _roundings(tenant.cloud, overrides.db_vcpus or limits.db_vcpus,
                                   overrides.db_storage_gb or limits.db_storage_gb,
                                   overrides.backup_retention_days or limits.backup_retention_days):
            field = (f"overrides.{rounding.field}" if getattr(overrides, rounding.field) is not None
                     else f"{rounding.field} (plan {plan.id})")
            found.append(CatalogIssue(str(catalog.files.get(f"tenant:{tenant.id}", catalog.tenant_file(tenant.id))),
                                      "tenant", tenant.id, field, str(rounding)))
    cells_file = str(catalog.root / "cells.yaml")
    for cell in catalog.cells.values():
        for rounding in _roundings(cell.cloud, cell.db_vcpus, cell.db_storage_gb, cell.backup_retention_days):
            found.append(CatalogIssue(cells_file, "cell", cell.id, rounding.field, str(rounding)))
    return sorted(found)


@cache
def _roundings(cloud: str, vcpus: int, storage_gb: int, retention_days: int) -> tuple[sizing.Rounding, ...]:
    """sizing.roundings of what database_size provisions for these (a catalog has few distinct sizes)."""
    size = sizing.database_size(cloud, vcpus, storage_gb, retention_days)
    return tuple(sizing.roundings(cloud, vcpus, storage_gb, retention_days, size))


def name_collisions(catalog: Catalog, rel: Rel, known: Mapping[str, bytes] | None = None) -> list[CatalogIssue]:
    """Two owners (tenants or cells) whose derived physical names meet.

    `known`: the `slot_hashes` of some tenants, worked out already (by the workers that read them).
    """
    org = catalog.settings.org
    known = known or {}

    def shape_of(tenant: Tenant) -> str:
        return naming.SHAPE_TAGS[catalog.plans[tenant.plan].isolation]

    # Nearly always every name is distinct: then so are the hashes of all (kind, name) slots, which a
    # set of numbers shows in a fraction of the time the walk below takes, and the walk is skipped.
    # Two equal hashes (two names that meet, or, very rarely, two hashes that do) mean the walk.
    hashes = array("q")
    for cell in catalog.cells.values():
        hashes.frombytes(slot_hashes(cell.cloud, "cell", tuple(naming.names_for(cell.cloud, org, cell.id).values())))
    for tenant in catalog.tenants.values():
        found = known.get(tenant.id)
        hashes.frombytes(found if found is not None else slot_hashes(
            tenant.cloud, "tenant", tuple(naming.names_for(tenant.cloud, org, tenant.id, shape_of(tenant)).values())))
    if len(set(hashes)) == len(hashes):
        return []

    cells_file = rel(catalog.root / "cells.yaml")
    entries = [("cell", cell.id, cell.cloud, cells_file, "") for cell in catalog.cells.values()]
    entries += [("tenant", tenant.id, tenant.cloud, str(catalog.files[f"tenant:{tenant.id}"]), shape_of(tenant))
                for tenant in catalog.tenants.values()]
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    issues = []
    kinds = {cloud: {key: naming.name_kind(cloud, key) for key in (*naming.NAME_SETS[cloud], "prefix")}
             for cloud in naming.NAME_SETS}
    for kind, ident, cloud, file, shape in entries:
        cloud_kinds = kinds[cloud]
        for key, name in naming.names_for(cloud, org, ident, shape).items():
            if kind == "cell" and key == "prefix":  # a cell holds tenants' prefixes, none of its own
                continue
            slot = (cloud_kinds[key], name)
            other = owners.setdefault(slot, (kind, ident))
            if other != (kind, ident):
                title = naming.RULES[slot[0]].title if slot[0] in naming.RULES else "object prefix"
                issues.append(CatalogIssue(file, kind, ident, "id",
                                           f"derives the {cloud} {title} name '{name}', already derived by "
                                           f"{other[0]} '{other[1]}': choose another id"))
                break
    return issues


def slot_hashes(cloud: str, role: str, values: Sequence[str]) -> bytes:
    """hash((kind, name)) of each name slot of an owner in `role` ("cell" or "tenant") on `cloud`, given the
    values of its naming.names_for, as the bytes of an array("q"): the owner's part of the fast check in
    name_collisions. Comparable only within one process and those it forks (hashes are salted)."""
    return array("q", [hash((kind, values[index])) for kind, index in _slots(cloud, role)]).tobytes()


@cache
def _slots(cloud: str, role: str) -> tuple[tuple[str, int], ...]:
    """(name kind, position in the values of naming.names_for) of each name an owner in `role` ("cell"
    or "tenant") holds on `cloud`, once per (kind, purpose): those give the same name to any owner."""
    keys = (*naming.NAME_SETS[cloud], "prefix")
    seen: set[tuple[str, str]] = set()
    found = []
    for index, key in enumerate(keys):
        kind, purpose = naming.NAME_SETS[cloud].get(key, (naming.name_kind(cloud, key), ""))
        if (role == "cell" and key == "prefix") or (kind, purpose) in seen:
            continue
        seen.add((kind, purpose))
        found.append((kind, index))
    return tuple(found)

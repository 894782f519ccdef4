"""The markers every resource carries: who it belongs to, on which plan, isolated how, managed by us.

The same keys and values are valid as AWS and Azure tags, GCP labels (lowercase letters, digits,
hyphens and underscores, at most 63 characters) and OCI freeform tags, so one dict serves every cloud
and the tenant-isolation policy reads them back with the same names.
"""

from __future__ import annotations

TENANT = "paybill-tenant"
CELL = "paybill-cell"
PLAN = "paybill-plan"
ISOLATION = "paybill-isolation"
MANAGED_BY = "paybill-managed-by"
MANAGED_BY_VALUE = "paybill-iac"

REQUIRED_FOR_TENANT = (TENANT, PLAN, ISOLATION, MANAGED_BY)
REQUIRED_FOR_CELL = (CELL, ISOLATION, MANAGED_BY)


def tenant_markers(tenant_id: str, plan: str, isolation: str) -> dict[str, str]:
    return {TENANT: tenant_id, PLAN: plan, ISOLATION: isolation, MANAGED_BY: MANAGED_BY_VALUE}


def cell_markers(cell_id: str) -> dict[str, str]:
    return {CELL: cell_id, ISOLATION: "pooled", MANAGED_BY: MANAGED_BY_VALUE}

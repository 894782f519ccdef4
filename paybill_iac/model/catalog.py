"""The catalog's models: settings, plans, cells and tenants, as the YAML files hold them.

Pure data and their own field rules (pydantic); reading files, cross-file checks and placement live in
`paybill_iac.catalog`, which builds these.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from paybill_iac.model import naming, regions

Cloud = Literal["aws", "azure", "gcp", "oci"]
Isolation = Literal["pooled", "bridge", "silo"]
State = Literal["onboarding", "active", "suspended", "offboarding", "offboarded"]

STATES: tuple[str, ...] = ("onboarding", "active", "suspended", "offboarding", "offboarded")
SHARED_ISOLATIONS = ("pooled", "bridge")  # placed on a cell
DEDICATED_DB_ISOLATIONS = ("silo", "bridge")  # own database instance

MAX_TENANTS_PER_CELL = 10_000
MAX_SEATS = 10_000_000
MAX_DB_CONNECTIONS = 10_000
DEFAULT_DB_CONNECTIONS = 25


def _slug(value: str) -> str:
    problem = naming.id_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _org(value: str) -> str:
    problem = naming.org_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a date like 2026-01-31, got {_describe(value)}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a real date (expected YYYY-MM-DD)") from None


Slug = Annotated[str, Field(strict=True), AfterValidator(_slug)]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
Text = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
StrictInt = Annotated[int, Field(strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _oci_region(value: str) -> str:
    problem = regions.region_problem("oci", value)
    if problem:
        raise ValueError(problem)
    return value


class Accounts(_Model):
    """Account-level settings per cloud that stacks need (none of them secret)."""

    gcp_project: Annotated[str, Field(strict=True, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")] | None = None
    """Google Cloud project that holds the tenants' resources."""
    oci_parent_compartment_id: (
        Annotated[str, Field(strict=True, pattern=r"^ocid1\.(tenancy|compartment)\.")] | None
    ) = None
    """OCID of the compartment (or tenancy) under which tenant and cell compartments are created."""
    oci_tenancy_id: Annotated[str, Field(strict=True, pattern=r"^ocid1\.tenancy\.")] | None = None
    """OCID of the tenancy: OCI keeps dynamic groups there (defaults to the parent when it is the tenancy)."""
    oci_home_region: Annotated[str, Field(strict=True), AfterValidator(_oci_region)] | None = None
    """The tenancy's home region: OCI creates, changes and deletes compartments, dynamic groups and
    policies only there (403 elsewhere), so the stacks manage them through a provider in this region."""
    aws_account_ids: list[Annotated[str, Field(strict=True, pattern=r"^[0-9]{12}$")]] | None = None
    """The organisation's AWS accounts: the only accounts a grant, a trust policy or a provider may name
    (the policies refuse any other; without this list they refuse every account principal)."""
    azure_tenant_id: Annotated[str, Field(strict=True, pattern=_GUID)] | None = None
    """The organisation's Microsoft Entra tenant: the only tenant an administrator or access policy may
    come from."""
    azure_subscription_ids: list[Annotated[str, Field(strict=True, pattern=_GUID)]] | None = None
    """The organisation's Azure subscriptions: the only ones a provider or role scope may name."""

    def for_cloud(self, cloud: str) -> dict[str, str]:
        """The account settings a stack of `cloud` carries in its spec (lists as comma-separated text)."""
        if cloud == "aws" and self.aws_account_ids:
            return {"account_ids": ",".join(self.aws_account_ids)}
        if cloud == "azure" and (self.azure_tenant_id or self.azure_subscription_ids):
            found = {"tenant_id": self.azure_tenant_id} if self.azure_tenant_id else {}
            if self.azure_subscription_ids:
                found["subscription_ids"] = ",".join(self.azure_subscription_ids)
            return found
        if cloud == "gcp" and self.gcp_project:
            return {"project": self.gcp_project}
        if cloud == "oci" and self.oci_parent_compartment_id:
            tenancy = self.oci_tenancy_id or (
                self.oci_parent_compartment_id if self.oci_parent_compartment_id.startswith("ocid1.tenancy.") else None)
            account = {"parent_compartment_id": self.oci_parent_compartment_id}
            if self.oci_home_region:
                account["home_region"] = self.oci_home_region
            return account | ({"tenancy_id": tenancy} if tenancy else {})
        return {}


class Settings(_Model):
    """catalog.yaml"""

    org: Annotated[str, Field(strict=True), AfterValidator(_org)]
    """Organisation prefix used in every physical name."""
    pulumi_org: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")] = "organization"
    """Pulumi organisation of the stacks ("organization" for the self-managed backends)."""
    accounts: Accounts = Accounts()
    """Cloud accounts: GCP project, OCI parent compartment."""


class Limits(_Model):
    """What a plan allows. Sizes are ceilings; backup retention is a floor."""

    db_storage_gb: Annotated[int, Field(strict=True, ge=1, le=65536)]
    """Database storage per tenant, in GB (the default size and the ceiling)."""
    db_vcpus: Annotated[int, Field(strict=True, ge=1, le=64)]
    """Database vCPUs per tenant (the default and the ceiling)."""
    backup_retention_days: Annotated[int, Field(strict=True, ge=1, le=35)]
    """Backups are kept at least this many days."""
    seats: Annotated[int, Field(strict=True, ge=1, le=MAX_SEATS)]
    """Most seats a subscription on this plan may have."""
    db_connections: Annotated[int, Field(strict=True, ge=1, le=MAX_DB_CONNECTIONS)] = DEFAULT_DB_CONNECTIONS
    """Most concurrent connections of a tenant's database login (the login role's CONNECTION LIMIT, set by
    the data plane); default 25."""
    regions: list[Annotated[str, Field(strict=True)]] | None = None
    """Optional allow-list of regions (any cloud's region names)."""


class Plan(_Model):
    """One entry of plans.yaml."""

    id: Slug
    name: Text | None = None
    description: Annotated[str, Field(strict=True, max_length=1000)] | None = None
    isolation: Isolation
    clouds: Annotated[list[Cloud], Field(min_length=1)]
    limits: Limits

    @field_validator("clouds")
    @classmethod
    def _unique_clouds(cls, value: list[str]) -> list[str]:
        duplicates = sorted({cloud for cloud in value if value.count(cloud) > 1})
        if duplicates:
            raise ValueError(f"lists {', '.join(duplicates)} more than once")
        return value


class Cell(_Model):
    """One entry of cells.yaml: a shared capacity unit for pooled and bridge tenants."""

    id: Slug
    cloud: Cloud
    region: Annotated[str, Field(strict=True)]
    capacity: Annotated[int, Field(strict=True, ge=1, le=MAX_TENANTS_PER_CELL)]
    """Most tenants (pooled and bridge) the cell hosts."""
    accepting: Annotated[bool, Field(strict=True)] = True
    """False to stop placing new tenants here (draining); tenants already placed stay."""
    db_vcpus: Annotated[int, Field(strict=True, ge=1, le=64)] = 4
    """vCPUs of the cell's shared database server."""
    db_storage_gb: Annotated[int, Field(strict=True, ge=10, le=65536)] = 256
    """Storage of the cell's shared database server, in GB."""
    backup_retention_days: Annotated[int, Field(strict=True, ge=1, le=35)] = 14
    """Backups of the shared server are kept this many days."""


class Subscription(_Model):
    seats: Annotated[int, Field(strict=True, ge=1, le=MAX_SEATS)]
    start: IsoDate
    end: IsoDate | None = None
    """None: open-ended."""

    @model_validator(mode="after")
    def _end_after_start(self) -> Subscription:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class Overrides(_Model):
    """Per-tenant sizes; each within its plan's limits."""

    db_storage_gb: Annotated[int, Field(strict=True, ge=1, le=65536)] | None = None
    db_vcpus: Annotated[int, Field(strict=True, ge=1, le=64)] | None = None
    backup_retention_days: Annotated[int, Field(strict=True, ge=1, le=35)] | None = None


class Tenant(_Model):
    """tenants/<id>.yaml"""

    id: Slug
    name: Text
    plan: Slug
    cloud: Cloud
    region: Annotated[str, Field(strict=True)]
    state: State
    subscription: Subscription
    overrides: Overrides = Overrides()
    cell: Slug | None = None
    """Pin to this cell (pooled and bridge only)."""
    canary: Annotated[bool, Field(strict=True)] = False
    """Fleet operations run canary tenants in their first wave."""


@dataclass
class Catalog:
    """A loaded and validated catalog. `placements` maps every placed tenant to its cell."""

    root: Path
    settings: Settings
    plans: dict[str, Plan]
    cells: dict[str, Cell]
    tenants: dict[str, Tenant]
    placements: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # "tenant:<id>" / "plan:<id>" / "cell:<id>" -> file
    generations: dict[str, int] = field(default_factory=dict)
    """Tenant or cell id -> the generation of its names the cloud never frees (naming.NEVER_FREED); absent
    means 0. Kept with the placements (a plan change that moves a tenant between isolation models, or a
    cell created again, takes the next generation, and an offboarded tenant keeps its last one)."""

    def tenant_file(self, tenant_id: str) -> Path:
        return self.root / "tenants" / f"{tenant_id}.yaml"

    def plan_of(self, tenant: Tenant) -> Plan:
        return self.plans[tenant.plan]


_TYPE_NAMES = {bool: "a boolean", int: "a number", float: "a number", dt.date: "a date", dt.datetime: "a timestamp",
               list: "a list", dict: "a mapping", type(None): "nothing (null)"}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"the non-finite number {value}"
    if isinstance(value, str):
        return f"'{value}'"
    return f"{_TYPE_NAMES.get(type(value), type(value).__name__)} ({value!r})" if not isinstance(
        value, (list, dict)) else _TYPE_NAMES[type(value)]

"""The plain-data contract between a stack program and the components.

Stack programs build these from their generated stack config; components never read config, YAML or
the catalog themselves. Everything here is a frozen dataclass of plain values, except the cell's
outputs, which arrive from a StackReference as a pulumi Output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

Isolation = Literal["silo", "pooled", "bridge"]
TenantState = Literal["onboarding", "active", "suspended", "offboarding"]
Cloud = Literal["aws", "azure", "gcp", "oci"]


@dataclass(frozen=True)
class DatabaseArgs:
    """A dedicated database instance's size (from the plan, the tenant's overrides and the cloud)."""

    instance_class: str
    """Instance class, SKU, tier or shape, from paybill_iac.model.sizing."""
    vcpus: int
    """vCPUs of `instance_class` (OCI: 2 x ocpus)."""
    storage_gb: int
    """Allocated storage in GB; 0 where the cloud sizes storage itself (OCI)."""
    backup_retention_days: int
    """Automated backups are kept at least this long (the plan's floor, raised to the cloud's)."""
    engine_version: str
    """PostgreSQL major version in the cloud's own spelling ("16", "POSTGRES_16")."""
    tier: str = ""
    """Azure SKU tier (Burstable, GeneralPurpose, MemoryOptimized)."""
    ocpus: int = 0
    """OCI OCPUs."""
    memory_gb: int = 0
    """OCI memory in GB."""

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> DatabaseArgs:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass(frozen=True)
class Placement:
    """Where a stack's resources go: cloud, region and the account-level settings of that cloud."""

    cloud: Cloud
    region: str
    account: Mapping[str, str] = field(default_factory=dict)
    """Cloud account settings from the catalog: gcp `project`, oci `parent_compartment_id`."""


@dataclass(frozen=True)
class TenantArgs:
    """Everything a tenant component needs, whatever its isolation."""

    tenant_id: str
    """The tenant's catalog id (also its stack name)."""
    plan: str
    """The tenant's plan id."""
    isolation: Isolation
    """silo, pooled or bridge."""
    state: TenantState
    """Lifecycle state: suspended revokes access, offboarding retains data on delete."""
    placement: Placement
    """Cloud, region and account."""
    names: Mapping[str, str]
    """Physical names from paybill_iac.model.naming.names_for (the only source of names)."""
    markers: Mapping[str, str]
    """Tags or labels every resource carries (paybill_iac.model.markers)."""
    database: DatabaseArgs | None = None
    """Dedicated database size; None for pooled tenants."""
    cell: pulumi.Input[Mapping[str, Any]] | None = None
    """The cell stack's `cell` output (pooled and bridge), read through a StackReference."""
    cell_names: Mapping[str, str] | None = None
    """The cell's physical names (pooled and bridge), to scope grants without waiting on outputs."""


@dataclass(frozen=True)
class CellArgs:
    """A cell: the shared network, key, database server and storage of pooled and bridge tenants."""

    cell_id: str
    """The cell's catalog id (also its stack name)."""
    placement: Placement
    """Cloud, region and account."""
    names: Mapping[str, str]
    """Physical names from paybill_iac.model.naming.names_for."""
    markers: Mapping[str, str]
    """Tags or labels every resource carries."""
    database: DatabaseArgs
    """The shared database server's size."""

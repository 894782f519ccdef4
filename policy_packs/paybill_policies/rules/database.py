"""plan-limits: what a stack's dedicated database may be, for every cloud. Four families, each a table
(one row per cloud: rule id, type, the inputs it reads, what the reference says) driving one validator:

    DEDICATED   `<cloud>-...-allowed-by-isolation`: a pooled tenant holds no database instance
    VCPUS       `<cloud>-...-vcpus-within-plan`: the class, SKU, tier or shape within the plan's vCPUs
    STORAGE     `<cloud>-...-storage-within-plan`: allocated storage, and growth, within the plan's
    BACKUPS     `<cloud>-...-backup-retention-meets-plan`: automated backups kept as long as the plan says

The database types come from the resource facts (`database_instance`); vCPU tables from
paybill_iac.model.sizing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from paybill_iac.model import sizing
from paybill_policies.context import PolicyContext
from paybill_policies.evaluate import ResourceView, as_bool, as_number, get
from paybill_policies.rules._kit import (
    PLAN_LIMITS,
    Need,
    fact_tokens,
    is_true,
    plan_of,
    rule,
    unmet,
    vcpus_message,
    with_deprecated,
)

RDS = "aws:rds/instance:Instance"
POSTGRES_SERVER = "azure-native:dbforpostgresql:Server"
CLOUD_SQL = "gcp:sql/databaseInstance:DatabaseInstance"
DB_SYSTEM = "oci:Psql/dbSystem:DbSystem"


class _Row(Protocol):
    """What every row of these tables has."""

    @property
    def id(self) -> str: ...
    @property
    def cloud(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def remediation(self) -> str: ...
    @property
    def reads(self) -> Sequence[str]: ...


def _register(rows: Iterable[_Row], validator: Callable[..., list[str]]) -> None:
    """One plan-limits rule per row, on the row's type, validated by `validator(row, resource, context)`."""
    for row in rows:
        rule(row.id, PLAN_LIMITS, row.cloud, (row.type,), description=row.description, severity="high",
             remediation=row.remediation, reads={row.type: tuple(row.reads)})(partial(validator, row))


# --- allowed by isolation ----------------------------------------------------------------------


@dataclass(frozen=True)
class Dedicated:
    id: str
    cloud: str
    description: str
    remediation: str


DEDICATED = (
    Dedicated("aws-rds-instance-allowed-by-isolation", "aws",
              "A pooled tenant's stack creates no RDS instance or cluster: its database lives in its cell's server.",
              "Remove the instance; a dedicated database needs a silo or bridge plan in the catalog."),
    Dedicated("azure-postgres-server-allowed-by-isolation", "azure",
              "A pooled tenant's stack creates no PostgreSQL flexible server: its database lives in its cell's "
              "server.",
              "Remove the server; a dedicated database needs a silo or bridge plan in the catalog."),
    Dedicated("gcp-sql-instance-allowed-by-isolation", "gcp",
              "A pooled tenant's stack creates no Cloud SQL instance: its database lives in its cell's instance.",
              "Remove the instance; a dedicated database needs a silo or bridge plan in the catalog."),
    Dedicated("oci-psql-db-system-allowed-by-isolation", "oci",
              "A pooled tenant's stack creates no PostgreSQL DB system: its database lives in its cell's.",
              "Remove the DB system; a dedicated database needs a silo or bridge plan in the catalog."),
)


def no_dedicated_database(resource: ResourceView, context: PolicyContext) -> list[str]:
    """A pooled tenant's database lives in its cell's server: its stack holds no instance of its own."""
    if context.kind == "tenant" and context.isolation == "pooled" and context.retiring.get("isolation") not in (
            "silo", "bridge"):
        return [f"{plan_of(context)} is pooled: no dedicated database instance."]
    return []


for _dedicated in DEDICATED:
    rule(_dedicated.id, PLAN_LIMITS, _dedicated.cloud,
         with_deprecated(*fact_tokens(_dedicated.cloud, "database_instance")), description=_dedicated.description,
         severity="high", remediation=_dedicated.remediation)(no_dedicated_database)


# --- vCPUs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vcpus:
    id: str
    cloud: str
    type: str
    size: str
    """The input naming the class, SKU, tier or shape."""
    description: str
    remediation: str
    units: str = ""
    """The input giving the size in the cloud's units when the shape alone does not (OCI OCPUs)."""
    units_name: str = ""
    count: str = ""
    """The input giving the number of instances, each of the size."""

    @property
    def reads(self) -> tuple[str, ...]:
        return tuple(path for path in (self.size, self.units, self.count) if path)


VCPUS = (
    Vcpus("aws-rds-instance-vcpus-within-plan", "aws", RDS, "instanceClass",
          "An RDS instance class has at most the plan's database vCPUs (paybill_iac.model.sizing table).",
          "Use the class paybill_iac.model.sizing.database_size gives for the plan, or move the tenant to a larger "
          "plan in the catalog."),
    Vcpus("azure-postgres-server-vcpus-within-plan", "azure", POSTGRES_SERVER, "sku.name",
          "A PostgreSQL flexible server's SKU has at most the plan's database vCPUs.",
          "Use the SKU paybill_iac.model.sizing.database_size gives for the plan."),
    Vcpus("gcp-sql-instance-vcpus-within-plan", "gcp", CLOUD_SQL, "settings.tier",
          "A Cloud SQL instance's tier has at most the plan's database vCPUs.",
          "Use the tier paybill_iac.model.sizing.database_size gives for the plan."),
    Vcpus("oci-psql-db-system-vcpus-within-plan", "oci", DB_SYSTEM, "shape",
          "A PostgreSQL DB system's shape and OCPUs give at most the plan's vCPUs (2 vCPUs per OCPU), per "
          "instance of the system.",
          "Use the shape and OCPUs paybill_iac.model.sizing.database_size gives for the plan; keep one instance.",
          units="instanceOcpuCount", units_name="OCPUs", count="instanceCount"),
)


def vcpus_within_plan(row: Vcpus, resource: ResourceView, context: PolicyContext) -> list[str]:
    size = get(resource.inputs, row.size)
    units = as_number(get(resource.inputs, row.units)) if row.units else None
    if not isinstance(size, str):
        return [f"{row.size} is not set."]
    per_instance = None if row.units and units is None else sizing.vcpus_of(row.cloud, size, units)
    count = (as_number(get(resource.inputs, row.count)) or 1) if row.count else 1
    vcpus = int(per_instance * count) if per_instance is not None else None
    shown = size
    if units is not None:
        shown += f" x {units:g} {row.units_name}" + (f" x {count:g}" if row.count else "")
    message = vcpus_message(row.cloud, shown, vcpus, context)
    return [message] if message else []


_register(VCPUS, vcpus_within_plan)


# --- storage -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Storage:
    id: str
    cloud: str
    type: str
    sizes: tuple[str, ...]
    """Inputs giving storage in GB, each at most the plan's."""
    description: str
    remediation: str
    grows: str = ""
    """The input switching automatic growth on."""
    grows_by_default: bool = False
    grows_to: str = ""
    """The input capping automatic growth in GB (0 or absent: unlimited)."""

    @property
    def reads(self) -> tuple[str, ...]:
        return tuple(path for path in (*self.sizes, self.grows, self.grows_to) if path)


STORAGE = (
    Storage("aws-rds-instance-storage-within-plan", "aws", RDS, ("allocatedStorage", "maxAllocatedStorage"),
            "An RDS instance allocates (and autoscales to) at most the plan's database storage.",
            "Set allocatedStorage (and maxAllocatedStorage, if used) to at most the plan's db_storage_gb."),
    Storage("azure-postgres-server-storage-within-plan", "azure", POSTGRES_SERVER, ("storage.storageSizeGB",),
            "A PostgreSQL flexible server allocates at most the plan's storage and does not grow past it.",
            "Set storage.storageSizeGB to at most the plan's db_storage_gb and storage.autoGrow to Disabled.",
            grows="storage.autoGrow"),
    Storage("gcp-sql-instance-storage-within-plan", "gcp", CLOUD_SQL, ("settings.diskSize",),
            "A Cloud SQL instance's disk is at most the plan's storage, and automatic growth stops at it.",
            "Set settings.diskSize to at most the plan's db_storage_gb and, with diskAutoresize, "
            "diskAutoresizeLimit to at most the same (0 means unlimited).",
            grows="settings.diskAutoresize", grows_by_default=True, grows_to="settings.diskAutoresizeLimit"),
)


def storage_within_plan(row: Storage, resource: ResourceView, context: PolicyContext) -> list[str]:
    limit = context.limits.db_storage_gb if context.limits else None
    if limit is None:
        return []
    found = []
    for path in row.sizes:
        value = as_number(get(resource.inputs, path))
        if value is not None and value > limit:
            found.append(f"{path} is {value:g} GB, above the {limit} GB of {plan_of(context)}.")
    if row.grows:
        switch = get(resource.inputs, row.grows)
        if as_bool(switch) if switch is not None else row.grows_by_default:
            cap = (as_number(get(resource.inputs, row.grows_to)) or 0) if row.grows_to else 0
            if cap == 0 or cap > limit:
                shown = "no limit" if cap == 0 else f"a limit of {cap:g} GB ({row.grows_to})"
                found.append(f"{row.grows} is on with {shown}: storage could grow past the {limit} GB of "
                             f"{plan_of(context)}.")
    return found


_register(STORAGE, storage_within_plan)


# --- backups -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backups:
    id: str
    cloud: str
    type: str
    kept: str
    """The input giving how many days (or daily backups) are kept."""
    description: str
    remediation: str
    unit: str = "days"
    default: float | None = None
    """What the cloud keeps when `kept` is absent; None: absent is a violation."""
    switch: Need | None = None
    """The input that must allow automated backups at all."""
    also_reads: tuple[str, ...] = ()
    """Inputs set together with `kept` (listed for the SDK check, not checked)."""

    @property
    def reads(self) -> tuple[str, ...]:
        return (*((self.switch.path,) if self.switch else ()), self.kept, *self.also_reads)


BACKUPS = (
    Backups("aws-rds-instance-backup-retention-meets-plan", "aws", RDS, "backupRetentionPeriod",
            "An RDS instance keeps automated backups at least as long as the plan requires.",
            "Set backupRetentionPeriod to at least the plan's backup_retention_days."),
    Backups("azure-postgres-server-backup-retention-meets-plan", "azure", POSTGRES_SERVER,
            "backup.backupRetentionDays",
            "A PostgreSQL flexible server keeps backups at least as long as the plan requires.",
            "Set backup.backupRetentionDays to at least the plan's backup_retention_days (Azure: 7-35).",
            default=7),
    Backups("gcp-sql-instance-backup-retention-meets-plan", "gcp", CLOUD_SQL,
            "settings.backupConfiguration.backupRetentionSettings.retainedBackups",
            "A Cloud SQL instance takes daily backups and keeps at least as many as the plan's retention days.",
            "Enable settings.backupConfiguration and set backupRetentionSettings.retainedBackups (unit COUNT) to "
            "at least the plan's backup_retention_days.",
            unit="daily backups", default=7,
            switch=Need("settings.backupConfiguration.enabled", is_true, "{path} is not true: no automated backups."),
            also_reads=("settings.backupConfiguration.backupRetentionSettings.retentionUnit",)),
    Backups("oci-psql-db-system-backup-retention-meets-plan", "oci", DB_SYSTEM,
            "managementPolicy.backupPolicy.retentionDays",
            "A PostgreSQL DB system keeps backups at least as long as the plan requires.",
            "Set managementPolicy.backupPolicy.retentionDays to at least the plan's backup_retention_days.",
            switch=Need("managementPolicy.backupPolicy.kind", lambda kind: kind != "NONE",
                        "{path} is NONE: no automated backups.")),
)


def backups_meet_plan(row: Backups, resource: ResourceView, context: PolicyContext) -> list[str]:
    floor = context.limits.backup_retention_days if context.limits else 0
    if row.switch is not None:
        off = unmet(resource, (row.switch,))
        if off:
            return off
    value = as_number(get(resource.inputs, row.kept))
    kept = row.default if value is None else value
    if kept is None or kept < floor:
        shown = "not set" if kept is None else f"{kept:g} {row.unit}"
        return [f"{row.kept} is {shown}; {plan_of(context)} requires at least {floor} days."]
    return []


_register(BACKUPS, backups_meet_plan)

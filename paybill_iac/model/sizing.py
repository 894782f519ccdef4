"""Plan arithmetic: what database each cloud provisions for a number of vCPUs, storage and retention.

One table per cloud maps the instance classes, SKUs, tiers and shapes the components use to vCPUs.
The components read `database_size(...)` to provision; the plan-limits policy reads `vcpus_of(...)`
to bound what a stack asks for. Both sides use these tables, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# (instance class / SKU / tier / shape, vCPUs), smallest first. The first entry with enough vCPUs
# is what gets provisioned; the rest of each table lists classes a hand-edited stack might use, so
# the policy can still count their vCPUs.
INSTANCE_CLASSES: dict[str, tuple[tuple[str, int], ...]] = {
    "aws": (
        ("db.t4g.micro", 2), ("db.t4g.small", 2), ("db.t4g.medium", 2), ("db.t4g.large", 2),
        ("db.m7g.large", 2), ("db.m7g.xlarge", 4), ("db.m7g.2xlarge", 8), ("db.m7g.4xlarge", 16),
        ("db.m7g.8xlarge", 32), ("db.m7g.12xlarge", 48), ("db.m7g.16xlarge", 64),
        ("db.r7g.large", 2), ("db.r7g.xlarge", 4), ("db.r7g.2xlarge", 8), ("db.r7g.4xlarge", 16),
        ("db.r7g.8xlarge", 32), ("db.r7g.12xlarge", 48), ("db.r7g.16xlarge", 64),
    ),
    "azure": (
        ("Standard_B1ms", 1), ("Standard_B2s", 2), ("Standard_B2ms", 2),
        ("Standard_D2ds_v5", 2), ("Standard_D4ds_v5", 4), ("Standard_D8ds_v5", 8),
        ("Standard_D16ds_v5", 16), ("Standard_D32ds_v5", 32), ("Standard_D48ds_v5", 48),
        ("Standard_D64ds_v5", 64), ("Standard_E2ds_v5", 2), ("Standard_E4ds_v5", 4),
        ("Standard_E8ds_v5", 8), ("Standard_E16ds_v5", 16), ("Standard_E32ds_v5", 32),
    ),
    "gcp": (
        ("db-custom-1-3840", 1), ("db-custom-2-7680", 2), ("db-custom-4-15360", 4),
        ("db-custom-8-30720", 8), ("db-custom-16-61440", 16), ("db-custom-32-122880", 32),
        ("db-custom-64-245760", 64),
    ),
    # OCI PostgreSQL flexible shapes size by OCPUs; one OCPU is two vCPUs on x86 shapes.
    "oci": (
        ("PostgreSQL.VM.Standard.E5.Flex", 0),
        ("PostgreSQL.VM.Standard.E4.Flex", 0),
    ),
}

# The classes provisioned for a vCPU count (the general-purpose family of each cloud).
_PROVISIONED: dict[str, dict[int, str]] = {
    "aws": {2: "db.m7g.large", 4: "db.m7g.xlarge", 8: "db.m7g.2xlarge", 16: "db.m7g.4xlarge",
            32: "db.m7g.8xlarge", 64: "db.m7g.16xlarge"},
    "azure": {1: "Standard_B1ms", 2: "Standard_D2ds_v5", 4: "Standard_D4ds_v5", 8: "Standard_D8ds_v5",
              16: "Standard_D16ds_v5", 32: "Standard_D32ds_v5", 64: "Standard_D64ds_v5"},
    "gcp": {1: "db-custom-1-3840", 2: "db-custom-2-7680", 4: "db-custom-4-15360", 8: "db-custom-8-30720",
            16: "db-custom-16-61440", 32: "db-custom-32-122880", 64: "db-custom-64-245760"},
    "oci": {2: "PostgreSQL.VM.Standard.E5.Flex", 4: "PostgreSQL.VM.Standard.E5.Flex",
            8: "PostgreSQL.VM.Standard.E5.Flex", 16: "PostgreSQL.VM.Standard.E5.Flex",
            32: "PostgreSQL.VM.Standard.E5.Flex", 64: "PostgreSQL.VM.Standard.E5.Flex"},
}

OCI_VCPUS_PER_OCPU = 2
OCI_MEMORY_GB_PER_OCPU = 16
MAX_VCPUS = 64

# Storage each cloud can allocate: (minimum, maximum) in GB, and Azure's fixed sizes.
STORAGE_RANGE: dict[str, tuple[int, int]] = {
    "aws": (20, 65536),
    "azure": (32, 32768),
    "gcp": (10, 65536),
    "oci": (0, 0),  # OCI Database with PostgreSQL sizes storage itself: nothing to request
}
AZURE_STORAGE_SIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)

# Backup retention each cloud accepts, in days: a plan's retention is a minimum, so it is raised to
# the cloud's floor and refused above its ceiling.
RETENTION_RANGE: dict[str, tuple[int, int]] = {
    "aws": (1, 35),
    "azure": (7, 35),
    "gcp": (1, 365),
    "oci": (1, 35),
}

POSTGRES_VERSION = {"aws": "16", "azure": "16", "gcp": "POSTGRES_16", "oci": "16"}
AZURE_TIER = {"Standard_B": "Burstable", "Standard_D": "GeneralPurpose", "Standard_E": "MemoryOptimized"}


@dataclass(frozen=True)
class DatabaseSize:
    """What a dedicated (or cell) database instance is provisioned with on one cloud."""

    instance_class: str
    vcpus: int
    storage_gb: int  # 0 where the cloud sizes storage itself (OCI)
    backup_retention_days: int
    engine_version: str
    tier: str = ""  # Azure SKU tier
    ocpus: int = 0  # OCI
    memory_gb: int = 0  # OCI

    def as_config(self) -> dict[str, object]:
        return {key: value for key, value in asdict(self).items() if value not in ("", 0) or key == "storage_gb"}


class SizingError(ValueError):
    """A size the cloud cannot provision within the plan; the message says which bound and why."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def vcpus_of(cloud: str, instance_class: str, ocpus: float | None = None) -> int | None:
    """vCPUs of a class/SKU/tier/shape on `cloud`; None when the table does not know it."""
    if cloud == "oci":
        if any(instance_class == shape for shape, _ in INSTANCE_CLASSES["oci"]) and ocpus is not None:
            return int(ocpus * OCI_VCPUS_PER_OCPU)
        return None
    for name, vcpus in INSTANCE_CLASSES[cloud]:
        if name == instance_class:
            return vcpus
    return None


def database_size(cloud: str, vcpus: int, storage_gb: int, retention_days: int) -> DatabaseSize:
    """The largest provisionable database within `vcpus` and `storage_gb`.

    A plan's vCPUs and storage are ceilings, so rounding to the cloud's classes and sizes always goes
    down; backup retention is a floor, so it goes up to the cloud's minimum. Raises SizingError when
    nothing fits (below the smallest class, storage outside the cloud's range).
    """
    choices = _PROVISIONED[cloud]
    fitting = [count for count in sorted(choices) if count <= vcpus]
    if not fitting:
        smallest = min(choices)
        raise SizingError("db_vcpus", f"{vcpus} vCPUs is below the smallest database on {cloud} ({smallest} vCPUs)")
    count = fitting[-1]
    low, high = RETENTION_RANGE[cloud]
    if retention_days > high:
        raise SizingError("backup_retention_days", f"{retention_days} days is above {cloud}'s maximum of {high}")
    retention = max(retention_days, low)
    instance_class = choices[count]
    if cloud == "oci":
        ocpus = count // OCI_VCPUS_PER_OCPU
        return DatabaseSize(
            instance_class, ocpus * OCI_VCPUS_PER_OCPU, 0, retention, POSTGRES_VERSION[cloud],
            ocpus=ocpus, memory_gb=ocpus * OCI_MEMORY_GB_PER_OCPU,
        )
    storage = _storage(cloud, storage_gb)
    tier = AZURE_TIER[instance_class[:10]] if cloud == "azure" else ""
    return DatabaseSize(instance_class, count, storage, retention, POSTGRES_VERSION[cloud], tier=tier)


def _storage(cloud: str, storage_gb: int) -> int:
    """The largest storage the cloud can allocate that is not above `storage_gb`: a plan's storage
    is a ceiling, so rounding never goes up."""
    low, high = STORAGE_RANGE[cloud]
    if not low <= storage_gb <= high:
        raise SizingError(
            "db_storage_gb", f"{storage_gb} GB is outside what {cloud} can allocate ({low} to {high} GB)"
        )
    if cloud == "azure":
        return max(size for size in AZURE_STORAGE_SIZES if size <= storage_gb)
    return storage_gb


@dataclass(frozen=True)
class Rounding:
    """A value the cloud could not take as asked, and what is provisioned instead: the catalog says it (a
    validate and preview warning) rather than leaving the difference to be found in the cloud's console."""

    field: str  # db_vcpus | db_storage_gb | backup_retention_days
    asked: int
    given: int
    why: str

    def __str__(self) -> str:
        unit = {"db_vcpus": "vCPUs", "db_storage_gb": "GB", "backup_retention_days": "days"}[self.field]
        direction = "down" if self.given < self.asked else "up"
        return f"{self.asked} {unit} is rounded {direction} to {self.given} {unit}: {self.why}"


def roundings(cloud: str, vcpus: int, storage_gb: int, retention_days: int, size: DatabaseSize) -> list[Rounding]:
    """Where `size` (database_size of these arguments) differs from what was asked, and why."""
    from paybill_iac.model.regions import CLOUD_TITLES

    title = CLOUD_TITLES.get(cloud, cloud)
    found = []
    if size.vcpus != vcpus:
        classes = ", ".join(str(count) for count in sorted(_PROVISIONED[cloud]))
        found.append(Rounding("db_vcpus", vcpus, size.vcpus,
                              f"{title} databases come with {classes} vCPUs, and the plan's vCPUs are a ceiling"))
    if size.storage_gb != storage_gb and cloud != "oci":
        above = [value for value in AZURE_STORAGE_SIZES if value > storage_gb]
        next_size = f", the next size is {above[0]} GB" if above else ""
        found.append(Rounding("db_storage_gb", storage_gb, size.storage_gb,
                              f"{title} storage comes in fixed sizes ({size.storage_gb} GB{next_size}), and the "
                              "plan's storage is a ceiling"))
    if size.backup_retention_days != retention_days:
        low = RETENTION_RANGE[cloud][0]
        found.append(Rounding("backup_retention_days", retention_days, size.backup_retention_days,
                              f"{title} keeps backups at least {low} days, and the plan's retention is a floor"))
    return found

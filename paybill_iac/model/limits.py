"""What a plan (or a cell) lets one stack provision. Standard library only: the policy packs import it
without paying for the catalog's models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PlanLimits:
    """What the stack may provision: sizes are ceilings, backup retention a floor."""

    db_vcpus: int
    db_storage_gb: int
    backup_retention_days: int
    max_db_instances: int
    """Dedicated database instances the isolation model allows (pooled 0, silo, bridge and cell 1)."""
    regions: tuple[str, ...] | None = None
    """The plan's allow-list of regions; None: any region of the plan's clouds."""

    def as_config(self) -> dict[str, Any]:
        data: dict[str, Any] = {"db_vcpus": self.db_vcpus, "db_storage_gb": self.db_storage_gb,
                                "backup_retention_days": self.backup_retention_days,
                                "max_db_instances": self.max_db_instances}
        if self.regions is not None:
            data["regions"] = list(self.regions)
        return data

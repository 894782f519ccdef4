"""A synthetic catalog of N tenants spread over the example's plans, clouds, regions and cells.

    python benchmarks/synthetic.py OUT_DIR N

Deterministic for a given N; cells are sized so every pooled and bridge tenant has room.
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

REGIONS = {"aws": "eu-west-1", "azure": "westeurope", "gcp": "europe-west1", "oci": "eu-frankfurt-1"}
PLANS = ("starter", "growth", "enterprise")  # pooled, bridge, silo
STATES = ("active",) * 17 + ("suspended", "onboarding", "offboarding")
EXAMPLE = Path(__file__).resolve().parent.parent / "stacks" / "catalog"
CELL_CAPACITY = 500


def tenant_id(index: int) -> str:
    return f"t{index:05d}"


def tenant_yaml(index: int) -> str:
    cloud = tuple(REGIONS)[index % 4]
    plan = PLANS[(index // 4) % 3]
    state = STATES[index % len(STATES)]
    return (
        f"id: {tenant_id(index)}\n"
        f"name: Tenant {index}\n"
        f"plan: {plan}\n"
        f"cloud: {cloud}\n"
        f"region: {REGIONS[cloud]}\n"
        f"state: {state}\n"
        f"subscription: {{seats: {1 + index % 20}, start: 2026-01-01, end: 2027-01-01}}\n"
    )


def write_catalog(path: Path, n_tenants: int) -> Path:
    """Write a catalog of `n_tenants` tenants at `path` (replacing what is there)."""
    if path.exists():
        shutil.rmtree(path)
    (path / "tenants").mkdir(parents=True)
    shutil.copy(EXAMPLE / "catalog.yaml", path / "catalog.yaml")
    shutil.copy(EXAMPLE / "plans.yaml", path / "plans.yaml")
    shared_per_cloud = math.ceil(n_tenants * 2 / 3 / 4) + 1
    cells_per_cloud = max(1, math.ceil(shared_per_cloud / CELL_CAPACITY))
    lines = ["cells:\n"]
    for cloud, region in REGIONS.items():
        for number in range(cells_per_cloud):
            lines.append(f"  - {{id: {cloud}-cell-{number:03d}, cloud: {cloud}, region: {region}, "
                         f"capacity: {CELL_CAPACITY}}}\n")
    (path / "cells.yaml").write_text("".join(lines))
    for index in range(n_tenants):
        (path / "tenants" / f"{tenant_id(index)}.yaml").write_text(tenant_yaml(index))
    return path


if __name__ == "__main__":
    write_catalog(Path(sys.argv[1]), int(sys.argv[2]))

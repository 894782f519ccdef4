"""The report's parts that the full and the `--base` preview share: the options and one stack's entry."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

from paybill_iac.model.catalog import Catalog
from paybill_iac.preview.runner import StackResult
from paybill_iac.preview.tasks import TENANT, StackTask


@dataclasses.dataclass
class Options:
    catalog: Path
    tenants: list[str] | None = None
    base: str | None = None
    actor: str = "human"
    jobs: int | None = None
    progress: bool | None = None  # None: on a terminal and not in CI


def counts(resources: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(resource["type"] for resource in resources).items()))


def entry(task: StackTask, result: StackResult | None, catalog: Catalog) -> dict[str, Any]:
    """One stack of the report: the tenants and cells lists share this shape."""
    if task.kind == TENANT:
        file = str(catalog.files.get(f"tenant:{task.id}", catalog.tenant_file(task.id)))
        placed: list[str] | None = None
    else:
        file = str(catalog.root / "cells.yaml")
        placed = sorted(tenant for tenant, cell in catalog.placements.items() if cell == task.id)
    resources = result.resources if result is not None else []
    data: dict[str, Any] = {
        "tenant": task.id if task.kind == TENANT else None,
        "stack": task.id,
        "project": task.project,
        "qualified_stack": f"{catalog.settings.pulumi_org}/{task.project}/{task.id}",
        "cloud": task.cloud,
        "region": task.region,
        "isolation": task.isolation,
        "cell": task.cell if task.kind == TENANT else task.id,
        "plan": task.plan,
        "state": task.state,
        "file": file,
        "resources": resources,
        "counts": counts(resources),
        "violations": result.violations if result is not None else [],
        "outputs": result.outputs if result is not None else {},
        "error": result.error if result is not None else None,
    }
    if placed is not None:
        data["tenants"] = placed
    return data



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
    against: Path | None = None  # a stored `preview --format json` report to diff with (instead of --base)
    properties: bool = False  # `--diff`: the diff shows each changed input's old and new value


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
    if not task.evaluate:  # a cell run only for the outputs its selected tenants read: no verdict on it
        data["judged"] = False
    return data




WORKFLOW_STEPS = {
    "change-plan": ("provision the {to} shape beside the {from_} one (an up that touches no existing resource)",
                    "db-apply on the new shape's database", "the service's data-move hook",
                    "cut over: its hook, then the tenant file and the ledger",
                    "db-offboard of the old shape's login (its database is kept)",
                    "retire the {from_} shape: its protection lifted only after the gate (an agent needs a human's "
                    "approval: it deletes data resources), then deleted"),
    "change-plan-in-place": ("up: the new plan's limits, applied in place",),
    "move": ("bring up the new cell if it is new", "db-apply on the new cell's server", "the service's data-move hook",
             "cut over: its hook, then the tenant file and the ledger",
             "up: the tenant's own resources follow (protection lifted only after the gate)",
             "db-apply with the new outputs", "db-offboard of the old login (its database is kept)"),
    "offboard": ("up in state offboarding: data resources kept in the cloud on delete, final snapshots",
                 "db-offboard: logins revoked, the final dump", "the service's snapshot hook",
                 "retention recorded (the plan's backup retention)", "destroy what holds no data",
                 "offboarded: the data stays until its retention ends"),
}


def declared_workflows(catalog: Catalog) -> dict[str, tuple[Any, str | None]]:
    """The workflows the catalog's ledger declares (`lifecycle ... --plan-only`), by tenant, each with the
    isolation model the tenant's data is in until it runs."""
    from paybill_iac.catalog import ledger

    try:
        found = ledger.read(catalog.root)
    except ledger.LedgerProblem:
        return {}
    return {tenant: (entry.declared, entry.location.isolation) for tenant, entry in sorted(found.entries.items())
            if entry.declared is not None}


def as_workflow(stack: dict[str, Any], found: tuple[Any, str | None],
                diff: dict[str, list[Any]] | None = None) -> None:
    """Show `stack` (a report entry) as the workflow its tenant's ledger declares: what runs on merge, step by
    step, with the resources it provisions and retires (the diff of the two shapes) under `workflow`, and no
    delete-plus-create diff: the old shape goes only in the workflow's last step, after the data moved."""
    declared, recorded_isolation = found
    kind = declared.workflow
    to_isolation = declared.to.isolation
    key = kind if kind != "change-plan" or to_isolation != recorded_isolation else "change-plan-in-place"
    steps = [step.format(to=to_isolation, from_=recorded_isolation) for step in WORKFLOW_STEPS[key]]
    diff = diff or {"added": [], "removed": [], "changed": []}
    stack["workflow"] = {"kind": kind, "describe": declared.describe(stack["tenant"]), "steps": steps,
                         "runs": "once merged: paybill-iac lifecycle run-declared",
                         "provisions": diff.get("added", []), "retires": diff.get("removed", []),
                         "changes": diff.get("changed", [])}
    stack["change"] = kind
    stack["reasons"] = [f"declared workflow {declared.describe(stack['tenant'])}: it runs once merged "
                        "(paybill-iac lifecycle run-declared), not as a delete and a create: " + "; then ".join(steps),
                        *stack.get("reasons", [])]
    stack["diff"] = {"added": [], "removed": [], "changed": []}

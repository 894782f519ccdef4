"""What a preview runs: one task per stack, built from the catalog with the same code as `generate`.

Stack configs are generated in memory (`paybill_iac.model.spec.tenant_spec` / `cell_spec`), so a
preview never writes into `stacks/`. A tenant on a cell needs its cell's outputs (a StackReference),
so its task names the cell task it waits for. Pure Python: no pulumi import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybill_iac.errors import UsageError
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.spec import CELL_PROJECT, TENANT_PROJECT, cell_spec, cell_stack_name, tenant_spec

TENANT = "tenant"
CELL = "cell"
HEAD = "head"
BASE = "base"


@dataclass(frozen=True)
class StackTask:
    """One stack to run under the mock runtime (and, on the head side, to check with the packs)."""

    kind: str  # "tenant" | "cell"
    id: str  # tenant id or cell id: the stack's name
    config: dict[str, Any]
    cloud: str
    region: str
    isolation: str  # silo | bridge | pooled for tenants; "cell" for cells
    cell: str | None = None  # the cell a tenant is placed on
    reference: str | None = None  # fully qualified cell stack the program reads through a StackReference
    plan: str | None = None
    state: str | None = None
    side: str = HEAD  # "head" (the working tree) or "base" (the --base git ref)
    evaluate: bool = True  # run the policy packs on what it registered
    cell_side: str | None = None  # whose run of the cell it reads (default: its own side)

    @property
    def project(self) -> str:
        return TENANT_PROJECT if self.kind == TENANT else CELL_PROJECT

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.side, self.kind, self.id)

    @property
    def needs(self) -> tuple[str, str, str] | None:
        """The cell task whose outputs this tenant reads."""
        if self.kind != TENANT or not self.cell:
            return None
        return (self.cell_side or self.side, CELL, self.cell)


@dataclass
class TaskSet:
    """The tasks of one side, cells first, and what was left out."""

    cells: list[StackTask] = field(default_factory=list)
    tenants: list[StackTask] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # tenant id -> why it has no stack

    def all(self) -> list[StackTask]:
        return self.cells + self.tenants


def tenant_task(catalog: Catalog, tenant_id: str, *, side: str = HEAD, evaluate: bool = True) -> StackTask | None:
    spec = tenant_spec(catalog, tenant_id)
    if spec is None:
        return None
    return StackTask(
        kind=TENANT, id=tenant_id, config=spec.to_config(), cloud=spec.cloud, region=spec.region,
        isolation=spec.isolation, cell=spec.cell, reference=spec.cell_stack, plan=spec.plan, state=spec.state,
        side=side, evaluate=evaluate,
    )


def cell_task(catalog: Catalog, cell_id: str, *, side: str = HEAD, evaluate: bool = True) -> StackTask:
    spec = cell_spec(catalog, cell_id)
    return StackTask(kind=CELL, id=cell_id, config=spec.to_config(), cloud=spec.cloud, region=spec.region,
                     isolation="cell", side=side, evaluate=evaluate)


def check_selection(catalog: Catalog, selected: list[str] | None) -> None:
    """Every `--tenant` must exist in the catalog (exit 2 naming the unknown ones)."""
    from paybill_iac.model.words import did_you_mean, listing

    unknown = sorted(set(selected or []) - set(catalog.tenants))
    if unknown:
        named = ", ".join(f"'{tenant}'{did_you_mean(tenant, catalog.tenants)}" for tenant in unknown)
        raise UsageError(f"unknown tenant{'s' if len(unknown) > 1 else ''} {named}: the catalog at {catalog.root} "
                         f"has {listing(catalog.tenants, 20) or 'no tenants'}")


def build_tasks(
    catalog: Catalog,
    tenant_ids: list[str] | None = None,
    *,
    cell_ids: list[str] | None = None,
    side: str = HEAD,
    evaluate: bool = True,
) -> TaskSet:
    """Tasks for the given tenants (all by default), plus the cells they use and `cell_ids`."""
    wanted = sorted(catalog.tenants) if tenant_ids is None else sorted(set(tenant_ids))
    tasks = TaskSet()
    cells: set[str] = set(cell_ids or [])
    for tenant_id in wanted:
        task = tenant_task(catalog, tenant_id, side=side, evaluate=evaluate)
        if task is None:
            tasks.skipped[tenant_id] = f"{catalog.tenants[tenant_id].state}: the tenant has no stack"
            continue
        tasks.tenants.append(task)
        if task.cell:
            cells.add(task.cell)
    tasks.cells = [cell_task(catalog, cell_id, side=side, evaluate=evaluate) for cell_id in sorted(cells)]
    return tasks


def stack_programs(catalog_root: Path) -> dict[str, Path]:
    """The stack programs a preview runs: `<stacks>/tenant/__main__.py` and `<stacks>/cell/__main__.py`.

    One folder, never a guess among several: PAYBILL_STACKS_DIR when set, else the stacks folder of the
    project the command runs in (paybill.yaml at or above the working directory), else that of the
    project holding the catalog, else the folder beside the catalog (the layout `stacks/catalog`). A
    missing folder, Pulumi.yaml or __main__.py is a UsageError naming it.
    """
    from paybill_iac import project

    override = os.environ.get("PAYBILL_STACKS_DIR")
    if override:
        stacks = Path(override)
    elif project.find_root(Path.cwd()) is not None:
        stacks = project.resolve(environ={}).stacks
    else:
        stacks = project.for_catalog(catalog_root).stacks
    folders = project.check_stack_programs(stacks)
    return {TENANT: folders["tenant"] / "__main__.py", CELL: folders["cell"] / "__main__.py"}


def reference_name(catalog: Catalog, cell_id: str) -> str:
    return cell_stack_name(catalog.settings.pulumi_org, cell_id)

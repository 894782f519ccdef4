"""Run both sides of a `--base` preview and assemble the per-resource diff (rule: preview/base.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from paybill_iac.model.catalog import Catalog
from paybill_iac.preview import base as basemod
from paybill_iac.preview.report import Options, as_workflow, declared_workflows, entry
from paybill_iac.preview.runner import Progress, StackResult, WorkerState, _mask, run_tasks
from paybill_iac.preview.tasks import BASE, CELL, HEAD, TENANT, StackTask, build_tasks, cell_task, tenant_task


def _relevant_cells(affected: basemod.Affected, head: Catalog, selected: list[str] | None) -> dict[str, list[str]]:
    if selected is None:
        return affected.cells
    mine = {head.placements.get(tenant) for tenant in selected}
    if affected.base_catalog is not None:
        mine |= {affected.base_catalog.placements.get(tenant) for tenant in selected}
    return {cell: reasons for cell, reasons in affected.cells.items() if cell in mine}


def preview_base(catalog: Catalog, options: Options, programs: dict[str, Path], jobs: int) -> dict[str, Any]:
    with basemod.temporary_workdir() as folder:
        workdir = Path(folder)
        affected = basemod.find_affected(catalog, options.base or "", workdir, options.tenants)
        return _run(catalog, options, programs, jobs, affected, workdir)


def _run(catalog: Catalog, options: Options, programs: dict[str, Path], jobs: int,
         affected: basemod.Affected, workdir: Path) -> dict[str, Any]:
    base_catalog = affected.base_catalog
    cells = _relevant_cells(affected, catalog, options.tenants)
    head_cells_in_use = set(catalog.placements.values())
    base_cells_in_use = set(base_catalog.placements.values()) if base_catalog is not None else set()

    # Head side: affected stacks judged by the packs; cells run only for their outputs are not judged.
    head_tenant_ids = [tenant for tenant in affected.tenants if tenant in catalog.tenants]
    head = build_tasks(catalog, head_tenant_ids, cell_ids=[cell for cell in cells if cell in head_cells_in_use])
    head_cells = []
    for task in head.cells:
        head_cells.append(task if task.id in cells else replace(task, evaluate=False))
    head.cells = head_cells
    tasks: list[StackTask] = head.all()

    # Base side: the same stacks at the base, where they had one.
    base_tenant_tasks: list[StackTask] = []
    base_cell_tasks: list[StackTask] = []
    base_results: dict[tuple[str, str, str], StackResult] = {}
    subprocess_result: dict[str, Any] | None = None
    if base_catalog is not None:
        base_tenant_ids = [tenant for tenant in affected.tenants if tenant in base_catalog.tenants]
        for tenant_id in base_tenant_ids:
            found = tenant_task(base_catalog, tenant_id, side=BASE, evaluate=False)
            if found is not None:
                base_tenant_tasks.append(found)
        needed = {task.cell for task in base_tenant_tasks if task.cell} | {
            cell for cell in cells if cell in base_cells_in_use}
        base_cell_tasks = [cell_task(base_catalog, cell_id, side=BASE, evaluate=False) for cell_id in sorted(needed)]
        if affected.code.builds_resources:
            catalog_rel = catalog.root.resolve().relative_to(affected.repo.resolve()).as_posix()
            try:
                subprocess_result = basemod.run_base_tree(
                    affected, catalog_rel, [task.id for task in base_tenant_tasks],
                    [task.id for task in base_cell_tasks], workdir)
            except basemod.BaseRunFailed as error:
                subprocess_result = {"error": str(error), "tenants": {}, "cells": {}}
        else:
            # Same code on both sides: a base stack whose config equals the head's registers the same
            # resources, so it is not run twice (a base tenant then reads the head run of its cell).
            head_by_key = {(task.kind, task.id): task for task in tasks}
            for task in base_cell_tasks:
                twin = head_by_key.get((CELL, task.id))
                if twin is None or twin.config != task.config:
                    tasks.append(task)
            rerun_cells = {task.id for task in tasks if task.side == BASE and task.kind == CELL}
            for task in base_tenant_tasks:
                twin = head_by_key.get((TENANT, task.id))
                if twin is not None and twin.config == task.config and task.cell not in rerun_cells:
                    continue  # identical stack: the head run stands for both sides
                if task.cell and task.cell not in rerun_cells:
                    task = replace(task, cell_side=HEAD)
                tasks.append(task)

    state = WorkerState({HEAD: catalog, BASE: base_catalog or catalog}, {HEAD: programs, BASE: programs},
                        options.actor)
    progress = Progress(len(tasks), options.progress)
    try:
        results = run_tasks(tasks, state, jobs=jobs, progress=progress)
    finally:
        progress.close()
    base_results = {key: result for key, result in results.items() if key[0] == BASE}
    if subprocess_result is not None:
        base_results = _from_subprocess(subprocess_result, base_tenant_tasks, base_cell_tasks)

    def base_side(kind: str, stack_id: str) -> StackResult | None:
        found = base_results.get((BASE, kind, stack_id))
        if found is not None:
            return found
        head_twin = results.get((HEAD, kind, stack_id))
        if subprocess_result is None and head_twin is not None and (kind, stack_id) in base_tasks:
            return head_twin  # identical config, same code: the head run stands for both sides
        return None

    report: dict[str, Any] = {"version": 1, "tenants": [], "cells": [], "skipped": []}
    base_tasks = {(task.kind, task.id): task for task in base_tenant_tasks + base_cell_tasks}
    head_tasks = {(task.kind, task.id): task for task in head.all()}
    changes = {"added": 0, "removed": 0, "changed": 0}
    declared = declared_workflows(catalog)
    for kind, ids, reasons_of in ((TENANT, sorted(affected.tenants), affected.tenants),
                                  (CELL, sorted(cells), cells)):
        for stack_id in ids:
            head_task = head_tasks.get((kind, stack_id))
            base_task = base_tasks.get((kind, stack_id))
            if head_task is None and base_task is None:
                continue
            head_result = results.get(head_task.key) if head_task is not None else None
            base_result = base_side(kind, stack_id) if base_task is not None else None
            shown = entry(head_task or base_task, head_result, catalog if head_task else base_catalog)  # type: ignore[arg-type]
            if head_task is None:
                shown["resources"], shown["counts"], shown["outputs"] = [], {}, {}
            before = base_result.resources if base_result is not None else []
            after = head_result.resources if head_result is not None else []
            diff = basemod.diff_resources(before, after)
            if head_task is None:
                change = "removed"
            elif base_task is None:
                change = "added"
            elif base_result is not None and base_result.error:
                change = "changed"
                shown["base_error"] = base_result.error
            else:
                change = "changed" if any(diff.values()) else "unchanged"
            shown["change"] = change
            shown["reasons"] = reasons_of[stack_id]
            shown["diff"] = diff
            if kind == TENANT and stack_id in declared:  # runs as its workflow, not as this diff
                as_workflow(shown, declared[stack_id], diff)
            for key in changes:
                changes[key] += len(shown["diff"][key])
            report["tenants" if kind == TENANT else "cells"].append(shown)
    report["base"] = {
        "ref": affected.ref,
        "commit": affected.commit,
        "changed_files": affected.changed,
        "code_files": affected.code.files,
        "base_code": "base tree" if subprocess_result is not None else "working tree (no resource code changed)",
        "base_error": affected.base_error or (subprocess_result or {}).get("error"),
        "affected": {"tenants": len(affected.tenants), "cells": len(cells)},
        "changes": {"stacks": sum(1 for stack in report["tenants"] + report["cells"]
                                  if stack["change"] != "unchanged"), "resources": changes},
        "note": basemod.OFFLINE_NOTE,
    }
    return report


def _from_subprocess(data: dict[str, Any], tenants: list[StackTask],
                     cells: list[StackTask]) -> dict[tuple[str, str, str], StackResult]:
    found: dict[tuple[str, str, str], StackResult] = {}
    for group, tasks in (("tenants", tenants), ("cells", cells)):
        for task in tasks:
            item = data.get(group, {}).get(task.id)
            if item is None:
                found[task.key] = StackResult(task, error=data.get("error") or "not run at the base")
                continue
            resources = []
            for resource in item.get("resources", []):
                secret = resource.pop("secret_inputs", [])
                resource["inputs"] = _mask(resource["inputs"], secret)
                resources.append(resource)
            found[task.key] = StackResult(task, resources=resources, error=item.get("error"))
    return found

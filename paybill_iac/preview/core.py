"""The preview itself: load the catalog, run the stacks, judge them, assemble the report.

The report is one JSON-ready dict (documented in the README, "paybill-iac preview"); the table, markdown and SARIF
formats are renderings of it.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from paybill_iac.errors import CatalogError, UsageError
from paybill_iac.model.catalog import Catalog
from paybill_iac.preview.report import Options, as_workflow, declared_workflows, entry
from paybill_iac.preview.runner import Progress, StackResult, WorkerState, default_jobs, run_tasks
from paybill_iac.preview.tasks import (
    BASE,
    CELL,
    HEAD,
    TaskSet,
    build_tasks,
    check_selection,
    stack_programs,
)

REPORT_VERSION = 1
ACTOR_PATTERN = re.compile(r"^(human|agent:[A-Za-z0-9][A-Za-z0-9._@/-]{0,99})$")


class PreviewCatalogError(CatalogError):
    """The catalog is invalid: for `preview` that is a usage error (exit 2), worded as `validate` does."""

    exit_code = 2


def load(path: Path) -> Catalog:
    from paybill_iac.catalog import load_catalog

    try:
        return load_catalog(path)
    except CatalogError as error:
        raise PreviewCatalogError(error.issues) from None


def check_actor(actor: str) -> str:
    if not ACTOR_PATTERN.match(actor):
        raise UsageError(f"--actor {actor!r} is not 'human' or 'agent:<name>' (e.g. agent:renovate)")
    return actor


def check_jobs(options: Options) -> int:
    jobs = options.jobs or default_jobs()
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    return jobs


def run_head(catalog: Catalog, tasks: TaskSet, programs: Any, actor: str, options: Options,
             jobs: int) -> dict[tuple[str, str, str], StackResult]:
    """Run `tasks` (the head catalog's stacks) on `jobs` workers with the progress bar the options ask for."""
    state = WorkerState({HEAD: catalog}, {HEAD: programs}, actor)
    progress = Progress(len(tasks.all()), options.progress)
    try:
        return run_tasks(tasks.all(), state, jobs=jobs, progress=progress)
    finally:
        progress.close()


def preview(options: Options) -> dict[str, Any]:
    """Run the preview and return the report (its shape is documented in the README)."""
    started = time.perf_counter()
    actor = check_actor(options.actor)
    jobs = check_jobs(options)
    stored = check_comparison(options)
    catalog = load(options.catalog)
    check_selection(catalog, options.tenants)
    programs = stack_programs(catalog.root)
    if options.base:
        from paybill_iac.preview.diffrun import preview_base

        report = preview_base(catalog, options, programs, jobs)
    else:
        tasks = build_tasks(catalog, options.tenants)
        if options.tenants:  # the cells run for their tenants' outputs; the packs judge what was selected
            tasks.cells = [replace(task, evaluate=False) for task in tasks.cells]
        report = assemble(catalog, tasks, run_head(catalog, tasks, programs, actor, options, jobs))
        if stored is not None and options.against is not None:
            compare_with_report(report, stored, options.against, options.tenants)
    if report.get("base") and options.properties:
        report["base"]["properties"] = True
    report["warnings"] = rounding_warnings(catalog, report)
    finish(report, options, jobs, time.perf_counter() - started)
    return report


def check_comparison(options: Options) -> dict[str, Any] | None:
    """What `--diff` compares with is named once (--base or --against); the stored report of --against, read
    and checked before anything runs."""
    if options.base and options.against is not None:
        raise UsageError("--base and --against both name what to compare with: give one")
    if options.properties and not (options.base or options.against is not None):
        raise UsageError("--diff shows what changes against something: add --base GITREF (the catalog and code at a "
                         "git ref) or --against REPORT.json (a report an earlier `paybill-iac preview --format json` "
                         "wrote)")
    return read_stored_report(options.against) if options.against is not None else None


def read_stored_report(file: Path) -> dict[str, Any]:
    """A full JSON report of an earlier preview, or a UsageError naming the file and what is wrong."""
    import json

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"--against {file}: cannot be read: {error.strerror or error}") from None
    except ValueError as error:
        raise UsageError(f"--against {file}: not JSON ({error}); give a report `preview --format json` wrote") from None
    stacks = data.get("tenants", []) + data.get("cells", []) if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("version") != REPORT_VERSION or not isinstance(stacks, list) or not all(
            isinstance(stack, dict) and isinstance(stack.get("resources"), list) for stack in stacks):
        raise UsageError(f"--against {file}: not a paybill-iac preview report (version {REPORT_VERSION}, as "
                         "`preview --format json` writes)")
    if any("resource_count" in stack for stack in stacks):
        raise UsageError(f"--against {file}: a sharded (slim) report keeps no resource inputs to compare; give the "
                         "report of an unsharded `preview --format json`")
    return data


def compare_with_report(report: dict[str, Any], stored: dict[str, Any], file: Path, selected: list[str] | None) -> None:
    """Diff each stack of `report` with the same stack of a stored report, by URN (as --base does): `change`,
    `reasons` and `diff` on each stack, the stacks only the stored report has as removed (those a --tenant
    selection left out aside), and `base` describing the comparison."""
    from paybill_iac.preview.base import OFFLINE_NOTE, diff_resources

    before = {(stack["project"], stack["stack"]): stack for stack in stored["tenants"] + stored["cells"]}
    reason = f"compared with the stored report {file}"
    for group in ("tenants", "cells"):
        for stack in report[group]:
            old = before.pop((stack["project"], stack["stack"]), None)
            stack["diff"] = diff_resources(old["resources"] if old else [], stack["resources"])
            stack["change"] = "added" if old is None else "changed" if any(stack["diff"].values()) else "unchanged"
            stack["reasons"] = [reason]
    for _key, old in sorted(before.items()):
        if selected is not None and (old.get("tenant") not in selected):
            continue  # not previewed this time: not removed
        gone = {**old, "resources": [], "counts": {}, "outputs": {}, "violations": [], "error": None,
                "change": "removed", "reasons": [reason], "diff": diff_resources(old["resources"], [])}
        report["tenants" if old.get("tenant") else "cells"].append(gone)
    stacks = report["tenants"] + report["cells"]
    totals = {kind: sum(len(stack["diff"][kind]) for stack in stacks) for kind in ("added", "removed", "changed")}
    report["base"] = {
        "ref": str(file), "commit": "", "changed_files": [], "code_files": [], "base_code": "stored report",
        "base_error": None,
        "affected": {"tenants": len(report["tenants"]), "cells": len(report["cells"])},
        "changes": {"stacks": sum(1 for stack in stacks if stack["change"] != "unchanged"), "resources": totals},
        "note": OFFLINE_NOTE.replace("on both sides", "now and for the stored report"),
    }


def rounding_warnings(catalog: Catalog, report: dict[str, Any]) -> list[dict[str, str]]:
    """The catalog's silent roundings (validation.rounding_warnings) of the stacks in the report."""
    from paybill_iac.catalog.validate import rounding_warnings as found

    shown = {("tenant", stack["stack"]) for stack in report["tenants"]} | {
        ("cell", stack["stack"]) for stack in report["cells"]}
    return [{"file": issue.file, "kind": issue.kind, "id": issue.id, "field": issue.field, "message": issue.message}
            for issue in found(catalog) if (issue.kind, issue.id) in shown]


# --- assembling ----------------------------------------------------------------------------------


def assemble(catalog: Catalog, tasks: TaskSet, results: dict[tuple[str, str, str], StackResult]) -> dict[str, Any]:
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "tenants": [entry(task, results.get(task.key), catalog) for task in tasks.tenants],
        "cells": [entry(task, results.get(task.key), catalog) for task in tasks.cells],
        "skipped": [{"tenant": tenant, "reason": reason} for tenant, reason in sorted(tasks.skipped.items())],
        "base": None,
    }
    declared = declared_workflows(catalog)
    for stack in report["tenants"]:  # a tenant whose move is declared: say which workflow deploys it
        if stack["tenant"] in declared:
            shown = dict(stack)
            as_workflow(shown, declared[stack["tenant"]])
            stack["workflow"] = shown["workflow"]
    return report


def finish(report: dict[str, Any], options: Options, jobs: int, seconds: float) -> None:
    """Add the summary (and the exit code it implies)."""
    stacks = report["tenants"] + report["cells"]
    levels = Counter(violation["level"] for stack in stacks for violation in stack["violations"])
    mandatory = [stack["stack"] for stack in stacks if any(v["level"] == "mandatory" for v in stack["violations"])]
    failed = [stack["stack"] for stack in stacks if stack["error"]]
    report["summary"] = {
        "catalog": str(options.catalog),
        "actor": options.actor,
        "offline": True,
        "mode": "base" if options.base else "against" if options.against is not None else "full",
        "tenants": len(report["tenants"]),
        "cells": len(report["cells"]),
        "resources": sum(len(stack["resources"]) for stack in stacks),
        "violations": {"mandatory": levels.get("mandatory", 0), "advisory": levels.get("advisory", 0)},
        "stacks_with_mandatory": sorted(mandatory),
        "failed": sorted(failed),
        "skipped": len(report["skipped"]),
        "exit_code": 1 if mandatory or failed else 0,
        "jobs": jobs,
        "seconds": round(seconds, 2),
    }


def exit_code(report: dict[str, Any]) -> int:
    return int(report["summary"]["exit_code"])


__all__ = ["BASE", "CELL", "HEAD", "Options", "PreviewCatalogError", "exit_code", "preview"]

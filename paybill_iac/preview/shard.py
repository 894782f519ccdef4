"""`paybill-iac preview --shard I/N`: one of N deterministic parts of a preview, merged afterwards by
`paybill-iac preview merge` (paybill_iac.preview.merge) into the report the unsharded preview writes.

How the stacks are split (the same on every machine: a function of the catalog, the selection and, with
`--base`, the affected stacks, never of timing):

- Tenants are grouped by their kind of stack (cloud x isolation model: an Azure silo registers three
  times the resources of an AWS pooled tenant), and every group is cut into N runs of consecutive tenants
  (ordered by cell, then id) whose sizes differ by at most one; a group's spare tenants go to the shards
  the previous groups gave none. So every shard gets about 1/N of each kind of stack, whatever each kind
  costs: the balance needs no cost model.
- A cell travels with the tenants that need its outputs: every shard holding one of its tenants runs the
  cell first (its tenants read its outputs through a StackReference), and exactly one shard, the one
  holding most of its tenants (on a tie, the one reporting fewest cells), judges and reports it.
  Ordering tenants by cell keeps most cells within one or two shards.
- Tenants without a stack (offboarded) are listed as skipped by shard 1.

The shard's report is the unsharded report's shape with only its stacks and a `shard` entry
(`index`, `count`, `tenants`, `cells`); its summary is the shard's own. Its stacks are slim (`slim`):
what the merge and the comment, SARIF and exit code need (verdicts, counts per type, violations, the
diff), with `resource_count` in place of the resource list and only the resources a violation names; at
10,000 tenants the full lists were about 95% of the bytes, and parsing them most of the merge's time.
Only the public pieces of the preview are used here (paybill_iac.preview.core, tasks, runner, diffrun),
so the preview itself is the same code sharded or not.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from paybill_iac.errors import UsageError
from paybill_iac.model.catalog import Catalog
from paybill_iac.preview.report import Options
from paybill_iac.preview.tasks import TaskSet

MAX_SHARDS = 256
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        found = _SHARD.match(text)
        if not found:
            raise UsageError(f"--shard '{text}' is not I/N (e.g. 2/8)")
        index, count = int(found.group(1)), int(found.group(2))
        if not 1 <= count <= MAX_SHARDS or not 1 <= index <= count:
            raise UsageError(f"--shard {text}: need 1 <= I <= N <= {MAX_SHARDS}")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class Member:
    """A tenant to place: its id, its kind of stack and the cell whose outputs it needs ("" for none)."""

    tenant: str
    kind: tuple[str, str]
    cell: str = ""


def split(members: Iterable[Member], count: int) -> dict[str, int]:
    """Tenant id -> shard (1-based): each kind cut into `count` runs of consecutive tenants (by cell, then
    id), sizes within one of each other; a kind's spare tenants go to the shards after those that took the
    previous kind's."""
    kinds: dict[tuple[str, str], list[Member]] = {}
    for member in members:
        kinds.setdefault(member.kind, []).append(member)
    placed: dict[str, int] = {}
    offset = 0
    for kind in sorted(kinds):
        group = sorted(kinds[kind], key=lambda item: (item.cell, item.tenant))
        base, extra = divmod(len(group), count)
        start = 0
        for shard in range(count):
            size = base + (1 if (shard - offset) % count < extra else 0)
            for member in group[start : start + size]:
                placed[member.tenant] = shard + 1
            start += size
        offset = (offset + extra) % count
    return placed


def cell_owners(placed: Mapping[str, int], cells_of: Mapping[str, str], cells: Iterable[str], count: int
                ) -> dict[str, int]:
    """Cell -> the shard that judges and reports it: the one holding most of its tenants (on a tie, the one
    reporting fewest cells so far, then the lowest index); a cell none of whose tenants is previewed goes by
    its position among those (round robin)."""
    tally: dict[str, dict[int, int]] = {}
    for tenant, cell in cells_of.items():
        if cell and tenant in placed:
            shards = tally.setdefault(cell, {})
            shards[placed[tenant]] = shards.get(placed[tenant], 0) + 1
    owners: dict[str, int] = {}
    reported = [0] * (count + 1)
    lonely = 0
    for cell in sorted(set(cells)):
        if cell in tally:
            owners[cell] = min(tally[cell].items(), key=lambda item: (-item[1], reported[item[0]], item[0]))[0]
            reported[owners[cell]] += 1
        else:
            owners[cell] = lonely % count + 1
            lonely += 1
    return owners


def members(catalog: Catalog, tenant_ids: Iterable[str]) -> list[Member]:
    """The tenants with a stack among `tenant_ids`, as the split sees them: read off the catalog, without
    building their specs (a shard builds only its own tenants' tasks)."""
    from paybill_iac.model.catalog import SHARED_ISOLATIONS
    from paybill_iac.model.lifecycle import HAS_STACK

    found = []
    for tenant_id in tenant_ids:
        tenant = catalog.tenants[tenant_id]
        if tenant.state not in HAS_STACK:
            continue
        isolation = catalog.plans[tenant.plan].isolation
        cell = catalog.placements.get(tenant_id, "") if isolation in SHARED_ISOLATIONS else ""
        found.append(Member(tenant_id, (tenant.cloud, isolation), cell))
    return found


def select(catalog: Catalog, selected: list[str] | None, shard: Shard) -> tuple[TaskSet, list[str]]:
    """The shard's tasks of a full preview of `selected` (every tenant by default), and the cells it reports.
    Cells its tenants need and another shard reports run here too, unjudged (evaluate=False)."""
    from paybill_iac.preview.tasks import build_tasks

    wanted = sorted(catalog.tenants) if selected is None else sorted(set(selected))
    found = members(catalog, wanted)
    placed = split(found, shard.count)
    cells_of = {member.tenant: member.cell for member in found}
    owners = cell_owners(placed, cells_of, {cell for cell in cells_of.values() if cell}, shard.count)
    owned = sorted(cell for cell, owner in owners.items() if owner == shard.index)
    mine = build_tasks(catalog, [member.tenant for member in found if placed[member.tenant] == shard.index],
                       cell_ids=owned)
    # Judged by their owner; with a --tenant selection no cell is judged (as unsharded: they run for the
    # outputs their tenants read).
    mine.cells = [task if task.id in owned and selected is None else replace(task, evaluate=False)
                  for task in mine.cells]
    with_stack = set(placed)
    mine.skipped = build_tasks(catalog, [tid for tid in wanted if tid not in with_stack]).skipped \
        if shard.index == 1 else {}
    return mine, owned


def preview(options: Options, shard: Shard) -> dict[str, Any]:
    """The preview of one shard (the same steps as paybill_iac.preview.core.preview on its part)."""
    from paybill_iac.preview import core
    from paybill_iac.preview.tasks import check_selection, stack_programs

    started = time.perf_counter()
    actor = core.check_actor(options.actor)
    jobs = core.check_jobs(options)
    catalog = core.load(options.catalog)
    check_selection(catalog, options.tenants)
    programs = stack_programs(catalog.root)
    if options.base:
        report, tenants, owned = _preview_base(catalog, options, programs, jobs, shard)
    else:
        mine, owned = select(catalog, options.tenants, shard)
        tenants = [task.id for task in mine.tenants]
        report = core.assemble(catalog, mine, core.run_head(catalog, mine, programs, actor, options, jobs))
        report["cells"] = [cell for cell in report["cells"] if cell["stack"] in owned]
    report["warnings"] = core.rounding_warnings(catalog, report)  # of this shard's stacks
    core.finish(report, options, jobs, time.perf_counter() - started)
    report.update(slim_report(report))
    report["shard"] = {"index": shard.index, "count": shard.count, "tenants": sorted(tenants), "cells": owned}
    return report


SLIM_RESOURCE_KEYS = ("urn", "type", "name")
"""What the renderings read of a resource a violation names (paybill_iac.preview.render.resource_name)."""


def slim(stack: dict[str, Any]) -> dict[str, Any]:
    """A stack's report entry as a shard writes it: every field but the resources and outputs as they are;
    `resource_count` for the resource list, which keeps only the resources the violations name (their urn,
    type and name); outputs dropped (no rendering reads them). The merge of slim entries renders the comment,
    SARIF, table and exit code of the full ones; `slim` of the unsharded report is the merged report."""
    named = {violation["urn"] for violation in stack["violations"] if violation["urn"]}
    kept = dict(stack)
    kept["resource_count"] = int(stack.get("resource_count", len(stack["resources"])))
    kept["resources"] = [{key: resource[key] for key in SLIM_RESOURCE_KEYS}
                         for resource in stack["resources"] if resource["urn"] in named]
    kept["outputs"] = {}
    return kept


def slim_report(report: dict[str, Any]) -> dict[str, Any]:
    """A whole report with slim stacks (what `preview merge` gives for the same stacks)."""
    return {**report, "tenants": [slim(stack) for stack in report["tenants"]],
            "cells": [slim(stack) for stack in report["cells"]]}


def _preview_base(catalog: Catalog, options: Options, programs: dict[str, Path], jobs: int, shard: Shard
                  ) -> tuple[dict[str, Any], list[str], list[str]]:
    """`--base` on one shard: the affected stacks are found as the unsharded preview finds them (every shard
    finds the same), then the preview runs on the shard's part of them."""
    from paybill_iac.preview import base as basemod
    from paybill_iac.preview import diffrun

    with basemod.temporary_workdir() as folder:
        workdir = Path(folder)
        affected = basemod.find_affected(catalog, options.base or "", workdir, options.tenants)
        cells = diffrun._relevant_cells(affected, catalog, options.tenants)
        base_catalog = affected.base_catalog
        members, cells_of = [], {}
        for tenant in affected.tenants:
            source = catalog if tenant in catalog.tenants else base_catalog
            if source is None or tenant not in source.tenants:
                continue
            cell = catalog.placements.get(tenant) or (base_catalog.placements.get(tenant, "") if base_catalog else "")
            entry = source.tenants[tenant]
            members.append(Member(tenant, (entry.cloud, source.plans[entry.plan].isolation), cell or ""))
            cells_of[tenant] = cell or ""
        placed = split(members, shard.count)
        owners = cell_owners(placed, cells_of, cells, shard.count)
        mine = {tenant: reasons for tenant, reasons in affected.tenants.items() if placed.get(tenant, 1) == shard.index}
        owned = sorted(cell for cell, owner in owners.items() if owner == shard.index)
        part = dataclasses.replace(affected, tenants=mine, cells={cell: cells[cell] for cell in owned})
        report = diffrun._run(catalog, replace(options, tenants=None), programs, jobs, part, workdir)
    return report, list(mine), owned


def plan(options: Options, *, max_shards: int = 8, per_shard: int = 400) -> dict[str, Any]:
    """How many shards a preview is worth: one per `per_shard` stacks it will judge, at most `max_shards`.
    `matrix` is the list GitHub Actions' `strategy.matrix` takes (`fromJSON`)."""
    from paybill_iac.preview import core
    from paybill_iac.preview.tasks import build_tasks, check_selection

    catalog = core.load(options.catalog)
    check_selection(catalog, options.tenants)
    if options.base:
        from paybill_iac.preview import base as basemod
        from paybill_iac.preview import diffrun

        with basemod.temporary_workdir() as folder:
            affected = basemod.find_affected(catalog, options.base, Path(folder), options.tenants)
        stacks = len(affected.tenants) + len(diffrun._relevant_cells(affected, catalog, options.tenants))
    else:
        tasks = build_tasks(catalog, options.tenants)
        stacks = len(tasks.tenants) + len(tasks.cells)
    count = max(1, min(max_shards, -(-stacks // max(1, per_shard))))
    return {"stacks": stacks, "count": count, "matrix": [f"{index}/{count}" for index in range(1, count + 1)]}

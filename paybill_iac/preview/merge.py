"""`paybill-iac preview merge FILE...`: the JSON reports of every shard of one preview (`--shard I/N`,
paybill_iac.preview.shard) as the one report the unsharded preview writes: the same stacks in the same
order, the same `base` figures, the same summary and exit code (apart from `seconds`: the slowest
shard's, and `jobs`: all shards' together), so the markdown comment, the SARIF and the table rendered from
it are the unsharded ones. Its stacks are the shards' slim entries (paybill_iac.preview.shard.slim: a
resource count instead of the resource lists), so its JSON is `slim_report` of the unsharded report.

Refused (usage error, exit 2): a report that is not a shard's JSON report, shards of different previews
(catalog, actor, mode, base commit, shard count) and a missing or repeated shard: a merge that silently
lost a shard would pass a pull request it never checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paybill_iac.errors import UsageError

SAME = ("catalog", "actor", "mode")
BASE_SAME = ("ref", "commit", "changed_files", "code_files", "base_code", "note")


def read(paths: list[Path]) -> list[dict[str, Any]]:
    reports = []
    for path in paths:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UsageError(f"{path}: not a preview's JSON report ({error})") from None
        if not isinstance(report, dict) or report.get("version") != 1 or not isinstance(report.get("shard"), dict):
            raise UsageError(f"{path}: not the JSON report of a sharded preview (`paybill-iac preview --shard I/N "
                             "--format json`)")
        report["_path"] = str(path)
        reports.append(report)
    return reports


def _check(reports: list[dict[str, Any]]) -> int:
    if not reports:
        raise UsageError("give the JSON report of every shard")
    first = reports[0]
    count = int(first["shard"]["count"])
    for report in reports[1:]:
        for key in SAME:
            if report["summary"][key] != first["summary"][key]:
                raise UsageError(f"{report['_path']} and {first['_path']} are shards of different previews: "
                                 f"{key} {report['summary'][key]!r} vs {first['summary'][key]!r}")
        if int(report["shard"]["count"]) != count:
            raise UsageError(f"{report['_path']} is a shard of {report['shard']['count']}, {first['_path']} of {count}")
        for key in BASE_SAME:
            if (report.get("base") or {}).get(key) != (first.get("base") or {}).get(key):
                raise UsageError(f"{report['_path']} and {first['_path']} compared with different bases ({key})")
    indices = sorted(int(report["shard"]["index"]) for report in reports)
    missing = sorted(set(range(1, count + 1)) - set(indices))
    repeated = sorted({index for index in indices if indices.count(index) > 1})
    if missing or repeated:
        raise UsageError(f"the shards of a preview in {count} parts are incomplete: "
                         + (f"missing {', '.join(map(str, missing))}" if missing else "")
                         + ("; " if missing and repeated else "")
                         + (f"given twice {', '.join(map(str, repeated))}" if repeated else ""))
    return count


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report out of every shard's (see the module docstring)."""
    from paybill_iac.preview.core import finish
    from paybill_iac.preview.render import resource_count
    from paybill_iac.preview.report import Options

    _check(reports)
    first = reports[0]
    tenants = sorted((stack for report in reports for stack in report["tenants"]), key=lambda stack: stack["stack"])
    cells = sorted((stack for report in reports for stack in report["cells"]), key=lambda stack: stack["stack"])
    for kind, stacks in (("tenant", tenants), ("cell", cells)):
        names = [stack["stack"] for stack in stacks]
        if len(set(names)) != len(names):
            twice = sorted({name for name in names if names.count(name) > 1})
            raise UsageError(f"{kind}(s) {', '.join(twice)} reported by more than one shard: not shards of one preview")
    merged: dict[str, Any] = {
        "version": first["version"],
        "tenants": tenants,
        "cells": cells,
        "skipped": sorted((item for report in reports for item in report["skipped"]), key=lambda item: item["tenant"]),
        "base": _merge_base([report.get("base") for report in reports]),
        "warnings": sorted((warning for report in reports for warning in report.get("warnings", [])),
                           key=lambda item: (item["file"], item["kind"], item["id"], item["field"], item["message"])),
    }
    summary = first["summary"]
    options = Options(catalog=Path(summary["catalog"]), actor=summary["actor"],
                      base=merged["base"]["ref"] if merged["base"] else None)
    finish(merged, options, sum(int(report["summary"]["jobs"]) for report in reports),
           max(float(report["summary"]["seconds"]) for report in reports))
    merged["summary"]["catalog"] = summary["catalog"]
    merged["summary"]["resources"] = sum(resource_count(stack) for stack in tenants + cells)  # slim stacks
    return merged


def _merge_base(bases: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    if not bases or bases[0] is None:
        return None
    found = [base for base in bases if base is not None]
    merged = {key: found[0][key] for key in found[0]}
    merged["base_error"] = next((base["base_error"] for base in found if base.get("base_error")), None)
    merged["affected"] = {key: sum(base["affected"][key] for base in found) for key in found[0]["affected"]}
    resources = {key: sum(base["changes"]["resources"][key] for base in found)
                 for key in found[0]["changes"]["resources"]}
    merged["changes"] = {"stacks": sum(base["changes"]["stacks"] for base in found), "resources": resources}
    return merged

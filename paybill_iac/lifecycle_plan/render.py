"""A lifecycle plan for people (table) and machines (json)."""

from __future__ import annotations

import json
from typing import Any

SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "delete-but-keep": "-(kept)", "same": " "}


def to_json(plan: Any) -> str:
    return json.dumps(plan.as_dict(), indent=2, sort_keys=False, default=str) + "\n"


def to_table(plan: Any) -> str:
    data = plan.as_dict()
    lines = [f"tenant {data['tenant']}: {data['transition']} from {data['from']} to {data['to']}", ""]
    for step, dumped in zip(plan.steps, data["steps"], strict=True):
        counts = ", ".join(f"{action} {count}" for action, count in sorted(dumped["counts"].items())) or "no change"
        lines.append(f"step {dumped['label']} ({dumped['operation']}): {counts}")
        if dumped["note"]:
            lines.append(f"  {dumped['note']}")
        for change in step.changes:
            if change.action == "same":
                continue
            detail = []
            if change.replace_keys:
                detail.append("replaces on " + ", ".join(change.replace_keys))
            elif change.changed:
                detail.append(", ".join(change.changed))
            if change.kept_because:
                detail.append(f"kept in the cloud: {change.kept_because}")
            if change.lifted_by_workflow:
                detail.append(change.lifted_by_workflow)
            if change.leaves_backups:
                detail.append("; ".join(change.leaves_backups))
            if change.blocked_by:
                detail.append("REFUSED: " + "; ".join(change.blocked_by))
            lines.append(f"  {SYMBOL[change.action]:>7} {change.name} ({change.type})"
                         + (f": {' | '.join(detail)}" if detail else ""))
        lines.append("")
    backup = data.get("final_backup")
    if backup:
        lines.append(f"final backup: {json.dumps(backup, sort_keys=True)}")
    lines.append("invariants:")
    for name, verdict in data["invariants"].items():
        lines.append(f"  {name:12} {'holds' if verdict['holds'] else 'BROKEN'}")
        lines += [f"      {problem}" for problem in verdict["problems"]]
    lines.append("")
    lines.append(("ok: " if data["ok"] else "FAIL: ") + data["note"])
    return "\n".join(lines) + "\n"

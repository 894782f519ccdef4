"""Reading what `paybill-iac policy check` evaluates: the output of `pulumi stack export` (a version 3
deployment) or the JSON `paybill-iac preview` writes. Each becomes one or more stacks of ResourceViews;
the stack and project of each come from its resources' URNs
(`urn:pulumi:<stack>::<project>::<type>::<name>`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybill_policies.errors import InputError
from paybill_policies.evaluate import ResourceView, parse_urn

__all__ = ["InputError", "StackInput", "load", "parse"]


@dataclass
class StackInput:
    project: str
    stack: str
    resources: list[ResourceView] = field(default_factory=list)


def load(path: str | Path) -> tuple[str, list[StackInput]]:
    """(format, stacks) of the file at `path`: format is "stack-export" or "preview"."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(f"{file}: cannot be read: {reason}") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise InputError(f"{file}: not JSON ({error})") from None
    return parse(data, str(file))


def parse(data: Any, source: str = "input") -> tuple[str, list[StackInput]]:
    if isinstance(data, Mapping) and "deployment" in data:
        return "stack-export", _stack_export(data, source)
    if isinstance(data, Mapping) and ("tenants" in data or "cells" in data):
        return "preview", _preview(data, source)
    raise InputError(f"{source}: neither a `pulumi stack export` (version 3, with 'deployment') nor a "
                     "`paybill-iac preview` file (with 'tenants' and 'cells')")


def _stack_export(data: Mapping[str, Any], source: str) -> list[StackInput]:
    version = data.get("version")
    if version != 3:
        raise InputError(f"{source}: stack export version {version!r}; only version 3 deployments are read")
    deployment = data.get("deployment")
    resources = deployment.get("resources") if isinstance(deployment, Mapping) else None
    if resources is None:
        resources = []
    if not isinstance(resources, list):
        raise InputError(f"{source}: deployment.resources is not a list")
    stacks: dict[tuple[str, str], StackInput] = {}
    for index, entry in enumerate(resources):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("urn"), str):
            raise InputError(f"{source}: deployment.resources[{index}] has no urn")
        if entry.get("delete") or entry.get("type") == "pulumi:pulumi:Stack":
            continue  # pending deletions and the stack itself
        view = _view(entry, source, f"deployment.resources[{index}]")
        stack, project, _, _ = parse_urn(view.urn)
        stacks.setdefault((project, stack), StackInput(project, stack)).resources.append(view)
    return list(stacks.values())


def _preview(data: Mapping[str, Any], source: str) -> list[StackInput]:
    found: list[StackInput] = []
    for group in ("tenants", "cells"):
        entries = data.get(group) or []
        if isinstance(entries, Mapping):  # {id: {...}}
            entries = [{"stack": key, **value} for key, value in entries.items() if isinstance(value, Mapping)]
        if not isinstance(entries, list):
            raise InputError(f"{source}: '{group}' is not a list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise InputError(f"{source}: {group}[{index}] is not an object")
            where = f"{group}[{index}]"
            views = [_view(item, source, f"{where}.resources[{number}]")
                     for number, item in enumerate(entry.get("resources") or [])]
            views = [view for view in views if view.type != "pulumi:pulumi:Stack"]
            if views:
                stack, project, _, _ = parse_urn(views[0].urn)
            else:
                stack = str(entry.get("stack") or entry.get("tenant") or entry.get("cell") or "")
                project = str(entry.get("project") or ("paybill-cell" if group == "cells" else "paybill-tenant"))
            if not stack:
                raise InputError(f"{source}: {where} names no stack")
            found.append(StackInput(project, stack, views))
    return found


def _view(entry: Any, source: str, where: str) -> ResourceView:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("urn"), str) or not entry.get("type"):
        raise InputError(f"{source}: {where} needs 'urn' and 'type'")
    try:
        parse_urn(entry["urn"])
    except ValueError as error:
        raise InputError(f"{source}: {where}: {error}") from None
    return ResourceView.from_dict(entry)

"""What a refresh preview saw, read from the engine's output (pure: no pulumi import, no I/O).

    from_engine_events(events)   the engine events of `pulumi refresh --preview-only` (the event log the
                                 Automation API reads; `apitype.EngineEvent`): a refresh step's
                                 ResourcePreEvent says `refresh`, its ResOutputsEvent carries the result
                                 (`same`, `update`, `delete`: RefreshStep.ResultOp in pulumi/pulumi's
                                 pkg/resource/deploy/step.go) with `diffs` and `detailedDiff`
    from_preview_json(digest)    the `--json` document of the same command (display.PreviewDigest): steps
                                 with `op`, `oldState`, `newState`, `diffReasons`, `detailedDiff`
                                 (path -> {kind, inputDiff}); where an engine gives no diff, the changed
                                 paths are computed from the old and new outputs
    sdk_event_dict(event)        a pulumi.automation EngineEvent object back in the wire shape
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DRIFT_OPS = frozenset({"update", "delete"})
"""A refresh's result operations that mean drift: the cloud's resource differs, or is gone."""


@dataclass(frozen=True)
class RefreshedResource:
    """One resource as a refresh preview saw it: `op` is the refresh's result (same, update, delete);
    `paths` the changed property paths; `old`/`new` its inputs and outputs before and after the refresh."""

    op: str
    urn: str
    type: str
    paths: tuple[str, ...] = ()
    protect: bool = False
    retain_on_delete: bool = False
    old: Mapping[str, Any] = field(default_factory=dict)
    new: Mapping[str, Any] | None = field(default_factory=dict)
    """None when the resource is gone from the cloud."""

    @property
    def drifted(self) -> bool:
        return self.op in DRIFT_OPS

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def _state(meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(meta, Mapping):
        return None
    return {"inputs": dict(meta.get("inputs") or {}), "outputs": dict(meta.get("outputs") or {}),
            "protect": bool(meta.get("protect")), "retainOnDelete": bool(meta.get("retainOnDelete")),
            "custom": meta.get("custom")}


def _paths(detailed: Any, keys: Any) -> tuple[str, ...]:
    if isinstance(detailed, Mapping) and detailed:
        return tuple(sorted(str(path) for path in detailed))
    if isinstance(keys, list):
        return tuple(sorted(str(key) for key in keys))
    return ()


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Property paths whose values differ, in Pulumi's path syntax (`tags.owner`, `ingress[0].cidrBlocks`)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                found.append(path)
            else:
                found += changed_paths(old[key], new[key], path)
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for index, (left, right) in enumerate(zip(old, new, strict=True)):
            found += changed_paths(left, right, f"{prefix}[{index}]")
        return found
    return [] if old == new else [prefix or "(value)"]


def from_engine_events(events: Iterable[Mapping[str, Any]]) -> list[RefreshedResource]:
    """The resources of a refresh preview from its engine events (wire shape: `resourcePreEvent`,
    `resOutputsEvent`, each with `metadata` {op, urn, type, old, new, diffs, detailedDiff}). A resource
    whose outputs event is missing (the engine stopped) is reported from its pre event alone, with the paths
    computed from its old and new outputs."""
    pre: dict[str, Mapping[str, Any]] = {}
    done: dict[str, Mapping[str, Any]] = {}
    order: list[str] = []
    for event in events:
        for kind, into in (("resourcePreEvent", pre), ("resOutputsEvent", done)):
            payload = event.get(kind)
            if isinstance(payload, Mapping) and isinstance(payload.get("metadata"), Mapping):
                meta = payload["metadata"]
                urn = str(meta.get("urn") or "")
                if urn and urn not in pre and urn not in done:
                    order.append(urn)
                into[urn] = meta
    found = []
    for urn in order:
        meta = done.get(urn) or pre[urn]
        old, new = _state(meta.get("old")), _state(meta.get("new"))
        op = str(meta.get("op") or "")
        if op == "refresh":  # no result yet: decide from the states, as RefreshStep.ResultOp does
            op = _result_op(old, new)
        paths = _paths(meta.get("detailedDiff"), meta.get("diffs"))
        if op == "update" and not paths:
            paths = tuple(changed_paths((old or {}).get("outputs"), (new or {}).get("outputs")))
        found.append(_refreshed(op, urn, str(meta.get("type") or ""), paths, old, new))
    return found


def from_preview_json(digest: Mapping[str, Any]) -> list[RefreshedResource]:
    """The resources of a refresh preview from `pulumi refresh --preview-only --json` (PreviewDigest)."""
    steps = digest.get("steps") or []
    if not isinstance(steps, list):
        raise ValueError("the preview's 'steps' is not a list")
    found = []
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping) or not isinstance(step.get("urn"), str):
            raise ValueError(f"steps[{index}] has no urn")
        old, new = _state(step.get("oldState")), _state(step.get("newState"))
        op = str(step.get("op") or "")
        if op == "refresh":
            op = _result_op(old, new)
        detailed = step.get("detailedDiff")
        paths = _paths(detailed, step.get("diffReasons"))
        if op == "update" and not paths:
            paths = tuple(changed_paths((old or {}).get("outputs"), (new or {}).get("outputs")))
        type_token = str((step.get("oldState") or step.get("newState") or {}).get("type") or _urn_type(step["urn"]))
        found.append(_refreshed(op, step["urn"], type_token, paths, old, new))
    return found


def _urn_type(urn: str) -> str:
    parts = urn.split("::")
    return parts[-2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def _result_op(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str:
    if new is None:
        return "delete"
    if old is None or old.get("outputs") == new.get("outputs"):
        return "same"
    return "update"


def _refreshed(op: str, urn: str, type_token: str, paths: tuple[str, ...], old: Mapping[str, Any] | None,
               new: Mapping[str, Any] | None) -> RefreshedResource:
    state = old or new or {}
    return RefreshedResource(op, urn, type_token or _urn_type(urn), paths if op == "update" else (),
                             bool(state.get("protect")), bool(state.get("retainOnDelete")), old or {},
                             None if op == "delete" else (new or old or {}))


def sdk_event_dict(event: Any) -> dict[str, Any]:
    """A pulumi.automation EngineEvent (the SDK's objects) in the wire shape `from_engine_events` reads."""
    found: dict[str, Any] = {}
    for attribute, kind in (("resource_pre_event", "resourcePreEvent"), ("res_outputs_event", "resOutputsEvent")):
        payload = getattr(event, attribute, None)
        meta = getattr(payload, "metadata", None)
        if meta is None:
            continue
        found[kind] = {"metadata": {
            "op": str(getattr(meta.op, "value", meta.op)), "urn": meta.urn, "type": meta.type,
            "old": _sdk_state(meta.old), "new": _sdk_state(meta.new), "diffs": meta.diffs,
            "detailedDiff": {path: {"diffKind": str(getattr(diff.diff_kind, "value", diff.diff_kind)),
                                    "inputDiff": diff.input_diff}
                             for path, diff in (meta.detailed_diff or {}).items()} or None}}
    return found


def _sdk_state(state: Any) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"type": state.type, "urn": state.urn, "inputs": dict(state.inputs or {}),
            "outputs": dict(state.outputs or {}), "protect": state.protect, "retainOnDelete": state.retain_on_delete,
            "custom": state.custom}

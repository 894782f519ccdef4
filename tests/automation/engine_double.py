"""A stateful stack-runner double that keeps, per stack, resources with their protect and retain flags and the
stack's outputs, the way the Pulumi engine does, in a JSON file (so that several processes, and a process
killed half-way, share it). What it models of the engine:

- an `up` (or preview) diffs what the program declares against the state: create, update, replace (a
  pooled resource that changes cell), same, delete; excluded URNs (`--exclude`) are left as they are;
- deleting or replacing a protected resource is an error, in a preview as in an up (the engine refuses to
  plan it: "unable to delete resource ... as it is currently marked for protection"); an up applies its
  creates and updates first, so it fails after a partial apply;
- a resource retained on delete leaves the state and stays in the cloud; any other deleted resource is
  gone, and a data resource (resource_facts) that goes is recorded in `lost`;
- `pulumi state unprotect|protect` flip the flag; every change is appended to `events`;
- drift: `drift(key, urn, inputs=..., gone=...)` changes a resource in the "cloud" behind the state's back; a
  refresh preview reports it as the engine does, in its published event shape (a ResourcePreEvent `refresh`,
  then a ResOutputsEvent with the result op, `diffs` and `detailedDiff`), parsed by the same code as the real
  runner's; a refresh writes what the cloud holds into the state; `list_stacks` names the backend's stacks.

What the "program" declares follows the stack config paybill-iac generates: a tenant's component
(`paybill:tenant:<Isolation>`) with an identity role (granted nothing while suspended), and its data:
a secret on the cell (pooled) or a database instance and a bucket (bridge, silo), named with the
isolation letter (so two shapes stand side by side), protected, and retained on delete while
offboarding. Outputs carry the identity and the database's name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybill_iac.automation.errors import RunFailed
from paybill_iac.automation.invocation import Invocation
from paybill_iac.automation.runner import ChangeSummary, RunResult, Step
from paybill_iac.model.resource_facts import is_data_type
from tests.automation.doubles import OBJECT_ID

STACK_TYPE = "pulumi:pulumi:Stack"
DB = "aws:rds/instance:Instance"
BUCKET = "aws:s3/bucket:Bucket"
SECRET = "aws:secretsmanager/secret:Secret"
ROLE = "aws:iam/role:Role"


def _urn(stack: str, project: str, chain: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{chain}::{name}"


def declared(invocation: Invocation) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """What the stack program registers for this invocation's config: {urn: resource}, outputs."""
    config = invocation.stack_config["config"]
    stack, project = invocation.stack.name, invocation.stack.project
    resources: dict[str, dict[str, Any]] = {
        _urn(stack, project, STACK_TYPE, f"{project}-{stack}"): {"type": STACK_TYPE, "inputs": {}}}

    def add(chain: str, name: str, inputs: dict[str, Any], *, data: bool = False, offboarding: bool = False) -> None:
        resources[_urn(stack, project, chain, name)] = {
            "type": chain.rsplit("$", 1)[-1], "inputs": inputs, "protect": data and not offboarding,
            "retain": data and offboarding}

    if invocation.stack.kind == "cell":
        add("paybill:cell:Cell", stack, {})
        add(f"paybill:cell:Cell${DB}", f"{stack}-db", {}, data=True)
        return resources, {"cell": {"endpoint": f"{stack}.db:5432"}}
    isolation = str(config["paybill:isolation"])
    state = str(config["paybill:state"])
    cell = config.get("paybill:cell")
    letter = isolation[0]
    component = f"paybill:tenant:{isolation.title()}"
    offboarding = state == "offboarding"
    add(component, stack, {})
    add(f"{component}${ROLE}", f"{stack}-{letter}-role", {"granted": state == "active", "cell": cell})
    if isolation == "pooled":
        add(f"{component}${SECRET}", f"{stack}-{letter}-secret", {"cell": cell}, data=True, offboarding=offboarding)
    else:
        add(f"{component}${DB}", f"{stack}-{letter}-db", {"cell": cell}, data=True, offboarding=offboarding)
        add(f"{component}${BUCKET}", f"{stack}-{letter}-data", {}, data=True, offboarding=offboarding)
    outputs = {"identity": {"principal_id": OBJECT_ID, "identity_name": f"{stack}-identity"},
               "database": {"name": f"pb_{stack}_{letter}_db", "cell": cell}, "isolation": isolation}
    return resources, outputs


@dataclass
class StatefulRunner:
    """The double (see the module). `path`: its JSON state file; `fail[stack key]`: operations that fail once
    ("up", "preview") before anything is applied."""

    path: str
    fail: dict[str, list[str]] = field(default_factory=dict)

    # --- persistence -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        file = Path(self.path)
        file.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = json.loads(file.read_text()) if file.exists() else {"stacks": {}, "events": [], "lost": [],
                                                                        "kept": []}
            yield data
            temporary = file.with_suffix(".tmp")
            temporary.write_text(json.dumps(data, sort_keys=True))
            os.replace(temporary, file)

    def read(self) -> dict[str, Any]:
        with self._state() as data:
            return json.loads(json.dumps(data))

    # --- the StackRunner interface -----------------------------------------------------------------

    def run(self, invocation: Invocation) -> RunResult:
        key, operation = invocation.stack.key, invocation.operation
        failing = self.fail.get(key, [])
        if operation in failing:
            failing.remove(operation)
            raise RunFailed(f"{operation} of {key} failed: the cloud said no")
        with self._state() as data:
            if operation == "preview-refresh" and key not in data["stacks"]:  # as the runner: select, never create
                raise RunFailed(f"{key} has no stack in the backend: there is nothing to check for drift")
            stack = data["stacks"].setdefault(key, {"resources": {}, "outputs": {}})
            if operation in ("preview-destroy", "destroy"):
                return self._destroy(data, stack, invocation)
            if operation in ("refresh", "preview-refresh"):
                return self._refresh(data, stack, invocation)
            wanted, outputs = declared(invocation)
            steps = self._plan(stack["resources"], wanted, set(invocation.excludes))
            if operation == "preview":
                if invocation.plan_file:
                    Path(invocation.plan_file).parent.mkdir(parents=True, exist_ok=True)
                    Path(invocation.plan_file).write_text(json.dumps({"stack": key, "at": time.time()}))
                self._refuse_protected(invocation, stack["resources"], steps)
                return RunResult(ChangeSummary.from_steps(steps))
            self._apply(data, stack, wanted, steps, invocation)
            stack["outputs"] = outputs
            return RunResult(ChangeSummary.from_steps(steps), dict(outputs))

    def outputs(self, invocation: Invocation) -> dict[str, Any]:
        with self._state() as data:
            return dict(data["stacks"].get(invocation.stack.key, {}).get("outputs", {}))

    def resources(self, invocation: Invocation) -> list[Step]:
        with self._state() as data:
            found = data["stacks"].get(invocation.stack.key, {}).get("resources", {})
            return [Step("same", urn, item["type"], bool(item.get("protect")), bool(item.get("retain")))
                    for urn, item in sorted(found.items())]

    def unprotect(self, invocation: Invocation, urns: list[str]) -> None:
        self._flag(invocation, urns, False)

    def protect(self, invocation: Invocation, urns: list[str]) -> None:
        self._flag(invocation, urns, True)

    def interrupt(self, signum: int) -> bool:
        return False

    def list_stacks(self, layout: Any, project: str) -> list[str]:
        with self._state() as data:
            return sorted(key.split("/", 1)[1] for key in data["stacks"] if key.startswith(f"{project}/"))

    # --- drift: the cloud behind the state's back ---------------------------------------------------

    def drift(self, key: str, urn: str, *, inputs: dict[str, Any] | None = None, gone: bool = False) -> None:
        """Change resource `urn` of stack `key` in the cloud only: `inputs` set on it, or it is `gone`."""
        with self._state() as data:
            cloud = data.setdefault("cloud", {}).setdefault(key, {})
            cloud[urn] = {"gone": True} if gone else {"inputs": {**cloud.get(urn, {}).get("inputs", {}),
                                                                 **(inputs or {})}}

    def refresh_events(self, key: str) -> list[dict[str, Any]]:
        """The engine events a refresh preview of stack `key` emits (the published apitype shape)."""
        with self._state() as data:
            stack = data["stacks"].get(key, {"resources": {}})
            return self._events(stack["resources"], data.get("cloud", {}).get(key, {}))

    @staticmethod
    def _events(resources: dict[str, Any], cloud: dict[str, Any]) -> list[dict[str, Any]]:
        from paybill_iac.automation.drift_events import changed_paths

        events: list[dict[str, Any]] = []
        for sequence, (urn, item) in enumerate(sorted(resources.items())):
            old = {"type": item["type"], "urn": urn, "custom": not item["type"].startswith(("pulumi:", "paybill:")),
                   "inputs": item.get("inputs", {}), "outputs": item.get("inputs", {}),
                   "protect": bool(item.get("protect")), "retainOnDelete": bool(item.get("retain"))}
            change = cloud.get(urn)
            new: dict[str, Any] | None = old
            op, detailed = "same", {}
            if change is not None and change.get("gone"):
                new, op = None, "delete"
            elif change is not None:
                values = {**old["inputs"], **change["inputs"]}
                paths = changed_paths(old["outputs"], values)
                if paths:
                    new, op = {**old, "inputs": values, "outputs": values}, "update"
                    detailed = {path: {"diffKind": "update" if path.split(".")[0] in old["outputs"] else "add",
                                       "inputDiff": False} for path in paths}
            meta = {"op": "refresh", "urn": urn, "type": item["type"], "provider": "", "old": old, "new": old}
            events.append({"sequence": 2 * sequence, "timestamp": 0, "resourcePreEvent": {"metadata": meta}})
            done = {**meta, "op": op, "new": new, "diffs": sorted({path.split(".")[0] for path in detailed}),
                    "detailedDiff": detailed or None}
            events.append({"sequence": 2 * sequence + 1, "timestamp": 0, "resOutputsEvent": {"metadata": done}})
        return events

    def _refresh(self, data: dict[str, Any], stack: dict[str, Any], invocation: Invocation) -> RunResult:
        from paybill_iac.automation.drift_events import from_engine_events

        key = invocation.stack.key
        cloud = data.setdefault("cloud", {}).get(key, {})
        refreshed = tuple(from_engine_events(self._events(stack["resources"], cloud)))
        steps = [Step(item.op, item.urn, item.type, item.protect, item.retain_on_delete) for item in refreshed]
        if invocation.operation == "refresh":  # what the cloud holds becomes the state
            for item in refreshed:
                if item.op == "delete":
                    stack["resources"].pop(item.urn)
                elif item.op == "update" and item.new is not None:
                    stack["resources"][item.urn]["inputs"] = dict(item.new["inputs"])
                if item.drifted:
                    data["events"].append({"at": time.time(), "event": "adopted", "stack": key, "urn": item.urn})
            data["cloud"].pop(key, None)
            return RunResult(ChangeSummary.from_steps(steps), dict(stack["outputs"]))
        return RunResult(ChangeSummary.from_steps(steps), refreshed=refreshed)

    # --- the engine's semantics ---------------------------------------------------------------------

    def _flag(self, invocation: Invocation, urns: list[str], protect: bool) -> None:
        with self._state() as data:
            found = data["stacks"].get(invocation.stack.key, {}).get("resources", {})
            for urn in urns:
                if urn not in found:
                    raise RunFailed(f"state {'protect' if protect else 'unprotect'}: no resource {urn}")
                found[urn]["protect"] = protect
                data["events"].append({"at": time.time(), "event": "protect" if protect else "unprotect",
                                       "stack": invocation.stack.key, "urn": urn})

    @staticmethod
    def _plan(current: dict[str, Any], wanted: dict[str, Any], excludes: set[str]) -> list[Step]:
        steps = []
        for urn, item in sorted(wanted.items()):
            if urn in excludes:
                continue
            old = current.get(urn)
            if old is None:
                steps.append(Step("create", urn, item["type"], bool(item.get("protect")), bool(item.get("retain"))))
            elif old.get("inputs", {}).get("cell") != item["inputs"].get("cell") and "cell" in item["inputs"]:
                steps.append(Step("replace", urn, item["type"], bool(old.get("protect")), bool(old.get("retain"))))
            else:
                op = "same" if old.get("inputs") == item["inputs"] else "update"
                steps.append(Step(op, urn, item["type"], bool(old.get("protect")), bool(old.get("retain"))))
        for urn, old in sorted(current.items()):
            if urn not in wanted and urn not in excludes:
                steps.append(Step("delete", urn, old["type"], bool(old.get("protect")), bool(old.get("retain"))))
        return steps

    @staticmethod
    def _refuse_protected(invocation: Invocation, current: dict[str, Any], steps: list[Step]) -> None:
        for step in steps:
            if step.op in ("delete", "replace") and current.get(step.urn, {}).get("protect"):
                raise RunFailed(f"{invocation.operation} of {invocation.stack.key} failed: unable to "
                                f"{step.op} resource {step.urn} as it is currently marked for protection")

    def _apply(self, data: dict[str, Any], stack: dict[str, Any], wanted: dict[str, Any], steps: list[Step],
               invocation: Invocation) -> None:
        current = stack["resources"]
        for step in steps:  # creates and updates first, as the engine orders them; the flags are the program's
            if step.op in ("create", "update", "same"):
                current[step.urn] = dict(wanted[step.urn])
        self._refuse_protected(invocation, current, steps)  # fails after a partial apply, as the engine does
        for step in steps:
            if step.op in ("delete", "replace"):
                self._gone(data, invocation, current.pop(step.urn))
                if step.op == "replace":
                    current[step.urn] = dict(wanted[step.urn])

    @staticmethod
    def _gone(data: dict[str, Any], invocation: Invocation, item: dict[str, Any]) -> None:
        record = {"at": time.time(), "stack": invocation.stack.key, "type": item["type"],
                  "operation": invocation.operation, "plan": invocation.plan_file}
        if item.get("retain"):
            data["kept"].append(record)
        elif is_data_type(item["type"]):
            data["lost"].append(record)
        data["events"].append({**record, "event": "retained" if item.get("retain") else "deleted"})

    def _destroy(self, data: dict[str, Any], stack: dict[str, Any], invocation: Invocation) -> RunResult:
        current = stack["resources"]
        steps = [Step("delete", urn, item["type"], bool(item.get("protect")), bool(item.get("retain")))
                 for urn, item in sorted(current.items())]
        self._refuse_protected(invocation, current, steps)
        if invocation.operation == "destroy":
            for step in steps:
                self._gone(data, invocation, current.pop(step.urn))
            stack["outputs"] = {}
        return RunResult(ChangeSummary.from_steps(steps))

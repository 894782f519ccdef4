"""A stack-runner double: succeeds, conflicts on the lock, fails transiently or for good, or crashes
(the process dies on the spot, as a killed deployment would). Picklable, so fleet workers get it.
And a data-plane double that records what the workflows asked of each tenant's database."""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybill_iac.automation.errors import RunFailed, StackLocked, TransientFailure
from paybill_iac.automation.invocation import Invocation
from paybill_iac.automation.runner import ChangeSummary, RunResult, Step
from paybill_iac.dataplane import DataPlaneReport, DumpHook, SecretMissing, ServerUnreachable
from paybill_iac.dataplane.targets import Target

SAME = "same"
OBJECT_ID = "6f1f7a4e-2b1c-4d3e-9f00-1234567890ab"
"""The object id of every tenant identity the double reports (Azure tenants' data plane needs one)."""


def tenant_outputs(tenant: str) -> dict[str, Any]:
    """What a tenant stack exports that the data plane reads (the double's default for tenant stacks)."""
    return {"identity": {"principal_id": OBJECT_ID, "identity_name": f"{tenant}-identity"}}


@dataclass
class FakeRunner:
    """`script[stack or tenant]`: actions consumed one per run ("ok", "conflict", "transient", "fail",
    "crash", "sleep:<seconds>" then ok); when exhausted, `default`. `changes[stack]`: the steps a
    preview/up reports, as (op, type chain, name, protect): the chain goes into the URN, its last link is the
step's type. `state[stack]`: resources in the stack's state."""

    script: dict[str, list[str]] = field(default_factory=dict)
    default: str = "ok"
    changes: dict[str, list[tuple[str, str, str, bool]]] = field(default_factory=dict)
    state: dict[str, list[tuple[str, str, str, bool]]] = field(default_factory=dict)
    outputs_by_stack: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: str | None = None
    calls: list[Invocation] = field(default_factory=list)
    unprotected: list[list[str]] = field(default_factory=list)
    protected: list[list[str]] = field(default_factory=list)
    backend: dict[str, list[str]] = field(default_factory=dict)
    plans_saved: list[str] = field(default_factory=list)
    """The update plans previews saved (their text), and the plans ups applied, in order."""
    plans_applied: list[str] = field(default_factory=list)
    """project -> the stack names `list_stacks` reports."""

    def _action(self, invocation: Invocation) -> str:
        for key in (invocation.stack.key, invocation.stack.name, f"{invocation.operation}:{invocation.stack.name}"):
            queue = self.script.get(key)
            if queue:
                return queue.pop(0)
        return self.default

    def _record(self, invocation: Invocation, action: str) -> None:
        self.calls.append(invocation)
        if self.log:
            entry = {"op": invocation.operation, "stack": invocation.stack.key, "action": action, "pid": os.getpid(),
                     "plan": invocation.plan_file, "at": time.time()}
            with open(self.log, "a") as stream:
                fcntl.flock(stream, fcntl.LOCK_EX)
                stream.write(json.dumps(entry) + "\n")

    def _steps(self, invocation: Invocation) -> list[Step]:
        key = invocation.stack.key
        if invocation.operation == "preview-destroy" or invocation.operation == "destroy":
            return [Step("delete", _urn(invocation, t, n), _type(t), p, p) for _, t, n, p in self.state.get(key, [])]
        return [Step(op, _urn(invocation, t, n), _type(t), p) for op, t, n, p in self.changes.get(key, [])]

    def run(self, invocation: Invocation) -> RunResult:
        action = self._action(invocation)
        self._record(invocation, action)
        if action.startswith("sleep:"):
            time.sleep(float(action.split(":", 1)[1]))
        elif action == "conflict":
            raise StackLocked(f"{invocation.operation} of {invocation.stack.key}: another update holds the lock")
        elif action == "transient":
            raise TransientFailure(f"{invocation.operation} of {invocation.stack.key}: 503 service unavailable")
        elif action == "fail":
            raise RunFailed(f"{invocation.operation} of {invocation.stack.key} failed: the cloud said no")
        elif action == "crash":
            os._exit(137)
        if invocation.operation == "preview" and invocation.plan_file:
            Path(invocation.plan_file).parent.mkdir(parents=True, exist_ok=True)
            Path(invocation.plan_file).write_text(json.dumps({"stack": invocation.stack.key, "at": time.time()}))
            self.plans_saved.append(Path(invocation.plan_file).read_text())
        if invocation.operation == "up" and invocation.plan_file:  # `pulumi up --plan` reads it, or fails
            self.plans_applied.append(Path(invocation.plan_file).read_text())
        steps = self._steps(invocation)
        return RunResult(ChangeSummary.from_steps(steps), self.outputs(invocation))

    def outputs(self, invocation: Invocation) -> dict[str, Any]:
        stack = invocation.stack
        default = tenant_outputs(stack.name) if stack.kind == "tenant" else {}
        return dict(self.outputs_by_stack.get(stack.key, default))

    def unprotect(self, invocation: Invocation, urns: list[str]) -> None:
        self.unprotected.append(list(urns))

    def protect(self, invocation: Invocation, urns: list[str]) -> None:
        self.protected.append(list(urns))

    def interrupt(self, signum: int) -> bool:
        return False

    def list_stacks(self, layout: Any, project: str) -> list[str]:
        return sorted(self.backend.get(project, []))

    def resources(self, invocation: Invocation) -> list[Step]:
        return [Step(SAME, _urn(invocation, t, n), _type(t), p)
                for _, t, n, p in self.state.get(invocation.stack.key, [])]


def _type(type_chain: str) -> str:
    """A step's own type, as the engine reports it: the last link of the URN's type chain
    (`paybill:tenant:Silo$aws:rds/instance:Instance` -> `aws:rds/instance:Instance`)."""
    return type_chain.rsplit("$", 1)[-1]


def _urn(invocation: Invocation, type_chain: str, name: str) -> str:
    return f"urn:pulumi:{invocation.stack.name}::{invocation.stack.project}::{type_chain}::{name}"


def read_log(path: str | Path) -> list[dict[str, Any]]:
    file = Path(path)
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]


ENDPOINT = "10.0.0.5:5432"


@dataclass
class RecordingDataPlane:
    """Records every data-plane call as (operation, tenant, database) in `calls` (the targets in
    `targets`, apply's `active` in `active`, offboard's dump hooks in `dumps`) and reports one step
    changed. `script[operation or operation:tenant]`: actions consumed one per call ("unreachable",
    "no-secret", "boom", else ok)."""

    script: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    active: list[bool] = field(default_factory=list)
    dumps: list[DumpHook | None] = field(default_factory=list)

    def _run(self, operation: str, target: Target) -> DataPlaneReport:
        db = target.database
        action = "ok"
        for key in (f"{operation}:{db.tenant}", operation):
            if self.script.get(key):
                action = self.script[key].pop(0)
                break
        if action == "unreachable":
            raise ServerUnreachable("cannot open a session on database 'postgres' as 'admin': connection refused",
                                    tenant=db.tenant, cell=db.cell, endpoint=ENDPOINT)
        if action == "no-secret":
            raise SecretMissing("cannot read the admin password (secret 'admin'): secret 'admin' is not set",
                                tenant=db.tenant, cell=db.cell, endpoint=ENDPOINT)
        if action == "boom":
            raise RuntimeError("the double broke")
        self.calls.append((operation, db.tenant, db.database))
        self.targets.append(target)
        return DataPlaneReport(operation=operation, tenant=db.tenant, cell=db.cell, endpoint=ENDPOINT,
                               database=db.database, changed=(f"{operation}_step",), unchanged=("in_place_step",),
                               statements=(f"-- {operation} {db.database}",), notes=("recorded by the double",))

    def apply(self, target: Target, *, active: bool) -> DataPlaneReport:
        self.active.append(active)
        return self._run("apply", target)

    def suspend(self, target: Target) -> DataPlaneReport:
        return self._run("suspend", target)

    def resume(self, target: Target) -> DataPlaneReport:
        return self._run("resume", target)

    def offboard(self, target: Target, *, dump: DumpHook | None = None) -> DataPlaneReport:
        self.dumps.append(dump)
        return self._run("offboard", target)

    def drop(self, target: Target) -> DataPlaneReport:
        return self._run("drop", target)

    def operations(self, tenant: str) -> list[str]:
        return [operation for operation, who, _ in self.calls if who == tenant]

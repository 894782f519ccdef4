"""Stack runners: what executes an Invocation. `PulumiRunner` drives the Pulumi CLI through
`pulumi.automation`; tests use doubles with the same interface (`StackRunner`).

A runner reports failures as one of three exceptions (paybill_iac.automation.errors), which the
Operator treats differently:

    StackLocked       the backend says another update holds the stack (ConcurrentUpdateError): retried
    TransientFailure  the CLI's error lines report the backend's 429 or 5xx (engine.py): retried, unless
                      the update had already changed resources (`partial`): then a refresh comes first
    RunFailed         anything else (a policy violation, a program error, a cloud refusal, a provider's
                      timeout): not retried

`interrupt(signum)` forwards a signal the Operator received to the `pulumi` processes this runner started
(SIGINT: the CLI cancels gracefully, finishing the resource operations in flight and writing the state);
`protect` and `unprotect` set and lift `protect` in the stack's state (`pulumi state protect|unprotect`).
`preview-refresh` (Stack.preview_refresh: nothing is written to the state) returns what the refresh would
read into the state, per resource (`RunResult.refreshed`, parsed by paybill_iac.automation.drift_events);
`list_stacks(layout, project)` names the backend's stacks of a project (`pulumi stack ls`).
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from paybill_iac.automation.drift_events import RefreshedResource, from_engine_events, sdk_event_dict
from paybill_iac.automation.engine import DELETING_OPS, NO_CHANGE_OPS, is_change, transient_reason
from paybill_iac.automation.errors import RetryableFailure, RunFailed, StackLocked, TransientFailure
from paybill_iac.automation.invocation import BACKEND_URL_ENV, Invocation, Layout, StackRef, write_work_dir
from paybill_iac.errors import OperationError, PulumiCLIMissing
from paybill_iac.project import check_program

__all__ = ["DELETING_OPS", "NO_CHANGE_OPS", "ChangeSummary", "PulumiRunner", "RunResult", "StackRunner", "Step",
           "plan_on_disk", "pulumi_children"]


@dataclass(frozen=True)
class Step:
    """One resource step of a preview or update."""

    op: str
    urn: str
    type: str
    protect: bool = False
    retain_on_delete: bool = False

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class ChangeSummary:
    """What an operation changes (or would change): counts per op and the steps behind them."""

    counts: dict[str, int] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()

    @classmethod
    def from_steps(cls, steps: Iterable[Step], counts: dict[str, int] | None = None) -> ChangeSummary:
        steps = tuple(steps)
        if counts is None:
            counts = {}
            for step in steps:
                counts[step.op] = counts.get(step.op, 0) + 1
        return cls({key: int(value) for key, value in sorted(counts.items()) if value}, steps)

    @property
    def changed_urns(self) -> list[str]:
        """Resources whose step is not a no-op, once each."""
        return sorted({step.urn for step in self.steps if is_change(step.op)})

    @property
    def changed(self) -> int:
        if self.steps:
            return len(self.changed_urns)
        return sum(count for op, count in self.counts.items() if is_change(op))

    def urns(self, *ops: str) -> list[str]:
        return sorted({step.urn for step in self.steps if step.op in ops})

    def as_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts),
                "steps": [{"op": s.op, "urn": s.urn, "type": s.type, "protect": s.protect,
                           "retain_on_delete": s.retain_on_delete} for s in self.steps if is_change(s.op)]}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ChangeSummary:
        if not data:
            return cls()
        return cls(dict(data.get("counts", {})), tuple(Step(**step) for step in data.get("steps", [])))

    def describe(self) -> str:
        shown = {op: count for op, count in self.counts.items() if is_change(op)}
        return ", ".join(f"{count} {op}" for op, count in shown.items()) or "no changes"


@dataclass(frozen=True)
class RunResult:
    summary: ChangeSummary = field(default_factory=ChangeSummary)
    outputs: dict[str, Any] = field(default_factory=dict)
    refreshed: tuple[RefreshedResource, ...] = ()
    """A refresh preview's resources (empty for every other operation)."""


@contextmanager
def plan_on_disk(content: str | None = None) -> Iterator[str]:
    """A path for the update plan of one `pulumi preview --save-plan` or `pulumi up --plan` call, in a temporary
    folder removed afterwards: saved plans live in the state database (store.SavedPlans), so any host applies
    them, and none is left on this one. `content`: the saved plan to apply (written there first)."""
    with tempfile.TemporaryDirectory(prefix="paybill-plan-") as folder:
        path = Path(folder) / "plan.json"
        if content is not None:
            path.write_text(content, encoding="utf-8")
        yield str(path)


@runtime_checkable
class StackRunner(Protocol):
    """Executes invocations. Implementations must be picklable (fleet workers build their own)."""

    def run(self, invocation: Invocation) -> RunResult:
        """Run the invocation; raise StackLocked, TransientFailure or RunFailed on failure."""
        ...

    def outputs(self, invocation: Invocation) -> dict[str, Any]:
        """The stack's current outputs ({} when it has none)."""
        ...

    def unprotect(self, invocation: Invocation, urns: list[str]) -> None:
        """Lift `protect` from these resources in the stack's state (retiring an old shape)."""
        ...

    def protect(self, invocation: Invocation, urns: list[str]) -> None:
        """Set `protect` on these resources in the stack's state again (a retire that did not go ahead)."""
        ...

    def resources(self, invocation: Invocation) -> list[Step]:
        """The resources in the stack's state (op "same"), [] when the stack has none."""
        ...

    def interrupt(self, signum: int) -> bool:
        """Forward `signum` to the engine processes this runner is waiting for; False when there are none
        (the Operator then stops the operation itself)."""
        ...

    def list_stacks(self, layout: Layout, project: str) -> list[str]:
        """The names of the backend's stacks of `project` (paybill-tenant or paybill-cell)."""
        ...


def require_cli(what: str) -> None:
    """PulumiCLIMissing unless `pulumi` is on PATH (where pulumi.automation runs it from), checked once before
    work that would otherwise fail the same way for each stack."""
    import shutil

    if shutil.which("pulumi") is None:
        raise PulumiCLIMissing(what)


class PulumiRunner:
    """Runs invocations with the Pulumi CLI through pulumi.automation, one work dir per stack."""

    def run(self, invocation: Invocation) -> RunResult:
        auto = _automation()
        write_work_dir(invocation)
        stack = self._stack(invocation)
        self._check_packs(invocation)
        steps: list[Step] = []
        policy: list[str] = []
        applied: list[str] = []  # resources the engine finished changing (an update that fails is partial)

        def on_event(event: Any) -> None:
            done = getattr(event, "res_outputs_event", None)
            if done is not None and done.metadata is not None and is_change(str(getattr(done.metadata.op, "value",
                                                                                         done.metadata.op))):
                applied.append(done.metadata.urn)
            pre = getattr(event, "resource_pre_event", None)
            if pre is not None and pre.metadata is not None:
                meta = pre.metadata
                state = meta.old or meta.new
                steps.append(Step(str(getattr(meta.op, "value", meta.op)), meta.urn, meta.type,
                                  bool(state and state.protect), bool(state and state.retain_on_delete)))
            violation = getattr(event, "policy_event", None)
            if violation is not None and str(violation.enforcement_level).lower() == "mandatory":
                policy.append(f"[{violation.policy_pack_name}] {violation.policy_name}: "
                              f"{violation.message.strip()}")

        kwargs = invocation.api_kwargs()
        try:
            if invocation.operation in ("preview", "up"):
                for name, value in invocation.tags.items():
                    stack.set_tag(name, value)
            if invocation.operation == "preview":
                preview = stack.preview(on_event=on_event, **kwargs)
                counts = {str(getattr(op, "value", op)): count for op, count in preview.change_summary.items()}
                return RunResult(ChangeSummary.from_steps(steps, counts))
            if invocation.operation == "up":
                up = stack.up(on_event=on_event, **kwargs)
                counts = dict(up.summary.resource_changes or {})
                return RunResult(ChangeSummary.from_steps(steps, counts),
                                 {key: value.value for key, value in up.outputs.items()})
            if invocation.operation == "preview-refresh":
                events: list[dict[str, Any]] = []
                stack.preview_refresh(on_event=lambda event: events.append(sdk_event_dict(event)), **kwargs)
                refreshed = tuple(from_engine_events(events))
                return RunResult(ChangeSummary.from_steps(Step(item.op, item.urn, item.type, item.protect,
                                                               item.retain_on_delete) for item in refreshed),
                                 refreshed=refreshed)
            if invocation.operation == "refresh":
                refresh = stack.refresh(on_event=on_event, **kwargs)
                return RunResult(ChangeSummary.from_steps(steps, dict(refresh.summary.resource_changes or {})))
            if invocation.operation == "preview-destroy":
                preview = stack.preview_destroy(on_event=on_event, **kwargs)
                counts = {str(getattr(op, "value", op)): count for op, count in preview.change_summary.items()}
                return RunResult(ChangeSummary.from_steps(steps, counts))
            destroy = stack.destroy(on_event=on_event, **kwargs)
            return RunResult(ChangeSummary.from_steps(steps, dict(destroy.summary.resource_changes or {})))
        except auto.errors.CommandError as error:
            failure = _classify(error, invocation, policy)
            if isinstance(failure, RetryableFailure) and applied and invocation.operation in ("up", "destroy"):
                failure.partial = len(applied)
            raise failure from None

    def outputs(self, invocation: Invocation) -> dict[str, Any]:
        auto = _automation()
        write_work_dir(invocation)
        try:
            return {key: value.value for key, value in self._stack(invocation).outputs().items()}
        except auto.errors.CommandError as error:
            raise _classify(error, invocation, []) from None

    def unprotect(self, invocation: Invocation, urns: list[str]) -> None:
        self._state_command(invocation, "unprotect", urns)

    def protect(self, invocation: Invocation, urns: list[str]) -> None:
        self._state_command(invocation, "protect", urns)

    def interrupt(self, signum: int) -> bool:
        """SIGINT to every `pulumi` process this process started: the CLI cancels the update gracefully (the
        resource operations in flight finish and the state is written); a second one stops it at once."""
        found = pulumi_children()
        for pid in found:
            try:
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                continue
        return bool(found)

    def list_stacks(self, layout: Layout, project: str) -> list[str]:
        """`pulumi stack ls` in a work dir of the project's own (stack names without org/project prefix)."""
        from paybill_iac.catalog import yamlio

        auto = _automation()
        work_dir = layout.work_dir(StackRef(project, ".list"))  # no stack is named so: ids are slugs
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "Pulumi.yaml").write_text(yamlio.dump({"name": project, "runtime": "python"}))
        try:
            workspace = auto.LocalWorkspace(work_dir=str(work_dir), env_vars={BACKEND_URL_ENV: layout.backend})
            return sorted(summary.name.rsplit("/", 1)[-1] for summary in workspace.list_stacks())
        except FileNotFoundError as error:
            if "pulumi" in str(error):
                raise PulumiCLIMissing(f"listing the {project} stacks") from None
            raise
        except auto.errors.CommandError as error:
            raise RunFailed(f"listing the {project} stacks failed: {command_output(error).strip()[-500:]}") from None

    def _state_command(self, invocation: Invocation, verb: str, urns: list[str]) -> None:
        """`pulumi state protect|unprotect --yes URN...` (several URNs at once since pulumi 3.170)."""
        if not urns:
            return
        auto = _automation()
        write_work_dir(invocation)
        stack = self._stack(invocation)
        try:
            stack.workspace.pulumi_command.run(
                ["state", verb, "--stack", invocation.stack.name, "--yes", "--non-interactive", *urns],
                str(invocation.work_dir), dict(invocation.env))
        except auto.errors.CommandError as error:
            raise _classify(error, invocation, []) from None

    def resources(self, invocation: Invocation) -> list[Step]:
        auto = _automation()
        write_work_dir(invocation)
        try:
            deployment = self._stack(invocation).export_stack().deployment or {}
        except auto.errors.CommandError as error:
            raise _classify(error, invocation, []) from None
        return [Step("same", item["urn"], item.get("type", ""), bool(item.get("protect")),
                     bool(item.get("retainOnDelete"))) for item in deployment.get("resources") or []]

    @staticmethod
    def _check_packs(invocation: Invocation) -> None:
        from pathlib import Path

        missing = [pack for pack in invocation.policy_packs if not (Path(pack) / "PulumiPolicy.yaml").is_file()]
        if missing and invocation.operation in ("preview", "up"):
            raise RunFailed(f"policy pack(s) missing: {', '.join(missing)}; paybill-iac never runs "
                            f"{invocation.operation} without every pack")

    @staticmethod
    def _stack(invocation: Invocation) -> Any:
        check_program(invocation.program_dir)  # the project's program, or a UsageError naming what is missing
        auto = _automation()
        try:
            options = auto.LocalWorkspaceOptions(work_dir=str(invocation.work_dir), env_vars=dict(invocation.env))
            # a drift check only reads: it never creates the stack it looks at
            select = auto.select_stack if invocation.operation == "preview-refresh" else auto.create_or_select_stack
            return select(invocation.stack.name, work_dir=str(invocation.work_dir), opts=options)
        except auto.errors.StackNotFoundError:
            raise RunFailed(f"{invocation.stack.key} has no stack in the backend: there is nothing to check for drift "
                            "(deploy it first)") from None
        except FileNotFoundError as error:
            if "pulumi" in str(error):
                raise PulumiCLIMissing(f"`{invocation.operation}` of {invocation.stack.key}") from None
            raise
        except auto.errors.CommandError as error:
            raise _classify(error, invocation, []) from None


def _automation() -> Any:
    import pulumi.automation as auto

    return auto


def command_output(error: Exception) -> str:
    """The stdout and stderr of a failed pulumi command, as the CLI wrote them (pulumi.automation's
    CommandError holds them in its text, after ` stdout: ` and ` stderr: `)."""
    text = str(error)
    _, found, rest = text.partition("\n stdout: ")
    if not found:
        return text
    stdout, _, stderr = rest.partition("\n stderr: ")
    return f"{stdout}\n{stderr}"


def _classify(error: Exception, invocation: Invocation, policy: list[str]) -> OperationError:
    auto = _automation()
    output = command_output(error)
    tail = "\n".join(line for line in output.strip().splitlines()[-12:])
    where = f"{invocation.operation} of {invocation.stack.key}"
    if isinstance(error, auto.errors.ConcurrentUpdateError):
        return StackLocked(f"{where}: another update holds the stack's lock in the backend")
    if policy:
        return RunFailed(f"{where} was stopped by policy:\n  " + "\n  ".join(policy))
    reason = transient_reason(output)
    if reason == "lock":
        return StackLocked(f"{where}: another update holds the stack's lock in the backend")
    if reason is not None:
        return TransientFailure(f"{where} failed transiently ({reason}): {tail}")
    return RunFailed(f"{where} failed: {tail}")


def pulumi_children(parent: int | None = None) -> list[int]:
    """The `pulumi` processes whose parent is this process (Linux /proc; [] where it cannot tell)."""
    parent = os.getpid() if parent is None else parent
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stream:
                stat = stream.read()
        except OSError:
            continue
        name = stat[stat.find("(") + 1:stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == parent and name == "pulumi":
            found.append(int(entry))
    return found

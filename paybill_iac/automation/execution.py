"""How one operation runs once the Operator holds its stack's lease and journaled its start.

    human            the operation as invoked
    agent up         a preview saving an update plan, the gates, then `up --plan` of exactly that plan;
                     a refusal is kept as an approval request holding the plan (ApprovalNeeded)
    agent destroy    a destroy preview, the gates, then the destroy
    agent refresh    a refresh preview, the adoption gates (drift on data needs a human), then the refresh
    with approval    exactly what a human approved: for an up, the saved plan (kept in the state database, so
                     any host applies it; checked unchanged by its sha256); for a destroy (a refresh), only if
                     it still deletes (adopts) exactly what was reviewed. Each approval is consumed once, by the
                     actor who requested it, before it expires.
    lifting guards   an up that must delete protected resources (a plan change retiring the old shape):
                     the gate judges what the caller declares it deletes (`Unguard.reviewed`, from the
                     workflow's record: the engine refuses to even preview the deletion of a protected
                     resource), and only once the gate passed, or the approval given for exactly that
                     was consumed, is `protect` lifted; then a preview (saving the plan for an agent)
                     must delete nothing beyond what was reviewed, and the up applies it. A refusal, a
                     failure or an interrupt after the lift sets `protect` again on whatever is left.

Retries (retry.py): lock conflicts and the backend's transient failures, with backoff. An update that
failed after changing resources (`partial`) is never simply run again: a refresh comes first, and an
update bound to a saved plan is not retried at all (the plan no longer matches the state). No retry
once SIGINT or SIGTERM arrived. A missing Pulumi CLI becomes PulumiCLIMissing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from paybill_iac.automation.engine import is_deleting
from paybill_iac.automation.errors import ApprovalNeeded, RetryableFailure, RunFailed
from paybill_iac.automation.gates import AgentBudget, adoption_reasons, gate_reasons, is_agent
from paybill_iac.automation.interrupts import Interruption
from paybill_iac.automation.invocation import Invocation, Layout, StackRef
from paybill_iac.automation.retry import RetryPolicy, with_retries
from paybill_iac.automation.runner import ChangeSummary, RunResult, StackRunner, plan_on_disk
from paybill_iac.automation.store import Approvals
from paybill_iac.automation.store.approvals import Approval, unusable
from paybill_iac.automation.store.fleet_runs import SavedPlans, sha256_text
from paybill_iac.errors import GateRefused, PulumiCLIMissing, UsageError
from paybill_iac.model.words import plural

Gate = Callable[[ChangeSummary], list[str]]
"""A caller's own gate: reasons an agent's previewed change needs a human ([] when it does not)."""

PHASES = {"preview": "preview", "preview-destroy": "preview", "preview-refresh": "preview", "up": "apply",
          "destroy": "apply", "refresh": "refresh"}
PREVIEW_OF = {"destroy": "preview-destroy", "refresh": "preview-refresh"}
"""The preview an agent's destroy or refresh is gated on (an up saves a plan: see `execute`)."""


class Build(Protocol):
    """Builds another invocation of the same catalog (the Operator's `invocation`)."""

    def __call__(self, operation: str, stack: StackRef, *, plan_file: str | None = None,
                 excludes: tuple[str, ...] = ()) -> Invocation: ...


@dataclass(frozen=True)
class Unguard:
    """Protected resources an up deletes on purpose: `protect` is lifted from `urns` only after the gate."""

    urns: tuple[str, ...]
    reviewed: ChangeSummary
    """What the up is declared to delete (the gate judges it; the preview after the lift is held to it)."""


@dataclass(frozen=True)
class Done:
    """What ran: the last run's result, the attempts it took, the approval it consumed."""

    run: RunResult
    attempts: int
    approval: int | None = None
    refreshed: int = 0


@dataclass
class _Attempts:
    refresh: bool = False
    refreshed: int = 0
    notes: list[str] = field(default_factory=list)


class Execution:
    """Runs invocations for one actor: gated when the actor is an agent, retried when worth it."""

    def __init__(self, runner: StackRunner, approvals: Approvals, layout: Layout, *, actor: str,
                 budget: AgentBudget, retry: RetryPolicy, sleep: Callable[[float], None], rng: random.Random,
                 notify: Callable[[str], None]):
        self.runner = runner
        self.approvals = approvals
        self.plans = SavedPlans(approvals.db)  # update plans live in the state database, not on this host
        self.layout = layout
        self.actor = actor
        self.budget = budget
        self.retry = retry
        self.sleep = sleep
        self.rng = rng
        self.notify = notify
        self.interruption = Interruption()
        self.refreshed = 0

    def execute(self, base: Invocation, op_id: str, approval: int | None, gated: Gate | None, build: Build,
                unguard: Unguard | None = None) -> Done:
        """Run `base` as the actor may: see the module docstring. `build` makes the preview invocations."""
        if unguard is not None:
            return self._unguarded(base, op_id, approval, gated, build, unguard)
        if approval is not None:
            return self._approved(base, approval, build)
        operation, stack = base.operation, base.stack
        if not is_agent(self.actor) or operation not in ("up", *PREVIEW_OF):
            return self._done(self.run(base))
        # An agent: preview first (saving the plan for an up), gate, then apply exactly what was previewed.
        with plan_on_disk() as plan_file:  # the CLI writes the plan here; the database keeps it
            if operation == "up":
                preview, _ = self.run(build("preview", stack, plan_file=plan_file, excludes=base.excludes))
                digest = self._save_plan(stack, op_id, plan_file)
            else:
                preview, _ = self.run(build(PREVIEW_OF[operation], stack))
                digest = ""
            reasons = (adoption_reasons if operation == "refresh" else gate_reasons)(stack, preview.summary,
                                                                                     self.budget)
            if gated is not None:
                reasons += gated(preview.summary)
            if reasons:
                self._refuse(base, reasons, preview.summary, op_id if digest else "", digest)
            return self._done(self.run(replace(base, plan_file=plan_file) if operation == "up" else base))

    def run(self, invocation: Invocation) -> tuple[RunResult, int]:
        """Run with retries; returns the result and the attempts it took (see the module on partial updates)."""
        attempts = _Attempts()
        where = f"{invocation.operation} {invocation.stack.key}"

        def action() -> RunResult:
            if attempts.refresh:
                self.interruption.phase = "refresh"
                refresh = replace(invocation, operation="refresh", plan_file=None, targets=(), excludes=(),
                                  message=f"{invocation.message} (refresh after a partial update)")
                self.runner.run(refresh)
                attempts.refresh, attempts.refreshed = False, attempts.refreshed + 1
            self.interruption.phase = PHASES.get(invocation.operation, invocation.operation)
            return self.runner.run(invocation)

        def on_retry(attempt: int, error: Exception, wait: float) -> None:
            self.interruption.check()  # no retry once a signal arrived
            partial = error.partial if isinstance(error, RetryableFailure) else 0
            if partial and invocation.plan_file:
                raise RunFailed(f"{where} changed {plural(partial, 'resource')} before it failed ({error}); "
                                "its saved plan no "
                                "longer matches the stack, so it is not run again: a human refreshes the stack, then "
                                "the operation is previewed and applied anew") from error
            attempts.refresh = bool(partial)
            self.notify(f"{where}: attempt {attempt} failed ({error}); "
                        + ("refreshing, then " if partial else "") + f"retrying in {wait:.1f}s")

        try:
            result, count = with_retries(action, self.retry, sleep=self.sleep, rng=self.rng, on_retry=on_retry)
        except FileNotFoundError as error:
            self.interruption.check()
            if "pulumi" in str(error):
                raise PulumiCLIMissing(f"`{invocation.operation}` of {invocation.stack.key}") from None
            raise
        except Exception:
            self.interruption.check()  # the engine stopped because we told it to: say so, not "failed"
            raise
        self.interruption.check()
        self.refreshed = attempts.refreshed
        return result, count

    def _done(self, ran: tuple[RunResult, int], approval: int | None = None) -> Done:
        return Done(ran[0], ran[1], approval, self.refreshed)

    def _save_plan(self, stack: StackRef, name: str, plan_file: str) -> str:
        """Keep the plan a preview saved in `plan_file` in the database as plan `name` of `stack`; its sha256."""
        try:
            content = Path(plan_file).read_text(encoding="utf-8")
        except OSError as error:
            raise RunFailed(f"the preview of {stack.key} saved no update plan ({error}); nothing was applied") from None
        return self.plans.save(stack.key, name, content, self.actor)

    def _refuse(self, base: Invocation, reasons: list[str], summary: ChangeSummary, plan_name: str,
                plan_sha256: str) -> None:
        """Keep the refused change as an approval request naming its saved plan (`plan_path` holds the plan's
        name in the database, `plan_sha256` its hash), and refuse."""
        stack = base.stack
        request = self.approvals.request(
            stack=stack.key, tenant=stack.tenant_id, operation=base.operation, requested_by=self.actor,
            reasons=reasons, change_summary=summary.as_dict(), plan_path=plan_name, plan_sha256=plan_sha256)
        raise ApprovalNeeded(self.actor, base.operation, stack, reasons, request)

    def _approval(self, base: Invocation, approval_id: int) -> Approval:
        approval = self.approvals.get(approval_id)
        if approval is None:
            raise UsageError(f"no approval request #{approval_id}")
        if approval.stack != base.stack.key or approval.operation != base.operation:
            raise UsageError(f"approval request #{approval_id} is for {approval.operation} of {approval.stack}, "
                             f"not {base.operation} of {base.stack.key}")
        refused = unusable(approval, self.actor, self.approvals.db.clock())
        if refused:
            raise GateRefused(refused)
        return approval

    def _use(self, approval_id: int) -> None:
        if not self.approvals.use(approval_id, self.actor):
            raise GateRefused(f"approval request #{approval_id} was used by another operation")

    def _approved(self, base: Invocation, approval_id: int, build: Build) -> Done:
        operation, stack = base.operation, base.stack
        approval = self._approval(base, approval_id)
        if operation == "up":
            # The plan from the database, on whichever host saved it, applied only if unchanged since review.
            saved = self.plans.load(stack.key, approval.plan_path) if approval.plan_path else None
            if saved is None or not approval.plan_sha256 or sha256_text(saved.content) != approval.plan_sha256:
                raise GateRefused(f"the plan of approval request #{approval_id} (saved plan "
                                  f"'{approval.plan_path}' of {stack.key}) is missing or changed since it was "
                                  "reviewed; nothing was applied")
            self._use(approval_id)
            with plan_on_disk(saved.content) as plan_file:
                return self._done(self.run(replace(base, plan_file=plan_file)), approval_id)
        else:
            # Destroy and refresh have no update plan: they go ahead only if they still delete (adopt) exactly
            # what was reviewed.
            preview, _ = self.run(build(PREVIEW_OF[operation], stack))
            reviewed = ChangeSummary.from_dict(approval.change_summary)
            if preview.summary.changed_urns != reviewed.changed_urns:
                raise GateRefused(f"the {operation} of {stack.key} no longer matches approval request #{approval_id}; "
                                  "nothing was applied")
            apply = base
        self._use(approval_id)
        return self._done(self.run(apply), approval_id)

    def _unguarded(self, base: Invocation, op_id: str, approval: int | None, gated: Gate | None, build: Build,
                   unguard: Unguard) -> Done:
        """An up deleting protected resources on purpose (module docstring, "lifting guards")."""
        stack, reviewed = base.stack, unguard.reviewed
        self.interruption.phase = "gate"
        if approval is not None:
            found = self._approval(base, approval)
            if ChangeSummary.from_dict(found.change_summary).changed_urns != reviewed.changed_urns:
                raise GateRefused(f"approval request #{approval} was given for other deletions than this "
                                  f"{base.operation} of {stack.key} makes; nothing was changed")
            self._use(approval)
        elif is_agent(self.actor):
            reasons = gate_reasons(stack, reviewed, self.budget) + (gated(reviewed) if gated else [])
            if reasons:
                self._refuse(base, reasons, reviewed, "", "")
        agent = is_agent(self.actor)
        with plan_on_disk() as saved_at:
            return self._unprotected(base, approval, build, unguard, saved_at if agent else None)

    def _unprotected(self, base: Invocation, approval: int | None, build: Build, unguard: Unguard,
                     plan_file: str | None) -> Done:
        """Lift `protect`, preview (saving the plan to `plan_file` for an agent), check, apply (`_unguarded`)."""
        stack, reviewed = base.stack, unguard.reviewed
        self.interruption.phase = "unprotect"
        present = {step.urn for step in self.runner.resources(base)}  # a resumed retire may find some gone
        self.runner.unprotect(base, [urn for urn in unguard.urns if urn in present])
        try:
            preview, _ = self.run(build("preview", stack, plan_file=plan_file, excludes=base.excludes))
            allowed = set(reviewed.changed_urns)
            beyond = sorted({step.urn for step in preview.summary.steps
                             if is_deleting(step.op) and step.urn not in allowed})
            if beyond:
                raise GateRefused(f"the {base.operation} of {stack.key} would also delete or replace "
                                  f"{plural(len(beyond), 'resource')} that were not reviewed "
                                  f"({', '.join(beyond[:5])}); "
                                  "nothing was applied and their protection is set again")
            return self._done(self.run(replace(base, plan_file=plan_file) if plan_file else base), approval)
        except BaseException:
            self._protect_again(base, unguard.urns)
            raise

    def _protect_again(self, base: Invocation, urns: tuple[str, ...]) -> None:
        """Set `protect` again on whichever of `urns` the stack still holds (an interrupt waits for it)."""
        self.interruption.phase = "protect"
        closing, self.interruption.closing = self.interruption.closing, True
        try:
            present = {step.urn for step in self.runner.resources(base)}
            left = [urn for urn in urns if urn in present]
            if left:
                self.runner.protect(base, left)
        except Exception as error:  # noqa: BLE001 - the original failure is what the caller must see
            self.notify(f"{base.stack.key}: setting protect again on {plural(len(urns), 'resource')} failed ({error}): "
                        "check the stack by hand")
        finally:
            self.interruption.closing = closing


"""How one operation runs once the Operator holds its stack's lease and journaled its start.

    human            the operation as invoked
    agent up         a preview saving an update plan, the gates, then `up --plan` of exactly that plan;
                     a refusal is kept as an approval request holding the plan (ApprovalNeeded)
    agent destroy    a destroy preview, the gates, then the destroy
    with approval    exactly what a human approved: the saved plan (checked unchanged by its sha256) for
                     an up; for a destroy, only if it still deletes exactly what was reviewed. Each
                     approval is consumed once, by the actor who requested it, before it expires.

Lock conflicts and transient failures are retried with backoff (retry.py); a missing Pulumi CLI
becomes PulumiCLIMissing.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from paybill_iac.automation.errors import ApprovalNeeded
from paybill_iac.automation.gates import AgentBudget, gate_reasons, is_agent
from paybill_iac.automation.invocation import Invocation, Layout, StackRef
from paybill_iac.automation.retry import RetryPolicy, with_retries
from paybill_iac.automation.runner import ChangeSummary, RunResult, StackRunner
from paybill_iac.automation.store import Approvals
from paybill_iac.automation.store.approvals import unusable
from paybill_iac.errors import GateRefused, PulumiCLIMissing, UsageError

Gate = Callable[[ChangeSummary], list[str]]
"""A caller's own gate: reasons an agent's previewed change needs a human ([] when it does not)."""


class Build(Protocol):
    """Builds another invocation of the same catalog (the Operator's `invocation`)."""

    def __call__(self, operation: str, stack: StackRef, *, plan_file: str | None = None,
                 excludes: tuple[str, ...] = ()) -> Invocation: ...


@dataclass(frozen=True)
class Done:
    """What ran: the last run's result, the attempts it took, the approval it consumed."""

    run: RunResult
    attempts: int
    approval: int | None = None


class Execution:
    """Runs invocations for one actor: gated when the actor is an agent, retried when worth it."""

    def __init__(self, runner: StackRunner, approvals: Approvals, layout: Layout, *, actor: str,
                 budget: AgentBudget, retry: RetryPolicy, sleep: Callable[[float], None], rng: random.Random,
                 notify: Callable[[str], None]):
        self.runner = runner
        self.approvals = approvals
        self.layout = layout
        self.actor = actor
        self.budget = budget
        self.retry = retry
        self.sleep = sleep
        self.rng = rng
        self.notify = notify

    def execute(self, base: Invocation, op_id: str, approval: int | None, gated: Gate | None,
                build: Build) -> Done:
        """Run `base` as the actor may: see the module docstring. `build` makes the preview invocations."""
        if approval is not None:
            return self._approved(base, approval, build)
        operation, stack = base.operation, base.stack
        if not is_agent(self.actor) or operation not in ("up", "destroy"):
            return Done(*self.run(base))
        # An agent: preview first (saving the plan for an up), gate, then apply exactly what was previewed.
        if operation == "up":
            plan_file = str(self.layout.plan_file(stack, op_id))
            preview_inv = build("preview", stack, plan_file=plan_file, excludes=base.excludes)
        else:
            plan_file = ""
            preview_inv = build("preview-destroy", stack)
        preview, _ = self.run(preview_inv)
        reasons = gate_reasons(stack, preview.summary, self.budget)
        if gated is not None:
            reasons += gated(preview.summary)
        if reasons:
            request = self.approvals.request(
                stack=stack.key, tenant=stack.tenant_id, operation=operation, requested_by=self.actor,
                reasons=reasons, change_summary=preview.summary.as_dict(), plan_path=plan_file,
                plan_sha256=_sha256(plan_file))
            raise ApprovalNeeded(self.actor, operation, stack, reasons, request)
        apply = replace(base, plan_file=plan_file) if operation == "up" else base
        return Done(*self.run(apply))

    def run(self, invocation: Invocation) -> tuple[RunResult, int]:
        """Run with retries; returns the result and the attempts it took."""

        def notify(attempt: int, error: Exception, wait: float) -> None:
            self.notify(f"{invocation.operation} {invocation.stack.key}: attempt {attempt} failed ({error}); "
                        f"retrying in {wait:.1f}s")

        try:
            return with_retries(lambda: self.runner.run(invocation), self.retry, sleep=self.sleep, rng=self.rng,
                                on_retry=notify)
        except FileNotFoundError as error:
            if "pulumi" in str(error):
                raise PulumiCLIMissing(f"`{invocation.operation}` of {invocation.stack.key}") from None
            raise

    def _approved(self, base: Invocation, approval_id: int, build: Build) -> Done:
        operation, stack = base.operation, base.stack
        approval = self.approvals.get(approval_id)
        if approval is None:
            raise UsageError(f"no approval request #{approval_id}")
        if approval.stack != stack.key or approval.operation != operation:
            raise UsageError(f"approval request #{approval_id} is for {approval.operation} of {approval.stack}, "
                             f"not {operation} of {stack.key}")
        refused = unusable(approval, self.actor, self.approvals.db.clock())
        if refused:
            raise GateRefused(refused)
        if operation == "up":
            if not approval.plan_sha256 or _sha256(approval.plan_path) != approval.plan_sha256:
                raise GateRefused(f"the plan of approval request #{approval_id} ({approval.plan_path}) is missing "
                                  "or changed since it was reviewed; nothing was applied")
            apply = replace(base, plan_file=approval.plan_path)
        else:
            # Destroy has no update plan: it goes ahead only if it still deletes exactly what was reviewed.
            preview, _ = self.run(build("preview-destroy", stack))
            reviewed = ChangeSummary.from_dict(approval.change_summary)
            if preview.summary.changed_urns != reviewed.changed_urns:
                raise GateRefused(f"the destroy of {stack.key} no longer matches approval request #{approval_id}; "
                                  "nothing was applied")
            apply = base
        if not self.approvals.use(approval_id, self.actor):
            raise GateRefused(f"approval request #{approval_id} was used by another operation")
        run, attempts = self.run(apply)
        return Done(run, attempts, approval_id)


def _sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""

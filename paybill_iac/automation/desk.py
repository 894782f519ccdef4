"""What waits for a human, as the Operator offers it: the review (crash scan, flags, pending approvals,
retention ended), approving and rejecting an agent's request, clearing a stack a human checked, the
journal. A mixin of the Operator (operator.py), kept apart so that each module stays about one thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from paybill_iac.automation.gates import is_human
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.store import Approval, JournalEntry, Retained, ReviewFlag, Store, Workflow, workflow_key
from paybill_iac.errors import GateRefused, UsageError


@dataclass(frozen=True)
class Review:
    """What needs a human: flagged stacks, pending approvals, retained data whose retention ended."""

    flags: list[ReviewFlag]
    approvals: list[Approval]
    retention_ended: list[Retained]
    found_now: list[ReviewFlag]
    stopped: list[Workflow] = field(default_factory=list)
    """Lifecycle workflows that stopped half-way (no live workflow lease): they keep their tenant from every
    change but their own until someone runs them again, with the same arguments."""

    @property
    def empty(self) -> bool:
        return not (self.flags or self.approvals or self.retention_ended)


class HumanDesk:
    """The Operator's methods for people (it provides `store`, `actor`, `notify` and `scan_grace`)."""

    store: Store
    actor: str
    notify: Callable[[str], None]
    scan_grace: float

    def scan(self) -> list[ReviewFlag]:
        """The crash scan (store.scan): flags newly raised, each also sent to `notify`."""
        found = self.store.scan(self.scan_grace)
        for flag in found:
            self.notify(f"stack {flag.stack} flagged for review: {flag.reason}")
        return found

    def clock(self) -> float:
        """The state database's time (what leases, approvals and retention are judged by)."""
        return self.store.db.clock()

    def review(self) -> Review:
        """Scan for crashed operations, then list everything waiting for a human."""
        found = self.scan()
        now = self.clock()
        due = [item for item in self.store.retained.find() if item.retain_until <= now]
        stopped = [workflow for workflow in self.store.workflows.all_running()
                   if (lease := self.store.leases.get(workflow_key(workflow.tenant))) is None or lease.expired(now)]
        return Review(self.store.flags.find(), self.store.approvals.find(status="pending"), due, found, stopped)

    def approve(self, approval_id: int) -> Approval:
        """A human other than the requester approves an agent's reviewed change (its saved plan) before the
        request expires; only its requester can then apply it, once."""
        self._require_human("approve a change")
        return self.store.approvals.decide(approval_id, self.actor, approve=True)

    def reject(self, approval_id: int) -> Approval:
        """A human other than the requester rejects a pending request: it never applies."""
        self._require_human("reject a change")
        return self.store.approvals.decide(approval_id, self.actor, approve=False)

    def clear_review(self, stack_key: str) -> int:
        """A human clears a stack's review flags after checking it; returns how many were cleared."""
        self._require_human("clear a review flag")
        try:
            stack = StackRef.parse(stack_key)
        except ValueError as error:
            raise UsageError(str(error)) from None
        cleared = self.store.clear(stack.key, self.actor)
        if not cleared:
            raise UsageError(f"stack {stack.key} has no open review flag")
        return cleared

    def journal(self, *, tenant: str | None = None, stack: str | None = None,
                limit: int | None = 50) -> list[JournalEntry]:
        """Operations, newest first; `stack` as tenant/<id> or cell/<id>."""
        key = StackRef.parse(stack).key if stack else None
        return self.store.journal.entries(tenant=tenant, stack=key, limit=limit)

    def _require_human(self, what: str) -> None:
        if not is_human(self.actor):
            raise GateRefused(f"only a human may {what}; the actor is {self.actor}")

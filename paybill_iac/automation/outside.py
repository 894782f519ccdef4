"""A step of a lifecycle workflow that Pulumi does not take (a data-plane operation on the tenant's database, a
cloud CLI command such as an on-demand backup or emptying a bucket), run like a stack operation: the crash
scan, the review flags, the stack's lease (renewed while it runs), the journal (start, then an end with what
it did), and, for an agent, a human's approval of exactly what it does when the step gives `reasons`.

    run_outside_step(store, stack, operation, call, ..., reviewed=, summarize=, failed=)
        `call()` runs once the lease is held; `summarize(result)` is the journal's change summary of it;
        `failed(error)` wraps a PaybillError the call raised (the step's own error type); `reviewed` is what
        an approval is given for (the request holds it, and it must still match when the approval is used).
        An interrupt (SIGINT, SIGTERM, KeyboardInterrupt) is journaled and the stack flagged for review.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from paybill_iac.automation.errors import ApprovalNeeded, NeedsReview
from paybill_iac.automation.gates import is_agent
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.store import Heartbeat, Store, new_owner
from paybill_iac.automation.store.approvals import unusable
from paybill_iac.errors import GateRefused, LeaseHeld, PaybillError, UsageError

Result = TypeVar("Result")


def use_approval(store: Store, approval_id: int, stack: StackRef, operation: str, reviewed: dict[str, Any] | None,
                 actor: str, *, consume: bool = True) -> None:
    """Check that approval `approval_id` is usable by `actor` for `operation` on `stack` (and was given for
    `reviewed`, unless None), and use it up unless `consume` is False (a workflow checks first, and the step
    it was requested for consumes it)."""
    approval = store.approvals.get(approval_id)
    if approval is None:
        raise UsageError(f"no approval request #{approval_id}")
    if approval.stack != stack.key or approval.operation != operation:
        raise UsageError(f"approval request #{approval_id} is for {approval.operation} of {approval.stack}, "
                         f"not {operation} of {stack.key}")
    refused = unusable(approval, actor, store.db.clock())
    if refused:
        raise GateRefused(refused)
    if reviewed is not None and approval.change_summary != reviewed:
        raise GateRefused(f"{operation} of {stack.key} no longer matches approval request #{approval_id} (what it "
                          "acts on changed since the review); nothing was run")
    if consume and not store.approvals.use(approval_id, actor):
        raise GateRefused(f"approval request #{approval_id} was used by another operation")


def run_outside_step(store: Store, stack: StackRef, operation: str, call: Callable[[], Result], *, actor: str,
                     lease_ttl: float, recover: Callable[[], object], details: dict[str, Any],
                     reviewed: dict[str, Any], summarize: Callable[[Result], dict[str, Any]],
                     failed: Callable[[PaybillError], Exception], interrupted: str, phase: str,
                     approval: int | None = None, reasons: list[str] | None = None, then: str | None = None,
                     workflow_owner: str | None = None) -> tuple[str, Result]:
    """Run `call` as `operation` on `stack` (see the module); returns its journal id and result. `interrupted`
    says what an interrupt may have left half-way (the review flag's reason), `phase` names the phase."""
    op_id, owner = uuid.uuid4().hex, new_owner()
    journal = store.journal
    recover()
    flags = store.flags.find(stack=stack.key)
    if flags:
        error = NeedsReview(f"stack {stack.key} needs review before any operation: {flags[0].reason}. A human "
                            f"checks it, then clears it with `paybill-iac review --clear {stack.key}`")
        journal.refusal(op_id=op_id, actor=actor, stack=stack.key, tenant=stack.tenant_id, operation=operation,
                        owner=owner, result="needs-review", error=str(error), details=details)
        raise error
    why = list(reasons or [])
    gated = bool(why) and is_agent(actor)
    reviewed = {**reviewed, "reasons": why}
    if gated and approval is None:
        request = store.approvals.request(
            stack=stack.key, tenant=stack.tenant_id, operation=operation, requested_by=actor, reasons=why,
            change_summary=reviewed, plan_path="", plan_sha256="")
        refusal = ApprovalNeeded(actor, operation, stack, why, request,
                                 then=then.format(approval=request) if then else None)
        journal.refusal(op_id=op_id, actor=actor, stack=stack.key, tenant=stack.tenant_id, operation=operation,
                        owner=owner, result="refused", error=str(refusal),
                        details={**details, "approval_requested": request})
        raise refusal
    if gated:
        details = {**details, "approval": approval}
    try:
        store.leases.acquire(stack.key, owner, operation, actor, lease_ttl, tenant=stack.tenant_id,
                             workflow_owner=workflow_owner)
    except (LeaseHeld, NeedsReview) as busy:
        journal.refusal(op_id=op_id, actor=actor, stack=stack.key, tenant=stack.tenant_id, operation=operation,
                        owner=owner, result="busy" if isinstance(busy, LeaseHeld) else "needs-review",
                        error=str(busy), details=details)
        raise
    heartbeat = Heartbeat(store.leases, stack.key, owner, lease_ttl)
    try:
        journal.start(op_id=op_id, actor=actor, stack=stack.key, tenant=stack.tenant_id, operation=operation,
                      owner=owner, details=details)
        heartbeat.start()
        if gated and approval is not None:
            try:
                use_approval(store, approval, stack, operation, reviewed, actor)
            except PaybillError as refusal:
                journal.end(op_id=op_id, result="refused", error=str(refusal))
                raise
        try:
            result = call()
        except PaybillError as failure:
            journal.end(op_id=op_id, result="failed", error=str(failure))
            raise failed(failure) from failure
        except Exception as failure:
            journal.end(op_id=op_id, result="failed", error=f"{type(failure).__name__}: {failure}")
            raise
        except BaseException as stopped:  # the step was stopped half-way: a human looks first
            journal.end(op_id=op_id, result="interrupted", error=f"{type(stopped).__name__}: {stopped}",
                        details={"phase": phase})
            store.flags.add(stack.key, f"{operation} by {actor} was interrupted ({type(stopped).__name__}): "
                                       f"{interrupted}; run the step again", op_id)
            raise
        journal.end(op_id=op_id, result="succeeded", change_summary=summarize(result))
        return op_id, result
    finally:
        heartbeat.stop()
        store.leases.release(stack.key, owner)

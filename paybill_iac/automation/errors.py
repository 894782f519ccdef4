"""The automation layer's exceptions. They extend the tree drawn in `paybill_iac.errors`:

    OperationError                (paybill_iac.errors) a stack operation failed; exit code 1
    ├── LeaseHeld                 (paybill_iac.errors) another operation holds the stack's lease
    │   └── WorkflowBusy          a lifecycle workflow holds the tenant (named with its step)
    ├── GateRefused               (paybill_iac.errors) an agent's change was refused
    │   └── ApprovalNeeded        ... until a human approves request `approval_id` (its plan is saved)
    ├── NeedsReview               the stack is flagged for a human (a crashed operation, an expired lease)
    ├── DataPlaneFailed           a data-plane step (db-apply, db-suspend...) failed; `cause` is the
    │                             paybill_iac.dataplane error naming the tenant, cell and endpoint
    ├── RunFailed                 the runner failed for a reason a retry will not fix
    └── RetryableFailure          the runner failed for a reason worth retrying; `attempts` says how often
        ├── StackLocked           the backend reports a concurrent update (ConcurrentUpdateError)
        └── TransientFailure      the backend's 429 or 5xx

    KeyboardInterrupt
    └── OperationInterrupted      SIGINT or SIGTERM stopped an operation; the journal says so, with its phase

This module imports nothing of the automation layer, so every other module may import it.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from paybill_iac.errors import GateRefused, LeaseHeld, OperationError

if TYPE_CHECKING:
    from paybill_iac.automation.invocation import StackRef

__all__ = ["ApprovalNeeded", "DataPlaneFailed", "NeedsReview", "OperationInterrupted", "RetryableFailure", "RunFailed",
           "StackLocked", "TransientFailure", "WorkflowBusy"]


class NeedsReview(OperationError):
    """The stack is flagged for human review (a crashed operation, an expired lease)."""


class DataPlaneFailed(OperationError):
    """A data-plane step failed. The step can be run again: every data-plane operation completes
    whatever a failed run left. The exit code is the cause's (2 for bad input, else 1)."""

    def __init__(self, message: str, cause: Exception):
        super().__init__(message)
        self.cause = cause
        self.exit_code = int(getattr(cause, "exit_code", 1))


class RunFailed(OperationError):
    """The operation failed for a reason a retry will not fix (a policy violation, a program error, a cloud
    refusal)."""


class RetryableFailure(OperationError):
    """A failure worth retrying; `attempts` is how many attempts were made when it was finally raised.
    `partial`: how many resources the failed update had already changed (0: none), in which case another
    attempt starts with a refresh, or not at all (an update bound to a saved plan)."""

    attempts: int = 1
    partial: int = 0


class WorkflowBusy(LeaseHeld):
    """A lifecycle workflow holds the tenant (it runs now, or it stopped half-way and waits to be resumed);
    the message names the workflow, its step and how to carry it on."""


class OperationInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped an operation. The journal entry ended as `interrupted` with its phase
    (preview, apply...), the lease was released, and the `pulumi` child was told to stop."""

    def __init__(self, signum: int, phase: str = ""):
        self.signum = signum
        self.phase = phase
        super().__init__(f"{signal.Signals(signum).name} during {phase or 'the operation'}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StackLocked(RetryableFailure):
    """The backend reports a concurrent update on the stack (pulumi ConcurrentUpdateError)."""


class TransientFailure(RetryableFailure):
    """A failure worth retrying: network, throttling, a service briefly unavailable."""


class ApprovalNeeded(GateRefused):
    """An agent's change needs a human approval; `approval_id` is the request holding the plan."""

    def __init__(self, actor: str, operation: str, stack: StackRef, reasons: list[str], approval_id: int,
                 *, then: str | None = None):
        """`then` is what the agent runs once approved (default: the stack command applying the saved plan)."""
        self.approval_id = approval_id
        self.reasons = reasons
        listed = "; ".join(reasons)
        then = then or (f"`paybill-iac {operation} --{stack.kind} {stack.name} --approval {approval_id}` applies "
                        "exactly that plan")
        super().__init__(
            f"{actor}'s {operation} of {stack.key} is refused: {listed}. It needs a human approval of request "
            f"#{approval_id} (what was reviewed is saved with it): a human runs `paybill-iac review --approve "
            f"{approval_id}`, then {then}"
        )

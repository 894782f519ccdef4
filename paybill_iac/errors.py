"""The exceptions paybill-iac raises. Every user-facing failure is one of these.

    PaybillError                  base: the CLI prints it and exits non-zero, never a traceback
    ├── CatalogError              the catalog is invalid; carries every CatalogIssue found in one run
    ├── UsageError                a command was called wrongly (unknown tenant, bad flag value)
    ├── TransitionError           a lifecycle transition the rules do not allow
    ├── SpecError                 a stack's config does not read back into its spec
    ├── PulumiCLIMissing          an operation needs the Pulumi CLI and it is not on PATH
    └── OperationError            a stack operation failed (automation layer)
        ├── LeaseHeld             another operation holds the stack's lease
        └── GateRefused           an agent's change needs a human approval first
"""

from __future__ import annotations

from paybill_iac.model.errors import CatalogError, CatalogIssue, PaybillError, SpecError, TransitionError

__all__ = ["CatalogError", "CatalogIssue", "PaybillError", "SpecError", "TransitionError", "UsageError",
           "PulumiCLIMissing", "OperationError", "LeaseHeld", "GateRefused"]


class UsageError(PaybillError):
    """A command was called with arguments that cannot work."""

    exit_code = 2


class PulumiCLIMissing(PaybillError):
    """The Pulumi CLI is needed and not installed."""

    exit_code = 2

    def __init__(self, what: str = "this operation"):
        super().__init__(
            f"{what} needs the Pulumi CLI, which is not on PATH. Install it "
            "(https://www.pulumi.com/docs/install/, e.g. `curl -fsSL https://get.pulumi.com | sh`) "
            "and retry. `paybill-iac preview` works offline without it."
        )


class OperationError(PaybillError):
    """A stack operation failed."""

    exit_code = 1


class LeaseHeld(OperationError):
    """Another operation holds the stack's lease."""


class GateRefused(OperationError):
    """An agent's change was refused until a human approves it."""

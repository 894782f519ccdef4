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
           "PulumiCLIMissing", "OperationError", "LeaseHeld", "GateRefused", "path_problem"]

# What to do about each kind of path failure (an OSError subclass), said to the user.
_PATH_FIXES: tuple[tuple[type[OSError], str], ...] = (
    (PermissionError, "not allowed: check its owner and permissions, or choose another path"),
    (FileNotFoundError, "does not exist: check the path (relative paths start at the working directory, or at -C)"),
    (NotADirectoryError, "a file is where a folder is expected: remove or rename it, or choose another path"),
    (IsADirectoryError, "a folder is where a file is expected: choose a file path"),
    (FileExistsError, "already exists and is not a folder: remove or rename it, or choose another path"),
)


def path_problem(error: OSError) -> str:
    """An OSError on a path as a sentence naming the path and what to do: a user error (exit 2), not a bug."""
    path = error.filename if error.filename2 is None else f"{error.filename} -> {error.filename2}"
    fix = next((text for kind, text in _PATH_FIXES if isinstance(error, kind)), "check the path and the disk")
    return f"{path}: {error.strerror or type(error).__name__}: {fix}"


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

"""The exceptions paybill-iac raises. Every user-facing failure is one of these.

    PaybillError                  base: the CLI prints it and exits non-zero, never a traceback
    ├── CatalogError              the catalog is invalid; carries every CatalogIssue found in one run
    ├── UsageError                a command was called wrongly (unknown tenant, bad flag value)
    ├── TransitionError           a lifecycle transition the rules do not allow
    ├── PulumiCLIMissing          an operation needs the Pulumi CLI and it is not on PATH
    └── OperationError            a stack operation failed (automation layer)
        ├── LeaseHeld             another operation holds the stack's lease
        └── GateRefused           an agent's change needs a human approval first
"""

from __future__ import annotations

from dataclasses import dataclass


class PaybillError(Exception):
    """Base of every error paybill-iac reports to a user."""

    exit_code = 2


@dataclass(frozen=True, order=True)
class CatalogIssue:
    """One problem found in the catalog: where it is and what is wrong, in words a person reads."""

    file: str
    kind: str  # "tenant", "plan", "cell", "catalog"
    id: str  # the tenant, plan or cell id ("" when the file has none yet)
    field: str  # dotted path of the field ("" for the whole file)
    message: str

    def __str__(self) -> str:
        where = f"{self.kind} '{self.id}'" if self.id else self.kind
        field = f", field '{self.field}'" if self.field else ""
        return f"{self.file}: {where}{field}: {self.message}"


class CatalogError(PaybillError):
    """The catalog is invalid. `issues` lists every problem found, sorted by file."""

    exit_code = 1

    def __init__(self, issues: list[CatalogIssue]):
        self.issues = sorted(set(issues))
        count = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"the catalog has {count} error{'s' if count != 1 else ''}:\n{lines}")


class UsageError(PaybillError):
    """A command was called with arguments that cannot work."""

    exit_code = 2


class TransitionError(PaybillError):
    """A lifecycle transition the catalog's rules do not allow."""

    exit_code = 1


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

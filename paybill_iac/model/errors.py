"""The model's exceptions; `paybill_iac.errors` draws the whole tree and re-exports these.

    PaybillError          base of every error reported to a user (the CLI prints it, exit_code)
    ├── CatalogError      the catalog is invalid; carries every CatalogIssue found in one run
    ├── SpecError         a stack's config cannot be read back into its spec (names stack and key)
    └── TransitionError   a lifecycle transition the rules do not allow
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill_iac.model.words import plural


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
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"the catalog has {plural(len(self.issues), 'error')}:\n{lines}")


class TransitionError(PaybillError):
    """A lifecycle transition the catalog's rules do not allow."""

    exit_code = 1


class SpecError(PaybillError):
    """A stack's config is missing a key, has a wrong type or was edited by hand."""

    exit_code = 2

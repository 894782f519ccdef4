"""The data plane's exceptions. Every one names where it happened (tenant, cell, endpoint host:port)
as far as that is known, and none ever carries a password, a password verifier or an access token.

    PaybillError                      (paybill_iac.errors) the CLI prints it and exits non-zero
    └── DataPlaneError                base: "tenant 'acme' (cell 'cell-a', 10.0.0.5:5432): <what>"
        ├── InvalidInput              an input does not fit: an identifier too long or reserved, an
        │                             authentication that does not match the cloud, a bad object id,
        │                             an admin URL carrying a password
        ├── SecretError               the secret store
        │   ├── SecretMissing         the named secret is not in the store (or has no such field)
        │   └── SecretStoreUnavailable  the store cannot be used here (its SDK is not installed,
        │                             it is read-only, the cloud call failed)
        ├── ServerUnreachable         no session with the server: down, refused, timed out, the
        │                             admin's login refused
        ├── StatementFailed           a statement failed; carries the step and its redacted SQL
        ├── AuthMappingMissing        the cloud's side of a login is missing: the `rds_iam` role,
        │                             the `pgaadauth_*` functions, the Cloud SQL IAM user
        ├── LockHeld                  another data-plane operation on the same tenant database runs
        └── DumpFailed                the offboarding dump hook failed (logins stay revoked)
"""

from __future__ import annotations

from paybill_iac.errors import PaybillError

__all__ = [
    "AuthMappingMissing",
    "DataPlaneError",
    "DumpFailed",
    "InvalidInput",
    "LockHeld",
    "SecretError",
    "SecretMissing",
    "SecretStoreUnavailable",
    "ServerUnreachable",
    "StatementFailed",
]


class DataPlaneError(PaybillError):
    """A data-plane operation failed. `reason` says what; `tenant`, `cell` and `endpoint` say where.

    Errors raised below the executor (a secret store, an input check) may not know the tenant yet:
    the executor fills the context in with `locate(...)` before the error leaves the module.
    """

    exit_code = 1

    def __init__(
        self, reason: str, *, tenant: str | None = None, cell: str | None = None, endpoint: str | None = None
    ) -> None:
        self.reason = reason
        self.tenant = tenant
        self.cell = cell
        self.endpoint = endpoint
        super().__init__(self._render())

    def _render(self) -> str:
        if self.tenant is None and self.endpoint is None:
            return self.reason
        where = [f"cell '{self.cell}'" if self.cell else "no cell"]
        if self.endpoint:
            where.append(self.endpoint)
        who = f"tenant '{self.tenant}'" if self.tenant else "data plane"
        return f"{who} ({', '.join(where)}): {self.reason}"

    def locate(self, tenant: str, cell: str | None, endpoint: str | None) -> DataPlaneError:
        """Fill in the tenant, cell and endpoint where they are not known yet; returns self."""
        if self.tenant is None:
            self.tenant, self.cell = tenant, cell
        if self.endpoint is None:
            self.endpoint = endpoint
        self.args = (self._render(),)
        return self


class InvalidInput(DataPlaneError):
    """An input to the data plane cannot work (names the field and the value received)."""

    exit_code = 2


class SecretError(DataPlaneError):
    """The secret store could not give or keep a secret."""


class SecretMissing(SecretError):
    """The named secret is not in the store."""


class SecretStoreUnavailable(SecretError):
    """The store cannot be used here: its SDK is missing, it is read-only, or the cloud call failed."""


class ServerUnreachable(DataPlaneError):
    """No session could be opened with the PostgreSQL server."""


class StatementFailed(DataPlaneError):
    """A statement failed. `step` is the step's name; `statement` its SQL with every secret redacted."""

    def __init__(
        self, reason: str, *, step: str, statement: str, sqlstate: str | None = None,
        tenant: str | None = None, cell: str | None = None, endpoint: str | None = None,
    ) -> None:
        self.step = step
        self.statement = statement
        self.sqlstate = sqlstate
        super().__init__(reason, tenant=tenant, cell=cell, endpoint=endpoint)


class AuthMappingMissing(DataPlaneError):
    """The cloud's side of a tenant login is not there (rds_iam, pgaadauth, the Cloud SQL IAM user)."""


class LockHeld(DataPlaneError):
    """Another data-plane operation holds the tenant database's lock."""


class DumpFailed(DataPlaneError):
    """The final dump hook failed; the tenant's logins stay revoked and the database is kept."""

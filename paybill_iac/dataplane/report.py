"""What the data plane hands back: a `DataPlaneReport` per operation (which steps did something and
which were already in place, with the redacted SQL that ran) and a `TenantDatabaseStatus` for
`status`. Neither ever holds a password: statements are the redacted review text."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DataPlaneReport:
    """The outcome of one operation on one tenant database.

    changed     step names that did something (in order); empty when everything was in place
    unchanged   step names that were already in place
    statements  the SQL that ran (or, with dry_run, would run), secrets shown as '***'
    notes       facts worth a person's attention (sessions terminated, a dump taken, what is left)
    """

    operation: str
    tenant: str
    cell: str | None
    endpoint: str
    database: str
    dry_run: bool = False
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    statements: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def changed_anything(self) -> bool:
        return bool(self.changed)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changed_anything"] = self.changed_anything
        return data

    def summary(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        what = ", ".join(self.changed) if self.changed else "nothing (everything already in place)"
        return f"{self.operation} tenant '{self.tenant}' database '{self.database}' on {self.endpoint}: {verb} {what}"


@dataclass(frozen=True)
class LoginStatus:
    role: str
    exists: bool
    can_login: bool | None = None
    connection_limit: int | None = None
    open_sessions: int = 0
    member_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class TenantDatabaseStatus:
    """A read-only look at one tenant database. `None` means "could not be seen from here"."""

    tenant: str
    cell: str | None
    endpoint: str
    cloud: str
    database: str
    database_exists: bool
    owner: str | None
    owner_role_exists: bool
    public_privileges: tuple[str, ...]
    logins: tuple[LoginStatus, ...]
    open_sessions: int
    auth: str  # what the cloud's mapping is, in words
    auth_mapping_present: bool | None
    schema_public_owner: str | None = None
    schema_public_open_to_public: bool | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["healthy"] = self.healthy
        return data

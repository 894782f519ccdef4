"""Who may call the control-plane service: principals (a person or an agent, a role, the tenants it may
touch, its change budget) and their bearer tokens. The database keeps a SHA-256 hash of each token's
secret, never the token: `create_token` returns it once.

A token reads `pbt_<id>_<secret>`: the id (16 hex) finds the row, the secret (32 random bytes, base64url)
is compared by hash in constant time. A token is valid until it expires or is revoked. A principal's
tokens share its attributes; `create_token` for an existing principal must repeat them (it never widens
a principal silently).

    Principals(db)
        create_token(name, kind=, role=, tenants=, max_changes=, expires_at=, created_by=) -> (token, Token)
        authenticate(token) -> Principal | None        (None: malformed, unknown, wrong, expired, revoked)
        tokens() -> list[Token]; principal(name) -> Principal | None
        revoke(token_id=None, principal=None, by=) -> int
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Float, ForeignKey, Integer, String, Table, Text, and_, insert, select, update

from paybill_iac.automation.store.db import Database, metadata
from paybill_iac.automation.store.reads import rows
from paybill_iac.errors import UsageError
from paybill_iac.model.naming import id_problem

KINDS = ("human", "agent")
ROLES = ("viewer", "operator", "approver", "admin")
DEFAULT_MAX_CHANGES = 10
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
CLOUDS = ("aws", "azure", "gcp", "oci")
_TOKEN = re.compile(r"^pbt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_DUMMY = hashlib.sha256(b"paybill-no-such-token").hexdigest()
_AUTHENTICATE = ("SELECT t.secret_sha256, t.expires_at, t.revoked_at, p.name, p.kind, p.role, p.tenants, "
                 "p.max_changes, p.created_at, p.created_by{now} FROM paybill_tokens t "
                 "JOIN paybill_principals p ON p.name = t.principal WHERE t.id = :token_id")
_DB_NOW = ", EXTRACT(EPOCH FROM clock_timestamp())::float8 AS now"  # PostgreSQL's time, in the same round trip

principals_table = Table(
    "paybill_principals", metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),  # human | agent
    Column("role", String(12), nullable=False),  # viewer | operator | approver | admin
    Column("tenants", Text, nullable=False),  # JSON list of selectors
    Column("max_changes", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(120), nullable=False),
)

tokens_table = Table(
    "paybill_tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("principal", String(64), ForeignKey("paybill_principals.name"), nullable=False, index=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(120), nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    Column("revoked_by", String(120), nullable=True),
)


@dataclass(frozen=True)
class Principal:
    """A caller of the service: its identity comes from its token, never from a request."""

    name: str
    kind: str
    role: str
    tenants: tuple[str, ...]
    max_changes: int
    created_at: float = 0.0
    created_by: str = ""
    token_id: str = ""
    """The token this principal authenticated with ("" when not from a token)."""

    @property
    def actor(self) -> str:
        """What the journal and approvals record: `human:<name>` or `agent:<name>`."""
        return f"{self.kind}:{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "role": self.role, "tenants": list(self.tenants),
                "max_changes": self.max_changes, "actor": self.actor}


@dataclass(frozen=True)
class Token:
    """A token's record (never its secret)."""

    id: str
    principal: Principal
    created_at: float
    created_by: str
    expires_at: float | None
    revoked_at: float | None = None
    revoked_by: str | None = None

    def state(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "valid"


def check_principal(name: str, kind: str, role: str, tenants: list[str] | tuple[str, ...],
                    max_changes: int) -> None:
    """Refuse attributes that cannot make a sound principal (UsageError naming the value)."""
    if not NAME.fullmatch(name):
        raise UsageError(f"principal '{name}': a name has lowercase letters, digits, . _ - (at most 63)")
    if kind not in KINDS:
        raise UsageError(f"kind '{kind}' is not one of {', '.join(KINDS)}")
    if role not in ROLES:
        raise UsageError(f"role '{role}' is not one of {', '.join(ROLES)}")
    if kind == "agent" and role in ("approver", "admin"):
        raise UsageError(f"an agent cannot have the {role} role: approvals are given by a human other than the "
                         "requester")
    if kind == "agent" and not tenants:
        raise UsageError("an agent's token names the tenants it may touch: --tenants ID|plan:ID|cloud:ID|cell:ID "
                         "(or '*' for all, explicitly)")
    for selector in tenants:
        kind_of, _, value = selector.partition(":") if ":" in selector else ("", "", selector)
        if not (selector == "*" or (kind_of == "cloud" and value in CLOUDS)
                or (kind_of in ("", "plan", "cell") and id_problem(value) is None)):
            raise UsageError(f"tenant selector '{selector}' is not a tenant id, plan:ID, cloud:aws|azure|gcp|oci, "
                             "cell:ID or *")
    if not 0 <= max_changes <= 10_000:
        raise UsageError(f"--max-changes {max_changes}: between 0 and 10000")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Principals:
    """Principals and their tokens."""

    def __init__(self, db: Database):
        self.db = db

    def create_token(self, name: str, *, kind: str, role: str, tenants: list[str] | tuple[str, ...] = (),
                     max_changes: int = DEFAULT_MAX_CHANGES, expires_at: float | None = None,
                     created_by: str) -> tuple[str, Token]:
        """A new token for principal `name` (created with these attributes, or which has exactly them).
        Returns the token (shown once; only its hash is kept) and its record."""
        selectors = tuple(dict.fromkeys(tenants or (("*",) if kind == "human" else ())))
        check_principal(name, kind, role, selectors, max_changes)
        now = self.db.clock()
        if expires_at is not None and expires_at <= now:
            raise UsageError("the token would be expired already: give a positive --expires")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.db.transaction() as conn:
            row = conn.execute(select(principals_table).where(principals_table.c.name == name)).mappings().first()
            if row is None:
                conn.execute(insert(principals_table).values(
                    name=name, kind=kind, role=role, tenants=json.dumps(list(selectors)), max_changes=max_changes,
                    created_at=now, created_by=created_by))
            else:
                existing = _principal(row)
                wanted = (kind, role, selectors, max_changes)
                if (existing.kind, existing.role, existing.tenants, existing.max_changes) != wanted:
                    raise UsageError(
                        f"principal '{name}' exists as {existing.kind} {existing.role} of "
                        f"{' '.join(existing.tenants)} with --max-changes {existing.max_changes}: a new token "
                        "repeats those attributes (a principal is never widened by a new token); revoke its "
                        "tokens and use another name to change them")
            conn.execute(insert(tokens_table).values(
                id=token_id, principal=name, secret_sha256=_hash(secret), created_at=now, created_by=created_by,
                expires_at=expires_at))
        found = self.token(token_id)
        assert found is not None
        return f"pbt_{token_id}_{secret}", found

    def authenticate(self, token: str) -> Principal | None:
        """The principal a valid token belongs to; None for anything else (no reason is given to a caller)."""
        match = _TOKEN.fullmatch(token)
        token_id, secret = (match.group(1), match.group(2)) if match else ("", "")
        server_time = self.db.dialect == "postgresql" and getattr(self.db, "given_clock", None) is None
        query = _AUTHENTICATE.format(now=_DB_NOW if server_time else "")
        found = rows(self.db, query, token_id=token_id) if match else []
        row = found[0] if found else None
        expected = row["secret_sha256"] if row is not None else _DUMMY
        same = hmac.compare_digest(_hash(secret), expected)
        if row is None or not same or row["revoked_at"] is not None:
            return None
        now = float(row["now"]) if server_time else self.db.clock()
        if row["expires_at"] is not None and row["expires_at"] <= now:
            return None
        principal = _principal(row)
        return Principal(**{**vars(principal), "token_id": token_id})

    def principal(self, name: str) -> Principal | None:
        with self.db.transaction() as conn:
            row = conn.execute(select(principals_table).where(principals_table.c.name == name)).mappings().first()
        return _principal(row) if row else None

    def token(self, token_id: str) -> Token | None:
        found = [token for token in self.tokens() if token.id == token_id]
        return found[0] if found else None

    def tokens(self, principal: str | None = None) -> list[Token]:
        """Every token's record (never a secret), oldest first."""
        query = _joined().order_by(tokens_table.c.created_at, tokens_table.c.id)
        if principal is not None:
            query = query.where(tokens_table.c.principal == principal)
        with self.db.transaction() as conn:
            rows = conn.execute(query).mappings().all()
        return [Token(id=row["token_id"], principal=_principal(row), created_at=row["token_created_at"],
                      created_by=row["token_created_by"], expires_at=row["expires_at"], revoked_at=row["revoked_at"],
                      revoked_by=row["revoked_by"]) for row in rows]

    def revoke(self, *, token_id: str | None = None, principal: str | None = None, by: str) -> int:
        """Revoke one token, or every token of a principal; returns how many were still valid."""
        if (token_id is None) == (principal is None):
            raise UsageError("revoke one token (its id) or every token of a principal (--principal NAME)")
        column = tokens_table.c.id if token_id is not None else tokens_table.c.principal
        with self.db.transaction() as conn:
            return int(conn.execute(
                update(tokens_table).where(and_(column == (token_id or principal), tokens_table.c.revoked_at.is_(None)))
                .values(revoked_at=self.db.clock(), revoked_by=by)).rowcount)


def _joined() -> Any:
    """Tokens with their principal's columns (the token's own times labelled token_*)."""
    t = tokens_table.c
    return (select(t.id.label("token_id"), t.secret_sha256, t.created_at.label("token_created_at"),
                   t.created_by.label("token_created_by"), t.expires_at, t.revoked_at, t.revoked_by, principals_table)
            .join(principals_table, principals_table.c.name == t.principal))


def _principal(row: Any) -> Principal:
    return Principal(name=row["name"], kind=row["kind"], role=row["role"], tenants=tuple(json.loads(row["tenants"])),
                     max_changes=int(row["max_changes"]), created_at=row["created_at"],
                     created_by=row["created_by"])

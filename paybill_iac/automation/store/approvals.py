"""What waits for a human: review flags (stacks a crashed operation or an expired lease left in doubt)
and approval requests (an agent's change, with its saved plan, waiting for or given a human approval).

A flagged stack is refused every operation until a human clears the flag. An approval is decided
once (pending -> approved or rejected), by someone other than its requester, and used once (approved ->
used) by its requester alone, before it expires: each is a conditional UPDATE, so two operations can
never consume the same approval, and an expired or foreign one never applies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection

from paybill_iac.automation.store.db import Database, approvals_table, dumps, flags_table, iso
from paybill_iac.errors import GateRefused, UsageError

APPROVAL_TTL = 24 * 3600.0
"""Seconds a request may wait for its decision and then its use (the deadline is set when it is made)."""


@dataclass(frozen=True)
class ReviewFlag:
    id: int
    stack: str
    reason: str
    op_id: str | None
    flagged_at: float
    cleared_at: float | None = None
    cleared_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


@dataclass(frozen=True)
class Approval:
    id: int
    stack: str
    tenant: str | None
    operation: str
    requested_by: str
    requested_at: float
    reasons: list[str]
    change_summary: dict[str, Any]
    plan_path: str
    plan_sha256: str
    status: str  # pending | approved | rejected | used
    decided_by: str | None = None
    decided_at: float | None = None
    used_at: float | None = None
    expires_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def unusable(approval: Approval, actor: str, now: float) -> str | None:
    """Why `actor` may not apply `approval` now; None when it may (approved, unexpired, its own request)."""
    ref = f"approval request #{approval.id}"
    if approval.status == "pending":
        return f"{ref} is pending, not approved: a human runs `paybill-iac review --approve {approval.id}` first"
    if approval.status == "rejected":
        return f"{ref} was rejected by {approval.decided_by}; nothing was applied"
    if approval.status != "approved":
        return f"{ref} was already used; an approval applies once"
    if approval.expired(now):
        return f"{ref} expired at {iso(approval.expires_at or 0)}; run the operation again for a new request"
    if approval.requested_by != actor:
        return (f"{ref} was requested by {approval.requested_by}, not {actor}: an approval applies only to the "
                "request it was given for")
    return None


class ReviewFlags:
    """Stacks that need a human before anything else runs on them."""

    def __init__(self, db: Database):
        self.db = db

    def add(self, stack: str, reason: str, op_id: str | None = None) -> bool:
        """Flag `stack` for review; False when the same open flag (stack, op_id) already exists."""
        with self.db.transaction() as conn:
            return self.add_in(conn, stack, reason, op_id)

    def add_in(self, conn: Connection, stack: str, reason: str, op_id: str | None = None) -> bool:
        """`add` inside the caller's transaction (the crash scan flags what it found in the same one)."""
        query = select(flags_table.c.id).where(and_(flags_table.c.stack == stack, flags_table.c.cleared_at.is_(None)))
        query = query.where(flags_table.c.op_id == op_id if op_id else flags_table.c.op_id.is_(None))
        if conn.execute(query).first() is not None:
            return False
        conn.execute(insert(flags_table).values(stack=stack, reason=reason, op_id=op_id,
                                                flagged_at=self.db.now(conn)))
        return True

    def find(self, *, stack: str | None = None, include_cleared: bool = False) -> list[ReviewFlag]:
        """Open flags (all flags with include_cleared), oldest first."""
        query = select(flags_table).order_by(flags_table.c.flagged_at, flags_table.c.id)
        if not include_cleared:
            query = query.where(flags_table.c.cleared_at.is_(None))
        if stack is not None:
            query = query.where(flags_table.c.stack == stack)
        with self.db.transaction(read=True) as conn:
            return [ReviewFlag(**row) for row in conn.execute(query).mappings().all()]

    def clear(self, conn: Connection, stack: str, actor: str, now: float) -> int:
        """Clear the open flags of `stack` inside the caller's transaction; returns how many."""
        return int(conn.execute(
            update(flags_table).where(and_(flags_table.c.stack == stack, flags_table.c.cleared_at.is_(None)))
            .values(cleared_at=now, cleared_by=actor)
        ).rowcount)


class Approvals:
    """Agent changes refused by the gates, kept with their saved plan until a human approves them."""

    def __init__(self, db: Database, ttl: float = APPROVAL_TTL):
        self.db = db
        self.ttl = ttl

    def request(self, *, stack: str, tenant: str | None, operation: str, requested_by: str, reasons: list[str],
                change_summary: dict[str, Any], plan_path: str, plan_sha256: str) -> int:
        """Record a pending request (it expires `ttl` seconds from now); returns its id."""
        now = self.db.clock()
        with self.db.transaction() as conn:
            result = conn.execute(insert(approvals_table).values(
                stack=stack, tenant=tenant, operation=operation, requested_by=requested_by,
                requested_at=now, reasons=json.dumps(reasons), change_summary=dumps(change_summary),
                plan_path=plan_path, plan_sha256=plan_sha256, status="pending", expires_at=now + self.ttl))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def get(self, approval_id: int) -> Approval | None:
        with self.db.transaction(read=True) as conn:
            row = conn.execute(select(approvals_table).where(approvals_table.c.id == approval_id)).mappings().first()
        return _approval(row) if row else None

    def find(self, *, status: str | None = None) -> list[Approval]:
        query = select(approvals_table).order_by(approvals_table.c.id)
        if status is not None:
            query = query.where(approvals_table.c.status == status)
        with self.db.transaction(read=True) as conn:
            return [_approval(row) for row in conn.execute(query).mappings().all()]

    def approve(self, approval_id: int, actor: str) -> bool:
        """`actor` approves a pending request; False when it is not pending, has expired, or `actor` asked for it."""
        return self._decide(approval_id, actor, "approved")

    def reject(self, approval_id: int, actor: str) -> bool:
        """`actor` rejects a pending request; False when it is not pending, has expired, or `actor` asked for it."""
        return self._decide(approval_id, actor, "rejected")

    def use(self, approval_id: int, actor: str | None = None) -> bool:
        """Mark an approved, unexpired request used (single use; only by its requester when `actor` is given);
        False when it was not approved, is used already, expired or belongs to someone else."""
        now = self.db.clock()
        query = and_(approvals_table.c.id == approval_id, approvals_table.c.status == "approved", _live(now))
        if actor is not None:
            query = and_(query, approvals_table.c.requested_by == actor)
        with self.db.transaction() as conn:
            changed = conn.execute(update(approvals_table).where(query).values(status="used", used_at=now)).rowcount
        return bool(changed == 1)

    def decide(self, approval_id: int, actor: str, *, approve: bool) -> Approval:
        """`actor` approves (or rejects) request `approval_id`, or a sentence says why not: UsageError when it
        does not exist, is decided already or expired; GateRefused when `actor` asked for it."""
        approval = self.get(approval_id)
        if approval is None:
            raise UsageError(f"no approval request #{approval_id}")
        if approval.requested_by == actor:
            raise GateRefused(f"{actor} requested change #{approval_id}: another human decides it")
        if not self._decide(approval_id, actor, "approved" if approve else "rejected"):
            current = self.get(approval_id) or approval
            if current.status == "pending" and current.expired(self.db.clock()):
                raise UsageError(f"approval request #{approval_id} expired at {iso(current.expires_at or 0)}; the "
                                 "requester runs the operation again for a new request")
            raise UsageError(f"approval request #{approval_id} is {current.status}, not pending")
        decided = self.get(approval_id)
        assert decided is not None
        return decided

    def _decide(self, approval_id: int, actor: str, status: str) -> bool:
        now = self.db.clock()
        with self.db.transaction() as conn:
            changed = conn.execute(
                update(approvals_table)
                .where(and_(approvals_table.c.id == approval_id, approvals_table.c.status == "pending",
                            approvals_table.c.requested_by != actor, _live(now)))
                .values(status=status, decided_by=actor, decided_at=now)
            ).rowcount
        return bool(changed == 1)


def _live(now: float) -> Any:
    return or_(approvals_table.c.expires_at.is_(None), approvals_table.c.expires_at > now)


def _approval(row: Any) -> Approval:
    values: dict[str, Any] = dict(row)
    values["reasons"] = json.loads(values["reasons"])
    values["change_summary"] = json.loads(values["change_summary"])
    return Approval(**values)

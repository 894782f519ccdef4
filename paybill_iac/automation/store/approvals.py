"""What waits for a human: review flags (stacks a crashed operation or an expired lease left in doubt)
and approval requests (an agent's change, with its saved plan, waiting for or given a human approval).

A flagged stack is refused every operation until a human clears the flag. An approval is decided
once (pending -> approved) and used once (approved -> used): both are conditional UPDATEs, so two
operations can never consume the same approval.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection

from paybill_iac.automation.store.db import Database, approvals_table, dumps, flags_table


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
    status: str  # pending | approved | used
    decided_by: str | None = None
    decided_at: float | None = None
    used_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


class ReviewFlags:
    """Stacks that need a human before anything else runs on them."""

    def __init__(self, db: Database):
        self.db = db

    def add(self, stack: str, reason: str, op_id: str | None = None) -> bool:
        """Flag `stack` for review; False when the same open flag (stack, op_id) already exists."""
        with self.db.transaction() as conn:
            query = select(flags_table.c.id).where(and_(flags_table.c.stack == stack,
                                                        flags_table.c.cleared_at.is_(None)))
            query = query.where(flags_table.c.op_id == op_id if op_id else flags_table.c.op_id.is_(None))
            if conn.execute(query).first() is not None:
                return False
            conn.execute(insert(flags_table).values(stack=stack, reason=reason, op_id=op_id,
                                                    flagged_at=self.db.clock()))
        return True

    def find(self, *, stack: str | None = None, include_cleared: bool = False) -> list[ReviewFlag]:
        """Open flags (all flags with include_cleared), oldest first."""
        query = select(flags_table).order_by(flags_table.c.flagged_at, flags_table.c.id)
        if not include_cleared:
            query = query.where(flags_table.c.cleared_at.is_(None))
        if stack is not None:
            query = query.where(flags_table.c.stack == stack)
        with self.db.transaction() as conn:
            return [ReviewFlag(**row) for row in conn.execute(query).mappings().all()]

    def clear(self, conn: Connection, stack: str, actor: str, now: float) -> int:
        """Clear the open flags of `stack` inside the caller's transaction; returns how many."""
        return int(conn.execute(
            update(flags_table).where(and_(flags_table.c.stack == stack, flags_table.c.cleared_at.is_(None)))
            .values(cleared_at=now, cleared_by=actor)
        ).rowcount)


class Approvals:
    """Agent changes refused by the gates, kept with their saved plan until a human approves them."""

    def __init__(self, db: Database):
        self.db = db

    def request(self, *, stack: str, tenant: str | None, operation: str, requested_by: str, reasons: list[str],
                change_summary: dict[str, Any], plan_path: str, plan_sha256: str) -> int:
        """Record a pending request; returns its id."""
        with self.db.transaction() as conn:
            result = conn.execute(insert(approvals_table).values(
                stack=stack, tenant=tenant, operation=operation, requested_by=requested_by,
                requested_at=self.db.clock(), reasons=json.dumps(reasons), change_summary=dumps(change_summary),
                plan_path=plan_path, plan_sha256=plan_sha256, status="pending"))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def get(self, approval_id: int) -> Approval | None:
        with self.db.transaction() as conn:
            row = conn.execute(select(approvals_table).where(approvals_table.c.id == approval_id)).mappings().first()
        return _approval(row) if row else None

    def find(self, *, status: str | None = None) -> list[Approval]:
        query = select(approvals_table).order_by(approvals_table.c.id)
        if status is not None:
            query = query.where(approvals_table.c.status == status)
        with self.db.transaction() as conn:
            return [_approval(row) for row in conn.execute(query).mappings().all()]

    def approve(self, approval_id: int, actor: str) -> bool:
        """Approve a pending request; False when it is not pending."""
        with self.db.transaction() as conn:
            changed = conn.execute(
                update(approvals_table)
                .where(and_(approvals_table.c.id == approval_id, approvals_table.c.status == "pending"))
                .values(status="approved", decided_by=actor, decided_at=self.db.clock())
            ).rowcount
        return bool(changed == 1)

    def use(self, approval_id: int) -> bool:
        """Mark an approved request used (single use); False when it was not approved or already used."""
        with self.db.transaction() as conn:
            changed = conn.execute(
                update(approvals_table)
                .where(and_(approvals_table.c.id == approval_id, approvals_table.c.status == "approved"))
                .values(status="used", used_at=self.db.clock())
            ).rowcount
        return bool(changed == 1)


def _approval(row: Any) -> Approval:
    values: dict[str, Any] = dict(row)
    values["reasons"] = json.loads(values["reasons"])
    values["change_summary"] = json.loads(values["change_summary"])
    return Approval(**values)

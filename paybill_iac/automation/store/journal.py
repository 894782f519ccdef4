"""The append-only operations journal: a `start` row when an operation begins and an `end` row when it
finishes (result, change summary, error, the lifecycle state it deployed). Rows are never updated or
deleted; a database trigger refuses both. An operation is the pair of rows sharing an op_id; a start
without an end is an operation still running or one that crashed.

Why two rows rather than one row whose end columns are filled later: an UPDATE can rewrite history
(and a half-written row looks like a finished one); INSERT-only rows cannot, and "started but never
ended" is a plain query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.engine import Connection

from paybill_iac.automation.store.db import Database, dumps, journal_table, loads
from paybill_iac.errors import OperationError


@dataclass(frozen=True)
class JournalEntry:
    """One operation: its start row joined with its end row (None fields while it has no end)."""

    op_id: str
    actor: str
    stack: str
    tenant: str | None
    operation: str
    owner: str
    started_at: float
    ended_at: float | None = None
    result: str | None = None
    state: str | None = None
    change_summary: dict[str, Any] | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


class Journal:
    """Appends and reads the journal."""

    def __init__(self, db: Database):
        self.db = db

    def start(self, *, op_id: str, actor: str, stack: str, tenant: str | None, operation: str, owner: str,
              details: dict[str, Any] | None = None) -> None:
        with self.db.transaction() as conn:
            self._start(conn, op_id=op_id, actor=actor, stack=stack, tenant=tenant, operation=operation,
                        owner=owner, details=details)

    def end(self, *, op_id: str, result: str, change_summary: dict[str, Any] | None = None,
            error: str | None = None, state: str | None = None, details: dict[str, Any] | None = None) -> None:
        """Append the end of an operation. A second end for the same op_id is refused by the database."""
        with self.db.transaction() as conn:
            self._end(conn, op_id=op_id, result=result, change_summary=change_summary, error=error, state=state,
                      details=details)

    def refusal(self, *, op_id: str, actor: str, stack: str, tenant: str | None, operation: str, owner: str,
                result: str, error: str, details: dict[str, Any] | None = None) -> None:
        """An operation refused before it started (busy, needs review): its start and end in one transaction,
        so no reader ever sees it open."""
        with self.db.transaction() as conn:
            self._start(conn, op_id=op_id, actor=actor, stack=stack, tenant=tenant, operation=operation,
                        owner=owner, details=details)
            self._end(conn, op_id=op_id, result=result, error=error)

    def entries(self, *, tenant: str | None = None, stack: str | None = None, limit: int | None = None,
                open_only: bool = False) -> list[JournalEntry]:
        """Operations, newest first."""
        start = journal_table.alias("s")
        end = journal_table.alias("e")
        query = (
            select(start, end.c.at.label("ended_at"), end.c.result.label("end_result"),
                   end.c.state.label("end_state"), end.c.change_summary.label("end_summary"),
                   end.c.error.label("end_error"), end.c.details.label("end_details"))
            .select_from(start.outerjoin(end, and_(end.c.op_id == start.c.op_id, end.c.event == "end")))
            .where(start.c.event == "start")
            .order_by(start.c.at.desc(), start.c.id.desc())
        )
        if tenant is not None:
            query = query.where(start.c.tenant == tenant)
        if stack is not None:
            query = query.where(start.c.stack == stack)
        if open_only:
            query = query.where(end.c.id.is_(None))
        if limit is not None:
            query = query.limit(limit)
        with self.db.transaction(read=True) as conn:
            rows = conn.execute(query).mappings().all()
        entries = []
        for row in rows:
            details = dict(loads(row["details"]) or {})
            details.update(loads(row["end_details"]) or {})
            entries.append(JournalEntry(
                op_id=row["op_id"], actor=row["actor"], stack=row["stack"], tenant=row["tenant"],
                operation=row["operation"], owner=row["owner"], started_at=row["at"], ended_at=row["ended_at"],
                result=row["end_result"], state=row["end_state"], change_summary=loads(row["end_summary"]),
                error=row["end_error"], details=details))
        return entries

    def last_state(self, tenant: str) -> str | None:
        """The lifecycle state the last successful operation deployed for `tenant`, if any."""
        with self.db.transaction(read=True) as conn:
            row = conn.execute(
                select(journal_table.c.state)
                .where(and_(journal_table.c.tenant == tenant, journal_table.c.event == "end",
                            journal_table.c.result == "succeeded", journal_table.c.state.is_not(None)))
                .order_by(journal_table.c.at.desc(), journal_table.c.id.desc()).limit(1)
            ).first()
        return row[0] if row else None

    def last_success(self, stack: str, *operations: str) -> JournalEntry | None:
        """The latest successful operation on `stack` among `operations` (any when none given)."""
        for entry in self.entries(stack=stack):
            if entry.result == "succeeded" and (not operations or entry.operation in operations):
                return entry
        return None

    def _start(self, conn: Connection, *, op_id: str, actor: str, stack: str, tenant: str | None, operation: str,
               owner: str, details: dict[str, Any] | None) -> None:
        conn.execute(insert(journal_table).values(
            op_id=op_id, event="start", at=self.db.clock(), actor=actor, stack=stack, tenant=tenant,
            operation=operation, owner=owner, details=dumps(details or {})))

    def _end(self, conn: Connection, *, op_id: str, result: str, change_summary: dict[str, Any] | None = None,
             error: str | None = None, state: str | None = None, details: dict[str, Any] | None = None) -> None:
        start = conn.execute(select(journal_table).where(and_(
            journal_table.c.op_id == op_id, journal_table.c.event == "start"))).mappings().first()
        if start is None:
            raise OperationError(f"journal has no start for operation {op_id}")
        conn.execute(insert(journal_table).values(
            op_id=op_id, event="end", at=self.db.clock(), actor=start["actor"], stack=start["stack"],
            tenant=start["tenant"], operation=start["operation"], owner=start["owner"], result=result,
            state=state, change_summary=dumps(change_summary), error=error, details=dumps(details or {})))

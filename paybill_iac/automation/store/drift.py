"""Drift reports: what each drift check found on a stack, and since when each drifted resource has drifted.

    paybill_drift_reports   one row per check of a stack (append-only): status, when, the stack's plan,
                            cloud and cell at the time, counts, and the report itself (JSON)
    paybill_drift_seen      one row per resource drifted now: first seen, last seen, the operation and the
                            property paths last seen. A resource found in sync again loses its row, so drift
                            that comes back later is new drift (and calls the hook again)

`DriftStore.record` writes a check's report and updates the seen rows in one transaction, and returns
the resources whose drift is new (first seen now, or drifted in a property not seen before), with their
`first_seen` filled in. `latest()` reads the newest report of every stack in one statement (the roll-up
over 10,000 stacks reads 10,000 rows: benchmarks/drift_rollup.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)

from paybill_iac.automation.store.db import Database, dumps, loads, metadata

drift_reports_table = Table(
    "paybill_drift_reports", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stack", String(200), nullable=False, index=True),
    Column("tenant", String(64), nullable=True),
    Column("status", String(12), nullable=False),  # in_sync | drifted | error
    Column("checked_at", Float, nullable=False),
    Column("actor", String(120), nullable=False),
    Column("plan", String(64), nullable=True),
    Column("cloud", String(16), nullable=True),
    Column("cell", String(64), nullable=True),
    Column("drifted", Integer, nullable=False),  # resources drifted
    Column("new_drift", Integer, nullable=False),  # of which newly seen in this check
    Column("violations", Integer, nullable=False),  # policy violations over the refreshed view
    Column("error", Text, nullable=True),
    Column("report", Text, nullable=False),  # JSON: the drifted resources and the violations
)

drift_seen_table = Table(
    "paybill_drift_seen", metadata,
    Column("stack", String(200), primary_key=True),
    Column("urn", String(1000), primary_key=True),
    Column("op", String(40), nullable=False),
    Column("paths", Text, nullable=False),  # JSON list
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
)


@dataclass(frozen=True)
class StoredReport:
    """A drift check as stored (the newest per stack is what the roll-up reads)."""

    id: int
    stack: str
    tenant: str | None
    status: str
    checked_at: float
    actor: str
    plan: str | None
    cloud: str | None
    cell: str | None
    drifted: int
    new_drift: int
    violations: int
    error: str | None = None
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """One resource's drift as seen so far."""

    urn: str
    op: str
    paths: tuple[str, ...]
    first_seen: float
    new: bool
    """True when this check is the first to see it, or it drifted in a property not seen before."""


_SUMMARY_COLUMNS = ("id", "stack", "tenant", "status", "checked_at", "actor", "plan", "cloud", "cell", "drifted",
                    "new_drift", "violations", "error")


class DriftStore:
    """Drift reports and first-seen times in the state database."""

    def __init__(self, db: Database):
        self.db = db

    def record(self, *, stack: str, tenant: str | None, status: str, actor: str, plan: str | None,
               cloud: str | None, cell: str | None, drifted: list[tuple[str, str, tuple[str, ...]]],
               report: dict[str, Any], violations: int = 0, error: str | None = None,
               keep_seen: bool = False) -> tuple[float, dict[str, Seen]]:
        """Store one check of `stack`: `drifted` holds (urn, op, paths) of each drifted resource. Returns the
        check's time and, per drifted URN, its Seen (first_seen kept across checks). A failed check (`error`)
        leaves the seen rows alone: it says nothing about whether the drift is still there; so does a check
        that found drift without saying where (`keep_seen`: the operator's)."""
        with self.db.transaction() as conn:
            self.db.lock(conn, f"drift:{stack}")
            now = self.db.now(conn)
            seen: dict[str, Seen] = {}
            if error is None and not keep_seen:
                before = {row["urn"]: row for row in conn.execute(
                    select(drift_seen_table).where(drift_seen_table.c.stack == stack)).mappings().all()}
                for urn, op, paths in drifted:
                    old = before.get(urn)
                    if old is None:
                        conn.execute(insert(drift_seen_table).values(stack=stack, urn=urn, op=op, paths=dumps(
                            list(paths)), first_seen=now, last_seen=now))
                        seen[urn] = Seen(urn, op, tuple(paths), now, True)
                        continue
                    known = set(loads(old["paths"]) or [])
                    new = op != old["op"] or not set(paths) <= known
                    conn.execute(update(drift_seen_table).where(and_(
                        drift_seen_table.c.stack == stack, drift_seen_table.c.urn == urn)).values(
                        op=op, paths=dumps(sorted(known | set(paths))), last_seen=now))
                    seen[urn] = Seen(urn, op, tuple(paths), float(old["first_seen"]), new)
                gone = [urn for urn in before if urn not in seen]
                if gone:
                    conn.execute(delete(drift_seen_table).where(and_(drift_seen_table.c.stack == stack,
                                                                     drift_seen_table.c.urn.in_(gone))))
            stored = dict(report)
            for item in stored.get("resources", []):
                found = seen.get(item.get("urn", ""))
                if found is not None:
                    item["first_seen"] = found.first_seen
                    item["new"] = found.new
            conn.execute(insert(drift_reports_table).values(
                stack=stack, tenant=tenant, status=status, checked_at=now, actor=actor, plan=plan, cloud=cloud,
                cell=cell, drifted=len(drifted), new_drift=sum(1 for item in seen.values() if item.new),
                violations=violations, error=error, report=dumps(stored)))
        return now, seen

    def latest(self, *, with_report: bool = False, stacks: list[str] | None = None) -> dict[str, StoredReport]:
        """The newest report of every stack (or of `stacks`), by stack key. Without `with_report` the JSON
        report is not read (the roll-up needs only the counts)."""
        newest = select(func.max(drift_reports_table.c.id)).group_by(drift_reports_table.c.stack)
        if stacks is not None:
            newest = newest.where(drift_reports_table.c.stack.in_(stacks))
        columns = [drift_reports_table.c[name] for name in _SUMMARY_COLUMNS]
        if with_report:
            columns.append(drift_reports_table.c.report)
        query = select(*columns).where(drift_reports_table.c.id.in_(newest.scalar_subquery()))
        with self.db.transaction(read=True) as conn:
            rows = conn.execute(query).mappings().all()
        found = {}
        for row in rows:
            values = {name: row[name] for name in _SUMMARY_COLUMNS}
            values["report"] = loads(row["report"]) if with_report else {}
            found[row["stack"]] = StoredReport(**values)
        return found

    def history(self, stack: str, limit: int = 20) -> list[StoredReport]:
        """The newest `limit` checks of `stack`, newest first."""
        query = (select(drift_reports_table).where(drift_reports_table.c.stack == stack)
                 .order_by(drift_reports_table.c.id.desc()).limit(limit))
        with self.db.transaction(read=True) as conn:
            rows = conn.execute(query).mappings().all()
        return [StoredReport(**{**{name: row[name] for name in _SUMMARY_COLUMNS}, "report": loads(row["report"])})
                for row in rows]

    def seen(self, stack: str) -> dict[str, float]:
        """URN -> first seen, of the resources of `stack` drifted as of its last successful check."""
        with self.db.transaction(read=True) as conn:
            rows = conn.execute(select(drift_seen_table.c.urn, drift_seen_table.c.first_seen)
                                .where(drift_seen_table.c.stack == stack)).all()
        return {urn: float(first) for urn, first in rows}

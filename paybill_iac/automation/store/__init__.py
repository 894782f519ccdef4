"""The automation database, one module per concern, and `Store`: the one object an Operator opens.

    db.py          engine, schema, transactions, the default URL (SQLite file or PostgreSQL)
    leases.py      Leases (one operation per stack, one workflow per tenant), Heartbeat, new_owner
    journal.py     Journal (append-only start and end rows), JournalEntry
    approvals.py   ReviewFlags and Approvals: what waits for a human
    workflows.py   WorkflowRecords (lifecycle workflows and their steps), RetainedData
    fleet_runs.py  FleetRuns (fleet runs and per-tenant outcomes, for resume), SavedPlans (update plans)
    drift.py       DriftStore: drift reports per stack and when each drifted resource was first seen

`Store` opens one Database and hands each concern the same one (`store.leases`, `store.journal`,
`store.flags`, `store.approvals`, `store.workflows`, `store.retained`, `store.drift`). It adds only what spans
several of them: the crash scan and a human clearing a stack. `store.fleet_runs` and `store.plans`: fleet.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.engine import Connection, Engine

from paybill_iac.automation.store.approvals import Approval, Approvals, ReviewFlag, ReviewFlags
from paybill_iac.automation.store.db import Database, default_url, iso, journal_table, leases_table
from paybill_iac.automation.store.drift import DriftStore, StoredReport
from paybill_iac.automation.store.fleet_runs import FleetRun, FleetRuns, SavedPlan, SavedPlans
from paybill_iac.automation.store.journal import Journal, JournalEntry
from paybill_iac.automation.store.leases import WORKFLOW_PREFIX, Heartbeat, Lease, Leases, new_owner, workflow_key
from paybill_iac.automation.store.workflows import Retained, RetainedData, Workflow, WorkflowRecords

__all__ = ["Approval", "Approvals", "Database", "Heartbeat", "Journal", "JournalEntry", "Lease", "Leases",
           "FleetRun", "FleetRuns", "SavedPlan", "SavedPlans",
           "Retained", "RetainedData", "ReviewFlag", "ReviewFlags", "Store", "Workflow", "WorkflowRecords",
           "DriftStore", "StoredReport",
           "default_url", "new_owner", "workflow_key"]

SCAN_GRACE = 30.0
"""Seconds a journal entry without an end and without a live lease is left alone before it is flagged."""


class Store:
    """The automation database. Safe to share between threads; open one per process."""

    def __init__(self, url: str | None = None, *, clock: Callable[[], float] | None = None):
        self.db = Database(url or default_url(), clock=clock)
        self.flags = ReviewFlags(self.db)
        self.leases = Leases(self.db, self.flags)
        self.journal = Journal(self.db)
        self.approvals = Approvals(self.db)
        self.workflows = WorkflowRecords(self.db)
        self.retained = RetainedData(self.db)
        self.drift = DriftStore(self.db)
        self.fleet_runs = FleetRuns(self.db)
        self.plans = SavedPlans(self.db)

    @property
    def url(self) -> str:
        return self.db.url

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def clock(self) -> Callable[[], float]:
        return self.db.clock

    def close(self) -> None:
        self.db.close()

    def scan(self, grace: float = SCAN_GRACE) -> list[ReviewFlag]:
        """Find crashed operations and flag their stacks (never cancel anything); return the flags newly raised.

        Each finding is read in one statement (one snapshot), and decided and flagged in one transaction,
        serialised with other scans (a first, read-only look skips the write when there is nothing):
        an expired stack lease whose operation started and never ended (or never started); a journal start
        without an end whose owner holds no live lease, started more than `grace` seconds ago. An expired
        lease whose operation ended is only removed (the process died after its end, before the release).
        Refusals are written as one transaction (journal.refusal), so they are never seen open."""
        raised: list[tuple[str, str, str | None]] = []
        with self.db.transaction(read=True) as conn:  # most scans find nothing: then they take no write lock
            now = self.db.now(conn)
            if not self._expired_leases(conn, now) and not self._abandoned(conn, now, grace):
                return []
        with self.db.transaction() as conn:  # found something: decide again, on the writer's own snapshot
            self.db.lock(conn, "scan")
            now = self.db.now(conn)
            for lease, ended in self._expired_leases(conn, now):
                if ended:
                    conn.execute(delete(leases_table).where(and_(leases_table.c.stack == lease["stack"],
                                                                 leases_table.c.owner == lease["owner"])))
                    continue
                reason = (f"the lease of {lease['operation']} by {lease['actor']} (owner {lease['owner']}) expired at "
                          f"{iso(lease['expires_at'])} without being released: the operation may have crashed")
                if self.flags.add_in(conn, lease["stack"], reason):
                    raised.append((lease["stack"], reason, None))
            for entry in self._abandoned(conn, now, grace):
                reason = (f"{entry['operation']} by {entry['actor']} started at {iso(entry['at'])} and never ended "
                          "(no end in the journal, no live lease): it probably crashed")
                if self.flags.add_in(conn, entry["stack"], reason, entry["op_id"]):
                    raised.append((entry["stack"], reason, entry["op_id"]))
        found = {(flag.stack, flag.reason, flag.op_id): flag for flag in self.flags.find()}
        return [found[key] for key in raised if key in found]

    @staticmethod
    def _expired_leases(conn: Connection, now: float) -> list[tuple[Any, bool]]:
        """Expired stack leases, each with whether its operation has an end in the journal (one statement)."""
        start, end = journal_table.alias("s"), journal_table.alias("e")
        rows = conn.execute(
            select(leases_table, end.c.id.label("ended"))
            .select_from(leases_table.outerjoin(start, and_(start.c.owner == leases_table.c.owner,
                                                            start.c.event == "start"))
                         .outerjoin(end, and_(end.c.op_id == start.c.op_id, end.c.event == "end")))
            .where(and_(leases_table.c.expires_at <= now, ~leases_table.c.stack.startswith(WORKFLOW_PREFIX)))
            .order_by(leases_table.c.stack)).mappings().all()
        return [(row, row["ended"] is not None) for row in rows]

    @staticmethod
    def _abandoned(conn: Connection, now: float, grace: float) -> list[Any]:
        """Journal starts without an end, older than `grace` seconds, whose owner holds no live lease (one
        statement)."""
        start, end = journal_table.alias("s"), journal_table.alias("e")
        return list(conn.execute(
            select(start.c.op_id, start.c.stack, start.c.operation, start.c.actor, start.c.at)
            .select_from(start.outerjoin(end, and_(end.c.op_id == start.c.op_id, end.c.event == "end"))
                         .outerjoin(leases_table, leases_table.c.owner == start.c.owner))
            .where(and_(start.c.event == "start", end.c.id.is_(None), start.c.at < now - grace,
                        or_(leases_table.c.owner.is_(None), leases_table.c.expires_at <= now)))
            .order_by(start.c.at)).mappings().all())

    def clear(self, stack: str, actor: str) -> int:
        """A human cleared `stack`: close its open flags, remove its lease if expired, and end (as `abandoned`)
        journal entries left open by operations that no longer hold a lease. Returns the flags cleared."""
        with self.db.transaction() as conn:
            now = self.db.now(conn)
            cleared = self.flags.clear(conn, stack, actor, now)
            conn.execute(delete(leases_table).where(and_(leases_table.c.stack == stack,
                                                         leases_table.c.expires_at <= now)))
            live = {row[0] for row in conn.execute(select(leases_table.c.owner).where(
                and_(leases_table.c.stack == stack, leases_table.c.expires_at > now)))}
        for entry in self.journal.entries(stack=stack, open_only=True):
            if entry.owner not in live:
                self.journal.end(op_id=entry.op_id, result="abandoned",
                                 error=f"never finished; review cleared by {actor}")
        return cleared

"""The automation database, one module per concern, and `Store`: the one object an Operator opens.

    db.py          engine, schema, transactions, the default URL (SQLite file or PostgreSQL)
    leases.py      Leases (one operation per stack), Heartbeat, new_owner
    journal.py     Journal (append-only start and end rows), JournalEntry
    approvals.py   ReviewFlags and Approvals: what waits for a human
    workflows.py   WorkflowRecords (lifecycle workflows and their steps), RetainedData

`Store` opens one Database and hands each concern the same one (`store.leases`, `store.journal`,
`store.flags`, `store.approvals`, `store.workflows`, `store.retained`). It adds only what spans
several of them: the crash scan and a human clearing a stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import and_, delete, select
from sqlalchemy.engine import Engine

from paybill_iac.automation.store.approvals import Approval, Approvals, ReviewFlag, ReviewFlags
from paybill_iac.automation.store.db import Database, default_url, iso, leases_table
from paybill_iac.automation.store.journal import Journal, JournalEntry
from paybill_iac.automation.store.leases import Heartbeat, Lease, Leases, new_owner
from paybill_iac.automation.store.workflows import Retained, RetainedData, Workflow, WorkflowRecords

__all__ = ["Approval", "Approvals", "Database", "Heartbeat", "Journal", "JournalEntry", "Lease", "Leases",
           "Retained", "RetainedData", "ReviewFlag", "ReviewFlags", "Store", "Workflow", "WorkflowRecords",
           "default_url", "new_owner"]


class Store:
    """The automation database. Safe to share between threads; open one per process."""

    def __init__(self, url: str | None = None, *, clock: Callable[[], float] = time.time):
        self.db = Database(url or default_url(), clock=clock)
        self.flags = ReviewFlags(self.db)
        self.leases = Leases(self.db, self.flags)
        self.journal = Journal(self.db)
        self.approvals = Approvals(self.db)
        self.workflows = WorkflowRecords(self.db)
        self.retained = RetainedData(self.db)

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

    def scan(self) -> list[ReviewFlag]:
        """Find crashed operations: expired leases, and journal starts without an end whose owner holds
        no live lease. Flag their stacks (never cancel anything); return the flags newly raised."""
        now = self.db.clock()
        raised: list[ReviewFlag] = []
        live: dict[str, str] = {}
        for lease in self.leases.all():
            if lease.expired(now):
                reason = (f"the lease of {lease.operation} by {lease.actor} (owner {lease.owner}) expired at "
                          f"{iso(lease.expires_at)} without being released: the operation may have crashed")
                if self.flags.add(lease.stack, reason):
                    raised += self.flags.find(stack=lease.stack)[-1:]
            else:
                live[lease.owner] = lease.stack
        for entry in self.journal.entries(open_only=True):
            if entry.owner in live:
                continue
            reason = (f"{entry.operation} by {entry.actor} started at {iso(entry.started_at)} and never ended "
                      "(no end in the journal, no live lease): it probably crashed")
            if self.flags.add(entry.stack, reason, entry.op_id):
                raised += self.flags.find(stack=entry.stack)[-1:]
        return raised

    def clear(self, stack: str, actor: str) -> int:
        """A human cleared `stack`: close its open flags, remove its lease if expired, and end (as `abandoned`)
        journal entries left open by operations that no longer hold a lease. Returns the flags cleared."""
        now = self.db.clock()
        with self.db.transaction() as conn:
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

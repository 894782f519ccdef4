"""Leases: one operation per stack, and one lifecycle workflow per tenant, across processes and hosts.

A stack lease is a row (stack, owner, expiry) taken atomically with INSERT ... ON CONFLICT DO NOTHING:
whoever inserts the row holds the stack, and a `Heartbeat` renews it while the operation runs. Expiry
is judged by the database's clock (Database.now), never by the asking host's. A lease whose holder
stopped renewing (expired) is never taken over silently: if its operation started and never ended, it
may have crashed half-way through a deployment, so the stack is flagged for review and a human decides.
A lease whose operation ended in the journal (its process died between the end and the release) is
only removed.

A workflow lease is a row in the same table under the key `workflow/<tenant>`: the lifecycle workflow
running for the tenant (its operation column says `<kind>:<step>`), held for all its steps and renewed
by a Heartbeat. While one is live, every other operation on the tenant's stack is refused
(WorkflowBusy, naming the workflow, its step and who runs it); a workflow recorded as running whose
lease expired (its process stopped between steps or crashed) still keeps every operation that changes
the tenant away until it is resumed, and its lease is taken over by whoever resumes it. Both checks run
in the transaction that takes the stack's lease, serialised per tenant.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass

from sqlalchemy import and_, delete, select, update
from sqlalchemy.engine import Connection

from paybill_iac.automation.errors import NeedsReview, WorkflowBusy
from paybill_iac.automation.store.approvals import ReviewFlags
from paybill_iac.automation.store.db import Database, iso, journal_table, leases_table, workflows_table
from paybill_iac.errors import LeaseHeld

log = logging.getLogger("paybill_iac.automation")

WORKFLOW_PREFIX = "workflow/"
READ_ONLY = frozenset({"preview", "preview-destroy", "refresh"})
"""Operations a workflow that stopped half-way does not keep away (they change nothing a workflow relies on)."""


@dataclass(frozen=True)
class Lease:
    stack: str
    owner: str
    operation: str
    actor: str
    acquired_at: float
    expires_at: float

    def expired(self, now: float) -> bool:
        return self.expires_at <= now


def new_owner() -> str:
    """A lease owner id unique to this operation: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def workflow_key(tenant: str) -> str:
    return f"{WORKFLOW_PREFIX}{tenant}"


class Leases:
    """Stack and workflow leases; an expired stack lease is flagged through `flags`, never taken over."""

    def __init__(self, db: Database, flags: ReviewFlags):
        self.db = db
        self.flags = flags

    def acquire(self, stack: str, owner: str, operation: str, actor: str, ttl: float, *,
                tenant: str | None = None, workflow_owner: str | None = None) -> Lease:
        """Take the stack's lease for `ttl` seconds, or raise.

        LeaseHeld: another live operation holds it. WorkflowBusy: `tenant` is in a lifecycle workflow this
        operation is not part of (`workflow_owner` is the workflow lease's owner when it is). NeedsReview:
        its holder stopped renewing it half-way through an operation (the stack is flagged; a human clears
        the flag, which also removes the stale lease).
        """
        with self.db.transaction() as conn:
            if tenant is not None:
                self.db.lock(conn, f"tenant:{tenant}")
            now = self.db.now(conn)
            if tenant is not None:
                _check_workflow(conn, tenant, operation, workflow_owner, now)
            mine = Lease(stack, owner, operation, actor, now, now + ttl)
            inserted = conn.execute(self.db.insert_ignore(leases_table).values(**vars(mine))).rowcount
            if inserted == 1:
                return mine
            current = conn.execute(select(leases_table).where(leases_table.c.stack == stack)).mappings().first()
            held = Lease(**dict(current)) if current is not None else None
            finished = held is not None and held.expired(now) and _operation_ended(conn, held.owner)
            if finished:  # its operation ended; only the release was lost
                assert held is not None
                conn.execute(delete(leases_table).where(and_(leases_table.c.stack == stack,
                                                             leases_table.c.owner == held.owner)))
        if held is None or finished:  # released (or stale) between our insert and read: try once more
            return self.acquire(stack, owner, operation, actor, ttl, tenant=tenant, workflow_owner=workflow_owner)
        if held.owner == owner:
            self.renew(stack, owner, ttl)
            return held
        if held.expired(now):
            self.flags.add(stack, f"the lease of {held.operation} by {held.actor} (owner {held.owner}) expired at "
                                  f"{iso(held.expires_at)} without being released: the operation may have crashed "
                                  "half-way; check the stack (pulumi stack export, pulumi cancel if it is locked)")
            raise NeedsReview(f"stack {stack} needs review: {held.operation} by {held.actor} stopped renewing its "
                              f"lease at {iso(held.expires_at)}. A human checks the stack, then clears it with "
                              f"`paybill-iac review --clear {stack}`")
        raise LeaseHeld(f"stack {stack} is busy: {held.operation} by {held.actor} (owner {held.owner}) holds its "
                        f"lease until {iso(held.expires_at)}; retry when it finishes")

    def acquire_workflow(self, tenant: str, owner: str, kind: str, actor: str, ttl: float) -> Lease:
        """Take the tenant's workflow lease for `ttl` seconds (renewed by a Heartbeat). A live one of another
        owner is WorkflowBusy; an expired one (its workflow stopped) is taken over."""
        key = workflow_key(tenant)
        with self.db.transaction() as conn:
            self.db.lock(conn, f"tenant:{tenant}")
            now = self.db.now(conn)
            row = conn.execute(select(leases_table).where(leases_table.c.stack == key)).mappings().first()
            mine = Lease(key, owner, f"{kind}:start", actor, now, now + ttl)
            if row is not None and row["owner"] != owner and row["expires_at"] > now:
                raise WorkflowBusy(_busy(tenant, Lease(**dict(row))))
            if row is not None:
                conn.execute(delete(leases_table).where(leases_table.c.stack == key))
            conn.execute(leases_table.insert().values(**vars(mine)))
        return mine

    def workflow_step(self, tenant: str, owner: str, kind: str, step: str) -> None:
        """Say which step the tenant's workflow is at (refusals name it)."""
        with self.db.transaction() as conn:
            conn.execute(update(leases_table).where(and_(leases_table.c.stack == workflow_key(tenant),
                                                         leases_table.c.owner == owner))
                         .values(operation=f"{kind}:{step}"[:40]))

    def renew(self, stack: str, owner: str, ttl: float) -> bool:
        """Extend our lease; False when we no longer hold it."""
        with self.db.transaction() as conn:
            changed = conn.execute(
                update(leases_table)
                .where(and_(leases_table.c.stack == stack, leases_table.c.owner == owner))
                .values(expires_at=self.db.now(conn) + ttl)
            ).rowcount
        return bool(changed == 1)

    def release(self, stack: str, owner: str) -> bool:
        with self.db.transaction() as conn:
            removed = conn.execute(
                delete(leases_table).where(and_(leases_table.c.stack == stack, leases_table.c.owner == owner))
            ).rowcount
        return bool(removed == 1)

    def get(self, stack: str) -> Lease | None:
        with self.db.transaction(read=True) as conn:
            row = conn.execute(select(leases_table).where(leases_table.c.stack == stack)).mappings().first()
        return Lease(**row) if row else None

    def all(self) -> list[Lease]:
        with self.db.transaction(read=True) as conn:
            rows = conn.execute(select(leases_table).order_by(leases_table.c.stack)).mappings().all()
        return [Lease(**row) for row in rows]


def _operation_ended(conn: Connection, owner: str) -> bool:
    """Whether the operation that took a lease as `owner` has an end in the journal."""
    start = journal_table.alias("s")
    end = journal_table.alias("e")
    row = conn.execute(
        select(start.c.op_id, end.c.id).select_from(
            start.outerjoin(end, and_(end.c.op_id == start.c.op_id, end.c.event == "end")))
        .where(and_(start.c.owner == owner, start.c.event == "start")).limit(1)).first()
    return row is not None and row[1] is not None


def _busy(tenant: str, lease: Lease) -> str:
    kind, _, step = lease.operation.partition(":")
    return (f"tenant '{tenant}' is busy: the {kind} workflow run by {lease.actor} holds it (step {step}, owner "
            f"{lease.owner}, renewed until {iso(lease.expires_at)}); nothing else changes the tenant until it "
            "finishes: retry then")


def _check_workflow(conn: Connection, tenant: str, operation: str, workflow_owner: str | None, now: float) -> None:
    """Refuse an operation on `tenant`'s stack that its lifecycle workflow did not start (see the module)."""
    row = conn.execute(select(leases_table).where(leases_table.c.stack == workflow_key(tenant))).mappings().first()
    lease = Lease(**dict(row)) if row is not None else None
    live = lease is not None and not lease.expired(now)
    if lease is not None and live and lease.owner == workflow_owner:
        return
    if live:
        assert lease is not None
        raise WorkflowBusy(_busy(tenant, lease))
    if operation in READ_ONLY:
        return
    running = conn.execute(
        select(workflows_table.c.id, workflows_table.c.kind, workflows_table.c.actor, workflows_table.c.params)
        .where(and_(workflows_table.c.tenant == tenant, workflows_table.c.status == "running"))
        .limit(1)).mappings().first()
    if running is not None:
        raise WorkflowBusy(f"tenant '{tenant}' is half-way through the {running['kind']} workflow {running['id']} "
                           f"started by {running['actor']}, which stopped before it finished: {operation} is refused "
                           f"until it is carried on (`paybill-iac lifecycle {running['kind']} {tenant} ...` with the "
                           "same arguments resumes it where it stopped)")


class Heartbeat:
    """Renews a lease every third of its TTL until stopped (a database hiccup is logged, not fatal)."""

    def __init__(self, leases: Leases, stack: str, owner: str, ttl: float):
        self.leases, self.stack, self.owner = leases, stack, owner
        self.ttl = ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{stack}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(max(self.ttl / 3, 0.02)):
            try:
                if not self.leases.renew(self.stack, self.owner, self.ttl):
                    log.warning("lost the lease of %s", self.stack)
                    return
            except Exception as error:  # noqa: BLE001 - keep renewing through a database hiccup
                log.warning("renewing the lease of %s failed: %s", self.stack, error)

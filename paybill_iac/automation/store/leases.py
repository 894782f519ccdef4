"""Stack leases: one operation per stack at a time, across processes and hosts.

A lease is a row (stack, owner, expiry) taken atomically with INSERT ... ON CONFLICT DO NOTHING:
whoever inserts the row holds the stack, and a `Heartbeat` renews it while the operation runs. A
lease whose holder stopped renewing (expired) is never taken over silently: the holder may have
crashed half-way through a deployment, so the stack is flagged for review and a human decides.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass

from sqlalchemy import and_, delete, select, update

from paybill_iac.automation.errors import NeedsReview
from paybill_iac.automation.store.approvals import ReviewFlags
from paybill_iac.automation.store.db import Database, iso, leases_table
from paybill_iac.errors import LeaseHeld

log = logging.getLogger("paybill_iac.automation")


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


class Leases:
    """The stack leases; an expired one is flagged through `flags`, never taken over."""

    def __init__(self, db: Database, flags: ReviewFlags):
        self.db = db
        self.flags = flags

    def acquire(self, stack: str, owner: str, operation: str, actor: str, ttl: float) -> Lease:
        """Take the stack's lease for `ttl` seconds, or raise.

        LeaseHeld: another live operation holds it. NeedsReview: its holder stopped renewing it (the
        stack is flagged; a human clears the flag, which also removes the stale lease).
        """
        now = self.db.clock()
        with self.db.transaction() as conn:
            mine = Lease(stack, owner, operation, actor, now, now + ttl)
            inserted = conn.execute(self.db.insert_ignore(leases_table).values(**vars(mine))).rowcount
            if inserted == 1:
                return mine
            current = conn.execute(select(leases_table).where(leases_table.c.stack == stack)).mappings().first()
        if current is None:  # released between our insert and read: try once more
            return self.acquire(stack, owner, operation, actor, ttl)
        held = Lease(**dict(current))
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

    def renew(self, stack: str, owner: str, ttl: float) -> bool:
        """Extend our lease; False when we no longer hold it."""
        with self.db.transaction() as conn:
            changed = conn.execute(
                update(leases_table)
                .where(and_(leases_table.c.stack == stack, leases_table.c.owner == owner))
                .values(expires_at=self.db.clock() + ttl)
            ).rowcount
        return bool(changed == 1)

    def release(self, stack: str, owner: str) -> bool:
        with self.db.transaction() as conn:
            removed = conn.execute(
                delete(leases_table).where(and_(leases_table.c.stack == stack, leases_table.c.owner == owner))
            ).rowcount
        return bool(removed == 1)

    def get(self, stack: str) -> Lease | None:
        with self.db.transaction() as conn:
            row = conn.execute(select(leases_table).where(leases_table.c.stack == stack)).mappings().first()
        return Lease(**row) if row else None

    def all(self) -> list[Lease]:
        with self.db.transaction() as conn:
            rows = conn.execute(select(leases_table).order_by(leases_table.c.stack)).mappings().all()
        return [Lease(**row) for row in rows]


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

"""Fleet runs, their per-tenant outcomes, and saved update plans: in the state database, so that a fleet
coordinator that crashed resumes at its wave on any host, and a plan saved by a preview on one host is
applied by an up on another.

    paybill_fleet_runs       one row per fleet run: what was asked (operation, selection), the waves as
                             planned when it started (a resume keeps them, whatever the catalog says now),
                             its status (running | finished | halted) and the coordinator holding it
    paybill_fleet_outcomes   one row per tenant that finished in a run (its result, summary, error)
    paybill_saved_plans      update plans saved by `pulumi preview --save-plan`, by stack and name, with
                             their sha256 (an approval names the plan it approved by that hash)

    FleetRuns(db)
        start(run_id, rollout=, operation=, actor=, params=, waves=, owner=, ttl=) -> FleetRun
        claim(run_id, owner, ttl) -> FleetRun   resume: take over a run whose coordinator stopped renewing
        renew(run_id, owner, ttl) -> bool; record(run_id, outcome); outcomes(run_id) -> list[dict]
        finish(run_id, owner, halted=""); get(run_id); unfinished(rollout) -> list[FleetRun]
    SavedPlans(db)
        save(stack, name, content, created_by) -> sha256; load(stack, name) -> SavedPlan | None

A run is held by one coordinator at a time: `owner` with `claimed_until`, renewed while it runs (by the
database's clock, as leases are); a second coordinator may claim it only once that passed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    insert,
    select,
    update,
)

from paybill_iac.automation.store.db import Database, iso, metadata
from paybill_iac.errors import UsageError

RUN_STATUSES = ("running", "finished", "halted")

fleet_runs_table = Table(
    "paybill_fleet_runs", metadata,
    Column("id", String(64), primary_key=True),
    Column("rollout", String(64), nullable=False, index=True),  # what was asked, hashed (fleet.rollout_key)
    Column("operation", String(40), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("params", Text, nullable=False),  # JSON: selectors, tenants, concurrency, max_failures
    Column("waves", Text, nullable=False),  # JSON: the tenants of each wave, as planned at the start
    Column("status", String(12), nullable=False),  # running | finished | halted
    Column("halted", Text, nullable=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("owner", String(200), nullable=False),  # the coordinator holding the run
    Column("claimed_until", Float, nullable=False),
)

fleet_outcomes_table = Table(
    "paybill_fleet_outcomes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False, index=True),
    Column("tenant", String(64), nullable=False),
    Column("wave", Integer, nullable=False),
    Column("result", String(20), nullable=False),
    Column("summary", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("approval", Integer, nullable=True),
    Column("recorded_at", Float, nullable=False),
    UniqueConstraint("run_id", "tenant", name="paybill_fleet_outcome_once"),
)

saved_plans_table = Table(
    "paybill_saved_plans", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stack", String(200), nullable=False),
    Column("name", String(64), nullable=False),  # the operation id of the preview that saved it
    Column("content", Text, nullable=False),  # the plan file's text, as the Pulumi CLI wrote it
    Column("sha256", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(120), nullable=False),
    UniqueConstraint("stack", "name", name="paybill_saved_plan_once"),
)

OUTCOME_FIELDS = ("tenant", "wave", "result", "summary", "error", "seconds", "approval")


@dataclass(frozen=True)
class FleetRun:
    id: str
    rollout: str
    operation: str
    actor: str
    params: dict[str, Any]
    waves: tuple[tuple[str, ...], ...]
    status: str
    halted: str
    started_at: float
    finished_at: float | None
    owner: str
    claimed_until: float


@dataclass(frozen=True)
class SavedPlan:
    stack: str
    name: str
    content: str
    sha256: str
    created_at: float
    created_by: str


def sha256_text(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


class FleetRuns:
    """Fleet runs and their outcomes (see the module docstring)."""

    def __init__(self, db: Database):
        self.db = db

    def start(self, run_id: str, *, rollout: str, operation: str, actor: str, params: dict[str, Any],
              waves: tuple[tuple[str, ...], ...], owner: str, ttl: float) -> FleetRun:
        with self.db.transaction() as conn:
            now = self.db.now(conn)
            conn.execute(insert(fleet_runs_table).values(
                id=run_id, rollout=rollout, operation=operation, actor=actor, params=json.dumps(params, sort_keys=True),
                waves=json.dumps([list(wave) for wave in waves]), status="running", halted=None, started_at=now,
                finished_at=None, owner=owner, claimed_until=now + ttl))
        found = self.get(run_id)
        assert found is not None
        return found

    def get(self, run_id: str) -> FleetRun | None:
        with self.db.transaction(read=True) as conn:
            row = conn.execute(select(fleet_runs_table).where(fleet_runs_table.c.id == run_id)).mappings().first()
        return _run(row) if row else None

    def unfinished(self, rollout: str | None = None) -> list[FleetRun]:
        """Runs still marked running (their coordinator may be alive or may have crashed), newest first."""
        query = select(fleet_runs_table).where(fleet_runs_table.c.status == "running")
        if rollout is not None:
            query = query.where(fleet_runs_table.c.rollout == rollout)
        with self.db.transaction(read=True) as conn:
            rows = conn.execute(query.order_by(fleet_runs_table.c.started_at.desc())).mappings().all()
        return [_run(row) for row in rows]

    def claim(self, run_id: str, owner: str, ttl: float) -> FleetRun:
        """Take over an unfinished run whose coordinator stopped renewing its claim (it crashed or was killed).
        UsageError naming the run when it does not exist, has finished, or is held by a live coordinator."""
        with self.db.transaction() as conn:
            now = self.db.now(conn)
            row = conn.execute(select(fleet_runs_table).where(fleet_runs_table.c.id == run_id)).mappings().first()
            if row is None:
                raise UsageError(f"--resume {run_id}: no fleet run with that id (`paybill-iac fleet runs` lists them)")
            if row["status"] != "running":
                raise UsageError(f"--resume {run_id}: the run is {row['status']}"
                                 + (f" ({row['halted']})" if row["halted"] else "")
                                 + ": nothing to resume; start a new run")
            if row["claimed_until"] > now and row["owner"] != owner:
                raise UsageError(f"--resume {run_id}: coordinator {row['owner']} still holds the run (until "
                                 f"{iso(row['claimed_until'])}); resume it once that coordinator stopped")
            conn.execute(update(fleet_runs_table).where(fleet_runs_table.c.id == run_id)
                         .values(owner=owner, claimed_until=now + ttl))
        found = self.get(run_id)
        assert found is not None
        return found

    def renew(self, run_id: str, owner: str, ttl: float) -> bool:
        with self.db.transaction() as conn:
            now = self.db.now(conn)
            changed = conn.execute(update(fleet_runs_table).where(and_(
                fleet_runs_table.c.id == run_id, fleet_runs_table.c.owner == owner,
                fleet_runs_table.c.status == "running")).values(claimed_until=now + ttl)).rowcount
        return bool(changed == 1)

    @contextmanager
    def held(self, run_id: str, owner: str, ttl: float) -> Iterator[None]:
        """Renew the claim every third of `ttl` while the block runs (a database hiccup is retried next time)."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(max(ttl / 3, 0.02)):
                try:
                    if not self.renew(run_id, owner, ttl):
                        return
                except Exception:  # noqa: BLE001 - keep renewing through a database hiccup
                    continue

        thread = threading.Thread(target=loop, name=f"fleet-run-{run_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def record(self, run_id: str, outcome: dict[str, Any]) -> None:
        """A tenant's outcome in the run (replacing an earlier one: a busy tenant tried again on resume)."""
        values = {key: outcome[key] for key in OUTCOME_FIELDS}
        with self.db.transaction() as conn:
            conn.execute(delete(fleet_outcomes_table).where(and_(fleet_outcomes_table.c.run_id == run_id,
                                                                 fleet_outcomes_table.c.tenant == values["tenant"])))
            conn.execute(insert(fleet_outcomes_table).values(run_id=run_id, recorded_at=self.db.now(conn), **values))

    def outcomes(self, run_id: str) -> list[dict[str, Any]]:
        """The run's recorded outcomes, in the order they were recorded."""
        query = (select(*(fleet_outcomes_table.c[key] for key in OUTCOME_FIELDS))
                 .where(fleet_outcomes_table.c.run_id == run_id).order_by(fleet_outcomes_table.c.id))
        with self.db.transaction(read=True) as conn:
            return [dict(row) for row in conn.execute(query).mappings().all()]

    def finish(self, run_id: str, owner: str, halted: str = "") -> None:
        with self.db.transaction() as conn:
            conn.execute(update(fleet_runs_table).where(and_(fleet_runs_table.c.id == run_id,
                                                             fleet_runs_table.c.owner == owner))
                         .values(status="halted" if halted else "finished", halted=halted or None,
                                 finished_at=self.db.now(conn)))

    def find(self, limit: int = 20) -> list[FleetRun]:
        """The newest runs first."""
        query = select(fleet_runs_table).order_by(fleet_runs_table.c.started_at.desc()).limit(limit)
        with self.db.transaction(read=True) as conn:
            return [_run(row) for row in conn.execute(query).mappings().all()]


class SavedPlans:
    """Update plans in the database: a preview saves one, an up (on this host or another) applies it."""

    def __init__(self, db: Database):
        self.db = db

    def save(self, stack: str, name: str, content: str, created_by: str) -> str:
        """Keep `content` as plan `name` of `stack` (once: a name is an operation id); returns its sha256."""
        digest = sha256_text(content)
        with self.db.transaction() as conn:
            conn.execute(insert(saved_plans_table).values(stack=stack, name=name, content=content, sha256=digest,
                                                          created_at=self.db.now(conn), created_by=created_by))
        return digest

    def load(self, stack: str, name: str) -> SavedPlan | None:
        query = select(saved_plans_table).where(and_(saved_plans_table.c.stack == stack,
                                                     saved_plans_table.c.name == name))
        with self.db.transaction(read=True) as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        values = dict(row)
        values.pop("id")
        return SavedPlan(**values)


def _run(row: Any) -> FleetRun:
    values: dict[str, Any] = dict(row)
    values["params"] = json.loads(values["params"])
    values["waves"] = tuple(tuple(wave) for wave in json.loads(values["waves"]))
    values["halted"] = values["halted"] or ""
    return FleetRun(**values)

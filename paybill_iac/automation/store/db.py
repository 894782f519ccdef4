"""The automation database: stack leases, the append-only journal, review flags, approvals, workflow
progress and retained data. SQLite by default (one file, embedded), PostgreSQL when a URL is given.

    paybill_leases          one row per stack while an operation holds it: owner, operation, expiry
    paybill_journal         append-only: a `start` row when an operation begins and an `end` row when
                            it finishes (result, change summary, error). Rows are never updated or
                            deleted; a database trigger refuses both. An operation is the pair of rows
                            sharing an op_id; a start without an end is an operation still running or
                            one that crashed.
    paybill_review_flags    stacks that need a human (crashed operations, expired leases)
    paybill_approvals       agent changes waiting for, or given, a human approval (with the saved plan)
    paybill_workflows       lifecycle workflows (change plan, offboard...) and their completed steps
    paybill_retained        data resources kept after offboarding, and when their retention ends

Why two journal rows rather than one row whose end columns are filled later: an UPDATE can rewrite
history (and a half-written row looks like a finished one); INSERT-only rows cannot, and "started
but never ended" is a plain query. Times are UTC epoch seconds (floats).

Leases are taken atomically with INSERT ... ON CONFLICT DO NOTHING: whoever inserts the row holds the
stack. A lease whose holder stopped renewing (expired) is never taken over silently: the holder may
have crashed half-way through a deployment, so the stack is flagged for review and a human decides.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from paybill_iac.errors import LeaseHeld, OperationError, UsageError

STATE_URL_ENV = "PAYBILL_STATE_URL"
DEFAULT_STATE_DIR = Path(".paybill")
DEFAULT_DB_FILE = "state.db"

metadata = MetaData()

leases_table = Table(
    "paybill_leases", metadata,
    Column("stack", String(200), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("operation", String(40), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

journal_table = Table(
    "paybill_journal", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("op_id", String(64), nullable=False, index=True),
    Column("event", String(8), nullable=False),  # "start" | "end"
    Column("at", Float, nullable=False),
    Column("actor", String(120), nullable=False),
    Column("stack", String(200), nullable=False, index=True),
    Column("tenant", String(64), nullable=True, index=True),
    Column("operation", String(40), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("result", String(20), nullable=True),
    Column("state", String(20), nullable=True),  # the tenant's lifecycle state this operation deployed
    Column("change_summary", Text, nullable=True),  # JSON
    Column("error", Text, nullable=True),
    Column("details", Text, nullable=True),  # JSON
    UniqueConstraint("op_id", "event", name="paybill_journal_one_start_one_end"),
)

flags_table = Table(
    "paybill_review_flags", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stack", String(200), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("op_id", String(64), nullable=True),
    Column("flagged_at", Float, nullable=False),
    Column("cleared_at", Float, nullable=True),
    Column("cleared_by", String(120), nullable=True),
)

approvals_table = Table(
    "paybill_approvals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stack", String(200), nullable=False),
    Column("tenant", String(64), nullable=True),
    Column("operation", String(40), nullable=False),
    Column("requested_by", String(120), nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("reasons", Text, nullable=False),  # JSON list of sentences
    Column("change_summary", Text, nullable=False),  # JSON
    Column("plan_path", Text, nullable=False),
    Column("plan_sha256", String(64), nullable=False),
    Column("status", String(12), nullable=False),  # pending | approved | used
    Column("decided_by", String(120), nullable=True),
    Column("decided_at", Float, nullable=True),
    Column("used_at", Float, nullable=True),
)

workflows_table = Table(
    "paybill_workflows", metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("tenant", String(64), nullable=False, index=True),
    Column("params", Text, nullable=False),  # JSON
    Column("actor", String(120), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("status", String(12), nullable=False),  # running | completed
    Column("finished_at", Float, nullable=True),
)

workflow_steps_table = Table(
    "paybill_workflow_steps", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow_id", String(64), nullable=False, index=True),
    Column("step", String(40), nullable=False),
    Column("at", Float, nullable=False),
    Column("detail", Text, nullable=True),  # JSON
    UniqueConstraint("workflow_id", "step", name="paybill_workflow_step_once"),
)

retained_table = Table(
    "paybill_retained", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("stack", String(200), nullable=False),
    Column("urn", Text, nullable=False),
    Column("type", String(200), nullable=False),
    Column("retain_until", Float, nullable=False),
    Column("recorded_at", Float, nullable=False),
)

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS paybill_journal_no_update BEFORE UPDATE ON paybill_journal "
    "BEGIN SELECT RAISE(ABORT, 'the paybill journal is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS paybill_journal_no_delete BEFORE DELETE ON paybill_journal "
    "BEGIN SELECT RAISE(ABORT, 'the paybill journal is append-only'); END",
)
_POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION paybill_journal_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the paybill journal is append-only'; END $$ LANGUAGE plpgsql",
    "CREATE OR REPLACE TRIGGER paybill_journal_append_only BEFORE UPDATE OR DELETE ON paybill_journal "
    "FOR EACH ROW EXECUTE FUNCTION paybill_journal_append_only()",
)
_SCHEMA_LOCK_KEY = 0x70617962  # "payb": serialises schema creation across processes on PostgreSQL


class NeedsReview(OperationError):
    """The stack is flagged for human review (a crashed operation, an expired lease)."""


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
    status: str
    decided_by: str | None = None
    decided_at: float | None = None
    used_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


@dataclass(frozen=True)
class Workflow:
    id: str
    kind: str
    tenant: str
    params: dict[str, Any]
    actor: str
    started_at: float
    status: str
    finished_at: float | None
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class Retained:
    tenant: str
    stack: str
    urn: str
    type: str
    retain_until: float
    recorded_at: float


def default_url(state_dir: str | os.PathLike[str] | None = None) -> str:
    """PAYBILL_STATE_URL when set, else a SQLite file under `state_dir` (default `.paybill/`)."""
    env = os.environ.get(STATE_URL_ENV)
    if env and state_dir is None:
        return env
    folder = Path(state_dir) if state_dir is not None else DEFAULT_STATE_DIR
    return f"sqlite:///{(folder / DEFAULT_DB_FILE).resolve()}"


def new_owner() -> str:
    """A lease owner id unique to this operation: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


class Store:
    """The automation database. Safe to share between threads; open one per process."""

    def __init__(self, url: str | None = None, *, clock: Callable[[], float] = time.time):
        self.url = url or default_url()
        self.clock = clock
        self.engine = _engine(self.url)
        self.dialect = self.engine.dialect.name
        self._create_schema()

    def close(self) -> None:
        self.engine.dispose()

    # --- plumbing ---------------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as error:
            raise OperationError(f"the automation database at {self.safe_url} failed: {error.orig}") from None

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def _create_schema(self) -> None:
        with self._tx() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_KEY})")
            metadata.create_all(conn)
            for statement in _POSTGRES_TRIGGERS if self.dialect == "postgresql" else _SQLITE_TRIGGERS:
                conn.exec_driver_sql(statement)

    def _insert_ignore(self, table: Table) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()

    # --- leases -----------------------------------------------------------------------------------

    def acquire(self, stack: str, owner: str, operation: str, actor: str, ttl: float) -> Lease:
        """Take the stack's lease for `ttl` seconds, or raise.

        LeaseHeld: another live operation holds it. NeedsReview: its holder stopped renewing it (the
        stack is flagged; a human clears the flag, which also removes the stale lease).
        """
        now = self.clock()
        with self._tx() as conn:
            mine = Lease(stack, owner, operation, actor, now, now + ttl)
            inserted = conn.execute(self._insert_ignore(leases_table).values(**vars(mine))).rowcount
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
            self.flag(stack, f"the lease of {held.operation} by {held.actor} (owner {held.owner}) expired at "
                             f"{_iso(held.expires_at)} without being released: the operation may have crashed "
                             "half-way; check the stack (pulumi stack export, pulumi cancel if it is locked)")
            raise NeedsReview(f"stack {stack} needs review: {held.operation} by {held.actor} stopped renewing its "
                              f"lease at {_iso(held.expires_at)}. A human checks the stack, then clears it with "
                              f"`paybill-iac review --clear {stack}`")
        raise LeaseHeld(f"stack {stack} is busy: {held.operation} by {held.actor} (owner {held.owner}) holds its "
                        f"lease until {_iso(held.expires_at)}; retry when it finishes")

    def renew(self, stack: str, owner: str, ttl: float) -> bool:
        """Extend our lease; False when we no longer hold it."""
        with self._tx() as conn:
            changed = conn.execute(
                update(leases_table)
                .where(and_(leases_table.c.stack == stack, leases_table.c.owner == owner))
                .values(expires_at=self.clock() + ttl)
            ).rowcount
        return bool(changed == 1)

    def release(self, stack: str, owner: str) -> bool:
        with self._tx() as conn:
            removed = conn.execute(
                delete(leases_table).where(and_(leases_table.c.stack == stack, leases_table.c.owner == owner))
            ).rowcount
        return bool(removed == 1)

    def lease(self, stack: str) -> Lease | None:
        with self._tx() as conn:
            row = conn.execute(select(leases_table).where(leases_table.c.stack == stack)).mappings().first()
        return Lease(**row) if row else None

    def leases(self) -> list[Lease]:
        with self._tx() as conn:
            rows = conn.execute(select(leases_table).order_by(leases_table.c.stack)).mappings().all()
        return [Lease(**row) for row in rows]

    # --- journal ----------------------------------------------------------------------------------

    def journal_start(self, *, op_id: str, actor: str, stack: str, tenant: str | None, operation: str,
                      owner: str, details: dict[str, Any] | None = None) -> None:
        with self._tx() as conn:
            conn.execute(insert(journal_table).values(
                op_id=op_id, event="start", at=self.clock(), actor=actor, stack=stack, tenant=tenant,
                operation=operation, owner=owner, details=_dumps(details or {})))

    def journal_end(self, *, op_id: str, result: str, change_summary: dict[str, Any] | None = None,
                    error: str | None = None, state: str | None = None,
                    details: dict[str, Any] | None = None) -> None:
        """Append the end of an operation. A second end for the same op_id is refused by the database."""
        with self._tx() as conn:
            start = conn.execute(select(journal_table).where(and_(
                journal_table.c.op_id == op_id, journal_table.c.event == "start"))).mappings().first()
            if start is None:
                raise OperationError(f"journal has no start for operation {op_id}")
            conn.execute(insert(journal_table).values(
                op_id=op_id, event="end", at=self.clock(), actor=start["actor"], stack=start["stack"],
                tenant=start["tenant"], operation=start["operation"], owner=start["owner"], result=result,
                state=state, change_summary=_dumps(change_summary), error=error, details=_dumps(details or {})))

    def journal(self, *, tenant: str | None = None, stack: str | None = None, limit: int | None = None,
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
        with self._tx() as conn:
            rows = conn.execute(query).mappings().all()
        entries = []
        for row in rows:
            details = dict(_loads(row["details"]) or {})
            details.update(_loads(row["end_details"]) or {})
            entries.append(JournalEntry(
                op_id=row["op_id"], actor=row["actor"], stack=row["stack"], tenant=row["tenant"],
                operation=row["operation"], owner=row["owner"], started_at=row["at"], ended_at=row["ended_at"],
                result=row["end_result"], state=row["end_state"], change_summary=_loads(row["end_summary"]),
                error=row["end_error"], details=details))
        return entries

    def last_state(self, tenant: str) -> str | None:
        """The lifecycle state the last successful operation deployed for `tenant`, if any."""
        with self._tx() as conn:
            row = conn.execute(
                select(journal_table.c.state)
                .where(and_(journal_table.c.tenant == tenant, journal_table.c.event == "end",
                            journal_table.c.result == "succeeded", journal_table.c.state.is_not(None)))
                .order_by(journal_table.c.at.desc(), journal_table.c.id.desc()).limit(1)
            ).first()
        return row[0] if row else None

    def succeeded(self, stack: str, operation: str) -> JournalEntry | None:
        """The latest successful `operation` on `stack`."""
        for entry in self.journal(stack=stack):
            if entry.operation == operation and entry.result == "succeeded":
                return entry
        return None

    # --- review flags -----------------------------------------------------------------------------

    def flag(self, stack: str, reason: str, op_id: str | None = None) -> bool:
        """Flag `stack` for review; False when the same open flag (stack, op_id) already exists."""
        with self._tx() as conn:
            query = select(flags_table.c.id).where(and_(flags_table.c.stack == stack,
                                                        flags_table.c.cleared_at.is_(None)))
            query = query.where(flags_table.c.op_id == op_id if op_id else flags_table.c.op_id.is_(None))
            if conn.execute(query).first() is not None:
                return False
            conn.execute(insert(flags_table).values(stack=stack, reason=reason, op_id=op_id,
                                                    flagged_at=self.clock()))
        return True

    def flags(self, *, include_cleared: bool = False, stack: str | None = None) -> list[ReviewFlag]:
        query = select(flags_table).order_by(flags_table.c.flagged_at, flags_table.c.id)
        if not include_cleared:
            query = query.where(flags_table.c.cleared_at.is_(None))
        if stack is not None:
            query = query.where(flags_table.c.stack == stack)
        with self._tx() as conn:
            return [ReviewFlag(**row) for row in conn.execute(query).mappings().all()]

    def clear(self, stack: str, actor: str) -> int:
        """Clear the open flags of `stack`, remove its lease if expired, and close (as `abandoned`)
        journal entries left open by operations that no longer hold a lease. Returns flags cleared."""
        now = self.clock()
        with self._tx() as conn:
            cleared = conn.execute(
                update(flags_table).where(and_(flags_table.c.stack == stack, flags_table.c.cleared_at.is_(None)))
                .values(cleared_at=now, cleared_by=actor)
            ).rowcount
            conn.execute(delete(leases_table).where(and_(leases_table.c.stack == stack,
                                                         leases_table.c.expires_at <= now)))
            live = {row[0] for row in conn.execute(select(leases_table.c.owner).where(
                and_(leases_table.c.stack == stack, leases_table.c.expires_at > now)))}
        for entry in self.journal(stack=stack, open_only=True):
            if entry.owner not in live:
                self.journal_end(op_id=entry.op_id, result="abandoned",
                                 error=f"never finished; review cleared by {actor}")
        return int(cleared)

    def scan(self) -> list[ReviewFlag]:
        """Find crashed operations: expired leases, and journal starts without an end whose owner holds
        no live lease. Flag their stacks (never cancel anything); return the flags newly raised."""
        now = self.clock()
        raised: list[ReviewFlag] = []
        live: dict[str, str] = {}
        for lease in self.leases():
            if lease.expired(now):
                reason = (f"the lease of {lease.operation} by {lease.actor} (owner {lease.owner}) expired at "
                          f"{_iso(lease.expires_at)} without being released: the operation may have crashed")
                if self.flag(lease.stack, reason):
                    raised += self.flags(stack=lease.stack)[-1:]
            else:
                live[lease.owner] = lease.stack
        for entry in self.journal(open_only=True):
            if entry.owner in live:
                continue
            reason = (f"{entry.operation} by {entry.actor} started at {_iso(entry.started_at)} and never ended "
                      "(no end in the journal, no live lease): it probably crashed")
            if self.flag(entry.stack, reason, entry.op_id):
                raised += self.flags(stack=entry.stack)[-1:]
        return raised

    # --- approvals --------------------------------------------------------------------------------

    def request_approval(self, *, stack: str, tenant: str | None, operation: str, requested_by: str,
                         reasons: list[str], change_summary: dict[str, Any], plan_path: str,
                         plan_sha256: str) -> int:
        with self._tx() as conn:
            result = conn.execute(insert(approvals_table).values(
                stack=stack, tenant=tenant, operation=operation, requested_by=requested_by,
                requested_at=self.clock(), reasons=json.dumps(reasons), change_summary=_dumps(change_summary),
                plan_path=plan_path, plan_sha256=plan_sha256, status="pending"))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def approval(self, approval_id: int) -> Approval | None:
        with self._tx() as conn:
            row = conn.execute(select(approvals_table).where(approvals_table.c.id == approval_id)).mappings().first()
        return _approval(row) if row else None

    def approvals(self, *, status: str | None = None) -> list[Approval]:
        query = select(approvals_table).order_by(approvals_table.c.id)
        if status is not None:
            query = query.where(approvals_table.c.status == status)
        with self._tx() as conn:
            return [_approval(row) for row in conn.execute(query).mappings().all()]

    def decide(self, approval_id: int, actor: str) -> bool:
        """Approve a pending request; False when it is not pending."""
        with self._tx() as conn:
            changed = conn.execute(
                update(approvals_table)
                .where(and_(approvals_table.c.id == approval_id, approvals_table.c.status == "pending"))
                .values(status="approved", decided_by=actor, decided_at=self.clock())
            ).rowcount
        return bool(changed == 1)

    def use_approval(self, approval_id: int) -> bool:
        """Mark an approved request used (single use); False when it was not approved or already used."""
        with self._tx() as conn:
            changed = conn.execute(
                update(approvals_table)
                .where(and_(approvals_table.c.id == approval_id, approvals_table.c.status == "approved"))
                .values(status="used", used_at=self.clock())
            ).rowcount
        return bool(changed == 1)

    # --- workflows --------------------------------------------------------------------------------

    def open_workflow(self, kind: str, tenant: str) -> Workflow | None:
        with self._tx() as conn:
            row = conn.execute(
                select(workflows_table).where(and_(workflows_table.c.kind == kind, workflows_table.c.tenant == tenant,
                                                   workflows_table.c.status == "running"))
                .order_by(workflows_table.c.started_at.desc()).limit(1)
            ).mappings().first()
        return self.workflow(row["id"]) if row else None

    def start_workflow(self, kind: str, tenant: str, params: dict[str, Any], actor: str) -> Workflow:
        workflow_id = uuid.uuid4().hex
        with self._tx() as conn:
            conn.execute(insert(workflows_table).values(
                id=workflow_id, kind=kind, tenant=tenant, params=_dumps(params), actor=actor,
                started_at=self.clock(), status="running"))
        found = self.workflow(workflow_id)
        assert found is not None
        return found

    def workflow(self, workflow_id: str) -> Workflow | None:
        with self._tx() as conn:
            row = conn.execute(select(workflows_table).where(workflows_table.c.id == workflow_id)).mappings().first()
            if row is None:
                return None
            steps = [r[0] for r in conn.execute(
                select(workflow_steps_table.c.step).where(workflow_steps_table.c.workflow_id == workflow_id)
                .order_by(workflow_steps_table.c.id))]
        return Workflow(id=row["id"], kind=row["kind"], tenant=row["tenant"], params=_loads(row["params"]),
                        actor=row["actor"], started_at=row["started_at"], status=row["status"],
                        finished_at=row["finished_at"], steps=tuple(steps))

    def step_done(self, workflow_id: str, step: str, detail: dict[str, Any] | None = None) -> None:
        with self._tx() as conn:
            conn.execute(self._insert_ignore(workflow_steps_table).values(
                workflow_id=workflow_id, step=step, at=self.clock(), detail=_dumps(detail)))

    def step_detail(self, workflow_id: str, step: str) -> dict[str, Any] | None:
        with self._tx() as conn:
            row = conn.execute(select(workflow_steps_table.c.detail).where(and_(
                workflow_steps_table.c.workflow_id == workflow_id, workflow_steps_table.c.step == step))).first()
        return _loads(row[0]) if row else None

    def finish_workflow(self, workflow_id: str) -> None:
        with self._tx() as conn:
            conn.execute(update(workflows_table).where(workflows_table.c.id == workflow_id)
                         .values(status="completed", finished_at=self.clock()))

    # --- retained data ----------------------------------------------------------------------------

    def retain(self, tenant: str, stack: str, resources: list[tuple[str, str]], retain_until: float) -> None:
        now = self.clock()
        with self._tx() as conn:
            for urn, type_token in resources:
                conn.execute(insert(retained_table).values(tenant=tenant, stack=stack, urn=urn, type=type_token,
                                                           retain_until=retain_until, recorded_at=now))

    def retained(self, tenant: str | None = None) -> list[Retained]:
        query = select(retained_table.c.tenant, retained_table.c.stack, retained_table.c.urn, retained_table.c.type,
                       retained_table.c.retain_until, retained_table.c.recorded_at).order_by(retained_table.c.id)
        if tenant is not None:
            query = query.where(retained_table.c.tenant == tenant)
        with self._tx() as conn:
            return [Retained(**row) for row in conn.execute(query).mappings().all()]


def _approval(row: Any) -> Approval:
    values: dict[str, Any] = dict(row)
    values["reasons"] = json.loads(values["reasons"])
    values["change_summary"] = json.loads(values["change_summary"])
    return Approval(**values)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"state URL '{url}' is not a database URL (sqlite:///path or "
                         "postgresql+psycopg://user@host/db)") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise UsageError(f"state URL '{parsed.render_as_string(hide_password=True)}': the automation database is "
                         "SQLite (sqlite:///path) or PostgreSQL (postgresql+psycopg://...)")
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if backend == "sqlite":
            database = parsed.database or ""
            if not database or database == ":memory:":
                raise UsageError("the automation database needs a file (sqlite:///path/state.db): an in-memory "
                                 "database is not shared between processes")
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": 30})
            _sqlite_setup(engine)
            return engine
        return create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError) as error:
        raise UsageError(f"the database driver for {parsed.drivername} is not installed ({error}); for "
                         "PostgreSQL install paybill-iac[postgres]") from None


def _sqlite_setup(engine: Engine) -> None:
    """Serialise writers properly: BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy
    timeout), so two processes never deadlock upgrading a read lock; WAL lets readers run meanwhile."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

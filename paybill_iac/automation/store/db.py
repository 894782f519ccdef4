"""The automation database: engine, schema and transactions. SQLite by default (one file, embedded),
PostgreSQL when a URL is given. The concerns that use it live beside it:

    paybill_leases          leases.py      one row per stack while an operation holds it
    paybill_journal         journal.py     append-only start and end rows of every operation
    paybill_review_flags    approvals.py   stacks that need a human (crashed operations, expired leases)
    paybill_approvals       approvals.py   agent changes waiting for, or given, a human approval
    paybill_workflows       workflows.py   lifecycle workflows and their completed steps
    paybill_retained        workflows.py   data resources kept after offboarding, until their retention ends

The tables are declared here (the service's principals and tokens in principals.py), and Alembic
migrations own the schema: opening a Database brings it to the newest revision (migrate.py; the
revisions in migrations/versions/ spell the tables out, and a test checks they match these). A schema
change is a new revision there. The journal's append-only triggers are created by the migrations.
Times are UTC epoch seconds (floats) from the database's clock (`Database.now`), never the clock of the
host that asks: on PostgreSQL the server's `clock_timestamp()`, so a client host whose clock runs ahead
cannot expire a live lease; SQLite has no server and lives on one host's disk, so its clock is that
host's (what its `julianday('now')` reads). Tests may give a clock of their own.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from paybill_iac.errors import OperationError, UsageError
from paybill_iac.project import no_state_folder

STATE_URL_ENV = "PAYBILL_STATE_URL"
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
    Column("status", String(12), nullable=False),  # pending | approved | rejected | used
    Column("decided_by", String(120), nullable=True),
    Column("decided_at", Float, nullable=True),
    Column("used_at", Float, nullable=True),
    Column("expires_at", Float, nullable=True),  # decided and used before then, or never
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


_PG_NOW = "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8"
_SQLITE_NOW = "SELECT (julianday('now') - 2440587.5) * 86400.0"
_SQLITE_CLOCK = sqlite3.connect(":memory:", check_same_thread=False)
_SQLITE_CLOCK_LOCK = threading.Lock()


def sqlite_time() -> float:
    """SQLite's clock, `julianday('now')` (the clock of the host the database file lives on), read in a
    connection of its own: never a lock on the state database."""
    with _SQLITE_CLOCK_LOCK:
        return float(_SQLITE_CLOCK.execute(_SQLITE_NOW).fetchone()[0])


def default_url(state_dir: str | os.PathLike[str] | None = None) -> str:
    """PAYBILL_STATE_URL when set, else a SQLite file under `state_dir`. Neither: a UsageError saying how to
    name one (the state never lands in whatever the working directory is; paybill_iac.project)."""
    env = os.environ.get(STATE_URL_ENV)
    if env and state_dir is None:
        return env
    if state_dir is None:
        raise no_state_folder("the automation database")
    return f"sqlite:///{(Path(state_dir) / DEFAULT_DB_FILE).resolve()}"


class Database:
    """One engine over the automation database, its schema migrated to the newest revision on open (a
    read when it is current). Safe to share between threads; open one per process."""

    def __init__(self, url: str, *, clock: Callable[[], float] | None = None):
        self.url = url
        self.engine = _engine(url)
        self.dialect = self.engine.dialect.name
        self.given_clock = clock
        self.clock: Callable[[], float] = clock or (self._server_time if self.dialect == "postgresql" else sqlite_time)
        """The database's time (a query on PostgreSQL); inside a transaction use `now(conn)`."""
        try:
            self._create_schema()
        except BaseException:
            self.engine.dispose()  # a refused migration must not leave pooled connections behind
            raise

    def now(self, conn: Connection | None = None) -> float:
        """The database's time, read in `conn`'s transaction when given (no second connection)."""
        if self.given_clock is not None or self.dialect != "postgresql":
            return self.clock()
        if conn is None:
            return self._server_time()
        return float(conn.exec_driver_sql(_PG_NOW).scalar_one())

    def _server_time(self) -> float:
        with self.engine.connect() as conn:
            return float(conn.exec_driver_sql(_PG_NOW).scalar_one())

    def lock(self, conn: Connection, key: str) -> None:
        """Serialise the transactions that take the same `key` (PostgreSQL: a transaction-scoped advisory
        lock; SQLite: every writing transaction already holds the one write lock, BEGIN IMMEDIATE)."""
        if self.dialect == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%(key)s))", {"key": f"paybill:{key}"})

    def close(self) -> None:
        self.engine.dispose()

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def transaction(self, *, read: bool = False) -> Iterator[Connection]:
        """One transaction; a database failure becomes an OperationError naming the database. `read`: one that
        only reads (one snapshot, taking no write lock: on SQLite a deferred BEGIN, not BEGIN IMMEDIATE)."""
        try:
            with self.engine.connect() as conn:
                if read:
                    conn.execution_options(paybill_read=True)
                with conn.begin():
                    yield conn
        except OperationalError as error:
            raise OperationError(f"the automation database at {self.safe_url} failed: {error.orig}") from None

    def insert_ignore(self, table: Table) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING in this database's dialect."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()

    def _create_schema(self) -> None:
        from paybill_iac.automation.store.migrate import ensure

        with self.transaction() as conn:
            ensure(conn, self.safe_url)


def dumps(value: Any) -> str | None:
    """A JSON column's text (None stays NULL)."""
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def iso(epoch: float) -> str:
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
    timeout), so two processes never deadlock upgrading a read lock; a transaction that only reads
    (`transaction(read=True)`) begins deferred, on a snapshot, without the write lock; WAL lets readers run
    meanwhile."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("paybill_read") else "BEGIN IMMEDIATE")

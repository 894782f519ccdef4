"""Lean reads for what the service answers many times a second (a token's principal, a tenant's last
operation and deployed state): one plain SQL statement each, on a pooled connection used as is.

Why not `Database.transaction`: on SQLite every transaction there begins IMMEDIATE (it takes the write
lock up front, which writers need to avoid deadlocks); a read needs no lock, and under load the readers
would queue behind each other and behind the writers. Here a SELECT runs in autocommit on SQLite (WAL:
it sees the last commit) and in a transaction rolled back on return to the pool on PostgreSQL.

    rows(db, sql, **params) -> list[dict]          `:name` parameters, in either dialect
    last_operation(db, stack) -> dict | None       the newest journal entry of a stack (as the API shows it)
    last_state(db, tenant) -> str | None           the lifecycle state last deployed
    deployed(db, stack, tenant)                    both, on one connection
"""

from __future__ import annotations

import functools
import re
from typing import Any

from paybill_iac.automation.store.db import Database, loads

_NAME = re.compile(r"(?<![:\w]):([a-z_]+)")  # :name, not a PostgreSQL cast (::float8)

LAST_OPERATION = (
    "SELECT s.op_id, s.actor, s.stack, s.tenant, s.operation, s.at AS started_at, s.details AS start_details, "
    "e.at AS ended_at, e.result, e.state, e.change_summary, e.error, e.details AS end_details "
    "FROM paybill_journal s LEFT JOIN paybill_journal e ON e.op_id = s.op_id AND e.event = 'end' "
    "WHERE s.event = 'start' AND s.stack = :stack ORDER BY s.at DESC, s.id DESC LIMIT 1")
LAST_STATE = (
    "SELECT state FROM paybill_journal WHERE tenant = :tenant AND event = 'end' AND result = 'succeeded' "
    "AND state IS NOT NULL ORDER BY at DESC, id DESC LIMIT 1")


@functools.lru_cache(maxsize=64)
def _for(dialect: str, sql: str) -> str:
    return _NAME.sub(r"%(\1)s", sql) if dialect == "postgresql" else sql


def rows(db: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    return queries(db, (sql, params))[0]


def queries(db: Database, *statements: tuple[str, dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Several SELECTs on one pooled connection (returned to the pool, which rolls back, after them)."""
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            found = []
            for sql, params in statements:
                cursor.execute(_for(db.dialect, sql), params)
                names = [column[0] for column in cursor.description or ()]
                found.append([dict(zip(names, row, strict=True)) for row in cursor.fetchall()])
            return found
        finally:
            cursor.close()
    finally:
        connection.close()


def deployed(db: Database, stack: str, tenant: str) -> tuple[dict[str, Any] | None, str | None]:
    """A tenant's last operation and the state last deployed, in one round of queries."""
    operation, state = queries(db, (LAST_OPERATION, {"stack": stack}), (LAST_STATE, {"tenant": tenant}))
    return _operation(operation), (str(state[0]["state"]) if state else None)


def last_operation(db: Database, stack: str) -> dict[str, Any] | None:
    return _operation(rows(db, LAST_OPERATION, stack=stack))


def _operation(found: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not found:
        return None
    row = found[0]
    details = dict(loads(row.pop("start_details")) or {})
    details.update(loads(row.pop("end_details")) or {})
    return {**row, "change_summary": loads(row["change_summary"]), "details": details}


def last_state(db: Database, tenant: str) -> str | None:
    found = rows(db, LAST_STATE, tenant=tenant)
    return str(found[0]["state"]) if found else None

"""Workflow records: the lifecycle workflows under way (onboard, change plan, offboard...) with the steps
they completed and what each step recorded, and the data resources an offboarding kept in the cloud
until their retention ends. A step is recorded once (a unique key); re-running a workflow skips it.

A workflow starts with its record: what it needs to finish or to undo (the old shape's outputs and
resources, the catalog edit it intends...), written as its first step, `record`, in the transaction that
creates it, so no workflow exists without one. One workflow runs per tenant: starting a second one while
another is recorded as running is refused (WorkflowBusy), whatever its kind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, insert, select, update

from paybill_iac.automation.errors import WorkflowBusy
from paybill_iac.automation.store.db import (
    Database,
    dumps,
    loads,
    retained_table,
    workflow_steps_table,
    workflows_table,
)


@dataclass(frozen=True)
class Workflow:
    id: str
    kind: str
    tenant: str
    params: dict[str, Any]
    actor: str
    started_at: float
    status: str  # running | completed
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


class WorkflowRecords:
    """Workflows and their completed steps."""

    def __init__(self, db: Database):
        self.db = db

    def running(self, kind: str, tenant: str) -> Workflow | None:
        """The newest `kind` workflow of `tenant` still running, if any."""
        with self.db.transaction(read=True) as conn:
            row = conn.execute(
                select(workflows_table).where(and_(workflows_table.c.kind == kind, workflows_table.c.tenant == tenant,
                                                   workflows_table.c.status == "running"))
                .order_by(workflows_table.c.started_at.desc()).limit(1)
            ).mappings().first()
        return self.get(row["id"]) if row else None

    def latest(self, kind: str, tenant: str, status: str | None = None) -> Workflow | None:
        """The newest `kind` workflow of `tenant` (with `status` when given: running or completed), if any."""
        query = select(workflows_table.c.id).where(and_(workflows_table.c.kind == kind,
                                                        workflows_table.c.tenant == tenant))
        if status is not None:
            query = query.where(workflows_table.c.status == status)
        with self.db.transaction(read=True) as conn:
            row = conn.execute(query.order_by(workflows_table.c.started_at.desc()).limit(1)).first()
        return self.get(row[0]) if row else None

    def all_running(self) -> list[Workflow]:
        """Every workflow recorded as running, oldest first."""
        with self.db.transaction(read=True) as conn:
            ids = [row[0] for row in conn.execute(select(workflows_table.c.id).where(
                workflows_table.c.status == "running").order_by(workflows_table.c.started_at))]
        return [found for found in (self.get(workflow_id) for workflow_id in ids) if found is not None]

    def running_for(self, tenant: str) -> Workflow | None:
        """The workflow of `tenant` still running, of any kind (there is at most one)."""
        with self.db.transaction(read=True) as conn:
            row = conn.execute(
                select(workflows_table.c.id).where(and_(workflows_table.c.tenant == tenant,
                                                        workflows_table.c.status == "running"))
                .order_by(workflows_table.c.started_at.desc()).limit(1)).first()
        return self.get(row[0]) if row else None

    def start(self, kind: str, tenant: str, params: dict[str, Any], actor: str,
              record: dict[str, Any] | None = None) -> Workflow:
        """A new running workflow with its record (step `record`), in one transaction; WorkflowBusy when the
        tenant already has a running one."""
        workflow_id = uuid.uuid4().hex
        with self.db.transaction() as conn:
            self.db.lock(conn, f"tenant:{tenant}")
            other = conn.execute(select(workflows_table.c.id, workflows_table.c.kind).where(and_(
                workflows_table.c.tenant == tenant, workflows_table.c.status == "running"))).first()
            if other is not None:
                raise WorkflowBusy(f"tenant '{tenant}' is already in the {other[1]} workflow {other[0]}: one workflow "
                                   "per tenant at a time; carry that one on first")
            now = self.db.now(conn)
            conn.execute(insert(workflows_table).values(
                id=workflow_id, kind=kind, tenant=tenant, params=dumps(params), actor=actor, started_at=now,
                status="running"))
            conn.execute(insert(workflow_steps_table).values(workflow_id=workflow_id, step="record", at=now,
                                                             detail=dumps(record or {})))
        found = self.get(workflow_id)
        assert found is not None
        return found

    def record(self, workflow_id: str) -> dict[str, Any] | None:
        """What the workflow recorded before it changed anything; None for a workflow without a record."""
        return self.step_detail(workflow_id, "record")

    def get(self, workflow_id: str) -> Workflow | None:
        with self.db.transaction(read=True) as conn:
            row = conn.execute(select(workflows_table).where(workflows_table.c.id == workflow_id)).mappings().first()
            if row is None:
                return None
            steps = [r[0] for r in conn.execute(
                select(workflow_steps_table.c.step).where(workflow_steps_table.c.workflow_id == workflow_id)
                .order_by(workflow_steps_table.c.id))]
        return Workflow(id=row["id"], kind=row["kind"], tenant=row["tenant"], params=loads(row["params"]),
                        actor=row["actor"], started_at=row["started_at"], status=row["status"],
                        finished_at=row["finished_at"], steps=tuple(steps))

    def step_done(self, workflow_id: str, step: str, detail: dict[str, Any] | None = None) -> None:
        """Record a completed step (once: a second record of the same step is ignored)."""
        with self.db.transaction() as conn:
            conn.execute(self.db.insert_ignore(workflow_steps_table).values(
                workflow_id=workflow_id, step=step, at=self.db.now(conn), detail=dumps(detail)))

    def step_detail(self, workflow_id: str, step: str) -> dict[str, Any] | None:
        with self.db.transaction(read=True) as conn:
            row = conn.execute(select(workflow_steps_table.c.detail).where(and_(
                workflow_steps_table.c.workflow_id == workflow_id, workflow_steps_table.c.step == step))).first()
        return loads(row[0]) if row else None

    def finish(self, workflow_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(update(workflows_table).where(workflows_table.c.id == workflow_id)
                         .values(status="completed", finished_at=self.db.now(conn)))


class RetainedData:
    """Data resources kept in the cloud after an offboarding, and when their retention ends."""

    def __init__(self, db: Database):
        self.db = db

    def record(self, tenant: str, stack: str, resources: list[tuple[str, str]], retain_until: float) -> None:
        """Record (urn, type) pairs kept until `retain_until`."""
        now = self.db.clock()
        with self.db.transaction() as conn:
            for urn, type_token in resources:
                conn.execute(insert(retained_table).values(tenant=tenant, stack=stack, urn=urn, type=type_token,
                                                           retain_until=retain_until, recorded_at=now))

    def find(self, tenant: str | None = None) -> list[Retained]:
        query = select(retained_table.c.tenant, retained_table.c.stack, retained_table.c.urn, retained_table.c.type,
                       retained_table.c.retain_until, retained_table.c.recorded_at).order_by(retained_table.c.id)
        if tenant is not None:
            query = query.where(retained_table.c.tenant == tenant)
        with self.db.transaction(read=True) as conn:
            return [Retained(**row) for row in conn.execute(query).mappings().all()]

"""Retention end: the last step of a tenant's offboarding, once the retention its plan promised has
passed.

    retention_end(op, tenant_id, approval=)   db-drop: the tenant's database and its own roles go
                                              (paybill_iac.dataplane.drop), irreversibly

It acts only on what the tenant's completed offboarding recorded (the database target at its
db-offboard step, the retention at its retention step), never on the catalog's current view: by
then a pooled tenant has left its cell and its stack is gone. It refuses while the retention runs,
while the catalog holds the tenant in any state but offboarded (a tenant onboarded again under the
same id has the same database names), and, for an agent, until a human approved exactly this drop.
Cloud resources kept by the offboarding (snapshots, retained instances) are listed by
`paybill-iac review` and deleted in the cloud; this step drops only the database on the server.
"""

from __future__ import annotations

from paybill_iac.automation.dataplane import target_from_dict
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.store.db import iso
from paybill_iac.errors import TransitionError, UsageError


def retention_end(op: Operator, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
    """Drop the database the tenant's offboarding kept, once its retention ended ([] when already dropped)."""
    tenant = op.reload().tenants.get(tenant_id)
    if tenant is not None and tenant.state != "offboarded":
        raise TransitionError(f"tenant '{tenant_id}' is {tenant.state}: its database is dropped only after it was "
                              "offboarded and its retention ended")
    records = op.store.workflows
    workflow = records.latest("offboard", tenant_id, status="completed")
    if workflow is None:
        raise UsageError(f"tenant '{tenant_id}' has no completed offboarding on record: there is no kept database "
                         f"to drop (offboard it with `paybill-iac lifecycle offboard {tenant_id}`)")
    recorded = (records.step_detail(workflow.id, "db-offboard") or {}).get("target")
    if not recorded:
        raise UsageError(f"the offboarding of tenant '{tenant_id}' recorded no database (it ran before the data "
                         "plane did): drop it by hand on its server")
    retain_until = float((records.step_detail(workflow.id, "retention") or {}).get("retain_until") or 0.0)
    if op.clock() < retain_until:
        raise UsageError(f"the retention of tenant '{tenant_id}' runs until {iso(retain_until)}: its database is "
                         "kept until then")
    stack = StackRef.tenant(tenant_id)
    dropped = op.store.journal.last_success(stack.key, "db-drop")
    if dropped is not None and dropped.started_at >= (workflow.finished_at or 0.0):
        return []
    target = target_from_dict(recorded)
    reasons = [f"it drops database '{target.database.database}' of tenant '{tenant_id}' and its roles for good "
               f"(retention ended {iso(retain_until)})"]
    then = (f"{op.actor} calls `retention_end('{tenant_id}', approval={{approval}})` again, which drops exactly that "
            "database")
    return [op.run_data_step(stack, "db-drop", target, lambda: op.data_plane.drop(target), approval=approval,
                             reasons=reasons, then=then,
                             details={"workflow": "retention-end", "retain_until": retain_until})]

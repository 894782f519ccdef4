"""`Automation`: the Operator plus the lifecycle workflows and fleet operations, as one object for
backend services and the CLI (the README, "Automation"). It adds no behaviour of its own: every
method is a workflow or the fleet run over this Operator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import paybill_iac.automation.declare as declare
import paybill_iac.automation.fleet as fleet
import paybill_iac.automation.plan_change as plan_change
import paybill_iac.automation.retention as retention
import paybill_iac.automation.workflows as workflows
from paybill_iac.automation.declare import DeclaredRun
from paybill_iac.automation.fleet import FleetReport
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.workflows import MoveHook, SnapshotHook
from paybill_iac.catalog.ledger import Declared

if TYPE_CHECKING:
    from paybill_iac.dataplane import DumpHook


class Automation(Operator):
    """Tenant and cell stacks, driven for backend services and agents: the Operator's stack operations,
    review and approvals, plus `onboard`, `change_plan`, `move`, `suspend`, `resume`, `offboard`,
    `cancel_offboarding`, `retention_end`, the declared workflows (`declare_*`, `run_declared`) and `fleet`."""

    def onboard(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        return workflows.onboard(self, tenant_id, approval=approval)

    def change_plan(self, tenant_id: str, plan: str, *, data_move: MoveHook | None = None,
                    cut_over: MoveHook | None = None, approval: int | None = None) -> list[OperationResult]:
        return plan_change.change_plan(self, tenant_id, plan, data_move=data_move, cut_over=cut_over,
                                       approval=approval)

    def move(self, tenant_id: str, *, cell: str | None = None, region: str | None = None, cloud: str | None = None,
             data_move: MoveHook | None = None, cut_over: MoveHook | None = None,
             approval: int | None = None) -> list[OperationResult]:
        """Move a pooled tenant to another cell, region or cloud, its data with it."""
        return plan_change.move(self, tenant_id, cell=cell, region=region, cloud=cloud, data_move=data_move,
                                cut_over=cut_over, approval=approval)

    def declare_change_plan(self, tenant_id: str, plan: str) -> Declared:
        """--plan-only: edit the catalog and declare the change-plan workflow, run on merge (declare.py)."""
        return declare.declare_change_plan(self, tenant_id, plan)

    def declare_move(self, tenant_id: str, *, cell: str | None = None, region: str | None = None,
                     cloud: str | None = None) -> Declared:
        """--plan-only: edit the catalog and declare the move workflow, run on merge."""
        return declare.declare_move(self, tenant_id, cell=cell, region=region, cloud=cloud)

    def declare_offboard(self, tenant_id: str) -> Declared:
        """--plan-only: set the tenant offboarding and declare the offboard workflow, run on merge."""
        return declare.declare_offboard(self, tenant_id)

    def run_declared(self, **options: Any) -> list[DeclaredRun]:
        """Run every workflow the ledger declares (after the pull request that declared them was merged)."""
        return declare.run_declared(self, **options)

    def suspend(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        return workflows.set_state(self, tenant_id, "suspended", approval=approval)

    def resume(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        return workflows.set_state(self, tenant_id, "active", approval=approval)

    def offboard(self, tenant_id: str, *, snapshot: SnapshotHook | None = None, dump: DumpHook | None = None,
                 approval: int | None = None) -> list[OperationResult]:
        return workflows.offboard(self, tenant_id, snapshot=snapshot, dump=dump, approval=approval)

    def cancel_offboarding(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        """An offboarding tenant back to active before its retention ended (its final backups stay in the cloud)."""
        return workflows.cancel_offboarding(self, tenant_id, approval=approval)

    def retention_end(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        """Once an offboarding's retention ended: guards released, buckets emptied, a pooled database dropped,
        the stack destroyed, the tenant offboarded (an agent needs one approval, before anything irreversible)."""
        return retention.retention_end(self, tenant_id, approval=approval)

    def fleet(self, operation: str = "up", **options: Any) -> FleetReport:
        """Run `operation` over many tenants in waves (see paybill_iac.automation.fleet.run_fleet)."""
        return fleet.run_fleet(self, operation, **options)

"""paybill_iac.automation: tenant and cell stacks driven from backend services and AI agents.

    Automation      the entry point: preview/up/refresh/destroy a tenant or cell stack; lifecycle
                    workflows (onboard, change_plan, suspend, resume, offboard); fleet operations;
                    journal, review, approvals
    Settings        what an Automation is built from (catalog, actor, database, backend, runner...)
    StackRunner     what executes an operation (PulumiRunner: the Pulumi CLI via pulumi.automation)
    FleetRunner     what runs a fleet operation (LocalProcessFleetRunner: a process pool)

Modules: invocation (pure command construction), runner, store (leases, journal, flags,
approvals, workflows, retained data), gates, retry, ops, workflows, catalog_edit, fleet.
Importing this package does not import pulumi; the Pulumi runner imports it when it runs.
The README ("Automation") has a service example.
"""

from __future__ import annotations

from paybill_iac.automation.fleet import (
    FleetPlan,
    FleetReport,
    FleetRunner,
    LocalProcessFleetRunner,
    TenantOutcome,
    plan_waves,
)
from paybill_iac.automation.gates import AgentBudget, ApprovalNeeded, gate_reasons
from paybill_iac.automation.invocation import POLICY_PACKS, Invocation, Layout, StackRef, build_invocation
from paybill_iac.automation.ops import Automation, OperationResult, Review, Settings, policy_configs
from paybill_iac.automation.retry import RetryPolicy
from paybill_iac.automation.runner import (
    ChangeSummary,
    PulumiRunner,
    RunFailed,
    RunResult,
    StackLocked,
    StackRunner,
    Step,
    TransientFailure,
)
from paybill_iac.automation.store import JournalEntry, NeedsReview, Store
from paybill_iac.automation.workflows import MoveContext, OffboardContext

__all__ = [
    "POLICY_PACKS", "AgentBudget", "ApprovalNeeded", "Automation", "ChangeSummary", "FleetPlan", "FleetReport",
    "FleetRunner", "Invocation", "JournalEntry", "Layout", "LocalProcessFleetRunner", "MoveContext", "NeedsReview",
    "OffboardContext", "OperationResult", "PulumiRunner", "Review", "RetryPolicy", "RunFailed", "RunResult",
    "Settings", "StackLocked", "StackRef", "StackRunner", "Step", "Store", "TenantOutcome", "TransientFailure",
    "build_invocation", "gate_reasons", "plan_waves", "policy_configs",
]

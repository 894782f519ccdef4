"""paybill_iac.automation: tenant and cell stacks driven from backend services and AI agents.

    Automation      the entry point for services and the CLI: an Operator plus the lifecycle workflows
                    (onboard, change_plan, move, suspend, resume, offboard, retention_end, the declared
                    ones) and fleet operations
    Operator        every stack operation (preview/up/refresh/destroy, `run_step`) with leases, the
                    journal, agent gates, approvals and retries; review, approvals, the journal
    Settings        what an Operator is built from (catalog, actor, database, backend, runner...)
    StackRunner     what executes an operation (PulumiRunner: the Pulumi CLI via pulumi.automation)
    DataPlane       what the workflows' data-plane steps call (DirectDataPlane: paybill_iac.dataplane)
    FleetRunner     what runs a fleet operation's tasks (FleetTask: plain data): LocalProcessFleetRunner
                    (a process pool), paybill_iac.pko.engine.PkoFleetRunner (the Kubernetes operator)

Modules, each importing only those above it (no module imports this package's __init__):

    errors          the automation exceptions (extending paybill_iac.errors)
    specs           the one window on stack specs and `generate`
    invocation      pure command construction: StackRef, Layout, Invocation, build_invocation
    runner          StackRunner, PulumiRunner, ChangeSummary, Step
    retry           backoff with full jitter
    gates           agent gates from paybill_iac.model.resource_facts
    store/          the database: db, leases, journal, approvals (and review flags), workflows (and
                    retained data), and the Store facade
    dataplane       DataPlane, DirectDataPlane, a data-plane step through the lease and the journal
    settings        Settings
    policy          the per-run policy pack configs (from paybill_policies)
    engine          the engine's operation types; which CLI failures are transient
    interrupts      SIGINT and SIGTERM during an operation
    tenancy         a workflow's hold on its tenant (the workflow lease)
    execution       how an operation runs under the gates, approvals and retries (lifting guards after them)
    desk            what waits for a human: review, approvals, clearing, the journal
    operator        Operator, OperationResult, Review
    catalog_edit    tenant-file edits made by workflows, with the ledger
    runbook         what the workflows share: records, steps, catalog edits
    workflows       onboard, suspend, resume, offboard over an Operator
    plan_change     change plan and move (the workflows that move data)
    declare         workflows declared in a pull request (--plan-only), run on merge
    retention       retention end: the database an offboarding kept is dropped
    fleet_tasks     FleetTask, FleetPlan, TenantOutcome, FleetReport, FleetRunner: what an engine takes and gives
    fleet           waves, run_fleet (recorded runs, resume), LocalProcessFleetRunner
    api             Automation

Importing this package does not import pulumi nor psycopg; the Pulumi runner and the data plane
import them when they run.
The README ("Automation") has a service example.
"""

from __future__ import annotations

from paybill_iac.automation.api import Automation
from paybill_iac.automation.dataplane import DataPlane, DirectDataPlane
from paybill_iac.automation.errors import (
    ApprovalNeeded,
    DataPlaneFailed,
    NeedsReview,
    OperationInterrupted,
    RetryableFailure,
    RunFailed,
    StackLocked,
    TransientFailure,
    WorkflowBusy,
)
from paybill_iac.automation.fleet import (
    FleetPlan,
    FleetReport,
    FleetRunner,
    FleetTask,
    LocalProcessFleetRunner,
    TenantOutcome,
    plan_waves,
)
from paybill_iac.automation.gates import AgentBudget, gate_reasons
from paybill_iac.automation.invocation import POLICY_PACKS, Invocation, Layout, StackRef, build_invocation
from paybill_iac.automation.operator import OperationResult, Operator, Review, Unguard
from paybill_iac.automation.policy import policy_configs
from paybill_iac.automation.retry import RetryPolicy
from paybill_iac.automation.runner import ChangeSummary, PulumiRunner, RunResult, StackRunner, Step
from paybill_iac.automation.settings import Settings
from paybill_iac.automation.store import JournalEntry, Store
from paybill_iac.automation.workflows import MoveContext, OffboardContext

__all__ = [
    "POLICY_PACKS", "AgentBudget", "ApprovalNeeded", "Automation", "ChangeSummary", "DataPlane", "DataPlaneFailed",
    "DirectDataPlane", "FleetPlan", "FleetReport", "FleetRunner", "FleetTask", "Invocation", "JournalEntry",
    "Layout", "LocalProcessFleetRunner", "MoveContext", "NeedsReview", "OffboardContext", "OperationInterrupted",
    "OperationResult", "Operator", "PulumiRunner", "RetryPolicy", "RetryableFailure", "Review", "RunFailed",
    "RunResult", "Settings", "StackLocked", "StackRef", "StackRunner", "Step", "Store", "TenantOutcome",
    "TransientFailure", "Unguard", "WorkflowBusy", "build_invocation", "gate_reasons", "plan_waves", "policy_configs",
]

"""The Operator: every stack operation paybill-iac runs, with leases, the journal, agent gates and
retries. Services, the CLI, the lifecycle workflows and fleet workers all go through it.

Every operation goes through `Operator.run_step`:

    1. scan for crashed operations (expired leases, journal starts without an end), on one consistent
       snapshot: flag their stacks for review, never cancel anything; refuse to touch a flagged stack
    2. take the stack's lease (one operation per stack across processes and hosts, expiring by the
       database's clock), renewed by a heartbeat while the operation runs; refused while the tenant is
       in a lifecycle workflow this operation is not part of (WorkflowBusy names it and its step)
    3. journal the start
    4. run it (execution.py): agents preview (saving an update plan), pass the gates, then `up`
       constrained to that plan (or to the plan a human approved); humans run the operation; an up
       that deletes protected resources on purpose lifts `protect` only after its gate (Unguard)
    5. retry lock conflicts and the backend's transient failures with backoff (a refresh first after
       a partial update)
    6. journal the end (result, change summary, error, the state deployed); release the lease.
       SIGINT and SIGTERM end it the same way (interrupts.py): the journal says `interrupted` and the
       phase, the stack is flagged when the phase could have changed it

Public API:

    Operator(settings, *, store, sleep, rng, clock, notify)   Operator.open(catalog_dir, **options)
    catalog, reload()                        the catalog, loaded and validated once
    stack_ref(tenant=, cell=)                a StackRef, checked against the catalog
    stack_config(stack, catalog), invocation(operation, stack, catalog, ...)   what would run (no effects)
    outputs(stack, catalog), resources(stack, catalog)                       the stack's current state
    preview / up / refresh / destroy / check_drift(tenant=, cell=, ...)     one stack operation (drift: drift.py)
    run_step(stack, operation, *, catalog, approval, excludes, details, gated, unguard)
                                             the one path every operation takes (workflows call it)
    hold(kind, tenant)                       a workflow's hold on its tenant (tenancy.TenantHold); the
                                             operations run inside it are part of the workflow
    data_plane, run_data_step(stack, operation, target, call, ...)   a data-plane step (db-apply...)
    check_deployed_transition(tenant_id, state)   the catalog's state follows the state last deployed
    review(), approve(id), reject(id), clear_review(stack), journal(...), scan(), clock()
                                             what waits for a human (desk.py)
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Self

import paybill_iac.automation.dataplane as dataplane
import paybill_iac.automation.drift as drift
from paybill_iac.automation.desk import HumanDesk, Review
from paybill_iac.automation.errors import (
    ApprovalNeeded,
    NeedsReview,
    OperationInterrupted,
    RetryableFailure,
    WorkflowBusy,
)
from paybill_iac.automation.execution import Done, Execution, Gate, Unguard
from paybill_iac.automation.gates import check_actor
from paybill_iac.automation.interrupts import CHANGING_PHASES, Interruption, handle_signals
from paybill_iac.automation.invocation import Invocation, StackRef, build_invocation
from paybill_iac.automation.policy import policy_configs
from paybill_iac.automation.runner import ChangeSummary, StackRunner, Step
from paybill_iac.automation.settings import Settings
from paybill_iac.automation.specs import generated_config
from paybill_iac.automation.store import SCAN_GRACE, Heartbeat, Journal, Store, new_owner
from paybill_iac.automation.tenancy import TenantHold
from paybill_iac.catalog import ledger, load_catalog
from paybill_iac.errors import GateRefused, LeaseHeld, OperationError, PaybillError, UsageError
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.lifecycle import check_transition
from paybill_iac.model.words import plural, unknown

__all__ = ["OperationResult", "Operator", "Review", "Unguard"]

log = logging.getLogger("paybill_iac.automation")


@dataclass(frozen=True)
class OperationResult:
    """What one stack operation did."""

    stack: str
    operation: str
    op_id: str
    summary: ChangeSummary
    outputs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    approval: int | None = None
    report: Any = None
    """A data-plane step's DataPlaneReport; drift (drift.py) for a refresh and its preview; else None."""

    def describe(self) -> str:
        return f"{self.operation} {self.stack}: {self.summary.describe()}"


class Operator(HumanDesk):
    """Runs tenant and cell stack operations for one actor. See the module docstring for the API."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
        notify: Callable[[str], None] | None = None,
    ):
        """`clock` replaces the state database's clock (tests only)."""
        check_actor(settings.actor)
        self.settings = settings
        self.actor = settings.actor
        self.layout = settings.layout()
        self.store = store or Store(settings.database_url, clock=clock)
        self.runner: StackRunner = settings.runner or _pulumi_runner()
        self.data_plane: dataplane.DataPlane = settings.data_plane or dataplane.DirectDataPlane()
        self.notify = notify or log.warning
        self.scan_grace = SCAN_GRACE
        self.workflow_owner: str | None = None
        """The owner of the tenant hold this Operator runs a workflow under (None outside a workflow)."""
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._catalog: Catalog | None = None

    @classmethod
    def open(cls, catalog_dir: str | Path = "stacks/catalog", **options: Any) -> Self:
        """`Operator.open("stacks/catalog", actor="agent:billing-bot")`; options are Settings fields,
        plus `store`, `sleep`, `rng`, `clock`, `notify`."""
        extra = {key: options.pop(key) for key in ("store", "sleep", "rng", "clock", "notify") if key in options}
        if options.get("state_dir") is not None:
            options["state_dir"] = Path(options["state_dir"])
        return cls(Settings(catalog_dir=Path(catalog_dir), **options), **extra)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # --- the catalog and what would run -------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The catalog, loaded (and validated) once; `reload()` after it changed."""
        if self._catalog is None:
            self._catalog = load_catalog(self.settings.catalog_dir)
        return self._catalog

    def reload(self) -> Catalog:
        self._catalog = None
        return self.catalog

    def stack_ref(self, tenant: str | None = None, cell: str | None = None) -> StackRef:
        if (tenant is None) == (cell is None):
            raise UsageError("name exactly one stack: a tenant (--tenant ID) or a cell (--cell ID)")
        catalog = self.catalog
        if tenant is not None:
            if tenant not in catalog.tenants:
                raise UsageError(unknown("tenant", tenant, catalog.tenants))
            return StackRef.tenant(tenant)
        assert cell is not None
        if cell not in catalog.cells:
            raise UsageError(unknown("cell", cell, catalog.cells))
        return StackRef.cell(cell)

    def stack_config(self, stack: StackRef, catalog: Catalog | None = None) -> dict[str, Any]:
        """The stack's config as `paybill-iac generate` writes it, from `catalog` (default: the current)."""
        catalog = catalog or self.catalog
        config = generated_config(catalog, stack.project, stack.name)
        if config is None:
            if stack.kind == "tenant" and stack.name in catalog.tenants:
                raise UsageError(f"tenant '{stack.name}' is {catalog.tenants[stack.name].state}: it has no stack")
            raise UsageError(f"unknown {stack.kind} '{stack.name}'")
        return config

    def invocation(self, operation: str, stack: StackRef, catalog: Catalog | None = None, *,
                   plan_file: str | None = None, targets: tuple[str, ...] = (),
                   excludes: tuple[str, ...] = ()) -> Invocation:
        """The fully described operation (no side effects): what the runner will execute."""
        catalog = catalog or self.catalog
        return build_invocation(
            operation, stack, self.stack_config(stack, catalog), layout=self.layout,
            policy_configs=policy_configs(catalog, stack, self.actor), actor=self.actor,
            plan_file=plan_file, targets=targets, excludes=excludes)

    def outputs(self, stack: StackRef, catalog: Catalog | None = None) -> dict[str, Any]:
        """The stack's current outputs ({} when it has none). Reads; takes no lease."""
        return self.runner.outputs(self.invocation("up", stack, catalog))

    def resources(self, stack: StackRef, catalog: Catalog | None = None) -> list[Step]:
        """The resources in the stack's state ([] when it has none). Reads; takes no lease."""
        return self.runner.resources(self.invocation("up", stack, catalog))

    # --- stack operations ---------------------------------------------------------------------------

    def preview(self, *, tenant: str | None = None, cell: str | None = None) -> OperationResult:
        """What `up` would change, with every policy pack attached. Changes nothing."""
        return self.run_step(self.stack_ref(tenant, cell), "preview")

    def up(self, *, tenant: str | None = None, cell: str | None = None,
           approval: int | None = None) -> OperationResult:
        """Deploy the stack as the catalog describes it. An agent's up is previewed and gated first;
        `approval` applies a plan a human approved."""
        stack = self.stack_ref(tenant, cell)
        if stack.kind == "tenant":
            self.check_declared(stack.name, "up")
            self.check_deployed_transition(stack.name, self.catalog.tenants[stack.name].state)
        return self.run_step(stack, "up", approval=approval)

    def refresh(self, *, tenant: str | None = None, cell: str | None = None, approval: int | None = None
                ) -> OperationResult:
        """Adopt the stack's drift on purpose (drift.adopt): shown first, journaled with its diff, gated for agents."""
        return drift.adopt(self, self.stack_ref(tenant, cell), approval)

    def check_drift(self, *, tenant: str | None = None, cell: str | None = None,
                    hook: drift.Hook | None = None) -> OperationResult:
        """A refresh preview (nothing written) through the lease and the journal, its report (`report`) stored."""
        return drift.check_stack(self, self.stack_ref(tenant, cell), hook)

    def destroy(self, *, tenant: str | None = None, cell: str | None = None,
                approval: int | None = None) -> OperationResult:
        """Destroy a stack: a tenant's while offboarding, a cell's once no tenant remains (built again: new names)."""
        stack = self.stack_ref(tenant, cell)
        catalog = self.catalog
        if stack.kind == "tenant":
            self.check_declared(stack.name, "destroy")
            state = catalog.tenants[stack.name].state
            if state != "offboarding":
                raise UsageError(f"tenant '{stack.name}' is {state}: destroying its stack would break a live "
                                 f"tenant; offboard it with `paybill-iac lifecycle offboard {stack.name}`, which "
                                 "keeps its data through the retention period")
        else:
            _check_cell_empty(stack.name, catalog)
        result = self.run_step(stack, "destroy", approval=approval)
        if stack.kind == "cell":  # what it left in the cloud keeps its names: built again, it takes new ones
            ledger.cell_destroyed(self.settings.catalog_dir, stack.name, catalog.generations.get(stack.name, 0))
        return result

    def check_declared(self, tenant_id: str, operation: str) -> None:
        """A tenant whose move is declared in the ledger (a merged --plan-only) changes only through that
        workflow: its stack file already says where the data goes, and an `up` would get there by deleting."""
        entry = ledger.read(self.settings.catalog_dir).entries.get(tenant_id)
        if entry is not None and entry.declared is not None:
            raise WorkflowBusy(f"tenant '{tenant_id}' has a declared workflow, {entry.declared.describe(tenant_id)}: "
                               f"{operation} is refused, the workflow does it (`paybill-iac lifecycle run-declared`)")

    def check_deployed_transition(self, tenant_id: str, state: str) -> None:
        """The catalog's state must be reachable from the state last deployed (hand edits included)."""
        previous = self.store.journal.last_state(tenant_id)
        if previous is not None:
            check_transition(tenant_id, previous, state)

    @contextmanager
    def hold(self, kind: str, tenant: str) -> Iterator[TenantHold]:
        """Hold `tenant` for a `kind` workflow: its workflow lease for all the steps run inside (they pass it),
        every other operation on the tenant refused meanwhile (WorkflowBusy naming the workflow and step)."""
        with TenantHold(self.store, kind, tenant, self.actor, self.settings.lease_ttl) as held:
            previous, self.workflow_owner = self.workflow_owner, held.owner
            try:
                yield held
            finally:
                self.workflow_owner = previous

    def run_step(
        self,
        stack: StackRef,
        operation: str,
        *,
        catalog: Catalog | None = None,
        approval: int | None = None,
        excludes: tuple[str, ...] = (),
        details: dict[str, Any] | None = None,
        gated: Gate | None = None,
        unguard: Unguard | None = None,
    ) -> OperationResult:
        """Run `operation` on `stack` as `catalog` (default: the current one) describes it, through the crash
        scan, the lease, the journal, the gates and retries. `approval` applies a plan a human approved;
        `excludes` leaves those URNs untouched; `details` go into the journal; `gated` adds gate reasons
        of the caller's own (an agent's preview is refused when it returns any); `unguard` lifts `protect`
        from resources the up deletes on purpose, only once the gate passed (execution.py)."""
        catalog = catalog or self.catalog
        state = catalog.tenants[stack.name].state if stack.kind == "tenant" else None
        # Everything that can be refused for bad input is built before a lease is taken.
        base = self.invocation(operation, stack, catalog, excludes=excludes)
        self.scan()
        op_id, owner = uuid.uuid4().hex, new_owner()
        details = {**(details or {}), **({"approval": approval} if approval else {}),
                   **({"excluded": len(excludes)} if excludes else {}),
                   **({"lifts_protection": len(unguard.urns)} if unguard else {})}
        self._take(stack, operation, op_id, owner, details)
        heartbeat = Heartbeat(self.store.leases, stack.key, owner, self.settings.lease_ttl)
        journal = self.store.journal
        execution = self._execution()
        try:
            journal.start(op_id=op_id, actor=self.actor, stack=stack.key, tenant=stack.tenant_id,
                          operation=operation, owner=owner, details=details)
            heartbeat.start()
            with handle_signals(self.runner, execution.interruption) as interruption:
                try:
                    done = execution.execute(base, op_id, approval, gated, partial(self.invocation, catalog=catalog),
                                             unguard)
                except BaseException as error:
                    interruption.closing = True
                    self._journal_failure(journal, op_id, stack, operation, error, interruption)
                    raise
                interruption.closing = True
                deployed = state if operation == "up" and stack.kind == "tenant" else None
                journal.end(op_id=op_id, result="succeeded", change_summary=done.run.summary.as_dict(),
                            state=deployed, details=_success(done))
            return OperationResult(stack.key, operation, op_id, done.run.summary, done.run.outputs, done.attempts,
                                   done.approval, report=done.run.refreshed or None)
        finally:
            heartbeat.stop()
            self.store.leases.release(stack.key, owner)

    def run_data_step(self, stack: StackRef, operation: str, target: dataplane.DataTarget, call: dataplane.DataCall,
                      **options: Any) -> OperationResult:
        """A data-plane operation (`call` on `target`) as the step `operation` (db-apply...) on `stack`, through the
        crash scan, the lease and the journal; options: details, approval, reasons, then (see dataplane.py)."""
        interruption = Interruption(phase="data")
        with handle_signals(None, interruption):
            op_id, report = dataplane.run_data_step(
                self.store, stack, operation, target, call, actor=self.actor, lease_ttl=self.settings.lease_ttl,
                recover=self.scan, workflow_owner=self.workflow_owner, **options)
            interruption.closing = True
        return OperationResult(stack.key, operation, op_id, dataplane.data_summary(report), report=report,
                               approval=options.get("approval") if options.get("reasons") else None)

    def _execution(self) -> Execution:
        """A fresh Execution per operation (it carries the operation's Interruption)."""
        settings = self.settings
        return Execution(self.runner, self.store.approvals, self.layout, actor=self.actor, budget=settings.budget,
                         retry=settings.retry, sleep=self._sleep, rng=self._rng, notify=self.notify)

    def _take(self, stack: StackRef, operation: str, op_id: str, owner: str, details: dict[str, Any]) -> None:
        """The stack's lease, or a refusal journaled in one transaction (needs review, busy, workflow busy)."""
        flags = self.store.flags.find(stack=stack.key)
        try:
            if flags:
                raise NeedsReview(f"stack {stack.key} needs review before any operation: {flags[0].reason}. A human "
                                  f"checks it, then clears it with `paybill-iac review --clear {stack.key}`")
            self.store.leases.acquire(stack.key, owner, operation, self.actor, self.settings.lease_ttl,
                                      tenant=stack.tenant_id, workflow_owner=self.workflow_owner)
        except (LeaseHeld, NeedsReview) as error:
            self.store.journal.refusal(
                op_id=op_id, actor=self.actor, stack=stack.key, tenant=stack.tenant_id, operation=operation,
                owner=owner, result="busy" if isinstance(error, LeaseHeld) else "needs-review", error=str(error),
                details=details)
            raise

    def _journal_failure(self, journal: Journal, op_id: str, stack: StackRef, operation: str, error: BaseException,
                         interruption: Interruption) -> None:
        if isinstance(error, ApprovalNeeded):
            journal.end(op_id=op_id, result="refused", error=str(error),
                        details={"approval_requested": error.approval_id})
        elif isinstance(error, GateRefused):
            journal.end(op_id=op_id, result="refused", error=str(error))
        elif isinstance(error, PaybillError):
            attempts = error.attempts if isinstance(error, RetryableFailure) else 1
            journal.end(op_id=op_id, result="failed", error=str(error), details={"attempts": attempts})
        elif isinstance(error, Exception):
            journal.end(op_id=op_id, result="failed", error=f"{type(error).__name__}: {error}")
        else:  # SIGINT, SIGTERM (OperationInterrupted), KeyboardInterrupt, SystemExit: the run may be half-way
            phase = error.phase if isinstance(error, OperationInterrupted) else interruption.phase
            name = str(error) if isinstance(error, OperationInterrupted) else type(error).__name__
            journal.end(op_id=op_id, result="interrupted", error=name,
                        details={"phase": phase, **({"signal": error.signum}
                                                    if isinstance(error, OperationInterrupted) else {})})
            if phase in CHANGING_PHASES:
                self.store.flags.add(stack.key, f"{operation} by {self.actor} was interrupted ({name}) in its "
                                                f"{phase} phase: the stack may be half-updated", op_id)


def _success(done: Done) -> dict[str, Any]:
    return {"attempts": done.attempts, **({"approval": done.approval} if done.approval else {}),
            **({"refreshed": done.refreshed} if done.refreshed else {})}


def _check_cell_empty(cell_id: str, catalog: Catalog) -> None:
    remaining = sorted(tenant for tenant, cell in catalog.placements.items() if cell == cell_id)
    if remaining:
        raise OperationError(f"cell '{cell_id}' still hosts {plural(len(remaining), 'tenant')} "
                             f"({', '.join(remaining[:10])}{', ...' if len(remaining) > 10 else ''}): a cell is "
                             "never destroyed while tenants remain")


def _pulumi_runner() -> StackRunner:
    from paybill_iac.automation.runner import PulumiRunner

    return PulumiRunner()



"""Stack operations with leases, the journal, agent gates, retries and crash recovery.

Every operation on a stack goes through `Automation._operate`:

    1. scan for crashed operations (expired leases, journal starts without an end): flag their
       stacks for review, never cancel anything; refuse to touch a flagged stack
    2. take the stack's lease (one operation per stack across processes and hosts), renewed by a
       heartbeat while the operation runs
    3. journal the start
    4. agents: preview (saving an update plan), check the gates, then `up` constrained to that plan
       (or to the plan a human approved); humans: run the operation
    5. retry lock conflicts and transient failures with backoff
    6. journal the end (result, change summary, error, the state deployed); release the lease
"""

from __future__ import annotations

import hashlib
import logging
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from paybill_iac.automation.gates import HUMAN, AgentBudget, ApprovalNeeded, check_actor, gate_reasons, is_agent
from paybill_iac.automation.invocation import POLICY_PACKS, Invocation, Layout, StackRef, build_invocation
from paybill_iac.automation.retry import RetryPolicy, with_retries
from paybill_iac.automation.runner import ChangeSummary, RunResult, StackRunner
from paybill_iac.automation.store import (
    Approval,
    JournalEntry,
    NeedsReview,
    Retained,
    ReviewFlag,
    Store,
    default_url,
    new_owner,
)
from paybill_iac.catalog import load_catalog
from paybill_iac.errors import (
    GateRefused,
    LeaseHeld,
    OperationError,
    PaybillError,
    PulumiCLIMissing,
    UsageError,
)
from paybill_iac.model.catalog import Catalog

log = logging.getLogger("paybill_iac.automation")

DEFAULT_LEASE_TTL = 300.0


def _default_policy_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("paybill_policies")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0]).parent
    return Path("policy_packs")


def _default_virtualenv() -> Path | None:
    return Path(sys.prefix) if sys.prefix != sys.base_prefix else None


@dataclass(frozen=True)
class Settings:
    """Everything an Automation needs, as plain picklable data (fleet workers rebuild from it)."""

    catalog_dir: Path
    actor: str = HUMAN
    state_url: str | None = None
    state_dir: Path = Path(".paybill")
    backend_url: str = ""
    stacks_dir: Path | None = None
    """Folder holding the tenant/ and cell/ projects; default: the catalog's parent folder."""
    policy_dir: Path | None = None
    """Folder holding the policy packs; default: the installed paybill_policies' folder."""
    lease_ttl: float = DEFAULT_LEASE_TTL
    budget: AgentBudget = field(default_factory=AgentBudget)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    runner: StackRunner | None = None
    """None: the Pulumi CLI through pulumi.automation."""

    def layout(self) -> Layout:
        catalog_dir = Path(self.catalog_dir)
        return Layout(
            stacks_dir=Path(self.stacks_dir) if self.stacks_dir else catalog_dir.resolve().parent,
            policy_dir=Path(self.policy_dir) if self.policy_dir else _default_policy_dir(),
            state_dir=Path(self.state_dir),
            backend_url=self.backend_url,
            virtualenv=_default_virtualenv(),
        )

    @property
    def database_url(self) -> str:
        return self.state_url or default_url(None if _env_state_url() else self.state_dir)


def _env_state_url() -> str | None:
    import os

    return os.environ.get("PAYBILL_STATE_URL") or None


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

    def describe(self) -> str:
        return f"{self.operation} {self.stack}: {self.summary.describe()}"


@dataclass(frozen=True)
class Review:
    """What needs a human: flagged stacks, pending approvals, retained data whose retention ended."""

    flags: list[ReviewFlag]
    approvals: list[Approval]
    retention_ended: list[Retained]
    found_now: list[ReviewFlag]

    @property
    def empty(self) -> bool:
        return not (self.flags or self.approvals or self.retention_ended)


class Automation:
    """Tenant and cell stacks, driven for backend services and agents. See the README, "Automation"."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        notify: Callable[[str], None] | None = None,
    ):
        check_actor(settings.actor)
        self.settings = settings
        self.actor = settings.actor
        self.layout = settings.layout()
        self.store = store or Store(settings.database_url, clock=clock)
        self.runner: StackRunner = settings.runner or _pulumi_runner()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.clock = clock
        self.notify = notify or log.warning
        self._catalog: Catalog | None = None

    @classmethod
    def open(cls, catalog_dir: str | Path = "stacks/catalog", **options: Any) -> Automation:
        """`Automation.open("stacks/catalog", actor="agent:billing-bot")`; options are Settings fields,
        plus `store`, `sleep`, `rng`, `clock`, `notify`."""
        extra = {key: options.pop(key) for key in ("store", "sleep", "rng", "clock", "notify") if key in options}
        if "state_dir" in options:
            options["state_dir"] = Path(options["state_dir"])
        return cls(Settings(catalog_dir=Path(catalog_dir), **options), **extra)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Automation:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # --- catalog ----------------------------------------------------------------------------------

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
                raise UsageError(f"unknown tenant '{tenant}' (tenants: {_listing(catalog.tenants)})")
            return StackRef.tenant(tenant)
        assert cell is not None
        if cell not in catalog.cells:
            raise UsageError(f"unknown cell '{cell}' (cells: {_listing(catalog.cells)})")
        return StackRef.cell(cell)

    def stack_config(self, stack: StackRef, catalog: Catalog | None = None) -> dict[str, Any]:
        """The stack's config as `paybill-iac generate` writes it, from `catalog` (default: the current)."""
        from paybill_iac import generate

        catalog = catalog or self.catalog
        if stack.kind == "tenant":
            tenant = catalog.tenants[stack.name]
            spec = generate.tenant_stack(catalog, tenant)
            if spec is None:
                raise UsageError(f"tenant '{stack.name}' is {tenant.state}: it has no stack")
            return spec.config()
        return generate.cell_stack(catalog, catalog.cells[stack.name]).config()

    def invocation(self, operation: str, stack: StackRef, catalog: Catalog | None = None, *,
                   plan_file: str | None = None, targets: tuple[str, ...] = (),
                   excludes: tuple[str, ...] = ()) -> Invocation:
        """The fully described operation (no side effects): what the runner will execute."""
        catalog = catalog or self.catalog
        return build_invocation(
            operation, stack, self.stack_config(stack, catalog), layout=self.layout,
            policy_configs=policy_configs(catalog, stack, self.actor), actor=self.actor,
            plan_file=plan_file, targets=targets, excludes=excludes)

    # --- stack operations -------------------------------------------------------------------------

    def preview(self, *, tenant: str | None = None, cell: str | None = None) -> OperationResult:
        """What `up` would change, with every policy pack attached. Changes nothing."""
        stack = self.stack_ref(tenant, cell)
        return self._operate(stack, "preview")

    def up(self, *, tenant: str | None = None, cell: str | None = None,
           approval: int | None = None) -> OperationResult:
        """Deploy the stack as the catalog describes it. An agent's up is previewed and gated first;
        `approval` applies a plan a human approved."""
        stack = self.stack_ref(tenant, cell)
        if stack.kind == "tenant":
            self._check_deployed_transition(stack.name, self.catalog.tenants[stack.name].state)
        return self._operate(stack, "up", approval=approval)

    def refresh(self, *, tenant: str | None = None, cell: str | None = None) -> OperationResult:
        """Read the real state of the stack's resources into its state."""
        stack = self.stack_ref(tenant, cell)
        return self._operate(stack, "refresh")

    def destroy(self, *, tenant: str | None = None, cell: str | None = None,
                approval: int | None = None) -> OperationResult:
        """Destroy a stack. Tenants only while offboarding (use `offboard`); cells only when no tenant
        remains on them."""
        stack = self.stack_ref(tenant, cell)
        catalog = self.catalog
        if stack.kind == "tenant":
            state = catalog.tenants[stack.name].state
            if state != "offboarding":
                raise UsageError(f"tenant '{stack.name}' is {state}: destroying its stack would break a live "
                                 f"tenant; offboard it with `paybill-iac lifecycle offboard {stack.name}`, which "
                                 "keeps its data through the retention period")
        else:
            self._check_cell_empty(stack.name, catalog)
        return self._operate(stack, "destroy", approval=approval)

    def _check_cell_empty(self, cell_id: str, catalog: Catalog) -> None:
        remaining = sorted(tenant for tenant, cell in catalog.placements.items() if cell == cell_id)
        if remaining:
            raise OperationError(f"cell '{cell_id}' still hosts {len(remaining)} tenant(s) "
                                 f"({', '.join(remaining[:10])}{', ...' if len(remaining) > 10 else ''}): a cell is "
                                 "never destroyed while tenants remain")

    def _check_deployed_transition(self, tenant_id: str, state: str) -> None:
        """The catalog's state must be reachable from the state last deployed (hand edits included)."""
        from paybill_iac.model.lifecycle import check_transition

        previous = self.store.last_state(tenant_id)
        if previous is not None:
            check_transition(tenant_id, previous, state)

    # --- the core ---------------------------------------------------------------------------------

    def _operate(
        self,
        stack: StackRef,
        operation: str,
        *,
        catalog: Catalog | None = None,
        approval: int | None = None,
        excludes: tuple[str, ...] = (),
        details: dict[str, Any] | None = None,
        gated: Callable[[ChangeSummary], list[str]] | None = None,
        prepare: Callable[[Invocation], None] | None = None,
    ) -> OperationResult:
        catalog = catalog or self.catalog
        state = catalog.tenants[stack.name].state if stack.kind == "tenant" else None
        # Everything that can be refused for bad input is built before a lease is taken.
        base = self.invocation(operation, stack, catalog, excludes=excludes)
        self._recover()
        flags = self.store.flags(stack=stack.key)
        op_id = uuid.uuid4().hex
        owner = new_owner()
        details = {**(details or {}), **({"approval": approval} if approval else {}),
                   **({"excluded": len(excludes)} if excludes else {})}
        if flags:
            error = NeedsReview(f"stack {stack.key} needs review before any operation: {flags[0].reason}. A human "
                                f"checks it, then clears it with `paybill-iac review --clear {stack.key}`")
            self._journal_refusal(op_id, owner, stack, operation, "needs-review", str(error), details)
            raise error
        try:
            self.store.acquire(stack.key, owner, operation, self.actor, self.settings.lease_ttl)
        except (LeaseHeld, NeedsReview) as error:
            result = "busy" if isinstance(error, LeaseHeld) else "needs-review"
            self._journal_refusal(op_id, owner, stack, operation, result, str(error), details)
            raise
        heartbeat = _Heartbeat(self.store, stack.key, owner, self.settings.lease_ttl)
        try:
            self.store.journal_start(op_id=op_id, actor=self.actor, stack=stack.key, tenant=stack.tenant_id,
                                     operation=operation, owner=owner, details=details)
            heartbeat.start()
            try:
                if prepare is not None:
                    prepare(base)
                run, attempts, used_approval = self._execute(base, stack, operation, catalog, op_id, approval, gated)
            except ApprovalNeeded as refusal:
                self.store.journal_end(op_id=op_id, result="refused", error=str(refusal),
                                       details={"approval_requested": refusal.approval_id})
                raise
            except GateRefused as refusal:
                self.store.journal_end(op_id=op_id, result="refused", error=str(refusal))
                raise
            except PaybillError as failure:
                self.store.journal_end(op_id=op_id, result="failed", error=str(failure),
                                       details={"attempts": getattr(failure, "attempts", 1)})
                raise
            except Exception as failure:
                self.store.journal_end(op_id=op_id, result="failed", error=f"{type(failure).__name__}: {failure}")
                raise
            except BaseException as interrupted:  # KeyboardInterrupt, SystemExit: the run may be half-way
                self.store.journal_end(op_id=op_id, result="interrupted", error=type(interrupted).__name__)
                self.store.flag(stack.key, f"{operation} by {self.actor} was interrupted ({type(interrupted).__name__})"
                                " while running: the stack may be half-updated", op_id)
                raise
            deployed = state if operation == "up" and stack.kind == "tenant" else None
            self.store.journal_end(op_id=op_id, result="succeeded", change_summary=run.summary.as_dict(),
                                   state=deployed, details={"attempts": attempts,
                                                            **({"approval": used_approval} if used_approval else {})})
            return OperationResult(stack.key, operation, op_id, run.summary, run.outputs, attempts, used_approval)
        finally:
            heartbeat.stop()
            self.store.release(stack.key, owner)

    def _execute(self, base: Invocation, stack: StackRef, operation: str, catalog: Catalog, op_id: str,
                 approval: int | None, gated: Callable[[ChangeSummary], list[str]] | None,
                 ) -> tuple[RunResult, int, int | None]:
        if approval is not None:
            return self._apply_approved(base, stack, operation, catalog, approval)
        if not is_agent(self.actor) or operation not in ("up", "destroy"):
            run, attempts = self._run(base)
            return run, attempts, None
        # An agent: preview first (saving the plan for an up), gate, then apply exactly what was previewed.
        if operation == "up":
            plan_file = str(self.layout.plan_file(stack, op_id))
            preview_inv = self.invocation("preview", stack, catalog, plan_file=plan_file, excludes=base.excludes)
        else:
            plan_file = ""
            preview_inv = self.invocation("preview-destroy", stack, catalog)
        preview, _ = self._run(preview_inv)
        reasons = gate_reasons(stack, preview.summary, self.settings.budget)
        if gated is not None:
            reasons += gated(preview.summary)
        if reasons:
            request = self.store.request_approval(
                stack=stack.key, tenant=stack.tenant_id, operation=operation, requested_by=self.actor,
                reasons=reasons, change_summary=preview.summary.as_dict(), plan_path=plan_file,
                plan_sha256=_sha256(plan_file))
            raise ApprovalNeeded(self.actor, operation, stack, reasons, request)
        apply = replace(base, plan_file=plan_file) if operation == "up" else base
        run, attempts = self._run(apply)
        return run, attempts, None

    def _apply_approved(self, base: Invocation, stack: StackRef, operation: str, catalog: Catalog,
                        approval_id: int) -> tuple[RunResult, int, int | None]:
        approval = self.store.approval(approval_id)
        if approval is None:
            raise UsageError(f"no approval request #{approval_id}")
        if approval.stack != stack.key or approval.operation != operation:
            raise UsageError(f"approval request #{approval_id} is for {approval.operation} of {approval.stack}, "
                             f"not {operation} of {stack.key}")
        if approval.status != "approved":
            raise GateRefused(f"approval request #{approval_id} is {approval.status}, not approved: a human runs "
                              f"`paybill-iac review --approve {approval_id}` first" if approval.status == "pending"
                              else f"approval request #{approval_id} was already used; an approval applies once")
        if operation == "up":
            if not approval.plan_sha256 or _sha256(approval.plan_path) != approval.plan_sha256:
                raise GateRefused(f"the plan of approval request #{approval_id} ({approval.plan_path}) is missing "
                                  "or changed since it was reviewed; nothing was applied")
            apply = replace(base, plan_file=approval.plan_path)
        else:
            # Destroy has no update plan: it goes ahead only if it still deletes exactly what was reviewed.
            preview, _ = self._run(self.invocation("preview-destroy", stack, catalog))
            reviewed = ChangeSummary.from_dict(approval.change_summary)
            if preview.summary.changed_urns != reviewed.changed_urns:
                raise GateRefused(f"the destroy of {stack.key} no longer matches approval request #{approval_id}; "
                                  "nothing was applied")
            apply = base
        if not self.store.use_approval(approval_id):
            raise GateRefused(f"approval request #{approval_id} was used by another operation")
        run, attempts = self._run(apply)
        return run, attempts, approval_id

    def _run(self, invocation: Invocation) -> tuple[RunResult, int]:
        def notify(attempt: int, error: Exception, wait: float) -> None:
            self.notify(f"{invocation.operation} {invocation.stack.key}: attempt {attempt} failed ({error}); "
                        f"retrying in {wait:.1f}s")

        try:
            return with_retries(lambda: self.runner.run(invocation), self.settings.retry, sleep=self.sleep,
                                rng=self.rng, on_retry=notify)
        except FileNotFoundError as error:
            if "pulumi" in str(error):
                raise PulumiCLIMissing(f"`{invocation.operation}` of {invocation.stack.key}") from None
            raise

    def _journal_refusal(self, op_id: str, owner: str, stack: StackRef, operation: str, result: str, error: str,
                         details: dict[str, Any]) -> None:
        self.store.journal_start(op_id=op_id, actor=self.actor, stack=stack.key, tenant=stack.tenant_id,
                                 operation=operation, owner=owner, details=details)
        self.store.journal_end(op_id=op_id, result=result, error=error)

    def _recover(self) -> list[ReviewFlag]:
        found = self.store.scan()
        for flag in found:
            self.notify(f"stack {flag.stack} flagged for review: {flag.reason}")
        return found

    # --- review, approvals, journal ---------------------------------------------------------------

    def review(self) -> Review:
        """Scan for crashed operations, then list everything waiting for a human."""
        found = self._recover()
        now = self.clock()
        due = [item for item in self.store.retained() if item.retain_until <= now]
        return Review(self.store.flags(), self.store.approvals(status="pending"), due, found)

    def approve(self, approval_id: int) -> Approval:
        """A human approves an agent's reviewed change (its saved plan)."""
        self._require_human("approve a change")
        approval = self.store.approval(approval_id)
        if approval is None:
            raise UsageError(f"no approval request #{approval_id}")
        if not self.store.decide(approval_id, self.actor):
            raise UsageError(f"approval request #{approval_id} is {approval.status}, not pending")
        decided = self.store.approval(approval_id)
        assert decided is not None
        return decided

    def clear_review(self, stack_key: str) -> int:
        """A human clears a stack's review flags after checking it; returns how many were cleared."""
        self._require_human("clear a review flag")
        try:
            stack = StackRef.parse(stack_key)
        except ValueError as error:
            raise UsageError(str(error)) from None
        cleared = self.store.clear(stack.key, self.actor)
        if not cleared:
            raise UsageError(f"stack {stack.key} has no open review flag")
        return cleared

    def journal(self, *, tenant: str | None = None, stack: str | None = None,
                limit: int | None = 50) -> list[JournalEntry]:
        key = StackRef.parse(stack).key if stack else None
        return self.store.journal(tenant=tenant, stack=key, limit=limit)

    def _require_human(self, what: str) -> None:
        if self.actor != HUMAN:
            raise GateRefused(f"only a human may {what}; the actor is {self.actor}")

    # --- lifecycle and fleet (see workflows.py and fleet.py) --------------------------------------

    def onboard(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        from paybill_iac.automation import workflows

        return workflows.onboard(self, tenant_id, approval=approval)

    def change_plan(self, tenant_id: str, plan: str, *, data_move: Callable[..., Any] | None = None,
                    cut_over: Callable[..., Any] | None = None, approval: int | None = None) -> list[OperationResult]:
        from paybill_iac.automation import workflows

        return workflows.change_plan(self, tenant_id, plan, data_move=data_move, cut_over=cut_over,
                                     approval=approval)

    def suspend(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        from paybill_iac.automation import workflows

        return workflows.set_state(self, tenant_id, "suspended", approval=approval)

    def resume(self, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
        from paybill_iac.automation import workflows

        return workflows.set_state(self, tenant_id, "active", approval=approval)

    def offboard(self, tenant_id: str, *, snapshot: Callable[..., Any] | None = None,
                 approval: int | None = None) -> list[OperationResult]:
        from paybill_iac.automation import workflows

        return workflows.offboard(self, tenant_id, snapshot=snapshot, approval=approval)

    def fleet(self, operation: str = "up", **options: Any) -> Any:
        """Run `operation` over many tenants in waves (see paybill_iac.automation.fleet.run_fleet)."""
        from paybill_iac.automation import fleet

        return fleet.run_fleet(self, operation, **options)


def policy_configs(catalog: Catalog, stack: StackRef, actor: str) -> dict[str, dict[str, Any]]:
    """The per-run policy config of every pack, from the catalog (never from the stack itself)."""
    try:
        from paybill_policies import engine
    except ImportError as error:
        raise OperationError(f"the policy library (paybill_policies.engine) cannot be imported ({error}); "
                             "paybill-iac never runs a stack without its policy packs") from None
    try:
        context = engine.context_from_catalog(catalog, stack.project, stack.name, actor=actor)
    except LookupError as error:
        raise UsageError(str(error)) from None
    # Plain dicts: the naming module hands out read-only mappings, which dataclasses.asdict cannot copy.
    context = replace(context, names=dict(context.names), cell_names=dict(context.cell_names))
    return {pack: engine.policy_config(context, pack=pack) for pack in POLICY_PACKS}


class _Heartbeat:
    """Renews a lease every third of its TTL until stopped."""

    def __init__(self, store: Store, stack: str, owner: str, ttl: float):
        self.store, self.stack, self.owner = store, stack, owner
        self.ttl = ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{stack}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(max(self.ttl / 3, 0.02)):
            try:
                if not self.store.renew(self.stack, self.owner, self.ttl):
                    log.warning("lost the lease of %s", self.stack)
                    return
            except Exception as error:  # noqa: BLE001 - keep renewing through a database hiccup
                log.warning("renewing the lease of %s failed: %s", self.stack, error)


def _pulumi_runner() -> StackRunner:
    from paybill_iac.automation.runner import PulumiRunner

    return PulumiRunner()


def _sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def _listing(ids: Any) -> str:
    names = sorted(ids)
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") if names else "none"

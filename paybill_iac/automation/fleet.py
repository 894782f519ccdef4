"""Fleet operations: one operation over many tenants, in waves, with bounded concurrency.

    plan_waves    which tenants go in which wave: canary tenants first, then one wave per plan (in
                  plans.yaml order), or the waves given as selectors
    FleetRunner   the interface a fleet engine implements: run a FleetPlan, report each tenant
    LocalProcessFleetRunner
                  separate processes on this machine (a process pool); every worker opens its own
                  database connection and runs the tenant's operation through an Operator, so leases,
                  the journal, the gates and retries apply exactly as for a single operation

A wave starts only when the previous one finished. When more tenants failed than `max_failures`,
the fleet halts: nothing new starts (operations under way finish) and every tenant not started is
reported as skipped. A refused (gated) or busy tenant is reported as such and does not count as a
failure: nothing was applied to it.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Protocol

from paybill_iac.automation.errors import ApprovalNeeded, NeedsReview
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.settings import Settings
from paybill_iac.errors import LeaseHeld, PaybillError, UsageError
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.lifecycle import HAS_STACK

FLEET_OPERATIONS = ("up", "refresh", "preview")
FAILED = frozenset({"failed", "crashed"})


@dataclass(frozen=True)
class FleetPlan:
    operation: str
    waves: tuple[tuple[str, ...], ...]
    concurrency: int = 4
    max_failures: int = 0

    @property
    def tenants(self) -> list[str]:
        return [tenant for wave in self.waves for tenant in wave]


@dataclass(frozen=True)
class TenantOutcome:
    tenant: str
    wave: int
    result: str  # succeeded | failed | crashed | refused | busy | needs-review | skipped
    summary: str = ""
    error: str = ""
    seconds: float = 0.0
    approval: int | None = None


@dataclass
class FleetReport:
    plan: FleetPlan
    outcomes: list[TenantOutcome] = field(default_factory=list)
    halted: str = ""

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for outcome in self.outcomes:
            found[outcome.result] = found.get(outcome.result, 0) + 1
        return dict(sorted(found.items()))

    @property
    def failures(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.result in FAILED)

    @property
    def ok(self) -> bool:
        return not self.halted and all(outcome.result == "succeeded" for outcome in self.outcomes)


Progress = Callable[[TenantOutcome, int, int], None]  # (outcome, finished so far, total)


class FleetRunner(Protocol):
    """Runs a FleetPlan. A later engine (the Pulumi Kubernetes Operator) implements the same."""

    def run(self, settings: Settings, plan: FleetPlan, progress: Progress | None = None) -> FleetReport:
        ...


def plan_waves(catalog: Catalog, selectors: list[str] | None = None,
               tenants: list[str] | None = None) -> tuple[tuple[str, ...], ...]:
    """Tenants (with a stack) per wave. A selector is a comma-separated list of terms: `canary`,
    `plan:<id>`, `cloud:<cloud>`, `isolation:<model>`, a tenant id, or `rest`; tenants no selector
    takes form a last wave. Default: canary tenants, then one wave per plan in plans.yaml order."""
    eligible = sorted(tid for tid, tenant in catalog.tenants.items() if tenant.state in HAS_STACK)
    if tenants:
        unknown = sorted(set(tenants) - set(catalog.tenants))
        if unknown:
            raise UsageError(f"unknown tenant(s): {', '.join(unknown)}")
        eligible = [tid for tid in eligible if tid in set(tenants)]
    if not selectors:
        selectors = ["canary"] + [f"plan:{plan}" for plan in catalog.plans]
    assigned: set[str] = set()
    waves: list[tuple[str, ...]] = []
    for selector in selectors:
        terms = [term.strip() for term in selector.split(",") if term.strip()]
        if not terms:
            raise UsageError(f"empty wave selector '{selector}'")
        wave = [tid for tid in eligible if tid not in assigned and any(_matches(catalog, tid, t) for t in terms)]
        assigned.update(wave)
        if wave:
            waves.append(tuple(wave))
    rest = [tid for tid in eligible if tid not in assigned]
    if rest:
        waves.append(tuple(rest))
    return tuple(waves)


def _matches(catalog: Catalog, tenant_id: str, term: str) -> bool:
    tenant = catalog.tenants[tenant_id]
    kind, _, value = term.partition(":")
    if term == "canary":
        return tenant.canary
    if term in ("rest", "*"):
        return True
    if kind == "plan" and value:
        if value not in catalog.plans:
            raise UsageError(f"wave selector '{term}': unknown plan '{value}'")
        return tenant.plan == value
    if kind == "cloud" and value:
        return tenant.cloud == value
    if kind == "isolation" and value:
        return catalog.plans[tenant.plan].isolation == value
    if ":" in term or term not in catalog.tenants:
        raise UsageError(f"wave selector term '{term}' is not canary, plan:<id>, cloud:<cloud>, "
                         "isolation:<model>, rest or a tenant id")
    return tenant_id == term


def run_fleet(op: Operator, operation: str = "up", *, waves: list[str] | None = None,
              tenants: list[str] | None = None, concurrency: int = 4, max_failures: int = 0,
              runner: FleetRunner | None = None, progress: Progress | None = None) -> FleetReport:
    if operation not in FLEET_OPERATIONS:
        raise UsageError(f"fleet runs {', '.join(FLEET_OPERATIONS)}, not '{operation}'")
    if concurrency < 1:
        raise UsageError(f"concurrency must be at least 1, got {concurrency}")
    if max_failures < 0:
        raise UsageError(f"max failures must be 0 or more, got {max_failures}")
    plan = FleetPlan(operation, plan_waves(op.reload(), waves, tenants), concurrency, max_failures)
    settings = replace(op.settings, runner=op.runner)  # workers run the same runner as this Operator
    return (runner or LocalProcessFleetRunner()).run(settings, plan, progress)


def run_one(settings: Settings, operation: str, tenant: str, wave: int) -> TenantOutcome:
    """One tenant's operation, in a worker process (or in this one)."""
    started = time.monotonic()

    def outcome(result: str, summary: str = "", error: str = "", approval: int | None = None) -> TenantOutcome:
        return TenantOutcome(tenant, wave, result, summary, error, round(time.monotonic() - started, 3), approval)

    try:
        op = Operator(settings, notify=lambda _message: None)
    except PaybillError as error:
        return outcome("failed", error=str(error))
    run: dict[str, Callable[..., OperationResult]] = {"up": op.up, "refresh": op.refresh, "preview": op.preview}
    try:
        done = run[operation](tenant=tenant)
        return outcome("succeeded", done.summary.describe())
    except ApprovalNeeded as refused:
        return outcome("refused", error=str(refused), approval=refused.approval_id)
    except LeaseHeld as busy:
        return outcome("busy", error=str(busy))
    except NeedsReview as flagged:
        return outcome("needs-review", error=str(flagged))
    except PaybillError as error:
        return outcome("failed", error=str(error))
    except Exception as error:  # noqa: BLE001 - one tenant's bug must not stop the report
        return outcome("failed", error=f"{type(error).__name__}: {error}")
    finally:
        op.close()


class LocalProcessFleetRunner:
    """Bounded concurrency with separate processes on this machine. Workers start from a fork server
    by default (where the platform has one), so they never inherit this process's database connections
    or threads."""

    def __init__(self, start_method: str | None = None):
        if start_method is None:
            start_method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.start_method = start_method

    def run(self, settings: Settings, plan: FleetPlan, progress: Progress | None = None) -> FleetReport:
        report = FleetReport(plan)
        total = len(plan.tenants)
        context = multiprocessing.get_context(self.start_method)

        def record(outcome: TenantOutcome) -> None:
            report.outcomes.append(outcome)
            if progress is not None:
                progress(outcome, len(report.outcomes), total)
            if not report.halted and report.failures > plan.max_failures:
                report.halted = (f"halted after {report.failures} failure(s) (more than {plan.max_failures} "
                                 f"allowed), in wave {outcome.wave}")

        pool = ProcessPoolExecutor(max_workers=plan.concurrency, mp_context=context)
        try:
            for index, wave in enumerate(plan.waves, start=1):
                waiting: Iterator[str] = iter(wave)
                running: dict[Future[TenantOutcome], str] = {}
                while True:
                    while not report.halted and len(running) < plan.concurrency:
                        tenant = next(waiting, None)
                        if tenant is None:
                            break
                        running[pool.submit(run_one, settings, plan.operation, tenant, index)] = tenant
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    broken = False
                    for future in finished:
                        tenant = running.pop(future)
                        try:
                            record(future.result())
                        except BrokenProcessPool:
                            broken = True
                            record(TenantOutcome(tenant, index, "crashed",
                                                 error="its worker process died; the stack is flagged for review "
                                                       "if the operation had started"))
                    if broken:  # a dead worker breaks the pool: every operation still in it died with it
                        for tenant in running.values():
                            record(TenantOutcome(tenant, index, "crashed",
                                                 error="the worker pool broke while it ran; the stack is flagged "
                                                       "for review if the operation had started"))
                        running.clear()
                        pool.shutdown(wait=True, cancel_futures=True)
                        pool = ProcessPoolExecutor(max_workers=plan.concurrency, mp_context=context)
                for tenant in waiting:
                    record(TenantOutcome(tenant, index, "skipped", error=report.halted))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return report

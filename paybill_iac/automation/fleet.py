"""Fleet operations: one operation over many tenants, in waves, with bounded concurrency, persisted so that a
coordinator that crashed resumes at its wave.

    plan_waves    which tenants go in which wave: canary tenants first, then one wave per plan (in
                  plans.yaml order), or the waves given as selectors
    FleetTask     one tenant's part of a run as plain JSON-able data (fleet_tasks.py: operation, stack,
                  tenant, project, options): no settings, no local path, no callable, so any engine on any
                  host can take it and resolve the tenant against its own catalog, state and credentials
    FleetRunner   the interface a fleet engine implements: run a FleetPlan (waves of tasks), report each
                  tenant. LocalProcessFleetRunner (here): worker processes on this machine, each running the
                  task through an Operator, so leases, the journal, the gates and retries apply exactly as for
                  a single operation; the Pulumi Kubernetes Operator (paybill_iac.pko.engine) is the other
    run_fleet     the coordinator: plans the run (or resumes one), records it and every tenant's outcome in
                  the state database (store/fleet_runs.py) as they come, and hands the tasks to an engine

A wave starts only when the previous one finished. When more tenants failed than `max_failures`, the fleet
halts: nothing new starts (operations under way finish) and every tenant not started is reported as
skipped. A refused (gated) or busy tenant is reported as such and does not count as a failure: nothing was
applied to it.

Resume: `run_fleet(..., resume=RUN_ID)` (`paybill-iac fleet up --resume RUN_ID`) takes over a run whose
coordinator stopped (its claim in the database expired), keeps the waves as they were planned at its start,
and runs only the tenants without an outcome: finished waves and finished tenants are not run again, and
failures already counted still count towards `max_failures`. Busy and skipped tenants (nothing was applied)
run again. A tenant whose operation was under way when the coordinator died has no outcome and runs again:
an up or refresh of a stack that already converged changes nothing, and one that died half-way left its
stack flagged for review, which refuses it until a human cleared it. Resume is explicit, never by default:
starting the same rollout while a run of it is unfinished is refused, naming the run (`--resume` it, or
`--new` to start over), because the catalog may have changed since, and whether to finish the old plan or
start the new one is an operator's call.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from paybill_iac.automation.errors import ApprovalNeeded, NeedsReview
from paybill_iac.automation.fleet_tasks import (
    FAILED,
    FLEET_OPERATIONS,
    RUN_AGAIN,
    FleetPlan,
    FleetReport,
    FleetRunner,
    FleetTask,
    Progress,
    TaskRefused,
    TenantOutcome,
    tasks_of,
)
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.runner import PulumiRunner, require_cli
from paybill_iac.automation.settings import Settings
from paybill_iac.automation.store import new_owner
from paybill_iac.errors import LeaseHeld, PaybillError, UsageError
from paybill_iac.model import words
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.lifecycle import HAS_STACK

if TYPE_CHECKING:
    from paybill_iac.automation.store import FleetRun

__all__ = ["FAILED", "FLEET_OPERATIONS", "RUN_AGAIN", "FleetPlan", "FleetReport", "FleetRunner", "FleetTask",
           "LocalProcessFleetRunner", "Progress", "TaskRefused", "TenantOutcome", "engine_settings", "plan_waves",
           "rollout_key", "run_fleet", "run_task", "tasks_of"]


def plan_waves(catalog: Catalog, selectors: list[str] | None = None,
               tenants: list[str] | None = None) -> tuple[tuple[str, ...], ...]:
    """Tenants (with a stack) per wave. A selector is a comma-separated list of terms: `canary`,
    `plan:<id>`, `cloud:<cloud>`, `isolation:<model>`, a tenant id, or `rest`; tenants no selector
    takes form a last wave. Default: canary tenants, then one wave per plan in plans.yaml order."""
    eligible = sorted(tid for tid, tenant in catalog.tenants.items() if tenant.state in HAS_STACK)
    if tenants:
        unknown = sorted(set(tenants) - set(catalog.tenants))
        if unknown:
            raise UsageError("; ".join(words.unknown("tenant", tenant, catalog.tenants) for tenant in unknown))
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
            raise UsageError(f"wave selector '{term}': {words.unknown('plan', value, catalog.plans)}")
        return tenant.plan == value
    if kind == "cloud" and value:
        return tenant.cloud == value
    if kind == "isolation" and value:
        return catalog.plans[tenant.plan].isolation == value
    if ":" in term or term not in catalog.tenants:
        raise UsageError(f"wave selector term '{term}' is not canary, plan:<id>, cloud:<cloud>, "
                         "isolation:<model>, rest or a tenant id")
    return tenant_id == term


def rollout_key(operation: str, selectors: list[str] | None, tenants: list[str] | None) -> str:
    """What a run was asked to do (operation, wave selectors, tenants), as a key: two runs with the same key
    are the same rollout (a second one while the first is unfinished is refused: resume it or start anew)."""
    asked = {"operation": operation, "waves": list(selectors or []), "tenants": sorted(tenants or [])}
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()[:32]


def run_fleet(op: Operator, operation: str = "up", *, waves: list[str] | None = None,
              tenants: list[str] | None = None, concurrency: int = 4, max_failures: int = 0,
              runner: FleetRunner | None = None, progress: Progress | None = None, resume: str | None = None,
              new: bool = False) -> FleetReport:
    """Plan (or resume) a run, record it and its outcomes in the state database, and run it on `runner`
    (default: worker processes on this machine). See the module docstring on resuming."""
    if operation not in FLEET_OPERATIONS:
        raise UsageError(f"fleet runs {', '.join(FLEET_OPERATIONS)}, not '{operation}'")
    if concurrency < 1:
        raise UsageError(f"concurrency must be at least 1, got {concurrency}")
    if max_failures < 0:
        raise UsageError(f"max failures must be 0 or more, got {max_failures}")
    if isinstance(op.runner, PulumiRunner) and runner is None:  # once, not once per tenant in every worker
        require_cli(f"fleet {operation}")
    runs = op.store.fleet_runs
    owner, ttl = new_owner(), op.settings.lease_ttl
    if resume:
        if waves or tenants:
            raise UsageError(f"--resume {resume} keeps the run's own waves and tenants: give no --wave or --tenant")
        run = runs.claim(resume, owner, ttl)
        if run.operation != operation:
            raise UsageError(f"--resume {resume}: run {resume} is a fleet {run.operation}, not a fleet {operation}")
        if run.actor != op.settings.actor:
            raise UsageError(f"--resume {resume}: the run acts as {run.actor}, this coordinator as "
                             f"{op.settings.actor}; resume it as {run.actor}")
        concurrency, max_failures = int(run.params["concurrency"]), int(run.params["max_failures"])
    else:
        run = _start(op, operation, waves, tenants, concurrency, max_failures, owner, ttl, new)
    earlier = [TenantOutcome(**values) for values in runs.outcomes(run.id) if values["result"] not in RUN_AGAIN]
    done = frozenset(outcome.tenant for outcome in earlier)
    plan = FleetPlan(run.id, operation, tasks_of(run.id, operation, run.waves, run.actor, done), concurrency,
                     max_failures, sum(1 for outcome in earlier if outcome.result in FAILED))
    total = len(plan.tenants) + len(earlier)

    def record(outcome: TenantOutcome, finished: int, _total: int) -> None:
        runs.record(run.id, asdict(outcome))
        if progress is not None:
            progress(outcome, finished + len(earlier), total)

    engine = runner or LocalProcessFleetRunner(engine_settings(op))
    with runs.held(run.id, owner, ttl):
        try:
            ran = engine.run(plan, record)
        except PaybillError as refused:  # the engine said no (a usage error): a finished run, not a crashed one
            runs.finish(run.id, owner, f"stopped: {refused}")
            raise
    runs.finish(run.id, owner, ran.halted)
    whole = FleetPlan(run.id, operation, tasks_of(run.id, operation, run.waves, run.actor), concurrency,
                      max_failures)
    return FleetReport(whole, earlier + ran.outcomes, ran.halted, resumed=len(earlier))


def _start(op: Operator, operation: str, selectors: list[str] | None, tenants: list[str] | None, concurrency: int,
           max_failures: int, owner: str, ttl: float, new: bool) -> FleetRun:
    runs = op.store.fleet_runs
    rollout = rollout_key(operation, selectors, tenants)
    if not new:
        for pending in runs.unfinished(rollout):
            finished = len(runs.outcomes(pending.id))
            raise UsageError(f"fleet run {pending.id} of the same rollout (fleet {operation}, started by "
                             f"{pending.actor}) did not finish: {finished} of "
                             f"{sum(len(wave) for wave in pending.waves)} tenants have an outcome. Resume it "
                             f"with --resume {pending.id}, or start over with --new")
    planned = plan_waves(op.reload(), selectors, tenants)
    params = {"waves": list(selectors or []), "tenants": sorted(tenants or []), "concurrency": concurrency,
              "max_failures": max_failures}
    return runs.start(uuid.uuid4().hex[:16], rollout=rollout, operation=operation, actor=op.settings.actor,
                      params=params, waves=planned, owner=owner, ttl=ttl)


def engine_settings(op: Operator) -> Settings:
    """The local engine's own settings: this Operator's, with its runner (the workers run the same one)."""
    return replace(op.settings, runner=op.runner)


def run_task(settings: Settings, task: FleetTask) -> TenantOutcome:
    """One task, through an Operator built from this host's `settings` (in a worker process, or this one)."""
    started = time.monotonic()

    def outcome(result: str, summary: str = "", error: str = "", approval: int | None = None) -> TenantOutcome:
        return TenantOutcome(task.tenant, task.wave, result, summary, error, round(time.monotonic() - started, 3),
                             approval)

    actor = task.options.get("actor")  # a task naming no actor is refused too, never taken as this engine's
    if actor != settings.actor:
        return outcome("failed", error=f"the task acts as {actor or 'nobody named'}, this engine as "
                                       f"{settings.actor}: refused")
    try:
        op = Operator(settings, notify=lambda _message: None)
    except PaybillError as error:
        return outcome("failed", error=str(error))
    run: dict[str, Callable[..., OperationResult]] = {"up": op.up, "refresh": op.refresh, "preview": op.preview,
                                                      "drift": op.check_drift}
    try:
        done = run[task.operation](tenant=task.tenant)
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


_WORKER_SETTINGS: list[Settings] = []


def _worker_start(settings: Settings) -> None:
    """A worker's setup: the engine's settings, once per process (never per task)."""
    _WORKER_SETTINGS[:] = [settings]


def _worker_task(task_json: str) -> dict[str, Any]:
    """A task as JSON in, its outcome as a dict out: all a task carries crosses the process boundary as data."""
    return asdict(run_task(_WORKER_SETTINGS[0], FleetTask.from_json(task_json)))


class LocalProcessFleetRunner:
    """Bounded concurrency with separate processes on this machine. Workers start from a fork server by
    default (where the platform has one), so they never inherit this process's database connections or
    threads; each is given the engine's settings once, and every task as JSON."""

    def __init__(self, settings: Settings, start_method: str | None = None):
        if start_method is None:
            start_method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self.settings = settings
        self.start_method = start_method

    def run(self, plan: FleetPlan, progress: Progress | None = None) -> FleetReport:
        report = FleetReport(plan)
        context = multiprocessing.get_context(self.start_method)

        def record(outcome: TenantOutcome) -> None:
            report.add(outcome, progress)

        def new_pool() -> ProcessPoolExecutor:
            return ProcessPoolExecutor(max_workers=plan.concurrency, mp_context=context, initializer=_worker_start,
                                       initargs=(self.settings,))

        if plan.waves:
            report.halt_past_threshold(plan.waves[0][0].wave)  # a resumed run past its threshold starts nothing
        pool = new_pool()
        try:
            for wave in plan.waves:
                waiting: Iterator[FleetTask] = iter(wave)
                running: dict[Future[dict[str, Any]], FleetTask] = {}
                while True:
                    while not report.halted and len(running) < plan.concurrency:
                        task = next(waiting, None)
                        if task is None:
                            break
                        running[pool.submit(_worker_task, task.to_json())] = task
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    broken = False
                    for future in finished:
                        task = running.pop(future)
                        try:
                            record(TenantOutcome(**future.result()))
                        except BrokenProcessPool:
                            broken = True
                            record(TenantOutcome(task.tenant, task.wave, "crashed",
                                                 error="its worker process died; the stack is flagged for review "
                                                       "if the operation had started"))
                    if broken:  # a dead worker breaks the pool: every operation still in it died with it
                        for task in running.values():
                            record(TenantOutcome(task.tenant, task.wave, "crashed",
                                                 error="the worker pool broke while it ran; the stack is flagged "
                                                       "for review if the operation had started"))
                        running.clear()
                        pool.shutdown(wait=True, cancel_futures=True)
                        pool = new_pool()
                for task in waiting:
                    record(TenantOutcome(task.tenant, task.wave, "skipped", error=report.halted))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return report

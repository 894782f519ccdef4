"""Run stack tasks under the Pulumi mock runtime: in this process, or one stack per task in a pool.

Cells run before the tenants placed on them (a tenant reads its cell's outputs through a
StackReference): a tenant is submitted the moment its cell's result is back, so workers stay busy.
Workers are forked once and run stacks one after another (`mockrun.run_stack` resets the runtime
root before each), so the provider modules a worker loaded for its first stack serve all the next
ones. The head side's stacks are checked with the policy packs inside the worker.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybill_iac.errors import OperationError
from paybill_iac.model.catalog import Catalog
from paybill_iac.preview.tasks import CELL, StackTask

SECRET_MASK = "[secret]"


@dataclass
class StackResult:
    """What one stack registered and exported, and the packs' verdict on it."""

    task: StackTask
    resources: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # secrets masked
    violations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    references: dict[str, Any] | None = None  # a cell's unmasked outputs, for its tenants' StackReferences


@dataclass
class WorkerState:
    catalogs: dict[str, Catalog]  # by side
    programs: dict[str, dict[str, Path]]  # by side, then project kind
    actor: str


_STATE: WorkerState | None = None


def _init_worker(state: WorkerState) -> None:
    global _STATE
    _STATE = state
    _quiet_runtime()
    # Ctrl-C is the parent's to handle: it cancels what is queued and lets running batches finish.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker must not share the parent's event loop: its epoll instance and self-pipe are
    # shared kernel objects, and its default executor's threads did not survive the fork.
    import asyncio

    asyncio.set_event_loop(asyncio.new_event_loop())


def _quiet_runtime() -> None:
    """A failing program leaves futures whose exceptions asyncio would print on stderr: the failure
    is reported once, in the result, instead."""
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def _mask(value: Any, paths: Iterable[str]) -> Any:
    """`value` with the dotted `paths` replaced by a mask (a copy; list items by index)."""
    paths = list(paths)
    if not paths:
        return value
    import copy

    masked = copy.deepcopy(value)
    for path in paths:
        parts = path.split(".") if path else []
        if not parts:
            return SECRET_MASK
        target = masked
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target.get(part) if isinstance(
                target, dict) else None
            if target is None:
                break
        else:
            last = parts[-1]
            if isinstance(target, list) and last.isdigit() and int(last) < len(target):
                target[int(last)] = SECRET_MASK
            elif isinstance(target, dict) and last in target:
                target[last] = SECRET_MASK
    return masked


def resource_dict(resource: Any) -> dict[str, Any]:
    """A registered resource as the report shows it (and as a ResourceView is built from): with the
    options the engine acts on (protect, retain_on_delete, delete_before_replace) and its dependencies,
    the URNs it waits for and is deleted before: `depends_on` and every resource whose Output one of its
    inputs reads (`property_dependencies`, per input)."""
    return {
        "urn": resource.urn, "type": resource.type, "name": resource.name,
        "inputs": _mask(resource.inputs, getattr(resource, "secret_inputs", ())),
        "parent": resource.parent, "protect": resource.protect,
        "retain_on_delete": resource.retain_on_delete,
        "delete_before_replace": bool(getattr(resource, "delete_before_replace", False)),
        "dependencies": sorted(getattr(resource, "dependencies", ())),
        "property_dependencies": {key: sorted(value) for key, value in
                                  sorted(getattr(resource, "property_dependencies", {}).items())},
        "provider": resource.provider,
    }


def execute_task(task: StackTask, references: dict[str, Any] | None, state: WorkerState) -> StackResult:
    """Run one stack and, on the head side, the packs. Never raises: failures go in `error`."""
    from paybill_iac.mockrun import run_stack

    started = time.perf_counter()
    result = StackResult(task)
    try:
        run = run_stack(state.programs[task.side][task.kind], project=task.project, stack=task.id,
                        config=task.config, stack_references=references or {}, drop_aliases=True)
    except Exception as error:  # noqa: BLE001 - a failing program is reported, not raised
        result.error = _describe_failure(error)
        result.seconds = time.perf_counter() - started
        return result
    # Sorted by URN: registration order depends on the event loop, the report must not.
    result.resources = sorted((resource_dict(resource) for resource in run.resources), key=lambda item: item["urn"])
    result.outputs = _mask(run.outputs, run.secret_outputs)
    if task.kind == CELL:
        result.references = run.outputs
    if task.evaluate:
        from paybill_iac.preview.policies import evaluate_stack

        try:
            result.violations = evaluate_stack(state.catalogs[task.side], task.project, task.id, state.actor,
                                               result.resources)
        except ImportError as error:
            result.error = f"the policy library is not importable ({error}); reinstall paybill-iac"
        except Exception as error:  # noqa: BLE001
            result.error = "the policy packs failed on this stack: " + _describe_failure(error)
    result.seconds = time.perf_counter() - started
    return result


def _describe_failure(error: BaseException) -> str:
    """One line naming the exception and where in our code (components, stacks) it was raised."""
    where = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if "site-packages" not in frame.filename and "/lib/python" not in frame.filename:
            where = f" (at {Path(frame.filename).name}:{frame.lineno})"
            break
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if os.environ.get("PAYBILL_DEBUG"):
        message += "\n" + "".join(traceback.format_exception(error))
    return f"the stack program failed: {type(error).__name__}: {message}{where}"


_MODULES_AT_FREEZE = 0


def settle_heap() -> None:
    """After a stack that loaded new modules (a provider SDK's classes), move everything alive into the
    garbage collector's permanent generation: later collections then skip the provider modules'
    hundreds of thousands of objects, which otherwise cost a third of each stack's time."""
    global _MODULES_AT_FREEZE
    if len(sys.modules) != _MODULES_AT_FREEZE:
        gc.collect()
        gc.freeze()
        _MODULES_AT_FREEZE = len(sys.modules)


def _worker_run(batch: list[tuple[StackTask, dict[str, Any] | None]]) -> list[StackResult]:
    assert _STATE is not None
    results = []
    for task, references in batch:
        results.append(execute_task(task, references, _STATE))
        settle_heap()
    return results


class Progress:
    """A progress bar on stderr when it is a terminal and not CI; silent otherwise."""

    def __init__(self, total: int, enabled: bool | None = None):
        if enabled is None:
            enabled = sys.stderr.isatty() and not os.environ.get("CI")
        self._bar: Any = None
        if enabled and total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn("previewing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.description}"), console=Console(file=sys.stderr), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("", total=total)

    def advance(self, label: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=label)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _cell_failed(task: StackTask, cell: StackResult) -> StackResult:
    return StackResult(task, error=f"its cell '{task.cell}' failed to preview, so it could not run "
                                   f"({cell.error or 'no outputs'})")


class Scheduler:
    """Hands out tasks whose cell is done; cells and cell-less tenants first."""

    def __init__(self, tasks: list[StackTask], extra_references: dict[tuple[str, str, str], Any]):
        self.results: dict[tuple[str, str, str], StackResult] = {}
        self.references = dict(extra_references)  # cell key -> outputs known in advance
        self.waiting: dict[tuple[str, str, str], list[StackTask]] = {}
        self.ready: list[StackTask] = []
        order = sorted(tasks, key=lambda task: (task.kind != CELL, task.needs is not None))
        for task in order:
            need = task.needs
            if need is None or need in self.references:
                self.ready.append(task)
            else:
                self.waiting.setdefault(need, []).append(task)
        self.pending = len(tasks)

    def references_for(self, task: StackTask) -> dict[str, Any] | None:
        need = task.needs
        if need is None or task.reference is None:
            return None
        return {task.reference: self.references[need]}

    def take(self, count: int) -> list[tuple[StackTask, dict[str, Any] | None]]:
        """The next `count` ready tasks; a cell always alone (its tenants wait for it)."""
        if self.ready and self.ready[0].kind == CELL:
            count = 1
        else:
            count = next((index for index, task in enumerate(self.ready[:count]) if task.kind == CELL), count)
        batch, self.ready = self.ready[:count], self.ready[count:]
        return [(task, self.references_for(task)) for task in batch]

    def done(self, result: StackResult) -> list[StackResult]:
        """Record a result; return results settled as a consequence (tenants of a failed cell)."""
        self.results[result.task.key] = result
        self.pending -= 1
        settled = []
        if result.task.kind == CELL:
            dependents = self.waiting.pop(result.task.key, [])
            if result.references is not None:  # the cell ran (even if the packs failed on it)
                self.references[result.task.key] = result.references
                self.ready.extend(dependents)
            else:
                for task in dependents:
                    failed = _cell_failed(task, result)
                    self.results[task.key] = failed
                    self.pending -= 1
                    settled.append(failed)
        return settled

    def orphans(self) -> list[StackResult]:
        """Tenants whose cell was never scheduled (should not happen: say so rather than hang)."""
        left = []
        for need, tasks in self.waiting.items():
            for task in tasks:
                result = StackResult(task, error=f"its cell '{need[2]}' was not previewed")
                self.results[task.key] = result
                self.pending -= 1
                left.append(result)
        self.waiting.clear()
        return left


def run_tasks(
    tasks: list[StackTask],
    state: WorkerState,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    known_references: dict[tuple[str, str, str], Any] | None = None,
    on_result: Callable[[StackResult], None] | None = None,
) -> dict[tuple[str, str, str], StackResult]:
    """Run every task (cells before their tenants) and return the results by task key."""
    scheduler = Scheduler(tasks, known_references or {})

    def report(result: StackResult) -> None:
        if progress is not None:
            progress.advance(f"{result.task.kind} {result.task.id}")
        if on_result is not None:
            on_result(result)

    jobs = max(1, min(jobs, len(tasks)))
    if jobs == 1 or "fork" not in multiprocessing.get_all_start_methods():
        _run_serial(scheduler, state, report)
    else:
        _run_pool(scheduler, state, jobs, report)
    for result in scheduler.orphans():
        report(result)
    return scheduler.results


def _run_serial(scheduler: Scheduler, state: WorkerState, report: Callable[[StackResult], None]) -> None:
    _quiet_runtime()
    while scheduler.ready:
        for task, references in scheduler.take(1):
            result = execute_task(task, references, state)
            settle_heap()
            report(result)
            for settled in scheduler.done(result):
                report(settled)


def _run_pool(scheduler: Scheduler, state: WorkerState, jobs: int, report: Callable[[StackResult], None]) -> None:
    """Keep every worker busy with small batches: one stack per batch while there is little left or
    cells are still running (their tenants wait), a few stacks per batch otherwise (less IPC)."""
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                             initargs=(state,)) as pool:
        try:
            _drive(pool, scheduler, jobs, report)
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _drive(pool: ProcessPoolExecutor, scheduler: Scheduler, jobs: int, report: Callable[[StackResult], None]) -> None:
    in_flight: set[Future[list[StackResult]]] = set()
    while scheduler.ready or in_flight:
        while scheduler.ready and len(in_flight) < jobs * 2:
            size = max(1, min(8, len(scheduler.ready) // (jobs * 4)))
            in_flight.add(pool.submit(_worker_run, scheduler.take(size)))
        if not in_flight:
            break
        finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in finished:
            try:
                batch = future.result()
            except BrokenProcessPool as error:
                raise OperationError(f"a preview worker died ({error}); the machine may be short of memory: "
                                     "retry with fewer --jobs") from None
            for result in batch:
                report(result)
                for settled in scheduler.done(result):
                    report(settled)

"""What a fleet engine is handed and hands back, as plain data (paybill_iac.automation.fleet runs it):

    FleetTask     one tenant's part of a run: operation, stack, tenant, project, options (JSON scalars);
                  JSON in and out, and refused (TaskRefused) when it holds a path, a callable or anything
                  but JSON data, so that an engine on another host can take it
    FleetPlan     the tasks of a run, wave by wave, with its concurrency and failure threshold
    TenantOutcome, FleetReport    what came of each task, and of the run
    FleetRunner   the interface an engine implements (the local process pool in fleet.py, the Kubernetes
                  operator in paybill_iac.pko.engine)

Nothing here imports the Operator: an engine that only takes tasks needs none of it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

from paybill_iac.automation.specs import TENANT_PROJECT
from paybill_iac.errors import UsageError
from paybill_iac.model.naming import id_problem
from paybill_iac.model.words import plural

FLEET_OPERATIONS = ("up", "refresh", "preview", "drift")  # drift: a refresh preview, reported (drift.py)
FAILED = frozenset({"failed", "crashed"})
RUN_AGAIN = frozenset({"busy", "skipped"})
"""Outcomes of tenants to which nothing was applied: a resumed run tries them again."""


class TaskRefused(UsageError):
    """A fleet task that is not plain portable data (a path, a callable, an unknown field or operation)."""


def _portable(where: str, value: Any) -> None:
    """`value` travels as JSON to any host: a scalar or a list of scalars, and never a local path."""
    if isinstance(value, list | tuple):
        for item in value:
            _portable(where, item)
        return
    if callable(value):
        raise TaskRefused(f"fleet task {where}: a callable ({value!r}) cannot travel to another host; give data")
    if isinstance(value, os.PathLike):
        raise TaskRefused(f"fleet task {where}: a local path ({os.fspath(value)}) means nothing on another host")
    if value is not None and not isinstance(value, str | int | float | bool):
        raise TaskRefused(f"fleet task {where}: {type(value).__name__} is not JSON data (str, number, bool, null)")
    if isinstance(value, str) and (os.path.isabs(value) or value.startswith(("~", "./", "../", "file:"))):
        raise TaskRefused(f"fleet task {where}: '{value}' is a local path, which means nothing on another host")


@dataclass(frozen=True)
class FleetTask:
    """One tenant's part of a fleet run: what an engine needs to run it anywhere, as JSON-able data.
    `options` holds JSON scalars (or lists of them): `actor`, who the run acts as (an engine refuses a task
    for another actor than its own: identity never comes from a parameter)."""

    run_id: str
    wave: int
    operation: str
    tenant: str
    stack: str
    project: str = TENANT_PROJECT
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.operation not in FLEET_OPERATIONS:
            raise TaskRefused(f"fleet task for {self.tenant}: operation '{self.operation}' is not one of "
                              f"{', '.join(FLEET_OPERATIONS)}")
        problem = id_problem(self.tenant) if isinstance(self.tenant, str) else "not text"
        if problem:
            raise TaskRefused(f"fleet task: tenant {problem}")
        if self.project != TENANT_PROJECT or self.stack != f"{self.project}/{self.tenant}":
            raise TaskRefused(f"fleet task for {self.tenant}: stack '{self.stack}' of project '{self.project}' is "
                              f"not the tenant's stack ({TENANT_PROJECT}/{self.tenant})")
        if not isinstance(self.wave, int) or isinstance(self.wave, bool) or self.wave < 1:
            raise TaskRefused(f"fleet task for {self.tenant}: wave {self.wave!r} is not a number from 1")
        if not isinstance(self.run_id, str) or not self.run_id:
            raise TaskRefused(f"fleet task for {self.tenant}: run_id must be the run's id, not {self.run_id!r}")
        _portable(f"for {self.tenant}: run_id", self.run_id)
        if not isinstance(self.options, Mapping):
            raise TaskRefused(f"fleet task for {self.tenant}: options must be a mapping, not "
                              f"{type(self.options).__name__}")
        for key, value in self.options.items():
            if not isinstance(key, str):
                raise TaskRefused(f"fleet task for {self.tenant}: option name {key!r} is not text")
            _portable(f"for {self.tenant}: option '{key}'", value)

    @classmethod
    def for_tenant(cls, run_id: str, wave: int, operation: str, tenant: str, **options: Any) -> FleetTask:
        return cls(run_id, wave, operation, tenant, f"{TENANT_PROJECT}/{tenant}", TENANT_PROJECT, dict(options))

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["options"] = {key: list(value) if isinstance(value, tuple) else value
                             for key, value in self.options.items()}
        return values

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetTask:
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TaskRefused(f"fleet task: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        missing = sorted(name for name in ("run_id", "wave", "operation", "tenant", "stack") if name not in data)
        if missing:
            raise TaskRefused(f"fleet task: missing field(s) {', '.join(missing)}")
        return cls(**dict(data))

    @classmethod
    def from_json(cls, text: str) -> FleetTask:
        try:
            data = json.loads(text)
        except ValueError as error:
            raise TaskRefused(f"fleet task: not JSON ({error})") from None
        if not isinstance(data, dict):
            raise TaskRefused("fleet task: not a JSON object")
        return cls.from_dict(data)


@dataclass(frozen=True)
class FleetPlan:
    """The tasks of a run, wave by wave. `failed_before`: failures a resumed run had counted already."""

    run_id: str
    operation: str
    waves: tuple[tuple[FleetTask, ...], ...]
    concurrency: int = 4
    max_failures: int = 0
    failed_before: int = 0

    @property
    def tenants(self) -> list[str]:
        return [task.tenant for wave in self.waves for task in wave]


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
    resumed: int = 0
    """Outcomes taken over from the run's earlier coordinator (they did not run again)."""

    @property
    def run_id(self) -> str:
        return self.plan.run_id

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

    def add(self, outcome: TenantOutcome, progress: Progress | None, note: str = "") -> None:
        """What every engine does with an outcome: keep it, report it, and halt once the failures pass the
        plan's threshold (`note`: what halting leaves running on this engine)."""
        self.outcomes.append(outcome)
        if progress is not None:
            progress(outcome, len(self.outcomes), len(self.plan.tenants))
        self.halt_past_threshold(outcome.wave, note)

    def halt_past_threshold(self, wave: int, note: str = "") -> None:
        """Halt when the failures (a resumed run's earlier ones included) are more than `max_failures`."""
        failures = self.plan.failed_before + self.failures
        if not self.halted and failures > self.plan.max_failures:
            self.halted = (f"halted after {plural(failures, 'failure')} (more than {self.plan.max_failures} "
                           f"allowed), in wave {wave}{note}")


Progress = Callable[[TenantOutcome, int, int], None]  # (outcome, finished so far, total)


class FleetRunner(Protocol):
    """Runs a FleetPlan on some engine: each task as JSON-able data, each outcome reported through `progress`
    as it comes (the coordinator records it). The engine brings its own settings (where the catalog,
    the state and the credentials are on the hosts it runs on); the plan carries none."""

    def run(self, plan: FleetPlan, progress: Progress | None = None) -> FleetReport:
        ...


def tasks_of(run_id: str, operation: str, waves: tuple[tuple[str, ...], ...], actor: str,
             done: frozenset[str] = frozenset()) -> tuple[tuple[FleetTask, ...], ...]:
    """The run's tasks, wave numbers as planned; tenants in `done` and waves left empty are left out."""
    found = []
    for number, wave in enumerate(waves, start=1):
        tasks = tuple(FleetTask.for_tenant(run_id, number, operation, tenant, actor=actor)
                      for tenant in wave if tenant not in done)
        if tasks:
            found.append(tasks)
    return tuple(found)

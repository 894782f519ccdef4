"""Drift: what the cloud holds that a stack's state does not, found by a refresh preview (nothing is
written to the state), reported per tenant, stored, rolled up over the fleet, and adopted only on purpose.

What a refresh preview saw comes from drift_events.py (the engine's events and `--json` output).

Reporting:

    check_stack(operator, stack, hook=)   one stack's check through the Operator (`preview-refresh`: the
                                          crash scan, the lease, the journal), its report stored, the
                                          hook called for newly seen drift only
    adopt(operator, stack, approval)      `refresh` as an explicit adoption: the drift shown first, then
                                          adopted, journaled with its diff (gated for agents: execution.py)
    check_fleet(automation, ...)          every tenant with a stack, through the fleet runner (local, or the
                                          operator's: paybill_iac.pko.drift, a status and a `note`, no resources)
    reports(store, catalog, schedule)     each tenant's newest report, `stale` when older than the schedule,
                                          `not_checked` when it has none
    rollup(reports)                       counts by plan, cloud, cell and status

Statuses: `in_sync` (nothing drifted), `drifted`, `error` (the check failed: busy, flagged, the engine
failed), `stale` (the newest check is older than the schedule), `not_checked` (never checked).

The schedule comes from the `drift:` section of the project file paybill.yaml (`schedule_hours`, default
24; `hook: module:function` for newly seen drift; `engine: local | pko`, where `drift --fleet` runs), read by
`load_drift_settings`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paybill_iac.automation.drift_events import RefreshedResource
from paybill_iac.errors import UsageError
from paybill_iac.model.resource_facts import facts_for

if TYPE_CHECKING:
    from paybill_iac.automation.invocation import StackRef
    from paybill_iac.automation.operator import OperationResult, Operator
    from paybill_iac.automation.store import Store
    from paybill_iac.model.catalog import Catalog

STATUSES = ("in_sync", "drifted", "error", "stale", "not_checked")
ENGINES = ("local", "pko")
DEFAULT_SCHEDULE_HOURS = 24.0
SETTINGS_SECTION = "drift"


# --- one stack's report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftedResource:
    op: str
    urn: str
    type: str
    paths: tuple[str, ...]
    holds_data: bool
    protected: bool
    """Protected in the state, or a type that must be (resource_facts: holds or guards data)."""
    rules: tuple[str, ...] = ()
    """Policy rules the refreshed resource breaks that the state's view did not."""
    first_seen: float | None = None
    new: bool = False


@dataclass(frozen=True)
class DriftReport:
    stack: str
    tenant: str | None
    status: str
    checked_at: float | None
    plan: str | None = None
    cloud: str | None = None
    cell: str | None = None
    resources: tuple[DriftedResource, ...] = ()
    violations: tuple[dict[str, str], ...] = ()
    """Violations over the refreshed view that the state's view did not have (stack rules included)."""
    error: str | None = None
    note: str | None = None  # what the check could not say (the operator's: which resources drifted)

    @property
    def new(self) -> list[DriftedResource]:
        return [item for item in self.resources if item.new]

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["resources"] = [asdict(item) for item in self.resources]
        found["violations"] = [dict(item) for item in self.violations]
        return found


def drifted_resources(refreshed: Iterable[RefreshedResource]) -> list[DriftedResource]:
    found = []
    for item in refreshed:
        if not item.drifted:
            continue
        facts = facts_for(item.type)
        found.append(DriftedResource(item.op, item.urn, item.type, item.paths,
                                     bool(facts and facts.holds_data),
                                     item.protect or bool(facts and facts.protected)))
    return found


def refreshed_view(refreshed: Iterable[RefreshedResource], *, after: bool) -> list[Any]:
    """The stack's resources as the policy rules read them, before (the state) or after the refresh (the
    cloud): each resource's inputs overlaid with its outputs, so a value the cloud changed is what a rule
    reads (a rule reads the inputs first). Gone resources are absent after; the stack itself is left out."""
    from paybill_policies import ResourceView

    views = []
    for item in refreshed:
        state = item.new if after else item.old
        if state is None or item.type == "pulumi:pulumi:Stack":
            continue
        merged = {**dict(state.get("inputs") or {}), **dict(state.get("outputs") or {})}
        views.append(ResourceView.from_dict({"urn": item.urn, "type": item.type, "inputs": merged,
                                             "outputs": dict(state.get("outputs") or {}), "protect": item.protect,
                                             "retainOnDelete": item.retain_on_delete}))
    return views


def new_violations(refreshed: list[RefreshedResource], context: Any) -> list[dict[str, str]]:
    """Policy violations the refreshed view has and the state's view had not: drift that breaks a rule."""
    import paybill_policies

    before = paybill_policies.check(refreshed_view(refreshed, after=False), context)
    after = paybill_policies.check(refreshed_view(refreshed, after=True), context)
    known = {(item.policy, item.urn) for item in before.violations}
    return [{"pack": item.pack, "policy": item.policy, "level": item.level, "urn": item.urn, "message": item.message}
            for item in after.violations if (item.policy, item.urn) not in known]


def build_report(stack: StackRef, catalog: Catalog, refreshed: list[RefreshedResource], actor: str
                 ) -> tuple[DriftReport, dict[str, Any]]:
    """The report of one successful check (before it is stored: no time, no first-seen yet)."""
    from paybill_iac.policy_context import context_from_catalog

    drifted = drifted_resources(refreshed)
    violations: list[dict[str, str]] = []
    if drifted:
        violations = new_violations(refreshed, context_from_catalog(catalog, stack.project, stack.name, actor))
    by_urn: dict[str, list[str]] = {}
    for violation in violations:
        by_urn.setdefault(violation["urn"], []).append(violation["policy"])
    drifted = [replace(item, rules=tuple(sorted(set(by_urn.get(item.urn, []))))) for item in drifted]
    plan, cloud, cell = where(catalog, stack)
    report = DriftReport(stack.key, stack.tenant_id, "drifted" if drifted else "in_sync", None, plan, cloud, cell,
                         tuple(drifted), tuple(violations))
    return report, report.as_dict()


def where(catalog: Catalog, stack: StackRef) -> tuple[str | None, str | None, str | None]:
    """(plan, cloud, cell) of a stack as the catalog has it now."""
    if stack.kind == "cell":
        found = catalog.cells.get(stack.name)
        return None, (found.cloud if found else None), stack.name
    tenant = catalog.tenants.get(stack.name)
    if tenant is None:
        return None, None, None
    return tenant.plan, tenant.cloud, catalog.placements.get(stack.name)


Hook = Callable[[DriftReport], None]
"""Called with a stack's report when it holds newly seen drift (`report.new`)."""


def check_stack(operator: Operator, stack: StackRef, hook: Hook | None = None) -> OperationResult:
    """One stack's drift check through the Operator (lease, journal: `preview-refresh`), its report stored and
    returned as the result's `report`; `hook` is called only when the check saw drift not seen before. A check
    refused or failed is stored as `error`, and the refusal raised."""
    catalog = operator.catalog
    plan, cloud, cell = where(catalog, stack)
    try:
        result = operator.run_step(stack, "preview-refresh")
    except Exception as error:
        operator.store.drift.record(stack=stack.key, tenant=stack.tenant_id, status="error", actor=operator.actor,
                                    plan=plan, cloud=cloud, cell=cell, drifted=[], report={"resources": []},
                                    error=str(error) or type(error).__name__)
        raise
    report, stored = build_report(stack, catalog, list(result.report or ()), operator.actor)
    checked, seen = operator.store.drift.record(
        stack=stack.key, tenant=stack.tenant_id, status=report.status, actor=operator.actor, plan=plan, cloud=cloud,
        cell=cell, drifted=[(item.urn, item.op, item.paths) for item in report.resources], report=stored,
        violations=len(report.violations))
    resources = tuple(replace(item, first_seen=seen[item.urn].first_seen, new=seen[item.urn].new)
                      for item in report.resources)
    report = replace(report, checked_at=checked, resources=resources)
    if hook is not None and report.new:
        call_hook(hook, report, operator.notify)
    return replace(result, report=report)


def call_hook(hook: Hook, report: DriftReport, notify: Callable[[str], None]) -> None:
    """The hook's own failure is the hook's: said, never turned into a failed check (the report is stored)."""
    try:
        hook(report)
    except Exception as error:  # noqa: BLE001 - a hook is the user's code
        notify(f"the drift hook failed for {report.stack}: {type(error).__name__}: {error}")


def adopt(operator: Operator, stack: StackRef, approval: int | None = None) -> OperationResult:
    """A refresh as an explicit adoption: the drift previewed first (a journal entry of its own), then the refresh,
    journaled with the diff it adopts (`details.adopts`); the result's `report` holds the drift adopted."""
    seen = drifted_resources(operator.run_step(stack, "preview-refresh").report or ())
    result = operator.run_step(stack, "refresh", approval=approval, details={"adopts": journal_diff(seen)})
    return replace(result, report=tuple(seen))


def check_fleet(automation: Any, *, tenants: list[str] | None = None, waves: list[str] | None = None,
                concurrency: int = 4, hook: Hook | None = None, cells: bool = True, runner: Any = None,
                **options: Any) -> tuple[Any, list[DriftReport]]:
    """Every tenant with a stack (or `tenants`) checked through the fleet runner (`fleet drift`: each check in a
    worker, under its stack's lease, stored there), then (`cells`) every cell in use, here, one after another
    (the fleet runner takes tenant stacks only); then `hook` is called here, once per stack whose check saw new
    drift. A failed check does not halt the others. Returns the fleet report and the reports with new drift. On the
    operator (`runner`: PkoFleetRunner) its check Stacks' results are stored here, and no cell is checked."""
    from paybill_iac.automation.invocation import StackRef

    started = automation.store.clock()
    catalog = automation.reload()
    every = len(catalog.tenants)
    report = automation.fleet("drift", tenants=tenants, waves=waves, concurrency=concurrency, max_failures=every,
                              new=True, runner=runner, **options)
    for check in getattr(runner, "drift_checks", ()):
        record_operator_check(automation.store, catalog, check, automation.actor)
    stacks = [f"paybill-tenant/{outcome.tenant}" for outcome in report.outcomes]
    for cell in sorted(set(catalog.placements.values())) if cells and runner is None else ():
        try:
            check_stack(automation, StackRef.cell(cell))
        except Exception as error:  # noqa: BLE001 - stored as an error report; the other cells still run
            automation.notify(f"drift check of cell {cell}: {error}")
        stacks.append(StackRef.cell(cell).key)
    newly = [stored_report(item) for item in automation.store.drift.latest(with_report=True, stacks=stacks).values()
             if item.checked_at >= started and item.new_drift]
    for found in sorted(newly, key=lambda item: item.stack):
        if hook is not None:
            call_hook(hook, found, automation.notify)
    return report, newly


def record_operator_check(store: Store, catalog: Catalog, check: Any, actor: str) -> None:
    """Store a check the operator ran (paybill_iac.pko.drift.DriftCheck): its status and a note on what it cannot
    say (which resources); drift it found leaves the first-seen times of the local checks alone."""
    from paybill_iac.automation.invocation import StackRef

    stack = StackRef.tenant(check.tenant)
    plan, cloud, cell = where(catalog, stack)
    note = (f"checked on the operator (Stack {check.stack}): {check.message}. The operator reports one outcome per "
            f"stack, not which resources drifted; `paybill-iac drift --tenant {check.tenant}` checks it here with "
            "per-resource detail")
    report = {"resources": [], "violations": [], "engine": "pko", "check_stack": check.stack,
              "permalink": check.permalink, "note": note}
    store.drift.record(stack=stack.key, tenant=check.tenant, status=check.status, actor=actor, plan=plan,
                       cloud=cloud, cell=cell, drifted=[], report=report,
                       error=check.message if check.status == "error" else None,
                       keep_seen=check.status == "drifted")


def stored_report(stored: Any) -> DriftReport:
    """A DriftReport from the store's row (store.drift.StoredReport, read with its report)."""
    data = stored.report or {}
    resources = tuple(DriftedResource(op=item["op"], urn=item["urn"], type=item["type"], paths=tuple(item["paths"]),
                                      holds_data=item["holds_data"], protected=item["protected"],
                                      rules=tuple(item.get("rules") or ()), first_seen=item.get("first_seen"),
                                      new=bool(item.get("new")))
                      for item in data.get("resources") or [])
    return DriftReport(stored.stack, stored.tenant, stored.status, stored.checked_at, stored.plan, stored.cloud,
                       stored.cell, resources, tuple(data.get("violations") or ()), stored.error, data.get("note"))


# --- the fleet: statuses against the schedule, the roll-up ---------------------------------------------


@dataclass(frozen=True)
class FleetEntry:
    """One tenant's place in the roll-up: its newest status against the schedule."""

    tenant: str
    stack: str
    plan: str | None
    cloud: str | None
    cell: str | None
    status: str
    checked_at: float | None
    drifted: int = 0


def fleet_statuses(store: Store, catalog: Catalog, now: float, schedule_seconds: float,
                   tenants: Iterable[str] | None = None) -> list[FleetEntry]:
    """Each tenant with a stack (or of `tenants`): its newest report's status, `stale` when that is older than
    the schedule, `not_checked` when there is none. Plan, cloud and cell are the catalog's now."""
    from paybill_iac.automation.invocation import StackRef
    from paybill_iac.model.lifecycle import HAS_STACK

    chosen = sorted(tenants) if tenants is not None else sorted(
        tenant_id for tenant_id, tenant in catalog.tenants.items() if tenant.state in HAS_STACK)
    latest = store.drift.latest()
    found = []
    for tenant_id in chosen:
        stack = StackRef.tenant(tenant_id)
        plan, cloud, cell = where(catalog, stack)
        stored = latest.get(stack.key)
        if stored is None:
            found.append(FleetEntry(tenant_id, stack.key, plan, cloud, cell, "not_checked", None))
            continue
        status = "stale" if stored.checked_at < now - schedule_seconds else stored.status
        found.append(FleetEntry(tenant_id, stack.key, plan, cloud, cell, status, stored.checked_at, stored.drifted))
    return found


def rollup(entries: Iterable[FleetEntry]) -> dict[str, Any]:
    """Counts by status, and by plan, cloud and cell each broken down by status."""
    by_status = dict.fromkeys(STATUSES, 0)
    groups: dict[str, dict[str, dict[str, int]]] = {"plan": {}, "cloud": {}, "cell": {}}
    total = 0
    for entry in entries:
        total += 1
        by_status[entry.status] += 1
        for name, value in (("plan", entry.plan), ("cloud", entry.cloud), ("cell", entry.cell)):
            counts = groups[name].setdefault(value or "-", dict.fromkeys(STATUSES, 0))
            counts[entry.status] += 1
    return {"tenants": total, "status": by_status,
            **{f"by_{name}": dict(sorted(values.items())) for name, values in groups.items()}}


# --- settings: the schedule and the hook ---------------------------------------------------------------


@dataclass(frozen=True)
class DriftSettings:
    schedule_hours: float = DEFAULT_SCHEDULE_HOURS
    hook: str | None = None
    """`module:function` called with a DriftReport holding newly seen drift."""
    engine: str = "local"  # where `drift --fleet` runs: local worker processes, or pko (the operator)

    @property
    def schedule_seconds(self) -> float:
        return self.schedule_hours * 3600.0


def parse_drift_settings(data: Any, source: str) -> DriftSettings:
    section = data.get(SETTINGS_SECTION) if isinstance(data, Mapping) else None
    if section is None:
        return DriftSettings()
    if not isinstance(section, Mapping):
        raise UsageError(f"{source}: `{SETTINGS_SECTION}` must be a mapping (schedule_hours, hook, engine)")
    unknown = sorted(set(section) - {"schedule_hours", "hook", "engine"})
    if unknown:
        raise UsageError(f"{source}: {SETTINGS_SECTION}.{unknown[0]} is not a setting (schedule_hours, hook, engine)")
    hours = section.get("schedule_hours", DEFAULT_SCHEDULE_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0:
        raise UsageError(f"{source}: {SETTINGS_SECTION}.schedule_hours must be a positive number of hours, got "
                         f"{hours!r}")
    hook = section.get("hook")
    if hook is not None and (not isinstance(hook, str) or ":" not in hook):
        raise UsageError(f"{source}: {SETTINGS_SECTION}.hook must be module:function, got {hook!r}")
    engine = section.get("engine", "local")
    if engine not in ENGINES:
        raise UsageError(f"{source}: {SETTINGS_SECTION}.engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return DriftSettings(float(hours), hook, engine)


def load_drift_settings(path: Path) -> DriftSettings:
    """The `drift:` section of the project file at `path` (defaults when the file or the section is absent)."""
    from paybill_iac.catalog import yamlio

    if not path.is_file():
        return DriftSettings()
    try:
        data = yamlio.load_file(path)
    except Exception as error:  # noqa: BLE001 - any YAML problem is the user's file
        raise UsageError(f"{path}: not valid YAML: {error}") from None
    return parse_drift_settings(data, str(path))


def load_hook(spec: str, source: str) -> Hook:
    """`module:function` -> the function; a UsageError naming `source` when it cannot be loaded."""
    module, _, name = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise UsageError(f"{source}: drift hook '{spec}' cannot be loaded ({error})") from None
    if not callable(found):
        raise UsageError(f"{source}: drift hook '{spec}' is not callable")
    return found  # type: ignore[no-any-return]


def journal_diff(drifted: Iterable[DriftedResource]) -> list[dict[str, Any]]:
    """What a refresh adopts, as the journal keeps it: per drifted resource its op, URN, type and paths."""
    return [{"op": item.op, "urn": item.urn, "type": item.type, "paths": list(item.paths),
             "holds_data": item.holds_data, "protected": item.protected} for item in drifted]


def dumps_report(report: DriftReport) -> str:
    return json.dumps(report.as_dict(), sort_keys=True)

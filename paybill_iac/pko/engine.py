"""The Pulumi Kubernetes Operator as a fleet engine (`paybill_iac.automation.fleet_tasks.FleetRunner`).

Each fleet task (plain data: run, wave, operation, tenant) becomes its tenant's Stack resource, built here
from this host's catalog and operator settings (`paybill_iac.pko.manifests.Rollout`), server-side applied
wave by wave and waited for (`paybill_iac.pko.rollout.roll_out`); each Stack's settled state is the tenant's
outcome. The cells the tasks' tenants are on go first (wave 0), as with `fleet apply`; a cell that fails
halts the run (its tenants read its outputs).

A `drift` run applies, per task, the tenant's check Stack instead (paybill_iac.pko.drift: a refreshed preview
that fails when it proposes changes), waits for it the same way, and keeps each check's result in
`drift_checks` for the caller to store (paybill_iac.automation.drift.check_fleet); no cell Stack is applied.

What the operator does not do, the engine refuses per task rather than pretend:
- only `up` and `drift`: the operator reconciles a Stack to its program; a fleet preview or refresh runs on
  the local engine (UsageError before anything is applied);
- only a human's run: the operator's workspaces run as the human deployer (PAYBILL_ACTOR=human in every
  Stack) and no policy pack gates them, so an agent's fleet goes through the local engine, whose Operator
  previews and gates each tenant (outcome `refused`, nothing applied).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from paybill_iac.automation.fleet_tasks import FleetPlan, FleetReport, FleetTask, Progress, TenantOutcome
from paybill_iac.automation.gates import is_human
from paybill_iac.errors import UsageError
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.spec import cell_spec, tenant_spec
from paybill_iac.pko.drift import DriftCheck, check_manifest, check_request, check_result
from paybill_iac.pko.manifests import CELL_WAVE, Rollout
from paybill_iac.pko.rollout import Cluster, WaveResult, roll_out
from paybill_iac.pko.settings import PkoSettings


class PkoFleetRunner:
    """Runs a FleetPlan's tasks as Stack resources on the operator (module docstring)."""

    def __init__(self, cluster: Cluster, catalog: Catalog, settings: PkoSettings, namespace: str | None = None, *,
                 actor: str, wait: bool = True, timeout: float = 4 * 3600, poll: float = 15.0, concurrency: int = 16,
                 force: bool = False, dry_run: bool = False, say: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.cluster, self.catalog, self.settings = cluster, catalog, settings
        self.actor = actor
        """Who the coordinator acts as (from its own settings, not from a task): only a human's run is applied."""
        self.rollout = Rollout(settings, namespace or settings.namespace, catalog.settings.pulumi_org)
        self.options: dict[str, Any] = {"wait": wait, "timeout": timeout, "poll": poll, "concurrency": concurrency,
                                        "force": force, "dry_run": dry_run, "progress": say, "clock": clock,
                                        "sleep": sleep}
        self.drift_checks: list[DriftCheck] = []
        """The drift checks of the last `drift` run, one per tenant whose check Stack was applied."""

    def run(self, plan: FleetPlan, progress: Progress | None = None) -> FleetReport:
        if plan.operation not in ("up", "drift"):
            raise UsageError(f"the operator engine runs `fleet up` (it reconciles each Stack to its program) and "
                             f"drift checks, not `fleet {plan.operation}`: run that one with --engine local")
        checking = plan.operation == "drift"
        if checking and (self.options["dry_run"] or not self.options["wait"]):
            raise UsageError("a drift check on the operator is its check Stack's outcome: it needs a real apply "
                             "and waiting for it (no dry run, no --no-wait)")
        self.drift_checks = []
        report = FleetReport(plan)

        def record(outcome: TenantOutcome) -> None:
            report.add(outcome, progress, "; Stacks already applied carry on in the operator")

        if plan.waves:
            report.halt_past_threshold(plan.waves[0][0].wave)  # a resumed run past its threshold starts nothing
        cells = [] if checking else self._cells(plan)
        if cells and not report.halted:
            result = self._apply(cells, CELL_WAVE)
            if result.failures:
                report.halted = (f"halted: cell Stack(s) {', '.join(result.failures)} failed; their tenants read "
                                 "their outputs, so none was applied")
        for wave in plan.waves:
            if report.halted:
                for task in wave:
                    record(TenantOutcome(task.tenant, task.wave, "skipped", error=report.halted))
                continue
            manifests: dict[str, tuple[FleetTask, dict[str, Any]]] = {}
            for task in wave:
                refused = self._refusal(task)
                if refused is not None:
                    record(refused)
                    continue
                spec = tenant_spec(self.catalog, task.tenant)
                if spec is None:
                    record(TenantOutcome(task.tenant, task.wave, "failed", error=f"tenant {task.tenant} has no stack "
                                         "in this host's catalog (offboarded or unknown)"))
                    continue
                if checking:
                    manifest = check_manifest(self.rollout, spec, task.wave, check_request(plan.run_id))
                else:
                    manifest = self.rollout.manifest(spec, task.wave, self.catalog.tenants[task.tenant].canary)
                manifests[manifest["metadata"]["name"]] = (task, manifest)
            if not manifests:
                continue
            started = time.monotonic()
            result = self._apply([manifest for _, manifest in manifests.values()], wave[0].wave)
            seconds = round(time.monotonic() - started, 3)
            for name, (task, _) in manifests.items():
                if checking:
                    check = check_result(task.tenant, name, result)
                    self.drift_checks.append(check)
                    record(_checked(task, check, seconds))
                else:
                    record(_outcome(task, name, result, seconds, self.options["dry_run"], self.options["wait"]))
        return report

    def _cells(self, plan: FleetPlan) -> list[dict[str, Any]]:
        placements = self.catalog.placements
        cells = sorted({placements[tenant] for tenant in plan.tenants if tenant in placements})
        return [self.rollout.manifest(cell_spec(self.catalog, cell), CELL_WAVE) for cell in cells]

    def _apply(self, manifests: list[dict[str, Any]], number: int) -> WaveResult:
        """One wave through roll_out (the empty waves before it keep its number in the messages)."""
        rolled = roll_out(self.cluster, [[] for _ in range(number)] + [manifests], max_failures=len(manifests),
                          **self.options)
        return rolled.waves[number]

    def _refusal(self, task: FleetTask) -> TenantOutcome | None:
        """Refused unless the task acts as this coordinator and that is a person (the operator's workspaces act
        as the human deployer): a task naming no actor, or another than the coordinator's, is refused too."""
        actor = task.options.get("actor")
        if actor is None or actor != self.actor:
            return TenantOutcome(task.tenant, task.wave, "refused", error=(
                f"the task acts as {actor or 'nobody named'}, this coordinator as {self.actor}: nothing was applied"))
        if not is_human(actor):
            return TenantOutcome(task.tenant, task.wave, "refused", error=(
                f"the operator's workspaces act as the human deployer with no policy pack gating them; {actor}'s "
                "fleet runs on the local engine, which previews and gates each tenant: nothing was applied"))
        return None


def _outcome(task: FleetTask, name: str, result: WaveResult, seconds: float, dry_run: bool, waited: bool
             ) -> TenantOutcome:
    applied = next((outcome for outcome in result.applied if outcome.name == name), None)
    if applied is None or not applied.ok:
        return TenantOutcome(task.tenant, task.wave, "failed", error=f"Stack {name} was not applied: "
                             f"{applied.error if applied else 'no answer from the API server'}", seconds=seconds)
    if name in result.timed_out:
        return TenantOutcome(task.tenant, task.wave, "failed", seconds=seconds,
                             error=f"Stack {name} did not settle in time; the operator carries on with it")
    status = result.statuses.get(name)
    if status is not None and status.failed:
        return TenantOutcome(task.tenant, task.wave, "failed", seconds=seconds,
                             error=f"Stack {name} {status.state}: {status.reason or status.last_update} "
                                   f"{status.message}".rstrip())
    if dry_run:
        summary = f"Stack {name}: validated by the API server (server-side dry run)"
    elif not waited:
        summary = f"Stack {name}: applied (generation {applied.generation}), not waited for"
    else:
        summary = f"Stack {name}: {status.state if status else 'applied'}"
    return TenantOutcome(task.tenant, task.wave, "succeeded", summary, seconds=seconds)


def _checked(task: FleetTask, check: DriftCheck, seconds: float) -> TenantOutcome:
    """A check that ran succeeded, drift found or not (as the local engine's `drift` task); one that could not
    run failed."""
    if check.status == "error":
        return TenantOutcome(task.tenant, task.wave, "failed", error=check.message, seconds=seconds)
    return TenantOutcome(task.tenant, task.wave, "succeeded", f"Stack {check.stack}: {check.status}", seconds=seconds)

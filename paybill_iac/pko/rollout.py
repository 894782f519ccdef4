"""`paybill-iac fleet apply --engine pko`: the fleet's Stacks applied wave by wave.

    wave 0      the cells the selected tenants are on
    wave 1..n   the tenants, in the fleet's waves (`paybill_iac.automation.fleet.plan_waves`: canary
                tenants, then one wave per plan, or the `--wave` selectors)

Each wave: server-side apply of its Stacks (a few requests at a time), then, unless `wait` is off, the
namespace's Stacks are listed every `poll` seconds until each Stack of the wave has settled (ready,
failing or stalled: `paybill_iac.pko.status`) or `timeout` passed. A Stack that failed to apply, failed,
stalled or did not settle in time counts as a failure; once the failures pass `max_failures` the
rollout halts and the later waves are not applied (reported as skipped). Stacks already applied carry
on in the operator: halting stops the rollout, not the operator. The wave of each Stack is also its
`paybill.io/wave` label, so `fleet status` rolls up by the waves of the last rollout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from paybill_iac.model.catalog import Catalog
from paybill_iac.model.spec import cell_spec, tenant_spec
from paybill_iac.model.words import plural
from paybill_iac.pko.kube import ApplyOutcome
from paybill_iac.pko.manifests import CELL_WAVE, Rollout
from paybill_iac.pko.settings import PkoSettings
from paybill_iac.pko.status import StackStatus, classify


class Cluster(Protocol):
    """What a rollout needs of the cluster (StackApi; a double in tests)."""

    def apply(self, manifest: dict[str, Any], *, force: bool = False, dry_run: bool = False) -> ApplyOutcome:
        ...

    def list(self) -> Any:
        ...


@dataclass
class WaveResult:
    number: int
    names: list[str]
    applied: list[ApplyOutcome] = field(default_factory=list)
    statuses: dict[str, StackStatus] = field(default_factory=dict)
    timed_out: list[str] = field(default_factory=list)
    skipped: bool = False

    @property
    def failures(self) -> list[str]:
        failed = [outcome.name for outcome in self.applied if not outcome.ok]
        failed += [name for name, status in self.statuses.items() if status.failed]
        return sorted(set(failed + self.timed_out))


@dataclass
class RolloutReport:
    waves: list[WaveResult] = field(default_factory=list)
    halted: str = ""
    dry_run: bool = False

    @property
    def failures(self) -> list[str]:
        return [name for wave in self.waves for name in wave.failures]

    @property
    def ok(self) -> bool:
        return not self.halted and not self.failures and not any(wave.skipped for wave in self.waves)


Progress = Callable[[str], None]


def plan_rollout(catalog: Catalog, settings: PkoSettings, namespace: str | None = None,
                 selectors: list[str] | None = None, tenants: list[str] | None = None) -> list[list[dict[str, Any]]]:
    """The Stacks of each wave, wave 0 the cells of the selected tenants."""
    from paybill_iac.automation.fleet import plan_waves

    rollout = Rollout(settings, namespace or settings.namespace, catalog.settings.pulumi_org)
    tenant_waves = plan_waves(catalog, selectors, tenants)
    cells = sorted({catalog.placements[tenant] for wave in tenant_waves for tenant in wave
                    if tenant in catalog.placements})
    planned = [[rollout.manifest(cell_spec(catalog, cell), CELL_WAVE) for cell in cells]]
    for number, wave in enumerate(tenant_waves, start=1):
        stacks = []
        for tenant_id in wave:
            spec = tenant_spec(catalog, tenant_id)
            if spec is not None:
                stacks.append(rollout.manifest(spec, number, catalog.tenants[tenant_id].canary))
        planned.append(stacks)
    return planned


def roll_out(cluster: Cluster, waves: Sequence[Sequence[dict[str, Any]]], *, max_failures: int = 0,
             wait: bool = True, timeout: float = 4 * 3600, poll: float = 15.0, concurrency: int = 16,
             force: bool = False, dry_run: bool = False, progress: Progress | None = None,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> RolloutReport:
    say = progress or (lambda _message: None)
    report = RolloutReport(dry_run=dry_run)
    for number, manifests in enumerate(waves):
        result = WaveResult(number, [manifest["metadata"]["name"] for manifest in manifests])
        report.waves.append(result)
        if not manifests:
            continue
        if report.halted:
            result.skipped = True
            continue
        what = "cells" if number == 0 else "tenants"
        say(f"wave {number}: applying {len(manifests)} {what}" + (" (server-side dry run)" if dry_run else ""))
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            result.applied = list(pool.map(lambda manifest: cluster.apply(manifest, force=force, dry_run=dry_run),
                                           manifests))
        for outcome in result.applied:
            if not outcome.ok:
                say(f"  {outcome.name}: not applied: {outcome.error}")
        if wait and not dry_run:
            _wait(cluster, result, timeout, poll, clock, sleep, say)
        failures = len(report.failures)
        states = _summary(result)
        say(f"wave {number}: {states}")
        if failures > max_failures:
            report.halted = (f"halted after wave {number}: {plural(failures, 'failure')}, more than "
                             f"{max_failures} allowed; "
                             "Stacks already applied carry on in the operator")
            say(report.halted)
    return report


def _wait(cluster: Cluster, result: WaveResult, timeout: float, poll: float, clock: Callable[[], float],
          sleep: Callable[[float], None], say: Progress) -> None:
    waiting = {outcome.name for outcome in result.applied if outcome.ok}
    deadline = clock() + timeout
    while waiting:
        for stack in cluster.list():
            name = (stack.get("metadata") or {}).get("name")
            if name in waiting:
                status = classify(stack)
                result.statuses[name] = status
                if status.settled:
                    waiting.discard(name)
                    if status.failed:
                        say(f"  {name}: {status.state} ({status.reason or status.last_update}): {status.message}")
        if not waiting:
            return
        if clock() >= deadline:
            result.timed_out = sorted(waiting)
            say(f"  {plural(len(waiting), 'Stack')} not settled after {timeout:.0f} s: "
                f"{', '.join(sorted(waiting)[:10])}"
                + (" ..." if len(waiting) > 10 else ""))
            return
        sleep(poll)


def _summary(result: WaveResult) -> str:
    applied = sum(1 for outcome in result.applied if outcome.ok)
    states: dict[str, int] = {}
    for status in result.statuses.values():
        states[status.state] = states.get(status.state, 0) + 1
    text = f"{applied}/{len(result.names)} applied"
    if states:
        text += ", " + ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    if result.timed_out:
        text += f", {len(result.timed_out)} timed out"
    return text

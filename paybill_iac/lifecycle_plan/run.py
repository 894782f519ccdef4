"""Run a transition's stacks under the mock runtime and plan every step (`plan_transition`).

The tenant program runs once per distinct spec (configs are digested, so a spec that two steps share
runs once); a pooled or bridge shape reads its cell's outputs, so the cells a transition touches run
first (`StackRunner.add_cell`). Importing this module imports pulumi (through paybill_iac.mockrun).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybill_iac.lifecycle_plan.engine import EMPTY, Snapshot, StepPlan, plan_step
from paybill_iac.lifecycle_plan.invariants import problems
from paybill_iac.lifecycle_plan.transitions import Transition
from paybill_iac.model import resource_facts
from paybill_iac.model.spec import DIGEST_KEY, CellSpec, TenantSpec
from paybill_iac.preview.runner import settle_heap


@dataclass
class LifecyclePlan:
    """A transition, the engine's plan of each of its steps, and the invariants' verdict."""

    transition: Transition
    steps: list[StepPlan]
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def as_dict(self) -> dict[str, Any]:
        transition = self.transition
        start, target = transition.start, transition.target
        return {
            "tenant": transition.tenant, "transition": transition.name,
            "from": _describe(start), "to": _describe(target) if transition.steps[-1].spec else "no stack",
            "steps": [plan.as_dict() for plan in self.steps],
            "kept_in_cloud": [{"urn": change.urn, "type": change.type, "name": change.name, "step": plan.label,
                               "because": change.kept_because}
                              for plan in self.steps for change in plan.kept_in_cloud()],
            "final_backup": (self.steps[-1].after.outputs.get("final_backup") if self.steps else None),
            "invariants": {name: {"holds": not found, "problems": found} for name, found in self.problems.items()},
            "ok": self.ok,
            "note": "Offline: the stack programs ran under the mock runtime and the engine's rules were applied "
                    "to what they registered. Replacements are those the resource facts know; `pulumi preview` "
                    "on the real engine is the authority.",
        }


def _describe(spec: TenantSpec | None) -> str:
    if spec is None:
        return "no stack"
    text = f"{spec.plan} ({spec.isolation}), {spec.state}"
    if spec.guards != "kept":
        text += f", guards {spec.guards}"
    return text


class StackRunner:
    """Runs stack programs under the mock runtime, each distinct config once."""

    def __init__(self, programs: Mapping[str, Path] | None = None):
        self.programs = dict(programs) if programs else None
        self._cells: dict[str, Any] = {}  # qualified cell stack -> its StackRun
        self._tenants: dict[str, Snapshot] = {}

    def _program(self, kind: str, spec: TenantSpec | CellSpec) -> Any:
        """The stack program's body for `spec`: what it registers and exports. The policy packs are not
        run (the preview and `policy check` judge stacks; this plans what the engine does with them)."""
        if self.programs is not None:
            return self.programs[kind]
        from paybill_components.stack import build_cell, build_tenant

        if isinstance(spec, TenantSpec):
            return lambda: build_tenant(spec)
        return lambda: build_cell(spec)

    def add_cell(self, spec: CellSpec, qualified: str) -> Any:
        """Run the cell `qualified` (its org/project/stack name) from `spec`, for its tenants."""
        if qualified not in self._cells:
            from paybill_iac.mockrun import run_stack

            self._cells[qualified] = run_stack(self._program("cell", spec), project=spec.project, stack=spec.cell,
                                               config=spec.to_config(), drop_aliases=True)
            settle_heap()
        return self._cells[qualified]

    def cell_snapshots(self) -> list[Snapshot]:
        return [Snapshot.from_run(run) for run in self._cells.values()]

    def tenant(self, spec: TenantSpec) -> Snapshot:
        """The stack `spec` declares, as the engine would hold it after an `up`."""
        config = spec.to_config()
        key = config[DIGEST_KEY]
        if key not in self._tenants:
            from paybill_iac.mockrun import run_stack

            references = {name: run.outputs for name, run in self._cells.items()}
            run = run_stack(self._program("tenant", spec), project=spec.project, stack=spec.tenant, config=config,
                            stack_references=references, drop_aliases=True)
            self._tenants[key] = Snapshot.from_run(run)
            settle_heap()
        return self._tenants[key]


def final_backup_urns(snapshot: Snapshot) -> set[str]:
    return {urn for urn, resource in snapshot.resources.items()
            if getattr(resource_facts.facts_for(resource.type), "backup", False)}


def plan_transition(transition: Transition, runner: StackRunner,
                    externals: Iterable[Snapshot] | None = None) -> LifecyclePlan:
    """Plan every step of `transition` with the engine's semantics and check the invariants."""
    external = list(externals) if externals is not None else runner.cell_snapshots()
    before = runner.tenant(transition.start) if transition.start is not None else EMPTY
    plans: list[StepPlan] = []
    for step in transition.steps:
        after = runner.tenant(step.spec) if step.spec is not None else None
        unprotect = final_backup_urns(before) if step.unprotect_final_backup else set()
        plan = plan_step(step.label, before, after, unprotect=unprotect, emptied=step.emptied, externals=external,
                         note=step.note)
        plans.append(plan)
        before = plan.after
    return LifecyclePlan(transition, plans, problems(transition, plans))

"""`paybill-iac policy check`: the three policy packs, offline, over a `pulumi stack export` or a
`paybill-iac preview` file, with each stack's context from the catalog.

The tenant (or cell) is the stack name in the resources' URNs; its plan comes from the catalog. Exit
codes: 0 nothing blocks, 1 something does (a mandatory violation; for an agent also an undecided
mandatory rule, such as a grant whose value is an encrypted secret), 2 bad input (an unreadable or
unknown file, a stack the catalog does not know, a bad actor or config). A person sees every undecided
rule listed; nothing is dropped. A team can so audit existing stacks without the engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from paybill_iac.errors import CatalogError, UsageError

ACTOR = re.compile(r"^(human|agent|agent:[A-Za-z0-9][A-Za-z0-9._-]{0,62})$")


@dataclass
class StackResult:
    project: str
    stack: str
    kind: str
    plan: str
    isolation: str
    cloud: str
    resources: int
    violations: list[dict[str, str]] = field(default_factory=list)
    undecided: list[dict[str, str]] = field(default_factory=list)
    blocking: int = 0
    """Mandatory violations and, for an agent, undecided mandatory rules."""


@dataclass
class CheckResult:
    file: str
    format: str
    actor: str
    packs: list[str]
    stacks: list[StackResult]

    @property
    def mandatory(self) -> int:
        return sum(1 for stack in self.stacks for item in stack.violations if item["level"] == "mandatory")

    @property
    def advisory(self) -> int:
        return sum(1 for stack in self.stacks for item in stack.violations if item["level"] == "advisory")

    @property
    def blocking(self) -> int:
        return sum(stack.blocking for stack in self.stacks)

    @property
    def exit_code(self) -> int:
        return 1 if self.blocking else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "format": self.format, "actor": self.actor, "packs": self.packs,
            "stacks": [asdict(stack) for stack in self.stacks],
            "summary": {"stacks": len(self.stacks), "mandatory": self.mandatory, "advisory": self.advisory,
                        "undecided": sum(len(stack.undecided) for stack in self.stacks), "blocking": self.blocking},
        }


def load_enforcement(path: str | Path | None) -> dict[str, Any] | None:
    """A policy-pack config file (`{"all": "advisory", "<rule>": "disabled" | {"enforcementLevel": ...}}`)."""
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"policy config {path}: cannot be read: {getattr(error, 'strerror', None) or error}") from None
    except ValueError as error:
        raise UsageError(f"policy config {path}: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise UsageError(f"policy config {path}: expected an object mapping rule ids (or 'all') to levels")
    return data


def check(
    file: str | Path,
    catalog_dir: str | Path,
    actor: str = "human",
    packs: Sequence[str] | None = None,
    enforcement: dict[str, Any] | None = None,
) -> CheckResult:
    """Evaluate `packs` (all three by default) over every stack in `file`."""
    import paybill_policies
    from paybill_policies import PACKS, ConfigError, ContextError, InputError, inputs

    from paybill_iac.catalog import load_catalog
    from paybill_iac.policy_context import context_from_catalog

    if not ACTOR.match(actor):
        raise UsageError(f"actor '{actor}' is not 'human' or 'agent:<name>'")
    chosen = list(packs or PACKS)
    unknown_packs = [pack for pack in chosen if pack not in PACKS]
    if unknown_packs:
        raise UsageError(f"unknown pack(s) {', '.join(unknown_packs)} (packs: {', '.join(PACKS)})")
    try:
        fmt, stacks = inputs.load(file)
    except InputError as error:
        raise UsageError(str(error)) from None
    if not stacks:
        raise UsageError(f"{file}: holds no stack to check")
    try:
        catalog = load_catalog(catalog_dir)
    except CatalogError as error:
        raise UsageError(f"the catalog cannot be used: {error}") from None
    known_rules = set(paybill_policies.REGISTRY)
    stray = sorted(key for key in enforcement or {} if key != "all" and key not in known_rules)
    if stray:
        raise UsageError(f"policy config names unknown rule(s): {', '.join(stray)}")
    results = []
    for item in stacks:
        try:
            context = context_from_catalog(catalog, item.project, item.stack, actor)
        except ContextError as error:
            raise UsageError(f"{file}: {error}") from None
        try:
            report = paybill_policies.check(item.resources, context, chosen, enforcement)
        except ConfigError as error:  # a bad enforcement level
            raise UsageError(f"policy config: {error}") from None
        results.append(StackResult(
            project=item.project, stack=item.stack, kind=context.kind, plan=context.plan,
            isolation=context.isolation, cloud=context.cloud, resources=len(item.resources),
            violations=[asdict(violation) for violation in sorted(
                report.violations, key=lambda v: (v.level != "mandatory", v.pack, v.policy, v.urn))],
            undecided=[asdict(undecided) for undecided in report.undecided],
            blocking=len(report.blocking(actor)),
        ))
    return CheckResult(str(file), fmt, actor, chosen, results)


def _short(urn: str) -> str:
    if not urn:
        return "(stack)"
    parts = urn.split("::")
    return f"{parts[-2].split('$')[-1]}::{parts[-1]}" if len(parts) >= 4 else urn


def table(result: CheckResult) -> str:
    """The report for people: one block per stack, one line per violation."""
    lines = [f"{result.file} ({result.format}), actor {result.actor}, packs {', '.join(result.packs)}"]
    for stack in result.stacks:
        what = f"{stack.kind} {stack.stack}" + (f", plan {stack.plan}" if stack.plan else "")
        lines.append(f"\n{stack.project}/{stack.stack}: {what}, {stack.isolation or '-'}, {stack.cloud or '-'}, "
                     f"{stack.resources} resources")
        if not stack.violations:
            lines.append("  no violations")
        width = max((len(item["policy"]) for item in stack.violations), default=0)
        for item in stack.violations:
            lines.append(f"  {item['level']:<9}  {item['policy']:<{width}}  {_short(item['urn'])}")
            lines.append(f"  {'':<9}  {'':<{width}}  {item['message']}")
        agent = result.actor.startswith("agent")
        for item in stack.undecided:
            blocks = " (blocks an agent)" if agent and item.get("level") == "mandatory" else ""
            lines.append(f"  undecided  {item['policy']}  {_short(item['urn'])}: {item['message']}{blocks}")
    verdict = "FAIL" if result.blocking else "PASS"
    undecided = sum(len(stack.undecided) for stack in result.stacks)
    lines.append(f"\n{verdict}: {len(result.stacks)} stack(s), {result.mandatory} mandatory and "
                 f"{result.advisory} advisory violation(s), {undecided} undecided rule(s)")
    return "\n".join(lines)

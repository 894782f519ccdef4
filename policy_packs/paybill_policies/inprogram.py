"""The rules inside the stack program: every resource judged at its registration, so `pulumi up` without
`--policy-pack`, Pulumi Deployments and the Pulumi Kubernetes Operator (which runs no policy packs) are
guarded too.

    enforce(context)   register the enforcement for the running stack program; returns an Enforcement
    Enforcement.finish()  the stack rules, once every resource is registered (call it at the end)
    PolicyViolationError  what fails the program (a PolicyError)

How it works, under any engine and under the mock runtime alike: the enforcement sits on the program's
side of the resource monitor (the engine, or the mock runtime's monitor) and judges each registration
request as the SDK sends it, before it is sent: the inputs exactly as the engine will get them
(camelCase, secrets, unknown values), the parent, `protect`, the dependencies and each input's property
dependencies. A mandatory violation raises: the registration never reaches the engine, and the program
fails naming the rule. The outputs the engine answers for identities and stack references are kept,
so a grant is judged against the principals of the identities it depends on. An SDK-side stack
transformation (`register_stack_transformation`) only notes each resource, so that `finish()` runs
the stack rules once all are registered.

Why not the engine's transforms (`register_resource_transform`): the mock runtime records them but
never runs them (tests and `paybill-iac preview` would go unguarded). Why not a `depends_on` gate per
resource judged in an SDK transformation (tried first): serializing every resource twice and an extra
task per resource cost about a quarter of a stack program's time under the mock runtime; judging the
request the SDK has already serialized costs a few per cent.

Fail closed: during an update, an undecided mandatory rule fails the program of an agent; during a
preview (values not known yet) it is logged, and the same rule decides during the update before the
resource is registered. The actor is `PAYBILL_ACTOR` (human when unset: agents act only through the
control plane, which sets it). The other owners' names come only from the catalog, so the rule against
naming another tenant runs in the packs and `policy check`, not here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from paybill_iac.model.resource_facts import PRINCIPAL_OUTPUT
from paybill_policies.config import level_of
from paybill_policies.context import PolicyContext
from paybill_policies.errors import PolicyError, Unknown
from paybill_policies.evaluate import (
    ResourceView,
    Undecided,
    Violation,
    judge,
    judge_stack,
    plain,
    undecided_violation,
)
from paybill_policies.registry import ALL_PACKS, Rule, rules

__all__ = ["ACTOR_ENV", "Enforcement", "PolicyViolationError", "enforce"]

ACTOR_ENV = "PAYBILL_ACTOR"


_CHOSEN: dict[tuple[tuple[str, ...], bool, bool], list[Rule]] = {}
"""The rules that apply, per packs and kind of context (Rule.applies reads only is_agent and known)."""
_RULES_FOR: dict[tuple[tuple[str, ...], str], list[Rule]] = {}
"""The resource rules matching a type, per set of applicable rules (the same for every stack of a kind)."""


class PolicyViolationError(PolicyError):
    """A mandatory rule refused a resource (or the stack) inside the stack program."""


@dataclass
class Enforcement:
    """The rules of `packs` for one stack program run."""

    context: PolicyContext
    packs: Sequence[str] = ALL_PACKS
    views: dict[str, ResourceView] = field(default_factory=dict)
    found: list[Violation] = field(default_factory=list)
    undecided: list[Undecided] = field(default_factory=list)
    dry_run: bool = False
    _mock: bool = False
    _by_type: dict[str, list[Rule]] = field(default_factory=dict)
    _resources: list[Any] = field(default_factory=list)
    _related: dict[str, ResourceView] = field(default_factory=dict)

    def __post_init__(self) -> None:
        key = (tuple(self.packs), self.context.is_agent, self.context.known)
        chosen = _CHOSEN.get(key)
        if chosen is None:
            chosen = _CHOSEN[key] = [rule for rule in rules(self.packs) if rule.applies(self.context)
                                     and level_of(rule, None) != "disabled"]
        self._resource_rules = [rule for rule in chosen if rule.kind == "resource"]
        self._incremental = [rule for rule in chosen if rule.kind == "stack" and rule.incremental]
        self._stack_rules = [rule for rule in chosen if rule.kind == "stack" and not rule.incremental]
        self._key = tuple(rule.id for rule in self._resource_rules)

    # --- at registration -------------------------------------------------------------------------

    def transformation(self, args: Any) -> Any:
        """The SDK-side stack transformation: note the resource (finish() waits for its registration)."""
        self._resources.append(args.resource)
        return None

    def rules_for(self, type_token: str) -> list[Rule]:
        key = (self._key, type_token)
        found = _RULES_FOR.get(key)
        if found is None:
            found = _RULES_FOR[key] = [rule for rule in self._resource_rules if rule.matches(type_token)]
        return found

    def watch(self, monitor: Any) -> None:
        """Judge every registration and read `monitor` receives from this program, before it does."""
        register, read = monitor.RegisterResource, monitor.ReadResource

        def register_resource(request: Any, *args: Any, **kwargs: Any) -> Any:
            if request.type == "pulumi:pulumi:Stack":
                return register(request, *args, **kwargs)
            view = self.judge_request(request, request.object)
            response = register(request, *args, **kwargs)
            self._registered(view, response.urn, getattr(response, "object", None))
            return response

        def read_resource(request: Any, *args: Any, **kwargs: Any) -> Any:
            view = self.judge_request(request, request.properties)
            response = read(request, *args, **kwargs)
            self._registered(view, response.urn, getattr(response, "properties", None))
            return response

        monitor.RegisterResource = register_resource
        monitor.ReadResource = read_resource

    def judge_request(self, request: Any, properties: Any) -> ResourceView:
        """The view of a registration request, judged by the resource rules and the incremental stack
        rules (with the identities and stack references it may name); raises PolicyViolationError."""
        from pulumi.runtime import rpc

        inputs = plain(rpc.deserialize_properties(properties, keep_unknowns=True)) if properties is not None else {}
        property_dependencies = {key: tuple(value.urns) for key, value in
                                 getattr(request, "propertyDependencies", {}).items()}
        dependencies = tuple(getattr(request, "dependencies", ()))
        view = ResourceView(
            urn=self._urn(request), type=request.type, name=request.name, inputs=inputs, parent=request.parent,
            protect=bool(getattr(request, "protect", False)),
            retain_on_delete=bool(getattr(request, "retainOnDelete", False)), provider=request.provider,
            dependencies=dependencies, property_dependencies=property_dependencies,
        )
        violations: list[Violation] = []
        undecided: list[Undecided] = []
        for rule in self.rules_for(view.type):
            try:
                violations += [Violation(rule.pack, rule.id, rule.enforcement, view.urn, rule.reported(message))
                               for message in judge(rule, view, self.context)]
            except Unknown as error:
                undecided.append(Undecided(rule.pack, rule.id, view.urn, str(error), rule.enforcement))
        incremental = [rule for rule in self._incremental if rule.cloud in ("any", view.cloud)]
        if incremental:
            named = set(dependencies) | {urn for urns in property_dependencies.values() for urn in urns}
            related = [item for urn, item in self._related.items() if urn in named or item.type ==
                       "pulumi:pulumi:StackReference"]
            for rule in incremental:
                try:
                    violations += [Violation(rule.pack, rule.id, rule.enforcement, view.urn, rule.reported(message))
                                   for urn, message in judge_stack(rule, [view, *related], self.context)
                                   if urn in ("", view.urn)]
                except Unknown as error:
                    undecided.append(Undecided(rule.pack, rule.id, view.urn, str(error), rule.enforcement))
        if violations or undecided:
            self._settle(violations, undecided, f"resource '{view.name}' ({view.type})")
        return view

    def _registered(self, view: ResourceView, urn: str, outputs: Any) -> None:
        """Keep the registered view (by its URN) and, for an identity or a stack reference, its outputs."""
        from dataclasses import replace

        view = replace(view, urn=urn)
        if view.type in PRINCIPAL_OUTPUT or view.type == "pulumi:pulumi:StackReference":
            from pulumi.runtime import rpc

            state = plain(rpc.deserialize_properties(outputs, keep_unknowns=True)) if outputs is not None else {}
            view = replace(view, outputs=state)
            self._related[urn] = view
        self.views[urn] = view

    def _urn(self, request: Any) -> str:
        from pulumi.runtime import settings

        chain = ""
        if request.parent and request.parent.count("::") >= 3:
            qualified = request.parent.split("::")[2]
            if qualified != "pulumi:pulumi:Stack":
                # The engine qualifies a type by its ancestors' chain; the mock monitor by the parent's only.
                chain = (qualified.split("$")[-1] if self._mock else qualified) + "$"
        return f"urn:pulumi:{settings.get_stack()}::{settings.get_project()}::{chain}{request.type}::{request.name}"

    def _settle(self, violations: list[Violation], undecided: list[Undecided], what: str) -> None:
        import pulumi

        self.found += violations
        self.undecided += undecided
        blocking = [item for item in violations if item.level == "mandatory"]
        for pending in undecided:
            if self.dry_run or not self.context.is_agent or pending.level != "mandatory":
                pulumi.log.warn(f"paybill policy {pending.policy} could not decide on {what}: {pending.message}")
            else:
                blocking.append(undecided_violation(pending))
        for advisory in violations:
            if advisory.level != "mandatory":
                pulumi.log.warn(f"paybill policy {advisory.policy} (advisory) on {what}: {advisory.message}")
        if blocking:
            listing = "\n".join(f"  [{item.pack}] {item.policy}: {item.message}" for item in blocking)
            raise PolicyViolationError(
                f"paybill-iac policies refuse {what} in stack '{self.context.project}/{self.context.stack}' "
                f"(actor {self.context.actor}):\n{listing}")

    # --- at the end ------------------------------------------------------------------------------

    def finish(self) -> Any:
        """The stack rules over every registered resource, once all are judged (an Output the runtime
        awaits: a mandatory violation fails the program)."""
        import pulumi

        def stack_check(_: Any) -> int:
            resources = list(self.views.values())
            violations: list[Violation] = []
            undecided: list[Undecided] = []
            for rule in self._stack_rules:
                try:
                    violations += [Violation(rule.pack, rule.id, rule.enforcement, urn, rule.reported(message))
                                   for urn, message in judge_stack(rule, resources, self.context)]
                except Unknown as error:
                    undecided.append(Undecided(rule.pack, rule.id, "", str(error), rule.enforcement))
            self._settle(violations, undecided, "the stack")
            return len(resources)

        return pulumi.Output.all(*(resource.urn for resource in self._resources)).apply(stack_check)


def _mock_runtime() -> bool:
    from pulumi.runtime import settings
    from pulumi.runtime.mocks import MockMonitor

    return isinstance(settings.get_monitor(), MockMonitor)


def enforce(context: PolicyContext, packs: Sequence[str] = ALL_PACKS) -> Enforcement:
    """Judge every resource the running stack program registers from now on (the actor from
    PAYBILL_ACTOR when the context names none). Call `finish()` on the result once the program has built
    its resources."""
    import pulumi

    actor = os.environ.get(ACTOR_ENV)
    if actor and context.actor == "human":
        from dataclasses import replace

        context = replace(context, actor=actor)
    from pulumi.runtime import settings

    enforcement = Enforcement(context, packs, dry_run=pulumi.runtime.is_dry_run(), _mock=_mock_runtime())
    enforcement.watch(settings.get_monitor())
    pulumi.runtime.register_stack_transformation(enforcement.transformation)
    return enforcement

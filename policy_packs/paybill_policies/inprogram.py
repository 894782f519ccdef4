"""The rules inside the stack program: every resource judged at its registration, so `pulumi up` without
`--policy-pack`, Pulumi Deployments and the Pulumi Kubernetes Operator (which runs no policy packs) are
guarded too.

    enforce(context)   register the enforcement for the running stack program; returns an Enforcement
    Enforcement.finish()  the stack rules, once every resource is registered (call it at the end)
    PolicyViolationError  what fails the program (a PolicyError)

How it works, under any engine and under the mock runtime alike: an SDK-side stack transformation
(`pulumi.runtime.register_stack_transformation`) sees each resource as it is constructed and gives it a
`depends_on` gate. The gate resolves the resource's inputs exactly as the SDK will send them (its own
serializer: camelCase names, secrets unwrapped, unknown values kept unknown), with each input's
dependencies, runs the resource rules and the incremental stack rules on them and raises on a mandatory
violation, so the SDK never sends the registration and the program fails naming the rule. The engine-side
transforms (`register_resource_transform`) are not used for this: the mock runtime records them but never
runs them (tests and `paybill-iac preview` would go unguarded), and they give no property dependencies.

Fail closed: during an update, an undecided mandatory rule fails the program of an agent; during a
preview (values not known yet) it is logged, and the same rule decides during the update before the
resource is registered. The actor is `PAYBILL_ACTOR` (human when unset: agents act only through the
control plane, which sets it). The other owners' names come only from the catalog, so the rule against
naming another tenant runs in the packs and `policy check`, not here.
"""

from __future__ import annotations

import asyncio
import os
import sys
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


class PolicyViolationError(PolicyError):
    """A mandatory rule refused a resource (or the stack) inside the stack program."""


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)


@dataclass
class Enforcement:
    """The rules of `packs` for one stack program run."""

    context: PolicyContext
    packs: Sequence[str] = ALL_PACKS
    views: dict[str, ResourceView] = field(default_factory=dict)
    gates: list[Any] = field(default_factory=list)
    found: list[Violation] = field(default_factory=list)
    undecided: list[Undecided] = field(default_factory=list)
    dry_run: bool = False
    _by_type: dict[str, list[Rule]] = field(default_factory=dict)
    _references: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        chosen = [rule for rule in rules(self.packs) if rule.applies(self.context)
                  and level_of(rule, None) != "disabled"]
        self._resource_rules = [rule for rule in chosen if rule.kind == "resource"]
        self._incremental = [rule for rule in chosen if rule.kind == "stack" and rule.incremental]
        self._stack_rules = [rule for rule in chosen if rule.kind == "stack" and not rule.incremental]

    # --- at registration -------------------------------------------------------------------------

    def transformation(self, args: Any) -> Any:
        """The SDK-side stack transformation: a gate the resource's registration waits for."""
        import pulumi

        if args.type_ == "pulumi:pulumi:StackReference":
            self._references.append(args.resource)
        task = asyncio.ensure_future(self._judge(args))
        task.add_done_callback(_retrieved)
        known: asyncio.Future[bool] = asyncio.get_event_loop().create_future()
        known.set_result(True)
        gate = pulumi.Output(set(), task, known)
        gate._data.add_done_callback(_retrieved)  # the failing registration reports it
        self.gates.append(gate)
        return pulumi.ResourceTransformationResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(depends_on=gate)))

    def rules_for(self, type_token: str) -> list[Rule]:
        found = self._by_type.get(type_token)
        if found is None:
            found = self._by_type[type_token] = [rule for rule in self._resource_rules if rule.matches(type_token)]
        return found

    async def _judge(self, args: Any) -> list[Any]:
        view, related = await self._view(args)
        self.views[view.urn] = view
        violations: list[Violation] = []
        undecided: list[Undecided] = []
        for rule in self.rules_for(view.type):
            try:
                violations += [Violation(rule.pack, rule.id, rule.enforcement, view.urn, rule.reported(message))
                               for message in judge(rule, view, self.context)]
            except Unknown as error:
                undecided.append(Undecided(rule.pack, rule.id, view.urn, str(error), rule.enforcement))
        for rule in self._incremental:
            try:
                violations += [Violation(rule.pack, rule.id, rule.enforcement, urn or view.urn, rule.reported(message))
                               for urn, message in judge_stack(rule, [view, *related], self.context)
                               if urn in ("", view.urn)]
            except Unknown as error:
                undecided.append(Undecided(rule.pack, rule.id, view.urn, str(error), rule.enforcement))
        self._settle(violations, undecided, f"resource '{view.name}' ({view.type})")
        return []

    async def _view(self, args: Any) -> tuple[ResourceView, list[ResourceView]]:
        """The resource as the SDK will register it, and the views of what its grants may name (the
        identities it depends on, with their principal outputs, and the stack's cell references)."""
        from pulumi.runtime import rpc, settings

        resource, opts = args.resource, args.opts
        typ = _args_type(resource)
        dependencies: dict[str, list[Any]] = {}
        struct = await rpc.serialize_properties(args.props, dependencies, resource,
                                                None if typ else resource.translate_input_property, typ)
        inputs = plain(rpc.deserialize_properties(struct, keep_unknowns=True))
        parent = opts.parent or settings.get_root_resource()
        parent_urn = await parent.urn.future() if parent is not None else ""
        chain = ""
        if parent is not None and parent is not settings.get_root_resource() and parent_urn.count("::") >= 3:
            qualified = parent_urn.split("::")[2]
            # The engine qualifies a type by its ancestors' chain; the mock monitor by the parent's type only.
            chain = (qualified.split("$")[-1] if _mock_runtime() else qualified) + "$"
        urn = f"urn:pulumi:{settings.get_stack()}::{settings.get_project()}::{chain}{args.type_}::{args.name}"
        property_dependencies: dict[str, tuple[str, ...]] = {}
        related: list[ResourceView] = []
        seen: set[int] = set()
        for key, resources in dependencies.items():
            urns = []
            for dependency in resources:
                dependency_urn = await dependency.urn.future()
                urns.append(dependency_urn)
                if id(dependency) not in seen:
                    seen.add(id(dependency))
                    identity = await _identity_view(dependency, dependency_urn)
                    if identity is not None:
                        related.append(identity)
            property_dependencies[key] = tuple(urns)
        for reference in self._references:
            if reference is not resource:
                outputs = await reference.outputs.future()
                related.append(ResourceView(await reference.urn.future(), "pulumi:pulumi:StackReference",
                                            reference._name, {}, outputs={"outputs": plain(outputs or {})}))
        protect = opts.protect if opts.protect is not None else bool(getattr(opts.parent, "_protect", False))
        view = ResourceView(
            urn=urn, type=args.type_, name=args.name, inputs=inputs, parent=parent_urn, protect=bool(protect),
            retain_on_delete=bool(opts.retain_on_delete),
            dependencies=tuple(sorted({urn for urns in property_dependencies.values() for urn in urns})),
            property_dependencies=property_dependencies,
        )
        return view, related

    def _settle(self, violations: list[Violation], undecided: list[Undecided], what: str) -> None:
        import pulumi

        self.found += violations
        self.undecided += undecided
        blocking = [item for item in violations if item.level == "mandatory"]
        for item in undecided:
            if self.dry_run or not self.context.is_agent or item.level != "mandatory":
                pulumi.log.warn(f"paybill policy {item.policy} could not decide on {what}: {item.message}")
            else:
                blocking.append(undecided_violation(item))
        for item in violations:
            if item.level != "mandatory":
                pulumi.log.warn(f"paybill policy {item.policy} (advisory) on {what}: {item.message}")
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

        return pulumi.Output.all(*self.gates).apply(stack_check)


def _retrieved(future: Any) -> None:
    """Mark a settled future's exception as seen: the registration it gates reports it once (asyncio would
    otherwise print it again when the future is collected)."""
    if not future.cancelled():
        future.exception()


async def _identity_view(resource: Any, urn: str) -> ResourceView | None:
    """An identity's view with the output a grant names it by (PRINCIPAL_OUTPUT), or None."""
    type_token = getattr(resource, "_type", "")
    output = PRINCIPAL_OUTPUT.get(type_token)
    if output is None:
        return None
    value = getattr(resource, _snake(output), None)
    known = await value.future() if value is not None and hasattr(value, "future") else None
    return ResourceView(urn, type_token, getattr(resource, "_name", ""), {},
                        outputs={output: known} if isinstance(known, str) else {})


def _mock_runtime() -> bool:
    from pulumi.runtime import settings
    from pulumi.runtime.mocks import MockMonitor

    return isinstance(settings.get_monitor(), MockMonitor)


def _args_type(resource: Any) -> type | None:
    """The input type (`<Class>Args`) of a generated provider resource, for the SDK's name translation."""
    module = sys.modules.get(type(resource).__module__)
    name = type(resource).__name__
    for candidate in (f"{name}InitArgs", f"{name}Args"):
        found = getattr(module, candidate, None)
        if isinstance(found, type):
            return found
    return None


def enforce(context: PolicyContext, packs: Sequence[str] = ALL_PACKS) -> Enforcement:
    """Judge every resource the running stack program registers from now on (the actor from
    PAYBILL_ACTOR when the context names none). Call `finish()` on the result once the program has built
    its resources."""
    import pulumi

    actor = os.environ.get(ACTOR_ENV)
    if actor and context.actor == "human":
        from dataclasses import replace

        context = replace(context, actor=actor)
    enforcement = Enforcement(context, packs, dry_run=pulumi.runtime.is_dry_run())
    pulumi.runtime.register_stack_transformation(enforcement.transformation)
    return enforcement

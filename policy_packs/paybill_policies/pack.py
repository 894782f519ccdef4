"""CrossGuard packs built from the rule registry, AwsGuard-style.

`policies(pack)` turns every registered rule of a pack into a pulumi_policy policy: its id, description,
severity, remediation steps, default enforcement level (overridable per rule and for `all` in the
policy config: advisory, mandatory, remediate, disabled) and a config schema for the per-run context.
`serve(pack)` builds the `PolicyPack`, which starts the analyzer's gRPC server and never returns:
only a pack's `__main__.py` calls it.

What each policy does on a call:
- the stack and project come from the resource's URN;
- the context comes from the policy config (`policy_config(context)` writes it per run, from the
  catalog); without it the stack is unknown, so only the rules that need no context run and the
  `<cloud>-stack-known-to-catalog` rule reports the stack;
- a value the engine does not know yet (preview) makes the policy raise the SDK's UnknownValueError,
  which CrossGuard reports as an advisory "can't run policy during preview" diagnostic (during `pulumi up`
  every input is known, and the rule decides);
- no input crashes a policy: a shape a rule does not read is reported as a violation of that rule;
- stack policies see what the engine sends them: every resource's outputs (which lack input-only
  properties), its dependencies and property dependencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paybill_policies.config import CONFIG_SCHEMA
from paybill_policies.context import PolicyContext, context_from_config
from paybill_policies.errors import Unknown
from paybill_policies.evaluate import ResourceView, judge, judge_stack, parse_urn, plain
from paybill_policies.registry import Rule, rules

PACK_DESCRIPTIONS = {
    "plan-limits": "The tenant's plan (from the catalog) bounds what its stack provisions: database vCPUs, "
                   "storage, backups, isolation model, regions and dedicated instances.",
    "tenant-isolation": "No public endpoints or network paths, customer-managed encryption, TLS 1.2+, least-privilege "
                        "grants to the stack's own identities scoped to one tenant, providers within the "
                        "organisation, no reference to another tenant, no change to the cell, markers, deletion "
                        "protection.",
    "agent-guardrails": "When an AI agent deploys: an allow-list of resource types (deny by default, whatever the "
                        "package), IAM within the role templates, protected data, a resource cap and no cell "
                        "stacks; violations name the human approval needed.",
}


def _unknown(error: Unknown) -> Exception:
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

    return UnknownValueError(UNKNOWN_STRING_VALUE, error.path.split("."))


def _view(resource: Any, props: Any, opts: Any, provider: Any) -> ResourceView:
    """A resource policy's resource: its inputs."""
    return ResourceView(
        urn=resource.urn, type=resource.resource_type, name=resource.name, inputs=plain(props),
        parent=(opts.parent or "") if opts is not None else "", protect=bool(opts.protect) if opts else False,
        provider=getattr(provider, "urn", "") or "",
    )


def stack_view(item: Any) -> ResourceView:
    """A stack policy's resource: its outputs (read as inputs too, where the names agree), dependencies and
    property dependencies."""
    outputs = plain(item.props)
    opts = getattr(item, "opts", None)
    provider = getattr(item, "provider", None)
    properties = getattr(item, "property_dependencies", None) or {}
    return ResourceView(
        urn=item.urn, type=item.resource_type, name=item.name, inputs=dict(outputs), outputs=dict(outputs),
        parent=(getattr(opts, "parent", None) or "") if opts is not None else "",
        protect=bool(getattr(opts, "protect", False)) if opts is not None else False,
        provider=getattr(provider, "urn", "") or "",
        dependencies=tuple(dependency.urn for dependency in getattr(item, "dependencies", None) or ()),
        property_dependencies={str(key): tuple(dependency.urn for dependency in value or ())
                               for key, value in properties.items()},
    )


def _context(config: Mapping[str, Any] | None, urn: str) -> PolicyContext:
    stack, project, _, _ = parse_urn(urn)
    return context_from_config(plain(config or {}), project, stack)


def policy_for(rule: Rule) -> Any:
    """The pulumi_policy policy of one rule."""
    from pulumi_policy import (
        EnforcementLevel,
        PolicyConfigSchema,
        ResourceValidationPolicy,
        Severity,
        StackValidationPolicy,
    )

    common: dict[str, Any] = {
        "name": rule.id, "description": rule.description, "enforcement_level": EnforcementLevel(rule.enforcement),
        "severity": Severity(rule.severity), "remediation_steps": rule.remediation,
        "config_schema": PolicyConfigSchema(properties=dict(CONFIG_SCHEMA)),
        "tags": [rule.pack, rule.cloud],
    }
    if rule.kind == "stack":
        def validate_stack(args: Any, report: Any) -> None:
            if not args.resources:
                return
            views = [stack_view(item) for item in args.resources]
            context = _context(args.get_config(), views[0].urn)
            if not rule.applies(context):
                return
            try:
                for urn, message in judge_stack(rule, views, context):
                    report(rule.reported(message), urn or None)
            except Unknown as error:
                raise _unknown(error) from None

        return StackValidationPolicy(validate=validate_stack, **common)

    def validate(args: Any, report: Any) -> None:
        if not rule.matches(args.resource_type):
            return
        context = _context(args.get_config(), args.urn)
        if not rule.applies(context):
            return
        view = _view(args, args.props, args.opts, args.provider)
        try:
            for message in judge(rule, view, context):
                report(rule.reported(message))
        except Unknown as error:
            raise _unknown(error) from None

    remediate = None
    if rule.remediate is not None:
        remediator = rule.remediate

        def remediate(args: Any) -> Any:
            if not rule.matches(args.resource_type):
                return None
            context = _context(args.get_config(), args.urn)
            if not rule.applies(context):
                return None
            try:
                return remediator(_view(args, args.props, args.opts, args.provider), context)
            except Exception:  # noqa: BLE001 - unknown, or a shape it does not read: nothing safe to fix
                return None

    return ResourceValidationPolicy(validate=validate, remediate=remediate, **common)


def policies(pack: str) -> list[Any]:
    """Every policy of `pack`, in registry order."""
    return [policy_for(rule) for rule in rules([pack])]


def serve(pack: str) -> None:
    """Build the PolicyPack of `pack`: it starts the analyzer server and never returns."""
    from pulumi_policy import PolicyPack

    PolicyPack(name=pack, policies=policies(pack), description=PACK_DESCRIPTIONS[pack],
               display_name=f"paybill-iac {pack}", tags=["paybill-iac", pack])

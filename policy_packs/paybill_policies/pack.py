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
  which CrossGuard reports as an advisory "can't run policy during preview" diagnostic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paybill_policies.config import CONFIG_SCHEMA
from paybill_policies.context import PolicyContext, context_from_config
from paybill_policies.errors import Unknown
from paybill_policies.evaluate import ResourceView, parse_urn, plain
from paybill_policies.registry import Rule, rules

PACK_DESCRIPTIONS = {
    "plan-limits": "The tenant's plan (from the catalog) bounds what its stack provisions: database vCPUs, "
                   "storage, backups, isolation model, regions and dedicated instances.",
    "tenant-isolation": "No public endpoints, customer-managed encryption, TLS 1.2+, least-privilege identities "
                        "scoped to one tenant, no reference to another tenant, markers, deletion protection.",
    "agent-guardrails": "When an AI agent deploys: an allow-list of resource types, IAM within the role "
                        "templates, protected data, a resource cap and no cell stacks; violations name the "
                        "human approval needed.",
}


def _unknown(error: Unknown) -> Exception:
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

    return UnknownValueError(UNKNOWN_STRING_VALUE, error.path.split("."))


def _view(
    resource: Any, props: Any, opts: Any, provider: Any, dependencies: tuple[str, ...] = ()
) -> ResourceView:
    return ResourceView(
        urn=resource.urn, type=resource.resource_type, name=resource.name, inputs=plain(props),
        parent=(opts.parent or "") if opts is not None else "", protect=bool(opts.protect) if opts else False,
        provider=getattr(provider, "urn", "") or "", dependencies=dependencies,
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
            views = [_view(item, item.props, item.opts, item.provider,
                           tuple(dependency.urn for dependency in item.dependencies)) for item in args.resources]
            context = _context(args.get_config(), views[0].urn)
            if not rule.applies(context):
                return
            try:
                for urn, message in rule.validator(views, context):
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
            for message in rule.validator(view, context):
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
            except Unknown:
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

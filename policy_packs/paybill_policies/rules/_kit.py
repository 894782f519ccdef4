"""What the rule modules share: the `rule` decorator and small readers of resource inputs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from paybill_policies.context import PolicyContext
from paybill_policies.evaluate import ResourceView, Unknown, as_bool, as_number, get, known, strings
from paybill_policies.registry import Rule, register

__all__ = [
    "PolicyContext", "ResourceView", "Unknown", "as_bool", "as_number", "get", "known", "rule", "listing",
    "statements", "region_of", "normal_region", "in_stack", "referenced_by", "vcpus_message", "plan_of",
    "TENANT_ISOLATION", "PLAN_LIMITS", "AGENT_GUARDRAILS", "strings", "no_dedicated_database",
]

PLAN_LIMITS = "plan-limits"
TENANT_ISOLATION = "tenant-isolation"
AGENT_GUARDRAILS = "agent-guardrails"


def rule(
    id: str,  # noqa: A002 - the rule's id
    pack: str,
    cloud: str,
    types: Sequence[str],
    *,
    description: str,
    severity: str,
    remediation: str,
    kind: str = "resource",
    enforcement: str = "mandatory",
    reads: Mapping[str, Sequence[str]] | None = None,
    remediate: Callable[..., Any] | None = None,
    needs_context: bool = True,
    agent_only: bool = False,
    approval: str = "",
    uses_foreign_names: bool = False,
) -> Callable[[Callable[..., Iterable[Any]]], Callable[..., Iterable[Any]]]:
    """Register the decorated function as the validator of rule `id`."""

    def decorator(validator: Callable[..., Iterable[Any]]) -> Callable[..., Iterable[Any]]:
        register(Rule(
            id=id, pack=pack, cloud=cloud, types=tuple(types), description=description, severity=severity,
            remediation=remediation, validator=validator, kind=kind, enforcement=enforcement,
            reads={token: tuple(paths) for token, paths in (reads or {}).items()}, remediate=remediate,
            needs_context=needs_context, agent_only=agent_only, approval=approval,
            uses_foreign_names=uses_foreign_names,
        ))
        return validator

    return decorator


def listing(value: Any, path: str) -> list[Any]:
    """A list input (a lone object counts as a list of one); [] when absent."""
    value = known(value, path)
    if value is None:
        return []
    if isinstance(value, list):
        return [known(item, f"{path}[]") for item in value]
    return [value]


def statements(document: Any) -> list[dict[str, Any]]:
    """The statements of an AWS-style policy document (a lone statement counts as a list)."""
    if not isinstance(document, Mapping):
        return []
    found = document.get("Statement")
    if isinstance(found, Mapping):
        return [dict(found)]
    return [dict(item) for item in found or [] if isinstance(item, Mapping)]


def normal_region(value: str) -> str:
    """Regions compared the way every cloud spells them: lowercase, no spaces ("West Europe" and
    "westeurope", "EUROPE-WEST1" and "europe-west1")."""
    return re.sub(r"\s+", "", value).lower()


def region_of(resource: ResourceView, keys: Sequence[str]) -> tuple[str, str] | None:
    """(input name, region) of the first region-like input the resource sets; None when none."""
    for key in keys:
        value = get(resource.inputs, key)
        if isinstance(value, str) and value:
            return key, value
    return None


def in_stack(resources: Sequence[ResourceView], types: Sequence[str]) -> list[ResourceView]:
    return [resource for resource in resources if any(resource.type == token for token in types)]


def referenced_by(target: ResourceView, candidate: ResourceView, keys: Sequence[str], values: Sequence[Any]) -> bool:
    """Whether `candidate` refers to `target`: it depends on it, or one of its `keys` inputs equals
    one of `values` (the target's name, id or ARN as known). Raises Unknown when a key is unknown and
    nothing else decides."""
    if target.urn in candidate.dependencies:
        return True
    wanted = {str(value) for value in values if isinstance(value, str) and value}
    undecided = None
    for key in keys:
        try:
            value = get(candidate.inputs, key)
        except Unknown as error:
            undecided = error
            continue
        if isinstance(value, str) and value in wanted:
            return True
    if undecided is not None and not candidate.dependencies:
        raise undecided
    return False


def plan_of(context: PolicyContext) -> str:
    """How a message names the source of the limits: the tenant's plan, or the cell's sizing."""
    if context.kind == "cell":
        return f"cell '{context.cell or context.stack}' (cells.yaml)"
    return f"plan '{context.plan}' of tenant '{context.tenant or context.stack}'"


def vcpus_message(cloud: str, size: str, vcpus: int | None, context: PolicyContext) -> str | None:
    """The violation of a database size against the plan's vCPUs; None when within."""
    limits = context.limits
    if limits is None:
        return None
    if vcpus is None:
        from paybill_iac.model import sizing

        known_sizes = ", ".join(name for name, _ in sizing.INSTANCE_CLASSES[cloud])
        return (f"'{size}' is not in the {cloud} vCPU table, so it cannot be checked against the "
                f"{limits.db_vcpus} vCPUs of {plan_of(context)} (known: {known_sizes}).")
    if vcpus > limits.db_vcpus:
        return f"'{size}' has {vcpus} vCPUs, more than the {limits.db_vcpus} of {plan_of(context)}."
    return None


def no_dedicated_database(resource: ResourceView, context: PolicyContext) -> list[str]:
    """The validator of every cloud's `*-allowed-by-isolation` rule: a pooled tenant's database lives in
    its cell's server, so its stack holds no database instance of its own."""
    if context.kind == "tenant" and context.isolation == "pooled":
        return [f"{plan_of(context)} is pooled: no dedicated database instance."]
    return []

"""What the rule modules share: the `rule` decorator, type tokens from the resource facts, small
readers of resource inputs, and `Need`, the row of the "input must be set" family."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from paybill_iac.model import resource_facts
from paybill_policies.context import PolicyContext
from paybill_policies.evaluate import ResourceView, Unknown, get, known
from paybill_policies.registry import Rule, register

__all__ = [
    "AGENT_GUARDRAILS", "PLAN_LIMITS", "TENANT_ISOLATION", "TITLE", "Need", "below_tls_1_2", "fact_tokens",
    "in_stack", "is_set", "is_true", "listing", "normal_region", "per_cloud", "plan_of", "referenced_by", "rule",
    "statements", "unmet", "vcpus_message", "with_deprecated", "with_value",
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
    incremental: bool = False,
) -> Callable[[Callable[..., Iterable[Any]]], Callable[..., Iterable[Any]]]:
    """Register the decorated function as the validator of rule `id` (a family's validator is
    registered once per row: `rule(...)(validator)`)."""

    def decorator(validator: Callable[..., Iterable[Any]]) -> Callable[..., Iterable[Any]]:
        register(Rule(
            id=id, pack=pack, cloud=cloud, types=tuple(types), description=description, severity=severity,
            remediation=remediation, validator=validator, kind=kind, enforcement=enforcement,
            reads={token: tuple(paths) for token, paths in (reads or {}).items()}, remediate=remediate,
            needs_context=needs_context, agent_only=agent_only, approval=approval,
            uses_foreign_names=uses_foreign_names, incremental=incremental,
        ))
        return validator

    return decorator


TITLE = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud", "oci": "OCI"}
"""How descriptions name each cloud."""


def per_cloud(
    family: Sequence[tuple[str, str]],
    pack: str,
    validator: Callable[..., Iterable[Any]],
    *,
    description: str,
    severity: str,
    remediation: str,
    types: Callable[[str], Sequence[str]] | None = None,
    reads: Callable[[str], Mapping[str, Sequence[str]]] | None = None,
    with_cloud: bool = False,
    **options: Any,
) -> None:
    """Register one rule per (cloud, rule id) row of `family`, all with `validator` (given the row's
    cloud as its first argument when `with_cloud`). `description` names the cloud as `{title}`;
    `types` and `reads` give a cloud's type tokens and the inputs read (none: a stack rule)."""
    for cloud, rule_id in family:
        rule(rule_id, pack, cloud, types(cloud) if types else (), description=description.format(title=TITLE[cloud]),
             severity=severity, remediation=remediation, reads=reads(cloud) if reads else None, **options,
             )(partial(validator, cloud) if with_cloud else validator)


# --- type tokens -------------------------------------------------------------------------------


def with_deprecated(*tokens: str) -> tuple[str, ...]:
    """`tokens`, each followed by the deprecated tokens a provider still accepts for it (a stack created
    with an older provider keeps them in its state). Rules list them so the reference names them;
    matching goes through `normal_type` anyway."""
    found: list[str] = []
    for token in tokens:
        found.append(token)
        found.extend(old for old, current in resource_facts.DEPRECATED_TOKENS.items() if current == token)
    return tuple(found)


@functools.cache
def fact_tokens(cloud: str, fact: str) -> tuple[str, ...]:
    """The current tokens of `cloud` whose resource fact `fact` (a field or property of
    resource_facts.ResourceFacts) is true, in the table's order."""
    return tuple(token for token, facts in resource_facts.of_cloud(cloud).items() if getattr(facts, fact))


def in_stack(resources: Sequence[ResourceView], types: Sequence[str]) -> list[ResourceView]:
    """The resources of any of `types` (compared as canonical tokens; equivalent types count as the type
    they stand in for)."""
    wanted = _rule_types(tuple(types))
    return [resource for resource in resources if resource.rule_type in wanted]


@functools.cache
def _rule_types(types: tuple[str, ...]) -> frozenset[str]:
    return frozenset(resource_facts.rule_type(token) for token in types)


# --- readers -----------------------------------------------------------------------------------


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


_TLS_ORDER = {"tlsv1": 0, "tlsv1.0": 0, "tlsv1.1": 1, "tlsv1.2": 2, "tlsv1.3": 3}


def below_tls_1_2(version: str) -> bool:
    """Whether a PostgreSQL `ssl_min_protocol_version` value allows less than TLS 1.2 (an unknown
    spelling counts as below)."""
    return _TLS_ORDER.get(version.lower(), -1) < _TLS_ORDER["tlsv1.2"]


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


def tags_of(resource: ResourceView) -> dict[str, Any]:
    """The markers a resource carries where its type carries them (resource facts); {} when untagged."""
    facts = resource_facts.facts_for(resource.type)
    value = get(resource.inputs, facts.tag_property) if facts is not None and facts.tag_property else None
    return dict(value) if isinstance(value, Mapping) else {}


def in_retiring_shape(resource: ResourceView, context: PolicyContext) -> bool:
    """Whether the resource belongs to the shape a plan change retires (it carries that shape's markers)."""
    retiring = context.retiring.get("markers") or {}
    tags = tags_of(resource)
    return bool(retiring) and all(str(tags.get(key)) == value for key, value in retiring.items())


def guards_lifted(resource: ResourceView, context: PolicyContext) -> bool:
    """Whether the lifecycle turned the resource's deletion guards off on purpose: every guard of a stack at
    retention end, or the retiring shape's at a plan change's lift step. Only then, never otherwise."""
    if context.guards_released():
        return True
    return context.retiring.get("guards") == "lifted" and in_retiring_shape(resource, context)


def with_value(inputs: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `inputs` with `value` at dotted `path` (objects on the way created or copied)."""
    updated = dict(inputs)
    keys = path.split(".")
    cursor = updated
    for key in keys[:-1]:
        child = cursor.get(key)
        cursor[key] = dict(child) if isinstance(child, Mapping) else {}
        cursor = cursor[key]
    cursor[keys[-1]] = value
    return updated


# --- needs: "this input must be set" -----------------------------------------------------------


def is_set(value: Any) -> bool:
    """Set to something (a key id, a name): not absent, not empty."""
    return bool(value)


def is_true(value: Any) -> bool:
    """The boolean true itself (not a truthy string)."""
    return value is True


@dataclass(frozen=True)
class Need:
    """One input a rule needs: where it is, what makes it right, and what a violation says.

    `message` is formatted with `path`, `value` (the value found, None when absent) and `shown` (the
    value as text, "not set" when absent)."""

    path: str
    ok: Callable[[Any], bool]
    message: str = "{path} is not set."


def unmet(resource: ResourceView, needs: Sequence[Need], *, first_only: bool = False) -> list[str]:
    """The messages of the `needs` the resource does not meet, in order; with `first_only`, at most the
    first (later needs are then not read: they only make sense once the earlier ones hold)."""
    found = []
    for need in needs:
        value = get(resource.inputs, need.path)
        if not need.ok(value):
            shown = "not set" if value is None else value
            found.append(need.message.format(path=need.path, value=value, shown=shown))
            if first_only:
                break
    return found

"""The rule registry: what a rule is, the one place rules are registered, and the packs, clouds,
levels and severities they may name.

    Rule        one policy: id, pack, cloud, type tokens, description, severity, remediation,
                default enforcement, validator, optional remediation
    register()  add a rule (ids are unique across every pack)
    rules()     the registered rules of some packs (and a cloud), in registration order
    REGISTRY    id -> Rule

The rule modules (`paybill_policies.rules`) import this module and register on import; this module
never imports them (importing the `paybill_policies` package loads them), so the imports run one way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paybill_iac.model.resource_facts import CLOUD_PACKAGE, rule_type
from paybill_policies.context import PolicyContext
from paybill_policies.errors import ConfigError, RuleError

__all__ = [
    "ALL_PACKS", "ANY_CLOUD", "CLOUDS", "CLOUD_PACKAGE", "LEVELS", "PACKS", "REGISTRY", "SEVERITIES", "Rule",
    "register", "rules",
]

PACKS: tuple[str, ...] = ("plan-limits", "tenant-isolation", "agent-guardrails")
ALL_PACKS = PACKS
ANY_CLOUD = "any"
"""The `cloud` of a rule that holds whatever the package (`any-...` ids): the agent allow-list, the catalog
entry, stack references, the resource cap."""
CLOUDS: tuple[str, ...] = (ANY_CLOUD, *CLOUD_PACKAGE)
LEVELS: tuple[str, ...] = ("mandatory", "advisory", "disabled")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
KINDS: tuple[str, ...] = ("resource", "stack")


@dataclass(frozen=True)
class Rule:
    """One policy: what it checks, how bad a violation is, how to fix it, and the check itself."""

    id: str
    """Kebab-case, scoped by cloud and resource: `aws-rds-instance-vcpus-within-plan`."""
    pack: str
    cloud: str
    types: tuple[str, ...]
    """Type tokens it reads: the current token first, then deprecated ones and aliases; `<package>:*`
    for every type of a cloud; () for a stack rule that reads the stack as a whole."""
    description: str
    severity: str
    remediation: str
    validator: Callable[..., Iterable[Any]]
    """resource rules: validator(resource, context) -> messages; stack rules: validator(resources,
    context) -> (urn, message) pairs (urn "" for the stack). Raises errors.Unknown when a value it
    needs is not known."""
    kind: str = "resource"
    enforcement: str = "mandatory"
    reads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per type token, the input properties (dotted camelCase paths) the rule reads."""
    remediate: Callable[..., Mapping[str, Any] | None] | None = None
    """remediate(resource, context) -> the resource's fixed inputs, or None when nothing is to fix."""
    needs_context: bool = True
    """False for rules that need nothing from the catalog (they run on unknown stacks too)."""
    agent_only: bool = False
    """The agent guardrails: only when the actor is an agent."""
    approval: str = ""
    """Who must approve a change this rule refuses (agent guardrails)."""
    uses_foreign_names: bool = False
    incremental: bool = False
    """A stack rule that judges each resource with only the resources it depends on (a grant and the
    identity it names): the in-program enforcement runs it at each registration, not only at the end."""

    def matches(self, type_token: str) -> bool:
        """Whether the rule reads resources of `type_token`: deprecated and azure-native API-versioned
        tokens read as their current resource, and equivalent types as the type they stand in for
        (resource_facts.rule_type); `*` matches every type, `<package>:*` every type of a package."""
        token = rule_type(type_token)
        return any(token == candidate or candidate == "*" or (candidate.endswith(":*") and token.startswith(
            candidate[:-1])) for candidate in self.types)

    def reported(self, message: str) -> str:
        """`message` as a violation reports it: an agent guardrail names the approval it needs."""
        return f"{message} Approval needed: {self.approval}." if self.approval else message

    def applies(self, context: PolicyContext) -> bool:
        """Whether the rule runs for this stack and actor. A cloud's rules run on every stack (they match
        only that cloud's types): another cloud's resource in a stack meets its own cloud's rules."""
        if self.agent_only and not context.is_agent:
            return False
        return not (self.needs_context and not context.known)


REGISTRY: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    """Add `rule` to the registry; ids are unique across every pack."""
    if rule.id in REGISTRY:
        raise RuleError(f"rule '{rule.id}' is registered twice")
    for name, value, allowed in (("pack", rule.pack, PACKS), ("cloud", rule.cloud, CLOUDS),
                                 ("severity", rule.severity, SEVERITIES), ("enforcement", rule.enforcement, LEVELS),
                                 ("kind", rule.kind, KINDS)):
        if value not in allowed:
            raise RuleError(f"rule '{rule.id}': {name} '{value}' is not one of {', '.join(allowed)}")
    if rule.kind == "resource" and not rule.types:
        raise RuleError(f"rule '{rule.id}': a resource rule names the types it reads")
    if not rule.id.startswith(f"{rule.cloud}-"):
        raise RuleError(f"rule '{rule.id}': the id must start with its cloud '{rule.cloud}-'")
    REGISTRY[rule.id] = rule
    return rule


def rules(packs: Iterable[str] = PACKS, cloud: str | None = None) -> list[Rule]:
    """The registered rules of `packs` (and `cloud`), in registration order."""
    wanted = set(packs)
    unknown = wanted - set(PACKS)
    if unknown:
        raise ConfigError(f"unknown pack(s) {', '.join(sorted(unknown))} (packs: {', '.join(PACKS)})")
    return [rule for rule in REGISTRY.values() if rule.pack in wanted and (cloud is None or rule.cloud == cloud)]

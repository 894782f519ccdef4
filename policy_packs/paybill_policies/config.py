"""Policy config: what a pack receives for one run, and the enforcement level of each rule.

    CONFIG_SCHEMA   the properties every policy accepts (context, actor, maxResources)
    policy_config() the JSON a pack receives for one run (`--policy-pack-config`)
    level_of()      a rule's enforcement under an AwsGuard-style config: per rule, else `all`, else
                    the rule's default
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paybill_policies.context import PolicyContext
from paybill_policies.errors import ConfigError
from paybill_policies.registry import LEVELS, PACKS, Rule, rules

__all__ = ["CONFIG_SCHEMA", "level_of", "policy_config"]

CONFIG_SCHEMA: dict[str, dict[str, Any]] = {
    "context": {"type": "object", "description": "The stack's catalog context (paybill_policies.policy_config "
                                                 "writes it for each run); without it the stack is unknown."},
    "actor": {"type": "string", "description": "Who deploys: human, or agent:<name>."},
    "maxResources": {"type": "number", "description": "Most cloud resources a stack may hold when an agent "
                                                      "deploys it."},
}


def level_of(rule: Rule, enforcement: Mapping[str, Any] | None) -> str:
    """The rule's enforcement: its own entry in `enforcement`, else `all`, else its default.

    `enforcement` takes the policy-pack config shape: {"all": "advisory", "<rule-id>": "disabled"}
    or {"<rule-id>": {"enforcementLevel": "advisory", ...}}. "remediate" counts as mandatory.
    """
    for key in (rule.id, "all"):
        value = (enforcement or {}).get(key)
        if isinstance(value, Mapping):
            value = value.get("enforcementLevel")
        if value is not None:
            text = str(value).lower()
            if text == "remediate":
                return "mandatory"
            if text not in LEVELS:
                raise ConfigError(f"enforcement level '{value}' for '{key}' is not one of {', '.join(LEVELS)}")
            return text
    return rule.enforcement


def policy_config(
    context: PolicyContext,
    pack: str | None = None,
    enforcement: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The policy config of one run: every rule of `pack` (all packs when None) gets the context.

    Write it to a file and pass it with `pulumi preview --policy-pack policy_packs/<pack>
    --policy-pack-config <file>` (the automation layer does so per run). The other tenants' names
    go only to the rules that read them (the cross-tenant rules), to keep the file small.
    """
    slim = context.as_dict(foreign=False)
    full = context.as_dict(foreign=True)
    config: dict[str, Any] = {}
    if enforcement and "all" in enforcement:
        config["all"] = enforcement["all"]
    for rule in rules([pack] if pack else PACKS):
        entry: dict[str, Any] = {"context": full if rule.uses_foreign_names else slim}
        if enforcement and rule.id in enforcement:
            entry["enforcementLevel"] = enforcement[rule.id]
        config[rule.id] = entry
    return config

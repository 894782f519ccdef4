"""The CrossGuard rule library of paybill-iac, shared by the three policy packs in `policy_packs/`
(plan-limits, tenant-isolation, agent-guardrails), `paybill-iac policy check`, `paybill-iac preview`
and the automation layer.

    errors     the exceptions, one base (PolicyError); the hierarchy is drawn in its docstring
    context    PolicyContext, PlanLimits, unknown_context(), context_from_config()
    registry   Rule, register(), rules(), REGISTRY, the packs, clouds, levels and severities
    config     CONFIG_SCHEMA, policy_config(), level_of()
    evaluate   ResourceView, the input readers, check(), evaluate(), remediate()
    rules      one module per cloud, the rule families every cloud has, their tables; importing this
               package registers them
    pack       builds a pulumi_policy PolicyPack from the registry (only in a pack's __main__.py)
    inprogram  the same rules inside a stack program, at each resource's registration (enforce())
    build      a publishable pack folder: the pack, its requirements and the rule library's wheel
    inputs     reads `pulumi stack export` and `paybill-iac preview` files
    docs       the rule reference in the README, generated from the registry

Imports run one way: errors <- context <- registry <- config <- evaluate <- rules <- this package;
of paybill-iac only `paybill_iac.model` is imported. The context of a stack comes from the control
plane (`paybill_iac.policy_context.context_from_catalog`); this library never reads a catalog.
Importing this package imports no pulumi module.
"""

# First, registering every rule; then `rules` and `evaluate` below rebind the package attributes that
# importing their modules set, so they name the functions (reach the modules with `from
# paybill_policies.rules import aws`, `from paybill_policies.evaluate import get`).
from paybill_policies import rules as _rule_modules  # noqa: F401 - registers every rule
from paybill_policies.config import CONFIG_SCHEMA, level_of, policy_config
from paybill_policies.context import (
    PlanLimits,
    PolicyContext,
    context_from_config,
    context_from_spec,
    unknown_context,
)
from paybill_policies.errors import ConfigError, ContextError, InputError, PolicyError, RuleError, Unknown
from paybill_policies.evaluate import (
    Report,
    ResourceView,
    Undecided,
    Violation,
    check,
    evaluate,
    parse_urn,
    remediate,
)
from paybill_policies.registry import (
    ALL_PACKS,
    CLOUDS,
    LEVELS,
    PACKS,
    REGISTRY,
    SEVERITIES,
    Rule,
    register,
    rules,
)

__version__ = "0.1.0"
"""The rule library's version: the project's (each built pack installs the library at this version)."""

__all__ = [
    "ALL_PACKS", "CLOUDS", "CONFIG_SCHEMA", "LEVELS", "PACKS", "REGISTRY", "SEVERITIES", "ConfigError", "ContextError",
    "InputError", "PlanLimits", "PolicyContext", "PolicyError", "Report", "ResourceView", "Rule", "RuleError",
    "Undecided", "Unknown", "Violation", "check", "context_from_config", "context_from_spec", "evaluate", "level_of",
    "parse_urn",
    "policy_config", "register", "remediate", "rules", "unknown_context",
]

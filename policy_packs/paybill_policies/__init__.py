"""The CrossGuard rule library of paybill-iac, shared by the three policy packs in `policy_packs/`
(plan-limits, tenant-isolation, agent-guardrails), `paybill-iac policy check`, `paybill-iac preview`
and the automation layer.

    engine   ResourceView, PolicyContext, Rule, the registry, evaluate(), policy_config()
    rules    one module per cloud plus the rules every cloud has; importing it registers them
    pack     builds a pulumi_policy PolicyPack from the registry (only in a pack's __main__.py)
    inputs   reads `pulumi stack export` and `paybill-iac preview` files
    docs     the rule reference in the README, generated from the registry

Importing this package imports no pulumi module.
"""

from paybill_policies.engine import (
    ALL_PACKS,
    PACKS,
    PolicyContext,
    ResourceView,
    Rule,
    Violation,
    context_from_catalog,
    evaluate,
    policy_config,
    rules,
)

__all__ = [
    "ALL_PACKS", "PACKS", "PolicyContext", "ResourceView", "Rule", "Violation", "context_from_catalog",
    "evaluate", "policy_config", "rules",
]

"""The preview's bridge to the policy rule library (`paybill_policies`).

The three packs run in-process on what a stack registered, with a context built from the catalog
(never from the stack's own tags or config) and the given actor: the same verdicts CrossGuard gives
in `pulumi preview --policy-pack`, without the engine.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from paybill_iac.model.catalog import Catalog

RESOURCE_VIEW_FIELDS = ("urn", "type", "name", "inputs", "parent", "protect", "retain_on_delete", "provider")
LEVELS = ("mandatory", "advisory")


def evaluate_stack(catalog: Catalog, project: str, stack: str, actor: str,
                   resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The violations of one stack's resources, as plain dicts {pack, policy, level, urn, message}."""
    from paybill_policies import ResourceView, evaluate

    from paybill_iac.policy_context import context_from_catalog

    context = context_from_catalog(catalog, project, stack, actor)
    views = [ResourceView(**{key: resource[key] for key in RESOURCE_VIEW_FIELDS if key in resource})
             for resource in resources]
    found = evaluate(views, context)
    return sorted((_violation_dict(violation) for violation in found),
                  key=lambda item: (LEVELS.index(item["level"]) if item["level"] in LEVELS else 9,
                                    item["pack"], item["policy"], item["urn"], item["message"]))


def _violation_dict(violation: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(violation) and not isinstance(violation, type):
        data = dataclasses.asdict(violation)
    else:
        data = dict(violation)
    return {key: data.get(key, "") for key in ("pack", "policy", "level", "urn", "message")}


@dataclasses.dataclass(frozen=True)
class RuleInfo:
    """What SARIF and the markdown report say about a rule."""

    id: str
    pack: str
    description: str
    remediation: str
    level: str
    cloud: str = ""
    severity: str = ""


def rules() -> dict[str, RuleInfo]:
    """Every rule the packs define, by id, from the policy registry (`paybill_policies.rules()`)."""
    try:
        from paybill_policies import rules as registered_rules

        registered = registered_rules()
    except Exception:  # noqa: BLE001 - SARIF still lists the rules that fired
        return {}
    return {
        rule.id: RuleInfo(id=rule.id, pack=rule.pack, description=rule.description, remediation=rule.remediation,
                          level=rule.enforcement, cloud=rule.cloud, severity=rule.severity)
        for rule in registered
    }

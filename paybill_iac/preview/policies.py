"""The preview's bridge to the policy rule library (`paybill_policies`).

The three packs run in-process on what a stack registered, with a context built from the catalog
(never from the stack's own tags or config) and the given actor: the same verdicts CrossGuard gives
in `pulumi preview --policy-pack`, without the engine. Stack rules read the outputs too (the stack
program just ran in this process under the mock runtime, whose registrations hold them), as the
engine's stack policies do. An undecided rule is never dropped: it is reported as a violation whose
message starts with "undecided:", mandatory for an agent (it blocks) and advisory for a person.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from paybill_iac.model.catalog import Catalog

RESOURCE_VIEW_FIELDS = ("urn", "type", "name", "inputs", "parent", "protect", "retain_on_delete", "provider",
                        "dependencies", "outputs")
LEVELS = ("mandatory", "advisory")


def evaluate_stack(catalog: Catalog, project: str, stack: str, actor: str,
                   resources: list[dict[str, Any]],
                   outputs: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The violations of one stack's resources, as plain dicts {pack, policy, level, urn, message}, the
    undecided rules among them (mandatory for an agent, advisory for a person). `outputs` (by URN)
    default to those the mock runtime registered for exactly these resources in this process."""
    from paybill_policies import ResourceView, check

    from paybill_iac.policy_context import context_from_catalog

    context = context_from_catalog(catalog, project, stack, actor)
    if outputs is None:
        outputs = registered_outputs({resource["urn"] for resource in resources})
    views = []
    for resource in resources:
        fields = {key: resource[key] for key in RESOURCE_VIEW_FIELDS if key in resource}
        if "outputs" not in fields and resource["urn"] in outputs:
            fields["outputs"] = dict(outputs[resource["urn"]])
        if "dependencies" in fields:
            fields["dependencies"] = tuple(fields["dependencies"] or ())
        views.append(ResourceView(**fields))
    found = check(views, context).shown(actor)
    return sorted((_violation_dict(violation) for violation in found),
                  key=lambda item: (LEVELS.index(item["level"]) if item["level"] in LEVELS else 9,
                                    item["pack"], item["policy"], item["urn"], item["message"]))


def registered_outputs(urns: set[str]) -> dict[str, dict[str, Any]]:
    """The outputs the mock runtime's monitor holds for `urns`, when the stack it last ran in this process
    registered every one of them (the preview runs a stack and judges it in the same worker); {} otherwise."""
    import sys

    settings = sys.modules.get("pulumi.runtime.settings")
    monitor = getattr(getattr(settings, "SETTINGS", None), "monitor", None)
    registered = getattr(monitor, "resources", None)
    if not urns or not isinstance(registered, dict) or not urns <= set(registered):
        return {}
    return {urn: dict(getattr(registered[urn], "state", {}) or {}) for urn in urns}


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

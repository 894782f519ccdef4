"""Running the rules: resources as CrossGuard sees them, readers of their inputs, and the evaluation.

    ResourceView        one resource (urn, type, name, camelCase inputs, parent, protect, ...)
    parse_urn()         (stack, project, type, name) of a Pulumi URN
    get / known / plain / strings / as_bool / as_number / json_document
                        read inputs; a value not known during preview raises errors.Unknown
    check()             every applicable rule over one stack's resources -> Report (violations and
                        undecided rules); evaluate() -> the violations only
    remediate()         a resource with every safe fix of the packs applied

The packs (`paybill_policies.pack`), `paybill-iac policy check`, `paybill-iac preview` and the
automation layer all run the same rules through this module. Nothing here imports pulumi.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from paybill_iac.model.resource_facts import PACKAGE_CLOUD, cloud_of, normal_type, rule_type
from paybill_policies.config import level_of
from paybill_policies.context import PolicyContext
from paybill_policies.errors import Unknown
from paybill_policies.registry import ALL_PACKS, rules

__all__ = [
    "UNKNOWN_SENTINELS", "Report", "ResourceView", "Undecided", "Unknown", "Violation", "as_bool", "as_number",
    "check", "evaluate", "get", "is_unknown", "json_document", "judge", "judge_stack", "known", "parse_urn", "plain",
    "remediate", "strings", "undecided_violation", "unexpected_shape",
]

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The engine's placeholder for a value not known yet (what `plain` turns the SDK's Unknown into)."""

# The engine's placeholders for values not known during a preview (pulumi_policy.proxy).
UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "030794c1-ac77-496b-92df-f27374a8bd58", "e48ece36-62e2-4504-bad9-02848725956a",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
})
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


# --- resources ---------------------------------------------------------------------------------


def parse_urn(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, type, name) of `urn:pulumi:<stack>::<project>::<type chain>::<name>`."""
    if not urn.startswith("urn:pulumi:"):
        raise ValueError(f"'{urn}' is not a Pulumi URN")
    parts = urn[len("urn:pulumi:"):].split("::")
    if len(parts) < 4:
        raise ValueError(f"'{urn}' is not a Pulumi URN")
    stack, project, chain, name = parts[0], parts[1], parts[2], "::".join(parts[3:])
    return stack, project, chain.split("$")[-1], name


@dataclass(frozen=True)
class ResourceView:
    """One resource as a policy sees it: inputs carry camelCase wire names.

    The engine gives resource policies a resource's inputs and stack policies its outputs (which lack
    input-only properties such as an azure-native server's `serverName`); a stack export has both, a
    preview file only inputs. `prop()` reads the inputs, then the outputs, so a rule reads either shape;
    `dependencies` and `property_dependencies` (URNs) come from the engine, an export or the in-program
    enforcement, and are empty where the shape has none."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    provider: str = ""
    dependencies: tuple[str, ...] = ()
    """URNs this resource depends on (from the engine or a stack export; empty from a preview file)."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """The resource's outputs where the shape has them (a stack policy, a stack export), else {}."""
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per input property, the URNs its value came from."""

    @property
    def canonical_type(self) -> str:
        """The current token of the resource's type: deprecated tokens and azure-native API-versioned
        tokens read as their resource (paybill_iac.model.resource_facts.normal_type)."""
        return normal_type(self.type)

    @property
    def rule_type(self) -> str:
        """The canonical type whose rules read this resource: its current token, or the type it stands in
        for (an Aurora cluster for an RDS instance, an IAM binding for a member; resource_facts.rule_type)."""
        return rule_type(self.type)

    @property
    def cloud(self) -> str:
        """aws, azure, gcp or oci for a cloud resource or provider; "" otherwise."""
        return cloud_of(self.type)

    @property
    def is_cloud_resource(self) -> bool:
        """A resource of a cloud provider (not a provider, component or the stack itself)."""
        return self.type.split(":", 1)[0] in PACKAGE_CLOUD

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")

    @property
    def package(self) -> str:
        """The Pulumi package of the type (`pulumi:providers:aws` is of package aws)."""
        if self.is_provider:
            return self.type[len("pulumi:providers:"):]
        return self.type.split(":", 1)[0]

    def prop(self, path: str, *alternates: str) -> Any:
        """The value at `path` in the inputs, else in the outputs, else at each of `alternates` (the
        names an output shape uses for it); None when absent. Raises Unknown when unknown."""
        for where in (self.inputs, self.outputs):
            for candidate in (path, *alternates):
                value = get(where, candidate)
                if value is not None:
                    return value
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceView:
        """From a `RegisteredResource.as_dict()`, a preview file entry or a stack export entry (inputs
        and outputs, dependencies and propertyDependencies when it has them)."""
        urn = str(data.get("urn") or "")
        inputs = data.get("inputs")
        outputs = data.get("outputs")
        name = data.get("name") or (parse_urn(urn)[3] if urn.startswith("urn:pulumi:") else "")
        property_dependencies = data.get("propertyDependencies") or data.get("property_dependencies") or {}
        return cls(
            urn=urn, type=str(data.get("type") or ""), name=str(name),
            inputs=plain(dict(inputs)) if isinstance(inputs, Mapping) else {},
            outputs=plain(dict(outputs)) if isinstance(outputs, Mapping) else {},
            parent=str(data.get("parent") or ""), protect=bool(data.get("protect")),
            retain_on_delete=bool(data.get("retainOnDelete") or data.get("retain_on_delete")),
            provider=str(data.get("provider") or ""),
            dependencies=tuple(str(item) for item in data.get("dependencies") or () if isinstance(item, str)),
            property_dependencies={str(key): tuple(str(item) for item in value or ())
                                   for key, value in property_dependencies.items()
                                   if isinstance(value, (list, tuple))} if isinstance(
                property_dependencies, Mapping) else {},
        )


# --- reading inputs ----------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Plain dicts and lists from what a caller has: pulumi_policy's unknown-checking proxies are
    unwrapped, and so are secrets whose value is present (`value`, or the JSON `plaintext` of
    `pulumi stack export --show-secrets`); the SDK's Unknown becomes the engine's placeholder.
    Encrypted secrets (a stack export's `ciphertext`) stay as they are and read as unknown."""
    if isinstance(value, (Mapping, Sequence)) and not isinstance(value, (str, bytes, dict, list, tuple)):
        with contextlib.suppress(KeyError, IndexError, TypeError):
            value = value["__target"]  # type: ignore[call-overload]  # pulumi_policy proxies
    if isinstance(value, Mapping):
        if value.get(_SIG) == _SECRET_SIG:
            if "value" in value:
                return plain(value["value"])
            if isinstance(value.get("plaintext"), str):
                try:
                    return plain(json.loads(value["plaintext"]))
                except ValueError:
                    return value["plaintext"]
            return dict(value)
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(item) for item in value]
    kind = type(value).__name__
    if kind == "Secret" and hasattr(value, "value"):  # pulumi_policy.secret.Secret
        return plain(value.value)
    if kind == "Unknown" and type(value).__module__.startswith("pulumi"):  # pulumi.output.Unknown
        return UNKNOWN
    return value


def is_unknown(value: Any) -> bool:
    if isinstance(value, str):
        return value in UNKNOWN_SENTINELS
    return isinstance(value, Mapping) and value.get(_SIG) == _SECRET_SIG and "value" not in value


def get(data: Any, path: str, default: Any = None) -> Any:
    """The value at dotted `path` (camelCase keys); `default` when absent; raises Unknown when the
    value (or an object on the way) is not known."""
    current = data
    walked: list[str] = []
    for key in path.split("."):
        walked.append(key)
        if is_unknown(current):
            raise Unknown(".".join(walked[:-1]) or key)
        if not isinstance(current, Mapping) or key not in current or current[key] is None:
            return default
        current = current[key]
    if is_unknown(current):
        raise Unknown(path)
    return current


def known(value: Any, path: str) -> Any:
    """`value` itself, or Unknown(path) when it is a placeholder."""
    if is_unknown(value):
        raise Unknown(path)
    return value


def strings(value: Any) -> Iterable[str]:
    """Every known string inside `value` (nested dicts and lists)."""
    if isinstance(value, str):
        if value not in UNKNOWN_SENTINELS:
            yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


def as_bool(value: Any) -> bool | None:
    """True/False from a boolean or its spelling in strings ("true", "Enabled", "on")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "enabled", "on", "1", "yes"):
            return True
        if lowered in ("false", "disabled", "off", "0", "no"):
            return False
    if isinstance(value, (int, float)):
        return bool(value)
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def json_document(value: Any, path: str) -> Any:
    """A policy document given as JSON text or as an object; None when absent or not JSON."""
    value = known(value, path)
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


# --- evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    pack: str
    policy: str
    level: str
    urn: str
    message: str


@dataclass(frozen=True)
class Undecided:
    """A rule that could not decide because a value it reads is unknown (preview) or unreadable (an
    encrypted secret). CrossGuard reports these as advisory ("can't run policy during preview"); the
    offline checks never drop them: an undecided mandatory rule blocks an agent (`Report.blocking`) and
    is shown to a person."""

    pack: str
    policy: str
    urn: str
    message: str
    level: str = "mandatory"
    """The rule's enforcement level, had it decided."""


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    undecided: list[Undecided] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [violation for violation in self.violations if violation.level == "mandatory"]

    def blocking(self, actor: str) -> list[Violation]:
        """What stops the change for `actor`: the mandatory violations and, for an agent, every undecided
        mandatory rule (fail closed: an agent's change must be shown safe, not merely not shown unsafe)."""
        found = list(self.mandatory)
        if actor == "agent" or actor.startswith("agent:"):
            found += [undecided_violation(item) for item in self.undecided if item.level == "mandatory"]
        return found

    def shown(self, actor: str) -> list[Violation]:
        """Every violation, and every undecided rule as one too: mandatory for an agent (it blocks), and
        advisory for a person (shown, never dropped)."""
        agent = actor == "agent" or actor.startswith("agent:")
        return self.violations + [undecided_violation(item, None if agent else "advisory")
                                  for item in self.undecided if item.level in ("mandatory", "advisory")]


UNDECIDED_PREFIX = "undecided: "


def undecided_violation(item: Undecided, level: str | None = None) -> Violation:
    """An undecided rule reported as a violation (its message starts with `undecided: `)."""
    return Violation(item.pack, item.policy, level or item.level, item.urn,
                     f"{UNDECIDED_PREFIX}{item.message}; the rule cannot tell whether the resource complies.")


def unexpected_shape(error: Exception) -> str:
    """The violation a rule reports when a resource's inputs are not of the shape it reads (never a crash)."""
    return (f"the resource's inputs have a shape this rule does not read ({type(error).__name__}: {error}); "
            "an unexpected shape is a violation.")


def judge(rule: Any, resource: ResourceView, context: PolicyContext) -> list[str]:
    """The messages of one resource rule on one resource; Unknown propagates (undecided), and any other
    exception is a violation of an unexpected shape, never a crash."""
    try:
        return [str(message) for message in rule.validator(resource, context)]
    except Unknown:
        raise
    except Exception as error:  # noqa: BLE001 - an unexpected shape is a violation
        return [unexpected_shape(error)]


def judge_stack(rule: Any, resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    """The (urn, message) pairs of one stack rule; like `judge`, never a crash."""
    try:
        return [(str(urn), str(message)) for urn, message in rule.validator(resources, context)]
    except Unknown:
        raise
    except Exception as error:  # noqa: BLE001 - an unexpected shape is a violation
        return [("", unexpected_shape(error))]


def check(
    resources: Sequence[ResourceView],
    context: PolicyContext,
    packs: Sequence[str] = ALL_PACKS,
    enforcement: Mapping[str, Any] | None = None,
    kinds: Sequence[str] = ("resource", "stack"),
) -> Report:
    """Every applicable rule (of `kinds`) over one stack's resources: violations and undecided rules."""
    report = Report()
    for rule in rules(packs):
        if rule.kind not in kinds:
            continue
        level = level_of(rule, enforcement)
        if level == "disabled" or not rule.applies(context):
            continue
        found: list[tuple[str, str]] = []
        if rule.kind == "stack":
            try:
                found = judge_stack(rule, resources, context)
            except Unknown as error:
                report.undecided.append(Undecided(rule.pack, rule.id, "", str(error), level))
                continue
        else:
            for resource in resources:
                if not rule.matches(resource.type):
                    continue
                try:
                    found += [(resource.urn, message) for message in judge(rule, resource, context)]
                except Unknown as error:
                    report.undecided.append(Undecided(rule.pack, rule.id, resource.urn, str(error), level))
        report.violations += [Violation(rule.pack, rule.id, level, urn, rule.reported(message))
                              for urn, message in found]
    return report


def evaluate(
    resources: Sequence[ResourceView],
    context: PolicyContext,
    packs: Sequence[str] = ALL_PACKS,
    enforcement: Mapping[str, Any] | None = None,
) -> list[Violation]:
    """The violations of every applicable rule of `packs` over one stack's resources."""
    return check(resources, context, packs, enforcement).violations


def remediate(resource: ResourceView, context: PolicyContext, packs: Sequence[str] = ALL_PACKS) -> ResourceView:
    """`resource` with every safe remediation of `packs` applied (e.g. missing markers added)."""
    for rule in rules(packs):
        if rule.remediate is not None and rule.applies(context) and rule.matches(resource.type):
            try:
                updated = rule.remediate(resource, context)
            except Exception:  # noqa: BLE001 - unknown or an unexpected shape: nothing safe to fix
                continue
            if updated is not None:
                resource = replace(resource, inputs=dict(updated))
    return resource

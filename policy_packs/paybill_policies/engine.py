"""The policy evaluation API: resources as CrossGuard sees them, the catalog context, the rule registry.

    ResourceView      one resource (urn, type, name, camelCase inputs, parent, protect, ...)
    PolicyContext     what the catalog says about the stack: tenant or cell, plan, limits, isolation,
                      cloud, region, state, physical names, other owners' names, and who deploys
    Rule              one rule: id, pack, cloud, type tokens, description, severity, remediation,
                      default enforcement, validator, optional remediation
    evaluate(...)     every applicable rule over a stack's resources -> [Violation]
    policy_config()   the JSON a pack receives as policy config for one run (`--policy-pack-config`)

The packs in `policy_packs/<pack>/__main__.py` (through `paybill_policies.pack`), `paybill-iac policy
check`, `paybill-iac preview` and the automation layer all run the same rules through this module.
Nothing here imports pulumi: it is importable (and fast) without starting a gRPC server.

The context comes from the catalog, never from the stack: a stack (or an agent editing it) cannot
raise its own plan by setting a tag or a config value.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

PACKS: tuple[str, ...] = ("plan-limits", "tenant-isolation", "agent-guardrails")
ALL_PACKS = PACKS
CLOUDS: tuple[str, ...] = ("aws", "azure", "gcp", "oci")
LEVELS: tuple[str, ...] = ("mandatory", "advisory", "disabled")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
TENANT_PROJECT = "paybill-tenant"
CELL_PROJECT = "paybill-cell"
DEFAULT_MAX_RESOURCES = 80
"""Most cloud resources one stack may hold when an agent deploys it (policy config `maxResources`)."""

# The Pulumi package of each cloud (the first part of a type token).
PACKAGE_CLOUD: dict[str, str] = {"aws": "aws", "azure-native": "azure", "gcp": "gcp", "oci": "oci"}
CLOUD_PACKAGE: dict[str, str] = {cloud: package for package, cloud in PACKAGE_CLOUD.items()}

# The engine's placeholders for values not known during a preview (pulumi_policy.proxy).
UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "030794c1-ac77-496b-92df-f27374a8bd58", "e48ece36-62e2-4504-bad9-02848725956a",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
})
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


class Unknown(Exception):
    """A rule needed a value that is not known yet (preview) or not readable (an encrypted secret)."""

    def __init__(self, path: str):
        super().__init__(f"the value at .{path} can't be known during preview")
        self.path = path


class ContextError(LookupError):
    """The catalog has no tenant or cell for the stack; the message names it."""


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
    """One resource as CrossGuard sees it: inputs carry camelCase wire names."""

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

    @property
    def cloud(self) -> str:
        """aws, azure, gcp or oci for a cloud resource or provider; "" otherwise."""
        package = self.type.split(":", 1)[0]
        if package == "pulumi" and self.type.startswith("pulumi:providers:"):
            package = self.type[len("pulumi:providers:"):]
        return PACKAGE_CLOUD.get(package, "")

    @property
    def is_cloud_resource(self) -> bool:
        """A resource of a cloud provider (not a provider, component or the stack itself)."""
        return self.type.split(":", 1)[0] in PACKAGE_CLOUD

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceView:
        """From a `RegisteredResource.as_dict()`, a preview file entry or a stack export entry."""
        urn = str(data.get("urn") or "")
        inputs = data.get("inputs")
        if not inputs:
            inputs = data.get("outputs") or {}
        name = data.get("name") or (parse_urn(urn)[3] if urn.startswith("urn:pulumi:") else "")
        return cls(
            urn=urn, type=str(data.get("type") or ""), name=str(name), inputs=dict(inputs),
            parent=str(data.get("parent") or ""), protect=bool(data.get("protect")),
            retain_on_delete=bool(data.get("retainOnDelete") or data.get("retain_on_delete")),
            provider=str(data.get("provider") or ""), dependencies=tuple(data.get("dependencies") or ()),
        )


def plain(value: Any) -> Any:
    """Plain dicts and lists from what a caller has: pulumi_policy's unknown-checking proxies are
    unwrapped, and so are secrets whose value is present. Encrypted secrets (a stack export) stay as
    they are and read as unknown."""
    if isinstance(value, (Mapping, Sequence)) and not isinstance(value, (str, bytes, dict, list, tuple)):
        with contextlib.suppress(KeyError, IndexError, TypeError):
            value = value["__target"]  # type: ignore[call-overload]  # pulumi_policy proxies
    if isinstance(value, Mapping):
        if value.get(_SIG) == _SECRET_SIG and "value" in value:
            return plain(value["value"])
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(item) for item in value]
    if type(value).__name__ == "Secret" and hasattr(value, "value"):  # pulumi_policy.secret.Secret
        return plain(value.value)
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


# --- context -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanLimits:
    """What the stack may provision: sizes are ceilings, backup retention a floor."""

    db_vcpus: int
    db_storage_gb: int
    backup_retention_days: int
    max_db_instances: int
    """Dedicated database instances the isolation model allows (pooled 0, silo/bridge/cell 1)."""
    regions: tuple[str, ...] | None = None
    """The plan's allow-list of regions; None: any region of the plan's clouds."""


@dataclass(frozen=True)
class PolicyContext:
    """What the catalog says about one stack, and who runs the deployment."""

    project: str
    """paybill-tenant or paybill-cell."""
    stack: str
    """The tenant id or the cell id."""
    actor: str = "human"
    """human, or agent:<name> (the agent guardrails apply to agents)."""
    kind: str = "tenant"
    """tenant or cell."""
    tenant: str = ""
    cell: str = ""
    """The tenant's cell (pooled, bridge) or the cell itself."""
    plan: str = ""
    isolation: str = ""
    """silo, bridge or pooled; a cell is pooled."""
    cloud: str = ""
    region: str = ""
    state: str = ""
    org: str = ""
    limits: PlanLimits | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    """The stack's own physical names (paybill_iac.model.naming.names_for)."""
    cell_names: Mapping[str, str] = field(default_factory=dict)
    """The tenant's cell's physical names (shared, so not foreign)."""
    foreign_names: frozenset[str] = frozenset()
    """Physical names and prefixes of every other tenant and cell: a resource naming one crosses
    the isolation boundary."""
    max_resources: int = DEFAULT_MAX_RESOURCES
    known: bool = True
    """False when the catalog has no entry for the stack (then only context-free rules run)."""

    @property
    def is_agent(self) -> bool:
        return self.actor == "agent" or self.actor.startswith("agent:")

    @property
    def markers(self) -> dict[str, str]:
        """The markers every taggable resource of the stack must carry."""
        from paybill_iac.model import markers

        if not self.known:
            return {}
        if self.kind == "cell":
            return markers.cell_markers(self.cell or self.stack)
        return markers.tenant_markers(self.tenant or self.stack, self.plan, self.isolation)

    def as_dict(self, *, foreign: bool = True) -> dict[str, Any]:
        """JSON-ready, for policy config (`foreign=False` leaves the other owners' names out)."""
        data = asdict(replace(self, names=dict(self.names), cell_names=dict(self.cell_names)))
        data["names"] = dict(self.names)
        data["cell_names"] = dict(self.cell_names)
        data["foreign_names"] = sorted(self.foreign_names) if foreign else []
        if self.limits is not None:
            data["limits"]["regions"] = list(self.limits.regions) if self.limits.regions is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyContext:
        """Back from `as_dict()` as it arrives in policy config (numbers may be floats)."""
        limits = data.get("limits")
        plan_limits = None
        if isinstance(limits, Mapping):
            regions = limits.get("regions")
            plan_limits = PlanLimits(
                db_vcpus=int(limits["db_vcpus"]), db_storage_gb=int(limits["db_storage_gb"]),
                backup_retention_days=int(limits["backup_retention_days"]),
                max_db_instances=int(limits["max_db_instances"]),
                regions=tuple(str(region) for region in regions) if regions is not None else None,
            )
        text = {key: str(data.get(key) or "") for key in (
            "project", "stack", "kind", "tenant", "cell", "plan", "isolation", "cloud", "region", "state", "org")}
        return cls(
            **text, actor=str(data.get("actor") or "human"), limits=plan_limits,
            names={str(k): str(v) for k, v in (data.get("names") or {}).items()},
            cell_names={str(k): str(v) for k, v in (data.get("cell_names") or {}).items()},
            foreign_names=frozenset(str(name) for name in data.get("foreign_names") or ()),
            max_resources=int(data.get("max_resources") or DEFAULT_MAX_RESOURCES),
            known=bool(data.get("known", True)),
        )


def unknown_context(project: str, stack: str, actor: str = "human") -> PolicyContext:
    """The context of a stack the catalog does not know: only context-free rules can run."""
    return PolicyContext(project=project, stack=stack, actor=actor, known=False,
                         kind="cell" if project == CELL_PROJECT else "tenant")


def context_from_catalog(catalog: Any, project: str, stack: str, actor: str = "human") -> PolicyContext:
    """The context of stack `project/stack` from `catalog` (a loaded Catalog, or its folder).

    Raises ContextError when the catalog has no such tenant (project paybill-tenant) or cell
    (paybill-cell).
    """
    from paybill_iac.catalog import load_catalog
    from paybill_iac.model import naming
    from paybill_iac.model.catalog import DEDICATED_DB_ISOLATIONS, Catalog

    if not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    org = catalog.settings.org
    if project == CELL_PROJECT:
        cell = catalog.cells.get(stack)
        if cell is None:
            raise ContextError(f"unknown cell '{stack}': the catalog at {catalog.root} has no such cell "
                               f"(cells: {', '.join(sorted(catalog.cells)) or 'none'})")
        own = naming.names_for(cell.cloud, org, cell.id)
        limits = PlanLimits(cell.db_vcpus, cell.db_storage_gb, cell.backup_retention_days, 1, (cell.region,))
        return PolicyContext(
            project=project, stack=stack, actor=actor, kind="cell", cell=cell.id, isolation="pooled",
            cloud=cell.cloud, region=cell.region, state="active", org=org, limits=limits, names=own,
            foreign_names=_foreign_names(catalog, own_tenant=None, own_cells={cell.id}),
        )
    if project != TENANT_PROJECT:
        raise ContextError(f"unknown project '{project}': paybill-iac stacks belong to {TENANT_PROJECT} "
                           f"or {CELL_PROJECT}")
    tenant = catalog.tenants.get(stack)
    if tenant is None:
        raise ContextError(f"unknown tenant '{stack}': the catalog at {catalog.root} has no such tenant "
                           f"(tenants: {', '.join(sorted(catalog.tenants)) or 'none'})")
    plan = catalog.plans[tenant.plan]
    cell_id = catalog.placements.get(tenant.id, "") or (tenant.cell or "")
    cell_names = naming.names_for(tenant.cloud, org, cell_id) if cell_id else {}
    limits = PlanLimits(
        db_vcpus=plan.limits.db_vcpus, db_storage_gb=plan.limits.db_storage_gb,
        backup_retention_days=plan.limits.backup_retention_days,
        max_db_instances=1 if plan.isolation in DEDICATED_DB_ISOLATIONS else 0,
        regions=tuple(plan.limits.regions) if plan.limits.regions is not None else None,
    )
    return PolicyContext(
        project=project, stack=stack, actor=actor, kind="tenant", tenant=tenant.id, cell=cell_id,
        plan=plan.id, isolation=plan.isolation, cloud=tenant.cloud, region=tenant.region, state=tenant.state,
        org=org, limits=limits, names=_tenant_names(catalog, tenant), cell_names=cell_names,
        foreign_names=_foreign_names(catalog, own_tenant=tenant.id, own_cells={cell_id} if cell_id else set()),
    )


def _tenant_names(catalog: Any, tenant: Any) -> Any:
    from paybill_iac.model import naming

    isolation = catalog.plans[tenant.plan].isolation
    return naming.tenant_names(tenant.cloud, catalog.settings.org, tenant.id, isolation)


def _foreign_names(catalog: Any, own_tenant: str | None, own_cells: set[str]) -> frozenset[str]:
    """Every other tenant's and cell's names: the catalog's names (indexed once per catalog, since
    preview and fleets ask for every stack) less the stack's own and its cell's."""
    from paybill_iac.model import naming

    index = _name_index(catalog)
    mine: set[str] = set()
    if own_tenant is not None and own_tenant in catalog.tenants:
        mine.update(_tenant_names(catalog, catalog.tenants[own_tenant]).values())
    for cell_id in own_cells:
        if cell_id in catalog.cells:
            mine.update(naming.names_for(catalog.cells[cell_id].cloud, catalog.settings.org, cell_id).values())
    return index - mine


# id(catalog) -> (catalog, every tenant's and cell's names); the catalog is kept so its id stays unique.
_NAME_INDEX: dict[int, tuple[Any, frozenset[str]]] = {}


def _name_index(catalog: Any) -> frozenset[str]:
    from paybill_iac.model import naming

    cached = _NAME_INDEX.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    org = catalog.settings.org
    found: set[str] = set()
    for tenant in catalog.tenants.values():
        found.update(_tenant_names(catalog, tenant).values())
    for cell in catalog.cells.values():
        found.update(naming.names_for(cell.cloud, org, cell.id).values())
        found.discard(naming.tenant_prefix(cell.id))  # cells have no objects of their own prefix
    if len(_NAME_INDEX) > 8:
        _NAME_INDEX.clear()
    _NAME_INDEX[id(catalog)] = (catalog, frozenset(found))
    return _NAME_INDEX[id(catalog)][1]


# --- rules -------------------------------------------------------------------------------------

ResourceValidator = Callable[[ResourceView, PolicyContext], Iterable[str]]
StackValidator = Callable[[Sequence[ResourceView], PolicyContext], Iterable[tuple[str, str]]]
Remediator = Callable[[ResourceView, PolicyContext], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Rule:
    """One policy: what it checks, how bad a violation is, how to fix it, and the check itself."""

    id: str
    """Kebab-case, scoped by cloud and resource: `aws-rds-instance-vcpus-within-plan`."""
    pack: str
    cloud: str
    types: tuple[str, ...]
    """Type tokens it reads: the current token first, then deprecated ones and aliases."""
    description: str
    severity: str
    remediation: str
    validator: Callable[..., Iterable[Any]]
    kind: str = "resource"
    """resource: validator(resource, context) -> messages; stack: validator(resources, context) ->
    (urn, message) pairs."""
    enforcement: str = "mandatory"
    reads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per type token, the input properties (dotted camelCase paths) the rule reads."""
    remediate: Remediator | None = None
    needs_context: bool = True
    """False for rules that need nothing from the catalog (they run on unknown stacks too)."""
    agent_only: bool = False
    """The agent guardrails: only when the actor is an agent."""
    approval: str = ""
    """Who must approve a change this rule refuses (agent guardrails)."""
    uses_foreign_names: bool = False

    def matches(self, type_token: str) -> bool:
        token = normal_type(type_token)
        return any(token == candidate or (candidate.endswith(":*") and token.startswith(candidate[:-1]))
                   for candidate in self.types)

    def applies(self, context: PolicyContext) -> bool:
        if self.agent_only and not context.is_agent:
            return False
        if self.needs_context and not context.known:
            return False
        return not (context.cloud and context.cloud != self.cloud)


def normal_type(type_token: str) -> str:
    """azure-native API-versioned tokens (`azure-native:storage/v20230101:StorageAccount`) read as
    their unversioned resource (`azure-native:storage:StorageAccount`): same inputs, same rule."""
    if type_token.startswith("azure-native:"):
        parts = type_token.split(":")
        if len(parts) == 3 and "/" in parts[1]:
            module, version = parts[1].split("/", 1)
            if version.startswith("v") and version[1:2].isdigit():
                return f"{parts[0]}:{module}:{parts[2]}"
    return type_token


REGISTRY: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    """Add `rule` to the registry; ids are unique across every pack."""
    if rule.id in REGISTRY:
        raise ValueError(f"rule '{rule.id}' is registered twice")
    if rule.pack not in PACKS or rule.cloud not in CLOUDS or rule.severity not in SEVERITIES:
        raise ValueError(f"rule '{rule.id}': bad pack, cloud or severity")
    if rule.enforcement not in LEVELS or rule.kind not in ("resource", "stack"):
        raise ValueError(f"rule '{rule.id}': bad enforcement or kind")
    REGISTRY[rule.id] = rule
    return rule


def rules(packs: Iterable[str] = PACKS, cloud: str | None = None) -> list[Rule]:
    """The registered rules of `packs` (and `cloud`), in registration order."""
    _load_rules()
    wanted = set(packs)
    unknown = wanted - set(PACKS)
    if unknown:
        raise ValueError(f"unknown pack(s) {', '.join(sorted(unknown))} (packs: {', '.join(PACKS)})")
    return [rule for rule in REGISTRY.values() if rule.pack in wanted and (cloud is None or rule.cloud == cloud)]


def _load_rules() -> None:
    import paybill_policies.rules  # noqa: F401  (registers every rule on import)


# --- enforcement -------------------------------------------------------------------------------


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
                raise ValueError(f"enforcement level '{value}' for '{key}' is not one of {', '.join(LEVELS)}")
            return text
    return rule.enforcement


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
    """A rule that could not decide because a value it reads is unknown (CrossGuard reports these
    as advisory: "can't run policy during preview")."""

    pack: str
    policy: str
    urn: str
    message: str


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    undecided: list[Undecided] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [violation for violation in self.violations if violation.level == "mandatory"]


def run_rule(rule: Rule, resources: Sequence[ResourceView], context: PolicyContext) -> Iterable[tuple[str, str]]:
    """(urn, message) of each violation of `rule`; raises Unknown only for stack rules."""
    if rule.kind == "stack":
        yield from rule.validator(resources, context)
        return
    for resource in resources:
        if rule.matches(resource.type):
            for message in rule.validator(resource, context):
                yield resource.urn, message


def check(
    resources: Sequence[ResourceView],
    context: PolicyContext,
    packs: Sequence[str] = ALL_PACKS,
    enforcement: Mapping[str, Any] | None = None,
) -> Report:
    """Every applicable rule over one stack's resources: violations and undecided rules."""
    report = Report()
    for rule in rules(packs):
        level = level_of(rule, enforcement)
        if level == "disabled" or not rule.applies(context):
            continue
        if rule.kind == "stack":
            try:
                found = list(rule.validator(resources, context))
            except Unknown as error:
                report.undecided.append(Undecided(rule.pack, rule.id, "", str(error)))
                continue
        else:
            found = []
            for resource in resources:
                if not rule.matches(resource.type):
                    continue
                try:
                    found += [(resource.urn, message) for message in rule.validator(resource, context)]
                except Unknown as error:
                    report.undecided.append(Undecided(rule.pack, rule.id, resource.urn, str(error)))
        for urn, message in found:
            text = f"{message} Approval needed: {rule.approval}." if rule.approval else message
            report.violations.append(Violation(rule.pack, rule.id, level, urn, text))
    return report


def evaluate(
    resources: Sequence[ResourceView],
    context: PolicyContext,
    packs: tuple[str, ...] | Sequence[str] = ALL_PACKS,
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
            except Unknown:
                continue
            if updated is not None:
                resource = replace(resource, inputs=updated)
    return resource


# --- policy config -----------------------------------------------------------------------------

CONFIG_SCHEMA: dict[str, dict[str, Any]] = {
    "context": {"type": "object", "description": "The stack's catalog context (paybill_policies.engine."
                                                 "policy_config writes it for each run)."},
    "catalog": {"type": "string", "description": "Path of the catalog folder, used when no context is given."},
    "actor": {"type": "string", "description": "Who deploys: human, or agent:<name>."},
    "maxResources": {"type": "number", "description": "Most cloud resources a stack may hold when an agent "
                                                      "deploys it."},
}


def policy_config(
    context: PolicyContext,
    pack: str | None = None,
    enforcement: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The policy config of one run: every rule of `pack` (all packs when None) gets the context.

    Write it to a file and pass it with `pulumi preview --policy-pack policy_packs/<pack>
    --policy-pack-config <file>` (the automation layer does so per run). The other tenants' names
    go only to the cross-tenant rule of the stack's cloud, to keep the file small.
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


def context_from_config(config: Mapping[str, Any] | None, project: str, stack: str) -> PolicyContext:
    """The context a pack uses for one policy call: the `context` in its policy config; else the
    catalog at `catalog` in the config (or $PAYBILL_CATALOG, or the repository's stacks/catalog);
    else an unknown context. The actor and the resource cap may be set on their own."""
    config = config or {}
    actor = str(config.get("actor") or "human")
    data = config.get("context")
    if isinstance(data, Mapping) and data.get("stack"):
        context = PolicyContext.from_dict(data)
        if context.stack != stack or context.project != project:
            # A config written for another stack must not lend it its plan.
            context = unknown_context(project, stack, context.actor)
    else:
        context = _context_from_catalog_path(config.get("catalog"), project, stack, actor)
    if config.get("actor"):
        context = replace(context, actor=actor)
    if config.get("maxResources") is not None:
        context = replace(context, max_resources=int(float(config["maxResources"])))
    return context


_CATALOG_CACHE: dict[str, Any] = {}


def _context_from_catalog_path(path: Any, project: str, stack: str, actor: str) -> PolicyContext:
    candidates = [path, os.environ.get("PAYBILL_CATALOG"),
                  Path(__file__).resolve().parent.parent.parent / "stacks" / "catalog"]
    for candidate in candidates:
        if not candidate or not Path(str(candidate)).is_dir():
            continue
        key = str(Path(str(candidate)).resolve())
        try:
            if key not in _CATALOG_CACHE:
                from paybill_iac.catalog import load_catalog

                _CATALOG_CACHE[key] = load_catalog(key)
            return context_from_catalog(_CATALOG_CACHE[key], project, stack, actor)
        except Exception:  # noqa: BLE001 - an unusable catalog leaves the stack unknown, never crashes a pack
            break
    return unknown_context(project, stack, actor)

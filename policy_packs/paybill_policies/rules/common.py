"""Rules every cloud has, one rule per cloud (ids scoped by cloud): markers, names of other tenants,
regions, the number of database instances, protected data and cell stacks; and the rules that hold
whatever the package (`any-...`): the catalog entry (one per pack, so each pack fails closed on its
own), the stack's cloud, references to other stacks, the agent allow-list and the resource cap. Each
family is a table of (cloud, rule id) driving one validator; which types are taggable (and where), hold
data, are database instances or may be created by an agent comes from the resource facts
(paybill_iac.model.resource_facts).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from paybill_iac.model.resource_facts import CLOUD_PACKAGE, ENGINE_TYPES, agent_may_create, cloud_of, facts_for
from paybill_policies.context import PolicyContext
from paybill_policies.evaluate import ResourceView, get, is_unknown, strings
from paybill_policies.registry import ANY_CLOUD
from paybill_policies.rules._kit import (
    AGENT_GUARDRAILS,
    PLAN_LIMITS,
    TENANT_ISOLATION,
    TITLE,
    fact_tokens,
    in_retiring_shape,
    in_stack,
    normal_region,
    per_cloud,
    plan_of,
    rule,
    with_deprecated,
    with_value,
)
from paybill_policies.rules.settings import DELETION_PROTECTION


def _every(cloud: str) -> tuple[str, ...]:
    """Every resource type of the cloud's package."""
    return (f"{CLOUD_PACKAGE[cloud]}:*",)


# --- tenant-isolation: markers -----------------------------------------------------------------

MARKERS_PRESENT = (
    ("aws", "aws-resource-markers-present"),
    ("azure", "azure-resource-markers-present"),
    ("gcp", "gcp-resource-markers-present"),
    ("oci", "oci-resource-markers-present"),
)


def tag_property(type_token: str) -> str | None:
    """Where a type carries its markers (resource facts); None for an untagged or unknown type."""
    facts = facts_for(type_token)
    return facts.tag_property if facts is not None else None


def _tags(resource: ResourceView, path: str) -> dict[str, Any]:
    value = get(resource.inputs, path)
    return dict(value) if isinstance(value, dict) else {}


def add_markers(resource: ResourceView, context: PolicyContext) -> dict[str, Any] | None:
    path = tag_property(resource.type)
    if path is None or not context.known:
        return None
    tags = _tags(resource, path)
    missing = {key: value for key, value in context.markers.items() if key not in tags}
    if not missing:
        return None
    return with_value(resource.inputs, path, {**tags, **missing})


def markers_present(resource: ResourceView, context: PolicyContext) -> list[str]:
    path = tag_property(resource.type)
    tags = _tags(resource, path) if path else {}
    if in_retiring_shape(resource, context):
        return []  # a resource of the retiring shape, built beside the new one during a plan change
    found = []
    for key, expected in context.markers.items():
        value = tags.get(key)
        if value is None:
            found.append(f"marker '{key}' is missing (expected '{expected}').")
        elif str(value) != expected:
            found.append(f"marker '{key}' is '{value}' but the catalog says '{expected}' for "
                         f"{context.kind} '{context.stack}'.")
    return found


def _taggable(cloud: str) -> tuple[str, ...]:
    return with_deprecated(*fact_tokens(cloud, "tag_property"))


per_cloud(
    MARKERS_PRESENT, TENANT_ISOLATION, markers_present, types=_taggable,
    reads=lambda cloud: {token: (path,) for token in _taggable(cloud) if (path := tag_property(token))},
    description="Every taggable {title} resource carries the paybill markers (tenant or cell, plan, isolation, "
                "managed-by) with the values the catalog gives the stack.",
    severity="medium",
    remediation="Pass the stack's markers (paybill_iac.model.markers) as tags/labels; a marker naming another "
                "tenant, plan or isolation model means the resource belongs elsewhere: move it. Missing markers are "
                "added by the pack's remediation.",
    remediate=add_markers,
)


# --- tenant-isolation: other tenants' names ----------------------------------------------------

NO_FOREIGN_REFERENCE = (
    ("aws", "aws-resource-no-foreign-tenant-reference"),
    ("azure", "azure-resource-no-foreign-tenant-reference"),
    ("gcp", "gcp-resource-no-foreign-tenant-reference"),
    ("oci", "oci-resource-no-foreign-tenant-reference"),
)

_DELIMITERS = re.compile(r"[-_/.:@'\" ,=]")
_TOKEN = re.compile(r"[A-Za-z0-9._/:@-]+")


def _foreign_hits(text: str, foreign: frozenset[str]) -> set[str]:
    """Names of other owners inside `text`, matched on whole name boundaries (so `pb-acme-data`
    is found in `arn:aws:s3:::pb-acme-data/*` and never inside `pb-acme-datalake`)."""
    hits: set[str] = set()
    for token in _TOKEN.findall(text.lower()):
        starts = [0] + [match.end() for match in _DELIMITERS.finditer(token)]
        ends = {len(token)} | {match.start() for match in _DELIMITERS.finditer(token)}
        ends |= {match.end() for match in re.finditer("/", token)}  # prefixes end with "/"
        for start in starts:
            for end in ends:
                if end > start and token[start:end] in foreign:
                    hits.add(token[start:end])
    return hits


def _secrets(value: Any, path: str = "") -> None:
    """Raise Unknown for an encrypted secret anywhere in `value` (its names cannot be read)."""
    from paybill_policies.errors import Unknown

    if isinstance(value, dict):
        if is_unknown(value):
            raise Unknown(path or "(inputs)")
        for key, item in value.items():
            _secrets(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            _secrets(item, path)


def no_foreign_reference(resource: ResourceView, context: PolicyContext) -> list[str]:
    if not context.foreign_names:
        return []
    _secrets(resource.inputs)
    hits: set[str] = set()
    for text in strings(resource.inputs):
        hits |= _foreign_hits(text, context.foreign_names)
    return [f"refers to '{hit}', a name that belongs to another tenant or cell." for hit in sorted(hits)]


per_cloud(
    NO_FOREIGN_REFERENCE, TENANT_ISOLATION, no_foreign_reference, types=_every,
    description="No {title} resource refers to another tenant's (or another cell's) physical names, keys or object "
                "prefixes.",
    severity="critical",
    remediation="Use only the names of the stack's own tenant (and its cell) from paybill_iac.model.naming; a "
                "resource that names another tenant would reach across the isolation boundary.",
    uses_foreign_names=True,
)


# --- plan-limits: region -----------------------------------------------------------------------

REGION_WITHIN_PLAN = (
    ("aws", "aws-provider-region-within-plan"),
    ("azure", "azure-provider-region-within-plan"),
    ("gcp", "gcp-provider-region-within-plan"),
    ("oci", "oci-provider-region-within-plan"),
)
REGION_INPUTS = {"aws": ("region",), "azure": ("location",), "gcp": ("region", "location"), "oci": ("region",)}
"""The inputs that name a region, per cloud (its provider's first)."""


def _provider(cloud: str) -> str:
    return f"pulumi:providers:{CLOUD_PACKAGE[cloud]}"


def region_within_plan(cloud: str, resource: ResourceView, context: PolicyContext) -> list[str]:
    for key in REGION_INPUTS[cloud]:
        value = get(resource.inputs, key)
        if not isinstance(value, str) or not value or normal_region(value) in ("global", "multi-region"):
            continue
        region = normal_region(value)
        limits = context.limits
        allowed = {normal_region(context.region)} if context.region else set()
        if limits is not None and limits.regions is not None:
            planned = {normal_region(item) for item in limits.regions}
            if region not in planned:
                return [f"{key} '{value}' is not in the regions {plan_of(context)} allows "
                        f"({', '.join(limits.regions)})."]
        if cloud == "oci" and resource.is_provider:  # OCI identity lives in the tenancy's home region
            allowed |= {normal_region(item) for item in context.accounts.get("oci_home_region", ())}
        if allowed and region not in allowed:
            return [f"{key} '{value}' is not the region the catalog places {context.kind} "
                    f"'{context.stack}' in ('{context.region}')."]
    return []


per_cloud(
    REGION_WITHIN_PLAN, PLAN_LIMITS, region_within_plan, with_cloud=True,
    types=lambda cloud: (_provider(cloud), *_every(cloud)),
    reads=lambda cloud: {_provider(cloud): REGION_INPUTS[cloud][:1]},
    description="{title} providers and resources deploy only to the region the catalog places the stack in, which "
                "the plan's region allow-list must contain.",
    severity="high",
    remediation="Deploy to the tenant's region from the catalog; to move a tenant, change its region in the catalog "
                "(the plan must allow it) and regenerate its stack.",
)


# --- every pack: the catalog entry, the stack's cloud ---------------------------------------------


def known_to_catalog(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    if context.known:
        return []
    return [("", f"stack '{context.project}/{context.stack}' is not a tenant or cell of the catalog (or its policy "
                 "config does not name it), so nothing says what it may hold: it fails closed.")]


_UNKNOWN_REMEDIATION = ("Deploy only stacks generated by `paybill-iac generate` (project paybill-tenant with a "
                        "tenant id, paybill-cell with a cell id), with the policy config `paybill-iac policy config` "
                        "writes for the stack (its context).")
for _id, _pack, _what in (
        ("any-stack-known-to-catalog", PLAN_LIMITS, "its plan is unknown"),
        ("any-stack-known-to-catalog-for-isolation", TENANT_ISOLATION, "its tenant, cell and names are unknown"),
        ("any-stack-known-to-catalog-for-agent", AGENT_GUARDRAILS, "no guardrail can tell what the agent may do")):
    rule(_id, _pack, ANY_CLOUD, (), kind="stack", severity="critical",
         description=f"The stack belongs to a tenant or cell of the catalog, given in the policy config: otherwise "
                     f"{_what}, and the stack fails for everyone (fail closed).",
         remediation=_UNKNOWN_REMEDIATION, needs_context=False, agent_only=_pack == AGENT_GUARDRAILS,
         approval="a platform engineer (stack unknown to the catalog)" if _pack == AGENT_GUARDRAILS else "",
         )(known_to_catalog)


@rule(
    "any-resource-in-stack-cloud", PLAN_LIMITS, ANY_CLOUD, ("*",),
    description="Every cloud resource and provider of a stack is of the cloud the catalog places the stack on: "
                "another cloud's package in the stack is outside the tenant's plan and placement.",
    severity="high",
    remediation="Deploy only the stack's own cloud (the catalog's `cloud`); a tenant on another cloud is a catalog "
                "change.",
)
def in_stack_cloud(resource: ResourceView, context: PolicyContext) -> list[str]:
    cloud = cloud_of(resource.type)
    if not cloud or not context.cloud or cloud == context.cloud:
        return []
    return [f"'{resource.type}' is a {TITLE[cloud]} resource in a stack the catalog places on "
            f"{TITLE.get(context.cloud, context.cloud)}."]


# --- tenant-isolation: references to other stacks --------------------------------------------------


@rule(
    "any-stack-reference-to-own-cell", TENANT_ISOLATION, ANY_CLOUD, ("pulumi:pulumi:StackReference",),
    description="A stack reads only its own cell's stack outputs (a pooled or bridge tenant's StackReference to "
                "its cell): never another tenant's or another cell's stack.",
    severity="critical",
    remediation="Reference only the cell stack the catalog places the tenant on (`paybill:cellStack`).",
    reads={"pulumi:pulumi:StackReference": ("name",)},
)
def stack_reference_own_cell(resource: ResourceView, context: PolicyContext) -> list[str]:
    name = resource.prop("name")
    if name is None:
        name = resource.name
    cells = {context.cell_stack, str(context.retiring.get("cell_stack") or "")} - {""}
    if context.kind == "tenant" and str(name) in cells:
        return []
    allowed = f"only its cell's stack '{context.cell_stack}'" if context.cell_stack else "no other stack"
    return [f"references stack '{name}'; {context.kind} '{context.stack}' may read {allowed}."]


# --- plan-limits: database instances -----------------------------------------------------------

DATABASE_COUNT = (
    ("aws", "aws-database-instance-count-within-plan"),
    ("azure", "azure-database-instance-count-within-plan"),
    ("gcp", "gcp-database-instance-count-within-plan"),
    ("oci", "oci-database-instance-count-within-plan"),
)


def _databases(cloud: str) -> tuple[str, ...]:
    return with_deprecated(*fact_tokens(cloud, "database_instance"))


def database_count(cloud: str, resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    found = in_stack(resources, _databases(cloud))
    limits = context.limits
    if limits is None or len(found) <= limits.max_db_instances:
        return []
    return [(resource.urn, f"{len(found)} dedicated database instances in the stack; {plan_of(context)} "
                           f"({context.isolation}) allows {limits.max_db_instances}.") for resource in found]


per_cloud(
    DATABASE_COUNT, PLAN_LIMITS, database_count, with_cloud=True, kind="stack", types=_databases,
    description="A {title} stack holds no more dedicated database instances than its isolation model allows (pooled "
                "none, silo and bridge one, a cell one).",
    severity="high",
    remediation="Keep one database instance per silo or bridge tenant (and per cell); pooled tenants get a database "
                "in their cell's server.",
)


# --- agent-guardrails: the allow-list (deny by default, whatever the package) -----------------------


@rule(
    "any-resource-type-allowed-for-agent", AGENT_GUARDRAILS, ANY_CLOUD, ("*",),
    description="An AI agent creates only the types of the resource-facts allow-list of the stack's own cloud: "
                "the components' types, that cloud's provider, the stack's components and its cell reference. "
                "Every other type is refused whatever its package (another cloud, aws-native, the classic azure "
                "provider, command, dynamic providers).",
    severity="high",
    remediation="Use the paybill components; a new resource type needs a platform engineer to add it to the "
                "components (and to the allow-list in paybill_iac.model.resource_facts) first.",
    needs_context=False, agent_only=True, approval="a platform engineer (new resource type)",
)
def type_allowed(resource: ResourceView, context: PolicyContext) -> list[str]:
    if agent_may_create(resource.type, context.cloud):
        return []
    where = (f"a stack on {TITLE.get(context.cloud, context.cloud)}" if context.cloud
             else "a stack the catalog does not know")
    return [f"resource type '{resource.type}' is not on the agent allow-list of {where}."]


# --- agent-guardrails: data stays protected ----------------------------------------------------

STATEFUL_PROTECTED = (
    ("aws", "aws-stateful-resource-protected-for-agent"),
    ("azure", "azure-stateful-resource-protected-for-agent"),
    ("gcp", "gcp-stateful-resource-protected-for-agent"),
    ("oci", "oci-stateful-resource-protected-for-agent"),
)


def stateful_protected(resource: ResourceView, context: PolicyContext) -> list[str]:
    if context.cloud and context.cloud != resource.cloud:
        return []  # another cloud's rule covers it
    found = []
    # An offboarding tenant's data is kept by `retainOnDelete` instead, which CrossGuard cannot see (the
    # resource options it receives carry no retainOnDelete): the catalog's state decides.
    if not resource.protect and context.state != "offboarding":
        found.append("`protect` is off for a resource holding data.")
    for path in DELETION_PROTECTION.get(resource.rule_type, ()):
        value = resource.prop(path)
        if value is not True:
            found.append(f"{path} is {value!r}; deletion protection needs True.")
    return found


def _stateful(cloud: str) -> tuple[str, ...]:
    """`protected` types: they hold data, or guard it (an Azure resource group, a delete lock)."""
    return with_deprecated(*fact_tokens(cloud, "protected"))


per_cloud(
    STATEFUL_PROTECTED, AGENT_GUARDRAILS, stateful_protected, types=_stateful,
    reads=lambda cloud: {token: paths for token in _stateful(cloud) if (paths := DELETION_PROTECTION.get(token))},
    description="When an AI agent deploys, {title} resources holding data keep `protect` (or, for a tenant the "
                "catalog offboards, `retainOnDelete`) and their deletion protection.",
    severity="critical",
    remediation="Keep `self.stateful(...)` options and deletion protection on data resources; lifting them is a "
                "human decision.",
    agent_only=True, approval="the tenant's data owner (data could be deleted)", needs_context=False,
)


# --- agent-guardrails: the resource cap --------------------------------------------------------


@rule(
    "any-stack-resource-count-within-cap", AGENT_GUARDRAILS, ANY_CLOUD, (), kind="stack",
    description="When an AI agent deploys, a stack holds at most the resource cap (policy config `maxResources`) of "
                "resources of any package (providers, components and the stack itself not counted).",
    severity="medium",
    remediation="Split the change, or have a human run it; raise the cap in the policy config only with the "
                "platform team.",
    agent_only=True, approval="a platform engineer (resource cap)", needs_context=False,
)
def resource_cap(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    count = sum(1 for resource in resources
                if not resource.is_provider and resource.type not in ENGINE_TYPES and resource.package != "paybill")
    if count <= context.max_resources:
        return []
    return [("", f"the stack holds {count} resources, more than the agent cap of {context.max_resources}.")]


# --- agent-guardrails: cells -------------------------------------------------------------------

CELL_UNCHANGED = (
    ("aws", "aws-cell-stack-unchanged-by-agent"),
    ("azure", "azure-cell-stack-unchanged-by-agent"),
    ("gcp", "gcp-cell-stack-unchanged-by-agent"),
    ("oci", "oci-cell-stack-unchanged-by-agent"),
)


def cell_unchanged(cloud: str, resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    if context.kind != "cell" or not of_cloud(cloud, resources, context):
        return []
    return [("", f"stack '{context.stack}' is a cell shared by many tenants.")]


def of_cloud(cloud: str, resources: Sequence[ResourceView], context: PolicyContext) -> bool:
    """Whether a per-cloud stack rule speaks for this stack: the catalog places it on `cloud`, or (unknown to
    the catalog) it holds a resource of `cloud`."""
    if context.cloud:
        return context.cloud == cloud
    return any(resource.cloud == cloud for resource in resources)


per_cloud(
    CELL_UNCHANGED, AGENT_GUARDRAILS, cell_unchanged, kind="stack", with_cloud=True, needs_context=False,
    description="An AI agent does not deploy {title} cell stacks: a cell is shared by many tenants.",
    severity="critical",
    remediation="Have a human operator run cell deployments.",
    agent_only=True, approval="a cell operator (shared cell)",
)

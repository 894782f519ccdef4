"""Rules every cloud has, one instance per cloud (their ids are scoped by cloud): markers, names of
other tenants, regions, the catalog entry, the number of database instances, and the agent
guardrails that do not depend on a cloud's IAM."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from paybill_policies.registry import CLOUD_PACKAGE, CLOUDS
from paybill_policies.rules import _catalog as cat
from paybill_policies.rules._kit import (
    AGENT_GUARDRAILS,
    PLAN_LIMITS,
    TENANT_ISOLATION,
    PolicyContext,
    ResourceView,
    get,
    normal_region,
    plan_of,
    rule,
    strings,
)

_DELIMITERS = re.compile(r"[-_/.:@'\" ,=]")
_TOKEN = re.compile(r"[A-Za-z0-9._/:@-]+")


def _tags(resource: ResourceView, path: str) -> dict[str, Any]:
    value = get(resource.inputs, path)
    return dict(value) if isinstance(value, dict) else {}


def _set_path(inputs: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    updated = dict(inputs)
    keys = path.split(".")
    cursor = updated
    for key in keys[:-1]:
        child = cursor.get(key)
        cursor[key] = dict(child) if isinstance(child, dict) else {}
        cursor = cursor[key]
    cursor[keys[-1]] = value
    return updated


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


def _region_inputs(cloud: str) -> tuple[str, ...]:
    return {"aws": ("region",), "azure": ("location",), "gcp": ("region", "location"), "oci": ("region",)}[cloud]


TITLE = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud", "oci": "OCI"}


def _define(cloud: str) -> None:
    title = TITLE[cloud]
    package = CLOUD_PACKAGE[cloud]
    provider = f"pulumi:providers:{package}"
    taggable = cat.TAGGABLE[cloud]
    region_keys = _region_inputs(cloud)

    # --- tenant-isolation: markers ------------------------------------------------------------

    def add_markers(resource: ResourceView, context: PolicyContext) -> dict[str, Any] | None:
        path = taggable.get(resource.type)
        if path is None or not context.known:
            return None
        tags = _tags(resource, path)
        missing = {key: value for key, value in context.markers.items() if key not in tags}
        if not missing:
            return None
        return _set_path(resource.inputs, path, {**tags, **missing})

    @rule(
        f"{cloud}-resource-markers-present", TENANT_ISOLATION, cloud, tuple(taggable),
        description=f"Every taggable {title} resource carries the paybill markers (tenant or cell, plan, "
                    "isolation, managed-by) with the values the catalog gives the stack.",
        severity="medium",
        remediation="Pass the stack's markers (paybill_iac.model.markers) as tags/labels; a marker naming another "
                    "tenant, plan or isolation model means the resource belongs elsewhere: move it. Missing "
                    "markers are added by the pack's remediation.",
        reads={token: (path,) for token, path in taggable.items()},
        remediate=add_markers,
    )
    def markers_present(resource: ResourceView, context: PolicyContext) -> list[str]:
        tags = _tags(resource, taggable[resource.type])
        found = []
        for key, expected in context.markers.items():
            value = tags.get(key)
            if value is None:
                found.append(f"marker '{key}' is missing (expected '{expected}').")
            elif str(value) != expected:
                found.append(f"marker '{key}' is '{value}' but the catalog says '{expected}' for "
                             f"{context.kind} '{context.stack}'.")
        return found

    # --- tenant-isolation: other tenants' names -----------------------------------------------

    @rule(
        f"{cloud}-resource-no-foreign-tenant-reference", TENANT_ISOLATION, cloud, (f"{package}:*",),
        description=f"No {title} resource refers to another tenant's (or another cell's) physical names, "
                    "keys or object prefixes.",
        severity="critical",
        remediation="Use only the names of the stack's own tenant (and its cell) from paybill_iac.model.naming; a "
                    "resource that names another tenant would reach across the isolation boundary.",
        uses_foreign_names=True,
    )
    def no_foreign_reference(resource: ResourceView, context: PolicyContext) -> list[str]:
        if not context.foreign_names:
            return []
        hits: set[str] = set()
        for text in strings(resource.inputs):
            hits |= _foreign_hits(text, context.foreign_names)
        return [f"refers to '{hit}', a name that belongs to another tenant or cell." for hit in sorted(hits)]

    # --- plan-limits: region, catalog, database count -----------------------------------------

    @rule(
        f"{cloud}-provider-region-within-plan", PLAN_LIMITS, cloud, (provider, f"{package}:*"),
        description=f"{title} providers and resources deploy only to the region the catalog places the "
                    "stack in, which the plan's region allow-list must contain.",
        severity="high",
        remediation="Deploy to the tenant's region from the catalog; to move a tenant, change its region "
                    "in the catalog (the plan must allow it) and regenerate its stack.",
        reads={provider: ({"azure": "location"}.get(cloud, "region"),)},
    )
    def region_within_plan(resource: ResourceView, context: PolicyContext) -> list[str]:
        for key in region_keys:
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
            if allowed and region not in allowed:
                return [f"{key} '{value}' is not the region the catalog places {context.kind} "
                        f"'{context.stack}' in ('{context.region}')."]
        return []

    @rule(
        f"{cloud}-stack-known-to-catalog", PLAN_LIMITS, cloud, (), kind="stack",
        description=f"A {title} stack belongs to a tenant or cell of the catalog, which gives its plan; a "
                    "stack the catalog does not know has no plan to be bound by.",
        severity="high",
        remediation="Deploy only stacks generated by `paybill-iac generate` (project paybill-tenant with a "
                    "tenant id, paybill-cell with a cell id), with the policy config paybill-iac writes for the "
                    "stack (its context).",
        needs_context=False,
    )
    def known_to_catalog(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
        if context.known or not any(resource.cloud == cloud for resource in resources):
            return []
        return [("", f"stack '{context.project}/{context.stack}' is not a tenant or cell of the catalog, so "
                     "its plan is unknown.")]

    databases = cat.DATABASE_INSTANCES[cloud]

    @rule(
        f"{cloud}-database-instance-count-within-plan", PLAN_LIMITS, cloud, databases, kind="stack",
        description=f"A {title} stack holds no more dedicated database instances than its isolation model "
                    "allows (pooled none, silo and bridge one, a cell one).",
        severity="high",
        remediation="Keep one database instance per silo or bridge tenant (and per cell); pooled tenants get "
                    "a database in their cell's server.",
    )
    def database_count(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
        found = [resource for resource in resources if any(resource.type == token for token in databases)]
        limits = context.limits
        if limits is None or len(found) <= limits.max_db_instances:
            return []
        return [(resource.urn, f"{len(found)} dedicated database instances in the stack; {plan_of(context)} "
                               f"({context.isolation}) allows {limits.max_db_instances}.") for resource in found]

    # --- agent-guardrails ---------------------------------------------------------------------

    allowed_types = cat.AGENT_ALLOWED_TYPES[cloud]

    @rule(
        f"{cloud}-resource-type-allowed-for-agent", AGENT_GUARDRAILS, cloud, (f"{package}:*",),
        description=f"An AI agent creates only {title} resource types of the components' allow-list.",
        severity="high",
        remediation="Use the paybill components; a new resource type needs a platform engineer to add it "
                    "to the components (and to the allow-list) first.",
        agent_only=True, approval="a platform engineer (new resource type)",
    )
    def type_allowed(resource: ResourceView, context: PolicyContext) -> list[str]:
        if resource.type in allowed_types or any(resource.type == token for token in cat.aliases_of(allowed_types)):
            return []
        return [f"resource type '{resource.type}' is not on the agent allow-list."]

    stateful = cat.STATEFUL[cloud]

    @rule(
        f"{cloud}-stateful-resource-protected-for-agent", AGENT_GUARDRAILS, cloud, tuple(stateful),
        description=f"When an AI agent deploys, {title} resources holding data keep `protect` (or, for a "
                    "tenant the catalog offboards, `retainOnDelete`) and their deletion protection.",
        severity="critical",
        remediation="Keep `self.stateful(...)` options and deletion protection on data resources; lifting "
                    "them is a human decision.",
        agent_only=True, approval="the tenant's data owner (data could be deleted)",
        reads={token: paths for token, paths in stateful.items() if paths},
    )
    def stateful_protected(resource: ResourceView, context: PolicyContext) -> list[str]:
        found = []
        # An offboarding tenant's data is kept by `retainOnDelete` instead, which CrossGuard cannot see
        # (the resource options it receives carry no retainOnDelete): the catalog's state decides.
        if not resource.protect and context.state != "offboarding":
            found.append("`protect` is off for a resource holding data.")
        for path, expected in cat.DELETION_PROTECTION.get(resource.type, ()):
            value = get(resource.inputs, path)
            if value != expected:
                found.append(f"{path} is {value!r}; deletion protection needs {expected!r}.")
        return found

    @rule(
        f"{cloud}-stack-resource-count-within-cap", AGENT_GUARDRAILS, cloud, (), kind="stack",
        description=f"When an AI agent deploys, a {title} stack holds at most the resource cap (policy "
                    "config `maxResources`).",
        severity="medium",
        remediation="Split the change, or have a human run it; raise the cap in the policy config only with "
                    "the platform team.",
        agent_only=True, approval="a platform engineer (resource cap)",
    )
    def resource_cap(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
        count = sum(1 for resource in resources if resource.is_cloud_resource and resource.cloud == cloud)
        if count <= context.max_resources:
            return []
        return [("", f"the stack holds {count} {title} resources, more than the agent cap of "
                     f"{context.max_resources}.")]

    @rule(
        f"{cloud}-cell-stack-unchanged-by-agent", AGENT_GUARDRAILS, cloud, (), kind="stack",
        description=f"An AI agent does not deploy {title} cell stacks: a cell is shared by many tenants.",
        severity="critical",
        remediation="Have a human operator run cell deployments.",
        agent_only=True, approval="a cell operator (shared cell)",
    )
    def cell_unchanged(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
        if context.kind != "cell":
            return []
        return [("", f"stack '{context.stack}' is a cell shared by many tenants.")]

    del markers_present, no_foreign_reference, region_within_plan, known_to_catalog, database_count
    del type_allowed, stateful_protected, resource_cap, cell_unchanged


for _cloud in CLOUDS:
    _define(_cloud)

"""Oracle Cloud rules (pulumi-oci 5) beyond the family tables: the DB system's protection,
PostgreSQL configuration (TLS) and IAM policy statements and dynamic groups. Shapes, backups,
customer-managed keys, bucket and subnet exposure and key rotation are rows of `database` and
`settings`.

OCI Database with PostgreSQL sizes its storage itself (no size input), so plan-limits bounds its
OCPUs and backups; it has no deletion-protection flag, so the DB system must be `protect`ed."""

from __future__ import annotations

import re

from paybill_policies.context import PolicyContext
from paybill_policies.evaluate import ResourceView, as_bool, get
from paybill_policies.rules._kit import AGENT_GUARDRAILS, TENANT_ISOLATION, below_tls_1_2, listing, rule

DB_SYSTEM = "oci:Psql/dbSystem:DbSystem"
CONFIGURATION = "oci:Psql/configuration:Configuration"
POLICY = "oci:Identity/policy:Policy"
DYNAMIC_GROUP = "oci:Identity/dynamicGroup:DynamicGroup"
_OCID = r"ocid1\.[a-z0-9]+\.[a-z0-9-]+\.[a-z0-9-]*\.[a-z0-9._-]+"
_ADMIN_VERBS = re.compile(r"\bto\s+manage\s+(all-resources|policies|groups|dynamic-groups|users|compartments|"
                          r"tenancies|domains)\b|\ball-resources\b", re.IGNORECASE)
_ANY_SUBJECT = re.compile(r"\ballow\s+any-user\b|\bany-group\b", re.IGNORECASE)
_IN_TENANCY = re.compile(r"\bin\s+tenancy\b", re.IGNORECASE)
# The role templates: the statement shapes of paybill_components.oci.iam.
TEMPLATES = tuple(re.compile(pattern) for pattern in (
    rf"Allow dynamic-group id {_OCID} to \{{OBJECT_INSPECT, OBJECT_READ, OBJECT_CREATE, OBJECT_OVERWRITE, "
    rf"OBJECT_DELETE\}} in compartment id {_OCID} where (target\.bucket\.name = '[A-Za-z0-9._-]+'|all \{{target\."
    rf"bucket\.name = '[A-Za-z0-9._-]+', target\.object\.name = /[a-z0-9/_.-]+\*/\}})",
    rf"Allow dynamic-group id {_OCID} to use keys in compartment id {_OCID} where target\.key\.id = '{_OCID}'",
    rf"Allow dynamic-group id {_OCID} to read secret-bundles in compartment id {_OCID} where "
    rf"target\.secret\.id = '{_OCID}'",
    rf"Allow service objectstorage-[a-z]{{2}}-[a-z]+-[0-9]+ to use keys in compartment id {_OCID} where "
    rf"target\.key\.id = '{_OCID}'",
))
TEMPLATE_MATCHING_RULE = re.compile(rf"ALL \{{resource\.compartment\.id = '{_OCID}'\}}")


def _statements(resource: ResourceView) -> list[str]:
    return [str(item) for item in listing(get(resource.inputs, "statements"), "statements")]


# --- tenant-isolation ------------------------------------------------------------------------


@rule(
    "oci-psql-db-system-deletion-protection", TENANT_ISOLATION, "oci", (DB_SYSTEM,),
    description="A PostgreSQL DB system is protected from deletion: `protect` (OCI has no deletion-protection "
                "flag), or `retainOnDelete` while the catalog offboards its tenant.",
    severity="high",
    remediation="Create the DB system with the stateful options (`protect=True`).",
    needs_context=False,
)
def db_protected(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.protect or resource.retain_on_delete or context.state == "offboarding":
        return []
    return ["neither `protect` nor `retainOnDelete` is set: a `pulumi destroy` would delete the database."]


@rule(
    "oci-psql-configuration-tls-1-2", TENANT_ISOLATION, "oci", (CONFIGURATION,),
    description="No PostgreSQL configuration lowers TLS below 1.2 (ssl_min_protocol_version; the service "
                "default is TLSv1.2).",
    severity="high",
    remediation="Leave ssl_min_protocol_version out, or set it to TLSv1.2 or newer.",
    reads={CONFIGURATION: ("dbConfigurationOverrides.items",)}, needs_context=False,
)
def configuration_tls(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    for item in listing(get(resource.inputs, "dbConfigurationOverrides.items"), "items"):
        if not isinstance(item, dict):
            continue
        key, value = item.get("configKey"), str(item.get("overridenConfigValue") or "")
        if key == "ssl_min_protocol_version" and below_tls_1_2(value):
            found.append(f"ssl_min_protocol_version is '{value}', below TLSv1.2.")
        if key in ("ssl", "require_secure_transport") and as_bool(value) is False:
            found.append(f"{key} is off: connections without TLS are accepted.")
    return found


@rule(
    "oci-identity-policy-no-wildcards", TENANT_ISOLATION, "oci", (POLICY,),
    description="No IAM policy statement reaches all-resources, manages identity (policies, groups, "
                "compartments), names any-user, or applies to the whole tenancy.",
    severity="critical",
    remediation="Write statements on named resource types in one compartment, with a where-condition on the "
                "tenant's own bucket, key or secret (paybill_components.oci.iam).",
    reads={POLICY: ("statements",)}, needs_context=False,
)
def policy_no_wildcards(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    for statement in _statements(resource):
        if _ADMIN_VERBS.search(statement):
            found.append(f"statement grants admin or all-resources access: '{statement}'.")
        if _ANY_SUBJECT.search(statement):
            found.append(f"statement names any user or group: '{statement}'.")
        if _IN_TENANCY.search(statement):
            found.append(f"statement applies to the whole tenancy: '{statement}'.")
    return found


@rule(
    "oci-identity-policy-scoped-to-tenant", TENANT_ISOLATION, "oci", (POLICY,),
    description="A tenant's statements on the cell's shared bucket carry a target.object.name condition on "
                "the tenant's own prefix; every statement has a where-condition naming one resource.",
    severity="critical",
    remediation="Condition object statements on `target.object.name = /<prefix>*/` "
                "(paybill_components.oci.iam.object_statement).",
    reads={POLICY: ("statements",)},
)
def policy_scoped(resource: ResourceView, context: PolicyContext) -> list[str]:
    if context.kind != "tenant":
        return []
    shared = context.cell_names.get("bucket")
    prefix = context.names.get("prefix", "")
    found = []
    for statement in _statements(resource):
        if " where " not in statement:
            found.append(f"statement has no where-condition naming one resource: '{statement}'.")
        elif shared and f"target.bucket.name = '{shared}'" in statement and f"/{prefix}*/" not in statement:
            found.append(f"statement reaches the cell's bucket '{shared}' beyond the prefix '{prefix}'.")
    return found


@rule(
    "oci-identity-within-role-templates", AGENT_GUARDRAILS, "oci", (POLICY, DYNAMIC_GROUP),
    description="When an AI agent deploys, IAM policy statements and dynamic groups match the tenant role "
                "templates exactly.",
    severity="critical",
    remediation="Use the tenant identity block; other statements need a security review.",
    reads={POLICY: ("statements",), DYNAMIC_GROUP: ("matchingRule",)},
    agent_only=True, approval="the security team (IAM beyond the role templates)",
)
def identity_templates(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.canonical_type == DYNAMIC_GROUP:
        rule_text = str(get(resource.inputs, "matchingRule") or "")
        return [] if TEMPLATE_MATCHING_RULE.fullmatch(rule_text) else [
            f"matching rule '{rule_text}' is not the template (one compartment)."]
    return [f"statement '{statement}' is not one of the role templates."
            for statement in _statements(resource) if not any(template.fullmatch(statement) for template in TEMPLATES)]

"""Oracle Cloud rules (pulumi-oci 5): OCI Database with PostgreSQL shapes and backups, bucket and
subnet exposure, customer-managed keys, TLS, protection and IAM policy statements.

OCI Database with PostgreSQL sizes its storage itself (no size input), so plan-limits bounds its
OCPUs and backups; it has no deletion-protection flag, so the DB system must be `protect`ed."""

from __future__ import annotations

import re

from paybill_policies.rules._kit import (
    AGENT_GUARDRAILS,
    PLAN_LIMITS,
    TENANT_ISOLATION,
    PolicyContext,
    ResourceView,
    as_bool,
    as_number,
    get,
    listing,
    no_dedicated_database,
    plan_of,
    rule,
    vcpus_message,
)

DB_SYSTEM = "oci:Psql/dbSystem:DbSystem"
CONFIGURATION = "oci:Psql/configuration:Configuration"
BUCKET = "oci:ObjectStorage/bucket:Bucket"
SUBNET = "oci:Core/subnet:Subnet"
POLICY = "oci:Identity/policy:Policy"
DYNAMIC_GROUP = "oci:Identity/dynamicGroup:DynamicGroup"
KEY = "oci:Kms/key:Key"
_TLS_ORDER = {"tlsv1": 0, "tlsv1.1": 1, "tlsv1.2": 2, "tlsv1.3": 3}
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


# --- plan-limits -----------------------------------------------------------------------------


rule(
    "oci-psql-db-system-allowed-by-isolation", PLAN_LIMITS, "oci", (DB_SYSTEM,),
    description="A pooled tenant's stack creates no PostgreSQL DB system: its database lives in its cell's.",
    severity="high",
    remediation="Remove the DB system; a dedicated database needs a silo or bridge plan in the catalog.",
)(no_dedicated_database)


@rule(
    "oci-psql-db-system-vcpus-within-plan", PLAN_LIMITS, "oci", (DB_SYSTEM,),
    description="A PostgreSQL DB system's shape and OCPUs give at most the plan's vCPUs (2 vCPUs per OCPU), "
                "per instance of the system.",
    severity="high",
    remediation="Use the shape and OCPUs paybill_iac.model.sizing.database_size gives for the plan; keep one "
                "instance.",
    reads={DB_SYSTEM: ("shape", "instanceOcpuCount", "instanceCount")},
)
def db_vcpus(resource: ResourceView, context: PolicyContext) -> list[str]:
    from paybill_iac.model import sizing

    shape = get(resource.inputs, "shape")
    ocpus = as_number(get(resource.inputs, "instanceOcpuCount"))
    if not isinstance(shape, str):
        return ["shape is not set."]
    per_instance = sizing.vcpus_of("oci", shape, ocpus) if ocpus is not None else None
    count = as_number(get(resource.inputs, "instanceCount")) or 1
    vcpus = int(per_instance * count) if per_instance is not None else None
    size = f"{shape} x {ocpus:g} OCPUs x {count:g}" if ocpus is not None else shape
    message = vcpus_message("oci", size, vcpus, context)
    return [message] if message else []


@rule(
    "oci-psql-db-system-backup-retention-meets-plan", PLAN_LIMITS, "oci", (DB_SYSTEM,),
    description="A PostgreSQL DB system keeps backups at least as long as the plan requires.",
    severity="high",
    remediation="Set managementPolicy.backupPolicy.retentionDays to at least the plan's backup_retention_days.",
    reads={DB_SYSTEM: ("managementPolicy.backupPolicy.retentionDays", "managementPolicy.backupPolicy.kind")},
)
def db_backup(resource: ResourceView, context: PolicyContext) -> list[str]:
    floor = context.limits.backup_retention_days if context.limits else 0
    if get(resource.inputs, "managementPolicy.backupPolicy.kind") == "NONE":
        return ["managementPolicy.backupPolicy.kind is NONE: no automated backups."]
    days = as_number(get(resource.inputs, "managementPolicy.backupPolicy.retentionDays"))
    if days is None or days < floor:
        shown = "not set" if days is None else f"{days:g} days"
        return [f"backup retention is {shown}; {plan_of(context)} requires at least {floor} days."]
    return []


# --- tenant-isolation ------------------------------------------------------------------------


@rule(
    "oci-objectstorage-bucket-no-public-access", TENANT_ISOLATION, "oci", (BUCKET,),
    description="No Object Storage bucket is public.",
    severity="critical",
    remediation="Set accessType to NoPublicAccess.",
    reads={BUCKET: ("accessType",)}, needs_context=False,
)
def bucket_not_public(resource: ResourceView, context: PolicyContext) -> list[str]:
    access = get(resource.inputs, "accessType")
    return [] if access in (None, "NoPublicAccess") else [f"accessType is '{access}'."]


@rule(
    "oci-objectstorage-bucket-encrypted-with-cmk", TENANT_ISOLATION, "oci", (BUCKET,),
    description="An Object Storage bucket encrypts with a customer-managed Vault key.",
    severity="high",
    remediation="Set kmsKeyId to the tenant's (or cell's) key.",
    reads={BUCKET: ("kmsKeyId",)}, needs_context=False,
)
def bucket_cmk(resource: ResourceView, context: PolicyContext) -> list[str]:
    return [] if get(resource.inputs, "kmsKeyId") else ["kmsKeyId is not set (Oracle-managed keys)."]


@rule(
    "oci-psql-db-system-encrypted-with-cmk", TENANT_ISOLATION, "oci", (DB_SYSTEM,),
    description="A PostgreSQL DB system's storage is encrypted with a customer-managed Vault key.",
    severity="high",
    remediation="Set storageDetails.kmsKeyId to the tenant's (or cell's) key.",
    reads={DB_SYSTEM: ("storageDetails.kmsKeyId",)}, needs_context=False,
)
def db_cmk(resource: ResourceView, context: PolicyContext) -> list[str]:
    return [] if get(resource.inputs, "storageDetails.kmsKeyId") else ["storageDetails.kmsKeyId is not set."]


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
        if key == "ssl_min_protocol_version" and _TLS_ORDER.get(value.lower(), -1) < _TLS_ORDER["tlsv1.2"]:
            found.append(f"ssl_min_protocol_version is '{value}', below TLSv1.2.")
        if key in ("ssl", "require_secure_transport") and as_bool(value) is False:
            found.append(f"{key} is off: connections without TLS are accepted.")
    return found


@rule(
    "oci-core-subnet-private", TENANT_ISOLATION, "oci", (SUBNET,),
    description="Subnets (where the databases live) are private: no public IPs, no internet ingress.",
    severity="critical",
    remediation="Set prohibitPublicIpOnVnic and prohibitInternetIngress to true.",
    reads={SUBNET: ("prohibitPublicIpOnVnic", "prohibitInternetIngress")}, needs_context=False,
)
def subnet_private(resource: ResourceView, context: PolicyContext) -> list[str]:
    return [f"{key} is not true." for key in ("prohibitPublicIpOnVnic", "prohibitInternetIngress")
            if get(resource.inputs, key) is not True]


@rule(
    "oci-kms-key-rotation-enabled", TENANT_ISOLATION, "oci", (KEY,),
    description="Customer-managed Vault keys rotate automatically.",
    severity="medium", enforcement="advisory",
    remediation="Set isAutoRotationEnabled to true (a virtual private vault) with autoKeyRotationDetails.",
    reads={KEY: ("isAutoRotationEnabled",)}, needs_context=False,
)
def key_rotation(resource: ResourceView, context: PolicyContext) -> list[str]:
    return [] if get(resource.inputs, "isAutoRotationEnabled") is True else ["isAutoRotationEnabled is not true."]


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
    if resource.type == DYNAMIC_GROUP:
        rule_text = str(get(resource.inputs, "matchingRule") or "")
        return [] if TEMPLATE_MATCHING_RULE.fullmatch(rule_text) else [
            f"matching rule '{rule_text}' is not the template (one compartment)."]
    return [f"statement '{statement}' is not one of the role templates."
            for statement in _statements(resource) if not any(template.fullmatch(statement) for template in TEMPLATES)]

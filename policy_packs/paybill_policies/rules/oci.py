"""Oracle Cloud rules (pulumi-oci 5) beyond the family tables: the DB system's protection,
PostgreSQL configuration (TLS) and IAM policy statements and dynamic groups. Shapes, backups,
customer-managed keys, bucket and subnet exposure and key rotation are rows of `database` and
`settings`.

OCI Database with PostgreSQL sizes its storage itself (no size input), so plan-limits bounds its
OCPUs and backups; it has no deletion-protection flag, so the DB system must be `protect`ed."""

from __future__ import annotations

import re
from collections.abc import Sequence

from paybill_policies.context import PolicyContext
from paybill_policies.errors import Unknown
from paybill_policies.evaluate import ResourceView, as_bool, get
from paybill_policies.rules._access import (
    oci_where_pins,
    own_principals,
    public_message,
    public_sources,
    targets_cell,
)
from paybill_policies.rules._kit import (
    AGENT_GUARDRAILS,
    TENANT_ISOLATION,
    below_tls_1_2,
    guards_lifted,
    listing,
    rule,
)

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
TEMPLATE_MATCHING_RULE = re.compile(
    rf"ALL \{{resource\.compartment\.id = '{_OCID}'\}}"
    rf"|ANY \{{instance\.compartment\.id = '{_OCID}', resource\.compartment\.id = '{_OCID}'\}}"
    rf"|ALL \{{resource\.type = 'postgresqldbsystem', resource\.compartment\.id = '{_OCID}'\}}")
"""One compartment's workloads (instances and other resources), or its PostgreSQL DB systems."""


def _statements(resource: ResourceView) -> list[str]:
    return [str(item) for item in listing(get(resource.inputs, "statements"), "statements")]


# --- tenant-isolation ------------------------------------------------------------------------


@rule(
    "oci-psql-db-system-deletion-protection", TENANT_ISOLATION, "oci", (DB_SYSTEM,),
    description="A PostgreSQL DB system is protected from deletion: `protect` (OCI has no deletion-protection "
                "flag), or `retainOnDelete` while the catalog offboards its tenant; only a plan change's lift step "
                "(the retiring shape) and retention end turn it off.",
    severity="high",
    remediation="Create the DB system with the stateful options (`protect=True`).",
    needs_context=False,
)
def db_protected(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.protect or resource.retain_on_delete or context.state == "offboarding" \
            or guards_lifted(resource, context):
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
        if re.match(r"^\s*(define|admit|endorse)\b", statement, re.IGNORECASE):
            continue  # cross-tenancy statements: the principal rule refuses them
        alternatives = oci_where_pins(statement)
        if alternatives is None:
            found.append(f"statement's where-condition does not pin one resource (none, or an alternative pins "
                         f"nothing): '{statement}'.")
            continue
        for pins in alternatives:
            if shared and pins.get("target.bucket.name") == f"'{shared}'" and pins.get(
                    "target.object.name") != f"/{prefix}*/":
                found.append(f"statement reaches the cell's bucket '{shared}' beyond the prefix '{prefix}': "
                             f"'{statement}'.")
                break
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


# --- tenant-isolation: principals -----------------------------------------------------------------

_SUBJECT = re.compile(r"^\s*allow\s+(.+?)\s+to\s", re.IGNORECASE)


def _subject_problem(subject: str, own_names: set[str], own_ids: set[str]) -> str | None:
    words = subject.split()
    kind = words[0].lower() if words else ""
    if kind == "service" and len(words) >= 2:
        return None
    if kind == "dynamic-group" and len(words) >= 2:
        if words[1].lower() == "id" and len(words) == 3:
            if words[2].lower() in own_ids:
                return None
            if not own_ids:
                raise Unknown("statements (the ids of the stack's dynamic groups are outputs this shape lacks)")
            return f"dynamic group '{words[2]}' is not the stack's own"
        name = words[1].split("/")[-1].strip("'")
        if len(words) == 2 and name in own_names:
            return None
        shown = ', '.join(sorted(own_names)) or 'none'
        return f"dynamic group '{' '.join(words[1:])}' is not the tenant's own ('{shown}')"
    return f"'{subject}' is neither the tenant's own dynamic group nor a service"


@rule(
    "oci-identity-policy-principal-within-organisation", TENANT_ISOLATION, "oci", (), kind="stack",
    description="Every policy statement allows only the tenant's own dynamic group (by name, or by the id of the "
                "stack's dynamic group) or an OCI service; no group, user or any-user, and no statement reaching "
                "across tenancies (define, admit, endorse).",
    severity="critical",
    remediation="Write statements for the dynamic group the components create (paybill_components.oci.iam).",
    incremental=True,
)
def oci_principals(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    own_ids = own_principals(resources)
    own_names = context.own("dynamic_group") if context.kind == "tenant" else set()
    found = []
    for resource in resources:
        if resource.rule_type != POLICY:
            continue
        for statement in [str(item) for item in listing(resource.prop("statements"), "statements")]:
            if re.match(r"^\s*(define|admit|endorse)\b", statement, re.IGNORECASE):
                found.append((resource.urn, f"statement reaches across tenancies: '{statement}'."))
                continue
            subject = _SUBJECT.match(statement)
            if subject is None:
                found.append((resource.urn, f"statement names no subject this rule can read: '{statement}'."))
                continue
            problem = _subject_problem(subject.group(1), own_names, own_ids)
            if problem:
                found.append((resource.urn, f"{problem}: '{statement}'."))
    return found


# --- tenant-isolation: pre-authenticated requests and network ------------------------------------

PAR = "oci:ObjectStorage/preauthrequest:Preauthrequest"


@rule(
    "oci-objectstorage-bucket-no-preauthenticated-access", TENANT_ISOLATION, "oci", (PAR,),
    description="No pre-authenticated request: its URL opens the bucket or object to anyone who holds it, like a "
                "public bucket.",
    severity="critical",
    remediation="Grant access through the tenant's dynamic group and a scoped policy instead.",
    needs_context=False,
)
def no_preauthenticated_request(resource: ResourceView, context: PolicyContext) -> list[str]:
    access = get(resource.inputs, "accessType")
    return [f"a pre-authenticated request ({access or 'access not set'}) opens the bucket to anyone with its URL."]


SECURITY_LIST = "oci:Core/securityList:SecurityList"
DEFAULT_SECURITY_LIST = "oci:Core/defaultSecurityList:DefaultSecurityList"
NSG_RULE = "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule"


@rule(
    "oci-core-security-rule-no-public-ingress", TENANT_ISOLATION, "oci", (SECURITY_LIST, DEFAULT_SECURITY_LIST,
                                                                          NSG_RULE),
    description="No security list or network security group rule admits ingress from outside private address "
                "space (a CIDR not inside 10/8, 172.16/12, 192.168/16 or 100.64/10; 0.0.0.0/1 and 128.0.0.0/1 are "
                "the internet), inline or as a separate rule.",
    severity="critical",
    remediation="Admit only the VCN's own CIDR (or its network security groups).",
    reads={SECURITY_LIST: ("ingressSecurityRules",), DEFAULT_SECURITY_LIST: ("ingressSecurityRules",),
           NSG_RULE: ("direction", "source", "sourceType")},
    needs_context=False,
)
def security_rules_private(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.canonical_type == NSG_RULE:
        if str(get(resource.inputs, "direction") or "").upper() != "INGRESS":
            return []
        rules = [resource.inputs]
    else:
        rules = listing(get(resource.inputs, "ingressSecurityRules"), "ingressSecurityRules")
    sources = []
    for item in rules:
        if not isinstance(item, dict):
            return ["a security rule is not an object (unexpected shape)."]
        if str(item.get("sourceType") or "CIDR_BLOCK").upper() in ("CIDR_BLOCK", "SERVICE_CIDR_BLOCK"):
            sources.append(item.get("source"))
    return public_message(public_sources(sources))


# --- tenant-isolation: providers ------------------------------------------------------------------

_OCI_CREDENTIALS = ("userOcid", "fingerprint", "privateKey", "privateKeyPath", "privateKeyPassword",
                    "configFileProfile", "auth")


@rule(
    "oci-provider-settings-within-organisation", TENANT_ISOLATION, "oci", ("pulumi:providers:oci",),
    description="Every oci provider names its region explicitly, names only the organisation's tenancy, and "
                "carries no user key, profile or authentication of its own.",
    severity="critical",
    remediation="Build providers with the components (`OciBlocks.provider`).",
    reads={"pulumi:providers:oci": ("region", "tenancyOcid")},
)
def oci_provider_settings(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    if not resource.prop("region"):
        found.append("no explicit region: the provider would deploy wherever its environment points.")
    tenancy = resource.prop("tenancyOcid")
    if tenancy and str(tenancy).lower() not in context.org_accounts("oci_tenancy"):
        found.append(f"tenancyOcid '{tenancy}' is not the organisation's tenancy.")
    set_keys = [key for key in _OCI_CREDENTIALS if resource.prop(key) not in (None, "", [], {})]
    if set_keys:
        found.append(f"sets {', '.join(set_keys)}: credentials of its own.")
    return found


# --- tenant-isolation: the cell is the cell stack's -----------------------------------------------

OCI_TARGETS = ("compartmentId", "bucket", "vaultId", "keyId", "dbSystemId", "vcnId", "networkSecurityGroupId",
               "managementEndpoint")


@rule(
    "oci-resource-not-targeting-cell", TENANT_ISOLATION, "oci", (), kind="stack",
    description="A tenant stack never acts on its cell's resources (anything in the cell's compartment, "
                "pre-authenticated requests, objects or rules on its bucket, keys in its vault, rules in its "
                "network): its policy statements only reference the cell's bucket under the tenant's prefix.",
    severity="critical",
    remediation="Change the cell in the cell stack (a cell operator).",
    incremental=True,
)
def oci_not_targeting_cell(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    return targets_cell("oci", OCI_TARGETS, _oci_slice, resources, context)


def _oci_slice(resource: ResourceView, context: PolicyContext) -> bool:
    """The tenant's slice of the cell: its own connection secret, kept in the cell's vault."""
    return resource.canonical_type == "oci:Vault/secret:Secret" and get(resource.inputs, "secretName") in \
        context.own("secret")

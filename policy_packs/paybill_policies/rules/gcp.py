"""Google Cloud rules (pulumi-gcp 10) beyond the family tables: bucket and instance exposure, IAM
members and custom roles. Sizes, backups, customer-managed keys, TLS, rotation and deletion
protection are rows of `database` and `settings`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from paybill_policies.context import PolicyContext
from paybill_policies.evaluate import ResourceView, get, json_document
from paybill_policies.rules._access import cel_pins, public_message, public_sources, targets_cell
from paybill_policies.rules._kit import AGENT_GUARDRAILS, TENANT_ISOLATION, listing, rule

SQL = "gcp:sql/databaseInstance:DatabaseInstance"
BUCKET = "gcp:storage/bucket:Bucket"
PROJECT_MEMBERS = ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding")
BUCKET_MEMBERS = ("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding")
FOLDER_MEMBERS = ("gcp:storage/managedFolderIamMember:ManagedFolderIamMember",
                  "gcp:storage/managedFolderIamBinding:ManagedFolderIamBinding")
KEY_MEMBERS = ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding")
MEMBERS = PROJECT_MEMBERS + BUCKET_MEMBERS + FOLDER_MEMBERS + KEY_MEMBERS
CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
_ADMIN_ROLE = re.compile(r"^roles/(owner|editor)$|admin|\*", re.IGNORECASE)
# The role templates (paybill_components.gcp.iam) plus the service agents' key role.
TEMPLATE_ROLES = frozenset({"roles/storage.objectUser", "roles/cloudsql.instanceUser", "roles/cloudsql.client",
                            "roles/cloudkms.cryptoKeyEncrypterDecrypter"})


def grants(resource: ResourceView) -> list[tuple[str, list[str], Any]]:
    """(role, members, condition) of every grant an IAM resource makes, whatever its shape: a member
    (member), a binding (members) or an authoritative policy (policyData: JSON with bindings)."""
    data = get(resource.inputs, "policyData")
    if data is not None or resource.canonical_type.endswith(("IAMPolicy", "IamPolicy")):
        document = json_document(data, "policyData")
        bindings = document.get("bindings") if isinstance(document, dict) else None
        if not isinstance(bindings, list):
            raise ValueError(f"policyData holds no bindings list: {str(data)[:80]!r}")
        return [(str(binding.get("role") or ""), [str(member) for member in binding.get("members") or []],
                 binding.get("condition")) for binding in bindings if isinstance(binding, dict)]
    members = get(resource.inputs, "members")
    if members is not None or resource.canonical_type.endswith(("IAMBinding", "IamBinding")):
        found = [str(member) for member in listing(members, "members")]
    else:
        member = get(resource.inputs, "member")
        found = [str(member)] if member is not None else []
    return [(str(get(resource.inputs, "role") or ""), found, get(resource.inputs, "condition"))]


def _members(resource: ResourceView) -> list[str]:
    return [member for _, members, _ in grants(resource) for member in members]


# --- tenant-isolation ------------------------------------------------------------------------


@rule(
    "gcp-storage-bucket-no-public-access", TENANT_ISOLATION, "gcp", (BUCKET, *BUCKET_MEMBERS, *FOLDER_MEMBERS),
    description="No bucket is public: public access prevention enforced, uniform bucket-level access, and no "
                "IAM grant to allUsers or allAuthenticatedUsers.",
    severity="critical",
    remediation="Set publicAccessPrevention to enforced and uniformBucketLevelAccess to true; grant only "
                "service accounts.",
    reads={BUCKET: ("publicAccessPrevention", "uniformBucketLevelAccess"), BUCKET_MEMBERS[0]: ("member",),
           BUCKET_MEMBERS[1]: ("members",), FOLDER_MEMBERS[0]: ("member",), FOLDER_MEMBERS[1]: ("members",)},
    needs_context=False,
)
def bucket_not_public(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.rule_type != BUCKET:
        return [f"grants {member} access." for member in _members(resource) if member in PUBLIC_MEMBERS]
    found = []
    if get(resource.inputs, "publicAccessPrevention") != "enforced":
        found.append("publicAccessPrevention is not enforced.")
    if get(resource.inputs, "uniformBucketLevelAccess") is not True:
        found.append("uniformBucketLevelAccess is not true (object ACLs could make objects public).")
    return found


@rule(
    "gcp-sql-instance-not-public", TENANT_ISOLATION, "gcp", (SQL,),
    description="A Cloud SQL instance has no public IP and no authorized networks.",
    severity="critical",
    remediation="Set settings.ipConfiguration.ipv4Enabled to false and use a private network.",
    reads={SQL: ("settings.ipConfiguration.ipv4Enabled", "settings.ipConfiguration.authorizedNetworks")},
    needs_context=False,
)
def sql_not_public(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    if get(resource.inputs, "settings.ipConfiguration.ipv4Enabled") is not False:
        found.append("settings.ipConfiguration.ipv4Enabled is not false: the instance has a public IP.")
    if listing(get(resource.inputs, "settings.ipConfiguration.authorizedNetworks"), "authorizedNetworks"):
        found.append("settings.ipConfiguration.authorizedNetworks admits outside networks.")
    return found


@rule(
    "gcp-iam-member-no-admin-role", TENANT_ISOLATION, "gcp", (*MEMBERS, CUSTOM_ROLE),
    description="No IAM grant gives a basic (owner, editor) or admin role, and no custom role holds wildcard "
                "permissions.",
    severity="critical",
    remediation="Grant only the predefined roles of the role templates.",
    reads={**{token: ("role",) for token in MEMBERS}, CUSTOM_ROLE: ("permissions",)}, needs_context=False,
)
def iam_no_admin(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.canonical_type == CUSTOM_ROLE:
        return [f"custom role permission '{permission}' is a wildcard."
                for permission in listing(get(resource.inputs, "permissions"), "permissions") if "*" in str(permission)]
    return [f"grants the admin role '{role}'." for role, _, _ in grants(resource) if _ADMIN_ROLE.search(role)]


@rule(
    "gcp-iam-member-scoped-to-tenant", TENANT_ISOLATION, "gcp", MEMBERS,
    description="A tenant's IAM grants reach only its slice: project-level grants carry a condition naming one "
                "Cloud SQL instance, a pooled tenant gets no grant on the cell's bucket or key and only its own "
                "managed folder.",
    severity="critical",
    remediation="Grant on the tenant's own bucket, folder or key; condition project grants on its instance "
                "(paybill_components.gcp.iam).",
    reads={**{token: ("role",) for token in MEMBERS}, PROJECT_MEMBERS[0]: ("role", "condition.expression"),
           FOLDER_MEMBERS[0]: ("managedFolder", "bucket"), BUCKET_MEMBERS[0]: ("bucket",),
           KEY_MEMBERS[0]: ("cryptoKeyId",)},
)
def iam_scoped(resource: ResourceView, context: PolicyContext) -> list[str]:
    if context.kind != "tenant":
        return []
    if resource.rule_type in PROJECT_MEMBERS:
        instances = context.own("db_instance") | context.own_cell("db_instance")  # the retiring shape's too
        found = []
        for role, _, condition in grants(resource):
            expression = str((condition or {}).get("expression") or "") if isinstance(condition, dict) else ""
            pins = cel_pins(expression) or {}
            instance = pins.get("resource.name", "").rsplit("/instances/", 1)
            if len(instance) != 2 or instance[1] not in instances:
                found.append(f"grants '{role}' beyond one Cloud SQL instance of the tenant: the condition "
                             f"{expression or '(none)'!r} does not pin resource.name to its instance "
                             f"({', '.join(sorted(instances)) or 'none'}) with nothing but `&&`-joined equalities.")
        return found
    shared_bucket = context.cell_names.get("bucket")
    if resource.rule_type in BUCKET_MEMBERS and shared_bucket and get(resource.inputs, "bucket") == shared_bucket:
        return [f"grants on the cell's whole bucket '{shared_bucket}' instead of the tenant's managed folder."]
    if resource.rule_type in FOLDER_MEMBERS:
        folder = str(get(resource.inputs, "managedFolder") or "")
        prefix = context.names.get("prefix", "")
        if prefix and not folder.rstrip("/").endswith(prefix.rstrip("/")):
            return [f"grants on managed folder '{folder}', not the tenant's '{prefix}'."]
    shared_key = context.cell_names.get("key")
    if resource.rule_type in KEY_MEMBERS and shared_key:
        key_id = str(get(resource.inputs, "cryptoKeyId") or get(resource.inputs, "keyRingId") or "")
        member = " ".join(_members(resource))
        tenant_identity = "gserviceaccount.com" in member and "service-" not in member  # not a service agent
        if (key_id.endswith(f"/cryptoKeys/{shared_key}") or key_id.endswith(
                f"/keyRings/{context.cell_names.get('key_ring', '')}")) and tenant_identity:
            return [f"grants the cell's key '{shared_key}' to the tenant's identity."]
    return []


@rule(
    "gcp-iam-within-role-templates", AGENT_GUARDRAILS, "gcp", (*MEMBERS, CUSTOM_ROLE),
    description="When an AI agent deploys, IAM grants use only the roles of the tenant role templates and no "
                "custom role is defined.",
    severity="critical",
    remediation="Use the tenant identity block; other roles need a security review.",
    reads={token: ("role",) for token in MEMBERS},
    agent_only=True, approval="the security team (IAM beyond the role templates)",
)
def iam_templates(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.canonical_type == CUSTOM_ROLE:
        return ["defines a custom role, beyond the role templates."]
    if resource.canonical_type != resource.rule_type:
        return [f"'{resource.type}' grants another way than the role templates' IAM members."]
    found = []
    for role, _, _ in grants(resource):
        if role not in TEMPLATE_ROLES:
            found.append(f"grants '{role}', which is not one of the role templates "
                         f"({', '.join(sorted(TEMPLATE_ROLES))}).")
    return found


# --- tenant-isolation: principals -----------------------------------------------------------------

SERVICE_AGENT = re.compile(r"^serviceAccount:(service-\d+@(gcp-sa-[a-z0-9-]+|gs-project-accounts|compute-system|"
                           r"container-engine-robot|cloud-filer|dataflow-service-producer-prod)\.iam\.gserviceaccount\.com"
                           r"|\d+@cloudservices\.gserviceaccount\.com)$")
"""Google-managed service agents: the cloud's own service principals."""
SQL_USER = "gcp:sql/user:User"


def _own_service_accounts(context: PolicyContext) -> set[str]:
    accounts = context.own("service_account") if context.kind == "tenant" else set()
    projects = context.org_accounts("gcp_project")
    return {f"{account}@{projects[0]}.iam.gserviceaccount.com" for account in accounts} if projects else set()


@rule(
    "gcp-iam-member-within-organisation", TENANT_ISOLATION, "gcp", (*MEMBERS, SQL_USER),
    description="Every grant (member, binding or authoritative policy, on a project, folder, organisation, bucket, "
                "folder, key or service account) names only the tenant's own service account in the organisation's "
                "project, or a Google-managed service agent; a database login is the tenant's own service account. "
                "Users, groups, domains, other projects' accounts and allUsers are refused.",
    severity="critical",
    remediation="Grant to the service account the components create (`serviceAccount:<names.service_account>@"
                "<accounts.gcp_project>.iam.gserviceaccount.com`).",
    reads={SQL_USER: ("type", "name")},
)
def gcp_principals(resource: ResourceView, context: PolicyContext) -> list[str]:
    own = _own_service_accounts(context)
    shown = ", ".join(sorted(own)) or "none"
    if resource.canonical_type == SQL_USER:
        kind, name = str(get(resource.inputs, "type") or "BUILT_IN"), str(get(resource.inputs, "name") or "")
        if kind == "CLOUD_IAM_SERVICE_ACCOUNT" and name in {item.removesuffix(".gserviceaccount.com") for item in own}:
            return []
        return [f"database login '{name}' ({kind}) is not the tenant's own service account ('{shown}')."]
    found = []
    for role, members, _ in grants(resource):
        for member in members:
            if member.lower() in {f"serviceaccount:{item}".lower() for item in own}:
                continue
            if SERVICE_AGENT.match(member):
                continue
            found.append(f"grants '{role}' to '{member}', neither the tenant's own service account "
                         f"('{shown}') nor a Google service agent.")
    return found


# --- tenant-isolation: network --------------------------------------------------------------------

FIREWALL = "gcp:compute/firewall:Firewall"


@rule(
    "gcp-compute-firewall-no-public-ingress", TENANT_ISOLATION, "gcp", (FIREWALL,),
    description="No firewall rule allows ingress from outside private address space (any CIDR not inside 10/8, "
                "172.16/12, 192.168/16 or 100.64/10; 0.0.0.0/1 and 128.0.0.0/1 are the internet).",
    severity="critical",
    remediation="Allow ingress only from the VPC's ranges or service accounts.",
    reads={FIREWALL: ("direction", "sourceRanges", "allows")}, needs_context=False,
)
def firewall_no_public(resource: ResourceView, context: PolicyContext) -> list[str]:
    if str(get(resource.inputs, "direction") or "INGRESS").upper() != "INGRESS" or not get(resource.inputs, "allows"):
        return []
    ranges = listing(get(resource.inputs, "sourceRanges"), "sourceRanges")
    if not ranges and not get(resource.inputs, "sourceTags") and not get(resource.inputs, "sourceServiceAccounts"):
        ranges = ["0.0.0.0/0"]  # no source given: the provider defaults to everywhere
    return public_message(public_sources(ranges))


# --- tenant-isolation: providers ------------------------------------------------------------------

_GCP_CREDENTIALS = ("credentials", "accessToken", "impersonateServiceAccountDelegates", "universeDomain")


@rule(
    "gcp-provider-settings-within-organisation", TENANT_ISOLATION, "gcp", ("pulumi:providers:gcp",),
    description="Every gcp provider names its region and the organisation's project explicitly, impersonates only "
                "a service account of that project, and carries no credentials or token of its own.",
    severity="critical",
    remediation="Build providers with the components (`GcpBlocks.provider`).",
    reads={"pulumi:providers:gcp": ("region", "project", "impersonateServiceAccount")},
)
def gcp_provider_settings(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    projects = context.org_accounts("gcp_project")
    if not resource.prop("region"):
        found.append("no explicit region: the provider would deploy wherever its environment points.")
    project = resource.prop("project")
    if not project or str(project).lower() not in projects:
        found.append(f"project '{project or 'not set'}' is not the organisation's ({', '.join(projects) or 'none'}).")
    impersonated = resource.prop("impersonateServiceAccount")
    if impersonated and not any(str(impersonated).lower().endswith(f"@{item}.iam.gserviceaccount.com")
                                for item in projects):
        found.append(f"impersonates '{impersonated}', outside the organisation's project.")
    set_keys = [key for key in _GCP_CREDENTIALS if resource.prop(key) not in (None, "", [], {}, "[]")]
    if set_keys:
        found.append(f"sets {', '.join(set_keys)}: credentials of its own.")
    return found


# --- tenant-isolation: the cell is the cell stack's -----------------------------------------------

GCP_TARGETS = ("bucket", "cryptoKeyId", "keyRingId", "keyRing", "instance", "network", "serviceAccountId",
               "managedFolder")


def _gcp_slice(resource: ResourceView, context: PolicyContext) -> bool:
    """The tenant's slice of the cell: its managed folder (and grants on exactly it), its database and its
    own login in the cell's instance."""
    prefixes = context.own("prefix")
    if resource.canonical_type == "gcp:storage/managedFolder:ManagedFolder":
        return str(get(resource.inputs, "name") or "") in prefixes
    if resource.rule_type in FOLDER_MEMBERS:
        return str(get(resource.inputs, "managedFolder") or "").rstrip("/") in {item.rstrip("/") for item in prefixes}
    if resource.canonical_type == "gcp:sql/database:Database":
        return get(resource.inputs, "name") in context.own("database")
    if resource.canonical_type == SQL_USER:
        own = {item.removesuffix(".gserviceaccount.com") for item in _own_service_accounts(context)}
        return get(resource.inputs, "name") in own
    return False


@rule(
    "gcp-resource-not-targeting-cell", TENANT_ISOLATION, "gcp", (), kind="stack",
    description="A tenant stack never acts on its cell's resources (grants, objects or ACLs on the cell's bucket, "
                "grants on its key or key ring, users or databases in its instance but the tenant's own, rules in "
                "its network): only its own managed folder, database and login.",
    severity="critical",
    remediation="Change the cell in the cell stack (a cell operator); grant the tenant on its own managed folder.",
    incremental=True,
)
def gcp_not_targeting_cell(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    return targets_cell("gcp", GCP_TARGETS, _gcp_slice, resources, context)

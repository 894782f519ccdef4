"""Google Cloud rules (pulumi-gcp 10) beyond the family tables: bucket and instance exposure, IAM
members and custom roles. Sizes, backups, customer-managed keys, TLS, rotation and deletion
protection are rows of `database` and `settings`."""

from __future__ import annotations

import re

from paybill_policies.context import PolicyContext
from paybill_policies.evaluate import ResourceView, get
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


def _members(resource: ResourceView) -> list[str]:
    if resource.canonical_type.endswith("Binding"):
        return [str(member) for member in listing(get(resource.inputs, "members"), "members")]
    member = get(resource.inputs, "member")
    return [str(member)] if member is not None else []


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
    if resource.canonical_type != BUCKET:
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
    role = str(get(resource.inputs, "role") or "")
    return [f"grants the admin role '{role}'."] if _ADMIN_ROLE.search(role) else []


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
    if resource.canonical_type in PROJECT_MEMBERS:
        expression = str(get(resource.inputs, "condition.expression") or "")
        if "resource.name" not in expression:
            return [f"grants '{get(resource.inputs, 'role')}' on the whole project without a condition naming "
                    "one instance."]
        return []
    shared_bucket = context.cell_names.get("bucket")
    if resource.canonical_type in BUCKET_MEMBERS and shared_bucket and get(resource.inputs, "bucket") == shared_bucket:
        return [f"grants on the cell's whole bucket '{shared_bucket}' instead of the tenant's managed folder."]
    if resource.canonical_type in FOLDER_MEMBERS:
        folder = str(get(resource.inputs, "managedFolder") or "")
        prefix = context.names.get("prefix", "")
        if prefix and not folder.rstrip("/").endswith(prefix.rstrip("/")):
            return [f"grants on managed folder '{folder}', not the tenant's '{prefix}'."]
    shared_key = context.cell_names.get("key")
    if resource.canonical_type in KEY_MEMBERS and shared_key:
        key_id = str(get(resource.inputs, "cryptoKeyId") or "")
        member = " ".join(_members(resource))
        tenant_identity = "gserviceaccount.com" in member and "service-" not in member  # not a service agent
        if key_id.endswith(f"/cryptoKeys/{shared_key}") and tenant_identity:
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
    role = str(get(resource.inputs, "role") or "")
    if role not in TEMPLATE_ROLES:
        return [f"grants '{role}', which is not one of the role templates ({', '.join(sorted(TEMPLATE_ROLES))})."]
    return []

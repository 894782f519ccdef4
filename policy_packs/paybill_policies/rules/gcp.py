"""Google Cloud rules (pulumi-gcp 10): Cloud SQL sizes and backups, bucket and instance exposure,
customer-managed keys, TLS, deletion protection and IAM members."""

from __future__ import annotations

import re
from typing import Any

from paybill_policies.rules._kit import (
    AGENT_GUARDRAILS,
    PLAN_LIMITS,
    TENANT_ISOLATION,
    PolicyContext,
    ResourceView,
    as_number,
    get,
    listing,
    no_dedicated_database,
    plan_of,
    rule,
    vcpus_message,
)

SQL = "gcp:sql/databaseInstance:DatabaseInstance"
BUCKET = "gcp:storage/bucket:Bucket"
KEY = "gcp:kms/cryptoKey:CryptoKey"
PROJECT_MEMBERS = ("gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding")
BUCKET_MEMBERS = ("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding")
FOLDER_MEMBERS = ("gcp:storage/managedFolderIamMember:ManagedFolderIamMember",
                  "gcp:storage/managedFolderIamBinding:ManagedFolderIamBinding")
KEY_MEMBERS = ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding")
MEMBERS = PROJECT_MEMBERS + BUCKET_MEMBERS + FOLDER_MEMBERS + KEY_MEMBERS
CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
TLS_MODES = ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")
_ADMIN_ROLE = re.compile(r"^roles/(owner|editor)$|admin|\*", re.IGNORECASE)
# The role templates (paybill_components.gcp.iam) plus the service agents' key role.
TEMPLATE_ROLES = frozenset({"roles/storage.objectUser", "roles/cloudsql.instanceUser", "roles/cloudsql.client",
                            "roles/cloudkms.cryptoKeyEncrypterDecrypter"})


def _members(resource: ResourceView) -> list[str]:
    if resource.type.endswith("Binding"):
        return [str(member) for member in listing(get(resource.inputs, "members"), "members")]
    member = get(resource.inputs, "member")
    return [str(member)] if member is not None else []


# --- plan-limits -----------------------------------------------------------------------------


rule(
    "gcp-sql-instance-allowed-by-isolation", PLAN_LIMITS, "gcp", (SQL,),
    description="A pooled tenant's stack creates no Cloud SQL instance: its database lives in its cell's "
                "instance.",
    severity="high",
    remediation="Remove the instance; a dedicated database needs a silo or bridge plan in the catalog.",
)(no_dedicated_database)


@rule(
    "gcp-sql-instance-vcpus-within-plan", PLAN_LIMITS, "gcp", (SQL,),
    description="A Cloud SQL instance's tier has at most the plan's database vCPUs.",
    severity="high",
    remediation="Use the tier paybill_iac.model.sizing.database_size gives for the plan.",
    reads={SQL: ("settings.tier",)},
)
def sql_vcpus(resource: ResourceView, context: PolicyContext) -> list[str]:
    from paybill_iac.model import sizing

    tier = get(resource.inputs, "settings.tier")
    if not isinstance(tier, str):
        return ["settings.tier is not set."]
    message = vcpus_message("gcp", tier, sizing.vcpus_of("gcp", tier), context)
    return [message] if message else []


@rule(
    "gcp-sql-instance-storage-within-plan", PLAN_LIMITS, "gcp", (SQL,),
    description="A Cloud SQL instance's disk is at most the plan's storage, and automatic growth stops at it.",
    severity="high",
    remediation="Set settings.diskSize to at most the plan's db_storage_gb and, with diskAutoresize, "
                "diskAutoresizeLimit to at most the same (0 means unlimited).",
    reads={SQL: ("settings.diskSize", "settings.diskAutoresize", "settings.diskAutoresizeLimit")},
)
def sql_storage(resource: ResourceView, context: PolicyContext) -> list[str]:
    limit = context.limits.db_storage_gb if context.limits else None
    if limit is None:
        return []
    found = []
    size = as_number(get(resource.inputs, "settings.diskSize"))
    if size is not None and size > limit:
        found.append(f"settings.diskSize is {size:g} GB, above the {limit} GB of {plan_of(context)}.")
    if get(resource.inputs, "settings.diskAutoresize") is not False:
        grow = as_number(get(resource.inputs, "settings.diskAutoresizeLimit")) or 0
        if grow == 0 or grow > limit:
            shown = "unlimited" if grow == 0 else f"{grow:g} GB"
            found.append(f"the disk grows automatically up to {shown}, past the {limit} GB of {plan_of(context)}.")
    return found


@rule(
    "gcp-sql-instance-backup-retention-meets-plan", PLAN_LIMITS, "gcp", (SQL,),
    description="A Cloud SQL instance takes daily backups and keeps at least as many as the plan's retention "
                "days.",
    severity="high",
    remediation="Enable settings.backupConfiguration and set backupRetentionSettings.retainedBackups (unit "
                "COUNT) to at least the plan's backup_retention_days.",
    reads={SQL: ("settings.backupConfiguration.enabled",
                 "settings.backupConfiguration.backupRetentionSettings.retainedBackups",
                 "settings.backupConfiguration.backupRetentionSettings.retentionUnit")},
)
def sql_backup(resource: ResourceView, context: PolicyContext) -> list[str]:
    floor = context.limits.backup_retention_days if context.limits else 0
    if get(resource.inputs, "settings.backupConfiguration.enabled") is not True:
        return ["settings.backupConfiguration.enabled is not true: no automated backups."]
    kept = as_number(get(resource.inputs, "settings.backupConfiguration.backupRetentionSettings.retainedBackups"))
    kept = 7 if kept is None else kept  # Cloud SQL's default
    if kept < floor:
        return [f"{kept:g} daily backups are kept; {plan_of(context)} requires at least {floor} days."]
    return []


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
    if resource.type != BUCKET:
        return [f"grants {member} access." for member in _members(resource) if member in PUBLIC_MEMBERS]
    found = []
    if get(resource.inputs, "publicAccessPrevention") != "enforced":
        found.append("publicAccessPrevention is not enforced.")
    if get(resource.inputs, "uniformBucketLevelAccess") is not True:
        found.append("uniformBucketLevelAccess is not true (object ACLs could make objects public).")
    return found


@rule(
    "gcp-storage-bucket-encrypted-with-cmk", TENANT_ISOLATION, "gcp", (BUCKET,),
    description="A bucket encrypts new objects with a customer-managed Cloud KMS key.",
    severity="high",
    remediation="Set encryption.defaultKmsKeyName to the tenant's (or cell's) key.",
    reads={BUCKET: ("encryption.defaultKmsKeyName",)}, needs_context=False,
)
def bucket_cmk(resource: ResourceView, context: PolicyContext) -> list[str]:
    return [] if get(resource.inputs, "encryption.defaultKmsKeyName") else ["encryption.defaultKmsKeyName is not set."]


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
    "gcp-sql-instance-encrypted-with-cmk", TENANT_ISOLATION, "gcp", (SQL,),
    description="A Cloud SQL instance is encrypted with a customer-managed Cloud KMS key.",
    severity="high",
    remediation="Set encryptionKeyName to the tenant's (or cell's) key.",
    reads={SQL: ("encryptionKeyName",)}, needs_context=False,
)
def sql_cmk(resource: ResourceView, context: PolicyContext) -> list[str]:
    return [] if get(resource.inputs, "encryptionKeyName") else ["encryptionKeyName is not set."]


@rule(
    "gcp-sql-instance-tls-enforced", TENANT_ISOLATION, "gcp", (SQL,),
    description="A Cloud SQL instance accepts only encrypted connections (Cloud SQL negotiates TLS 1.2 or "
                "newer).",
    severity="high",
    remediation="Set settings.ipConfiguration.sslMode to ENCRYPTED_ONLY.",
    reads={SQL: ("settings.ipConfiguration.sslMode",)}, needs_context=False,
)
def sql_tls(resource: ResourceView, context: PolicyContext) -> list[str]:
    mode = get(resource.inputs, "settings.ipConfiguration.sslMode")
    return [] if mode in TLS_MODES else [f"settings.ipConfiguration.sslMode is {mode!r}: unencrypted connections "
                                         "are accepted."]


def _protect_sql(resource: ResourceView, context: PolicyContext) -> dict[str, Any] | None:
    settings = dict(resource.inputs.get("settings") or {})
    if resource.inputs.get("deletionProtection") is True and settings.get("deletionProtectionEnabled") is True:
        return None
    settings["deletionProtectionEnabled"] = True
    return {**resource.inputs, "deletionProtection": True, "settings": settings}


@rule(
    "gcp-sql-instance-deletion-protection", TENANT_ISOLATION, "gcp", (SQL,),
    description="A Cloud SQL instance is protected from deletion by Pulumi and by the Cloud SQL API.",
    severity="high",
    remediation="Set deletionProtection and settings.deletionProtectionEnabled to true (the pack's "
                "remediation sets them).",
    reads={SQL: ("deletionProtection", "settings.deletionProtectionEnabled")}, needs_context=False,
    remediate=_protect_sql,
)
def sql_deletion_protection(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    for path in ("deletionProtection", "settings.deletionProtectionEnabled"):
        if get(resource.inputs, path) is not True:
            found.append(f"{path} is not true.")
    return found


@rule(
    "gcp-kms-crypto-key-rotation-enabled", TENANT_ISOLATION, "gcp", (KEY,),
    description="Customer-managed Cloud KMS keys rotate automatically (at most yearly).",
    severity="medium", enforcement="advisory",
    remediation="Set rotationPeriod (e.g. 7776000s, 90 days).",
    reads={KEY: ("rotationPeriod",)}, needs_context=False,
)
def key_rotation(resource: ResourceView, context: PolicyContext) -> list[str]:
    period = str(get(resource.inputs, "rotationPeriod") or "")
    seconds = as_number(period.rstrip("s")) if period.endswith("s") else None
    if seconds is None or seconds > 365 * 24 * 3600:
        return [f"rotationPeriod is {period or 'not set'}: the key does not rotate at least yearly."]
    return []


@rule(
    "gcp-iam-member-no-admin-role", TENANT_ISOLATION, "gcp", (*MEMBERS, CUSTOM_ROLE),
    description="No IAM grant gives a basic (owner, editor) or admin role, and no custom role holds wildcard "
                "permissions.",
    severity="critical",
    remediation="Grant only the predefined roles of the role templates.",
    reads={**{token: ("role",) for token in MEMBERS}, CUSTOM_ROLE: ("permissions",)}, needs_context=False,
)
def iam_no_admin(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.type == CUSTOM_ROLE:
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
    if resource.type in PROJECT_MEMBERS:
        expression = str(get(resource.inputs, "condition.expression") or "")
        if "resource.name" not in expression:
            return [f"grants '{get(resource.inputs, 'role')}' on the whole project without a condition naming "
                    "one instance."]
        return []
    shared_bucket = context.cell_names.get("bucket")
    if resource.type in BUCKET_MEMBERS and shared_bucket and get(resource.inputs, "bucket") == shared_bucket:
        return [f"grants on the cell's whole bucket '{shared_bucket}' instead of the tenant's managed folder."]
    if resource.type in FOLDER_MEMBERS:
        folder = str(get(resource.inputs, "managedFolder") or "")
        prefix = context.names.get("prefix", "")
        if prefix and not folder.rstrip("/").endswith(prefix.rstrip("/")):
            return [f"grants on managed folder '{folder}', not the tenant's '{prefix}'."]
    shared_key = context.cell_names.get("key")
    if resource.type in KEY_MEMBERS and shared_key:
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
    if resource.type == CUSTOM_ROLE:
        return ["defines a custom role, beyond the role templates."]
    role = str(get(resource.inputs, "role") or "")
    if role not in TEMPLATE_ROLES:
        return [f"grants '{role}', which is not one of the role templates ({', '.join(sorted(TEMPLATE_ROLES))})."]
    return []

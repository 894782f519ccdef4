"""tenant-isolation: settings a resource must hold, for every cloud. One table (SETTINGS: rule id,
cloud, types, the inputs and what each must be, what the reference says) drives one validator:
customer-managed keys set, keys rotating, deletion protection on, no public flag, TLS on.

A rule whose check is more than "these inputs hold these values" (a policy document, a lock that
must cover a server, a grant's scope) is written out in its cloud's module instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from paybill_policies.context import PolicyContext
from paybill_policies.errors import RuleError
from paybill_policies.evaluate import ResourceView, as_bool, as_number
from paybill_policies.rules._kit import (
    TENANT_ISOLATION,
    Need,
    guards_lifted,
    is_set,
    is_true,
    rule,
    unmet,
    with_value,
)

RDS = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
CLOUD_SQL = "gcp:sql/databaseInstance:DatabaseInstance"

DELETION_PROTECTION: Mapping[str, tuple[str, ...]] = {
    RDS: ("deletionProtection",),
    RDS_CLUSTER: ("deletionProtection",),
    CLOUD_SQL: ("deletionProtection", "settings.deletionProtectionEnabled"),
}
"""The inputs that must be true for a database type's own deletion protection (the other clouds' have
none: a lock or `protect` covers them)."""


def _on(path: str, message: str = "{path} is not true.") -> Need:
    return Need(path, is_true, message)


def _rotates_yearly(period: Any) -> bool:
    text = str(period or "")
    seconds = as_number(text.rstrip("s")) if text.endswith("s") else None
    return seconds is not None and seconds <= 365 * 24 * 3600


@dataclass(frozen=True)
class Setting:
    id: str
    cloud: str
    types: tuple[str, ...]
    needs: tuple[Need, ...]
    description: str
    remediation: str
    severity: str = "high"
    enforcement: str = "mandatory"
    first_only: bool = False
    """Report only the first unmet need (the later ones mean nothing until it holds)."""
    remediates: bool = False
    """The pack's remediation sets every unmet need (all `is_true`) to true."""
    deletion_guard: bool = False
    """A deletion guard: off on purpose while the lifecycle lifts or releases it (rules._kit.guards_lifted)."""


SETTINGS = (
    # --- customer-managed keys ---
    Setting("aws-rds-instance-encrypted-with-cmk", "aws", (RDS,),
            (_on("storageEncrypted"),
             Need("kmsKeyId", is_set, "{path} is not set: the AWS-managed key is not a customer-managed key.")),
            "An RDS instance's storage is encrypted with a customer-managed KMS key.",
            "Set storageEncrypted to true and kmsKeyId to the tenant's (or cell's) key ARN."),
    Setting("aws-secretsmanager-secret-encrypted-with-cmk", "aws", ("aws:secretsmanager/secret:Secret",),
            (Need("kmsKeyId", is_set, "{path} is not set (aws/secretsmanager is AWS-managed)."),),
            "A Secrets Manager secret is encrypted with a customer-managed KMS key.",
            "Set kmsKeyId to the tenant's (or cell's) key.", severity="medium"),
    Setting("azure-storage-account-encrypted-with-cmk", "azure", ("azure-native:storage:StorageAccount",),
            (Need("encryption.keySource", lambda source: str(source or "").lower() == "microsoft.keyvault",
                  "{path} is '{value}', not Microsoft.Keyvault (a customer-managed key)."),
             Need("encryption.keyVaultProperties.keyName", is_set)),
            "A storage account encrypts with a customer-managed key in Key Vault.",
            "Set encryption.keySource to Microsoft.Keyvault with keyVaultProperties naming the tenant's (or cell's) "
            "key.", first_only=True),
    Setting("azure-postgres-server-encrypted-with-cmk", "azure", ("azure-native:dbforpostgresql:Server",),
            (Need("dataEncryption.type", lambda kind: kind == "AzureKeyVault",
                  "{path} is {value!r}: not a customer-managed key."),
             Need("dataEncryption.primaryKeyURI", is_set, "{path} is not set: not a customer-managed key.")),
            "A PostgreSQL flexible server encrypts data with a customer-managed key in Key Vault.",
            "Set dataEncryption.type to AzureKeyVault with primaryKeyURI and a user-assigned identity.",
            first_only=True),
    Setting("gcp-storage-bucket-encrypted-with-cmk", "gcp", ("gcp:storage/bucket:Bucket",),
            (Need("encryption.defaultKmsKeyName", is_set),),
            "A bucket encrypts new objects with a customer-managed Cloud KMS key.",
            "Set encryption.defaultKmsKeyName to the tenant's (or cell's) key."),
    Setting("gcp-sql-instance-encrypted-with-cmk", "gcp", (CLOUD_SQL,),
            (Need("encryptionKeyName", is_set),),
            "A Cloud SQL instance is encrypted with a customer-managed Cloud KMS key.",
            "Set encryptionKeyName to the tenant's (or cell's) key."),
    Setting("oci-objectstorage-bucket-encrypted-with-cmk", "oci", ("oci:ObjectStorage/bucket:Bucket",),
            (Need("kmsKeyId", is_set, "{path} is not set (Oracle-managed keys)."),),
            "An Object Storage bucket encrypts with a customer-managed Vault key.",
            "Set kmsKeyId to the tenant's (or cell's) key."),
    Setting("oci-psql-db-system-encrypted-with-cmk", "oci", ("oci:Psql/dbSystem:DbSystem",),
            (Need("storageDetails.kmsKeyId", is_set),),
            "A PostgreSQL DB system's storage is encrypted with a customer-managed Vault key.",
            "Set storageDetails.kmsKeyId to the tenant's (or cell's) key."),
    # --- key rotation ---
    Setting("aws-kms-key-rotation-enabled", "aws", ("aws:kms/key:Key",),
            (_on("enableKeyRotation"),),
            "Customer-managed KMS keys rotate automatically.",
            "Set enableKeyRotation to true.", severity="medium", enforcement="advisory"),
    Setting("gcp-kms-crypto-key-rotation-enabled", "gcp", ("gcp:kms/cryptoKey:CryptoKey",),
            (Need("rotationPeriod", _rotates_yearly, "{path} is {shown}: the key does not rotate at least yearly."),),
            "Customer-managed Cloud KMS keys rotate automatically (at most yearly).",
            "Set rotationPeriod (e.g. 7776000s, 90 days).", severity="medium", enforcement="advisory"),
    Setting("oci-kms-key-rotation-enabled", "oci", ("oci:Kms/key:Key",),
            (_on("isAutoRotationEnabled"),),
            "Customer-managed Vault keys rotate automatically.",
            "Set isAutoRotationEnabled to true (a virtual private vault) with autoKeyRotationDetails.",
            severity="medium", enforcement="advisory"),
    # --- deletion protection (the inputs of DELETION_PROTECTION) ---
    Setting("aws-rds-instance-deletion-protection", "aws", (RDS, RDS_CLUSTER),
            tuple(_on(path) for path in DELETION_PROTECTION[RDS]),
            "RDS instances and clusters have deletion protection on.",
            "Set deletionProtection to true (the pack's remediation sets it).", remediates=True,
            deletion_guard=True),
    Setting("gcp-sql-instance-deletion-protection", "gcp", (CLOUD_SQL,),
            tuple(_on(path) for path in DELETION_PROTECTION[CLOUD_SQL]),
            "A Cloud SQL instance is protected from deletion by Pulumi and by the Cloud SQL API.",
            "Set deletionProtection and settings.deletionProtectionEnabled to true (the pack's remediation sets "
            "them).", remediates=True, deletion_guard=True),
    # --- no public access ---
    Setting("aws-rds-instance-not-public", "aws", (RDS,),
            (Need("publiclyAccessible", lambda value: not as_bool(value), "{path} is true."),),
            "An RDS instance has no public endpoint.",
            "Set publiclyAccessible to false and keep the instance in private subnets.", severity="critical"),
    Setting("oci-objectstorage-bucket-no-public-access", "oci", ("oci:ObjectStorage/bucket:Bucket",),
            (Need("accessType", lambda access: access in (None, "NoPublicAccess"), "{path} is '{value}'."),),
            "No Object Storage bucket is public.",
            "Set accessType to NoPublicAccess.", severity="critical"),
    Setting("oci-core-subnet-private", "oci", ("oci:Core/subnet:Subnet",),
            (_on("prohibitPublicIpOnVnic"), _on("prohibitInternetIngress")),
            "Subnets (where the databases live) are private: no public IPs, no internet ingress.",
            "Set prohibitPublicIpOnVnic and prohibitInternetIngress to true.", severity="critical"),
    # --- TLS ---
    Setting("azure-storage-account-tls-1-2", "azure", ("azure-native:storage:StorageAccount",),
            (Need("minimumTlsVersion", lambda version: version in ("TLS1_2", "TLS1_3"),
                  "{path} is {value!r}, not TLS1_2 or newer."),
             Need("enableHttpsTrafficOnly", lambda value: value is not False, "{path} is false.")),
            "A storage account accepts HTTPS only, TLS 1.2 or newer.",
            "Set minimumTlsVersion to TLS1_2 and enableHttpsTrafficOnly to true."),
    Setting("gcp-sql-instance-tls-enforced", "gcp", (CLOUD_SQL,),
            (Need("settings.ipConfiguration.sslMode",
                  lambda mode: mode in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"),
                  "{path} is {value!r}: unencrypted connections are accepted."),),
            "A Cloud SQL instance accepts only encrypted connections (Cloud SQL negotiates TLS 1.2 or newer).",
            "Set settings.ipConfiguration.sslMode to ENCRYPTED_ONLY."),
)


def settings_hold(row: Setting, resource: ResourceView, context: PolicyContext) -> list[str]:
    if row.deletion_guard and guards_lifted(resource, context):
        return []
    return unmet(resource, row.needs, first_only=row.first_only)


def switch_on(row: Setting, resource: ResourceView, context: PolicyContext) -> dict[str, Any] | None:
    """The resource's inputs with every unmet need set to true; None when all hold (or lifted on purpose)."""
    if row.deletion_guard and guards_lifted(resource, context):
        return None
    inputs = resource.inputs
    for need in row.needs:
        if not need.ok(_raw(inputs, need.path)):
            inputs = with_value(inputs, need.path, True)
    return None if inputs is resource.inputs else inputs


def _raw(inputs: Mapping[str, Any], path: str) -> Any:
    """The value at `path` as it stands (an unknown placeholder too: remediation overwrites it)."""
    value: Any = inputs
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


for _setting in SETTINGS:
    if _setting.remediates and any(need.ok is not is_true for need in _setting.needs):
        raise RuleError(f"rule '{_setting.id}': only settings that must be true can be remediated")
    rule(_setting.id, TENANT_ISOLATION, _setting.cloud, _setting.types, description=_setting.description,
         severity=_setting.severity, enforcement=_setting.enforcement, remediation=_setting.remediation,
         reads={token: tuple(need.path for need in _setting.needs) for token in _setting.types},
         needs_context=False, remediate=partial(switch_on, _setting) if _setting.remediates else None,
         )(partial(settings_hold, _setting))

"""One table of facts about every resource type paybill-iac creates, keyed by canonical type token.

The components (which resources are protected), the policy packs
(stateful, taggable and grant types, the agent allow-list), the agent gates and the tests all read
this table; nothing else keeps a list of types. A type missing here is not created by a component,
is not on the agent allow-list, and is treated as holding data by the gates (deny by default).

    holds_data      deleting it loses tenant data or what decrypts it (keys, stores, databases,
                    secrets): `protect` while the tenant lives
    guards_data     deleting it deletes or exposes data it contains (Azure resource group, delete
                    lock): protected like data
    keep_with_data  not data itself, but the kept data needs it (the network a private database lives
                    in, a key grant a service agent uses): the agent gates count it as data

What an offboarding tenant keeps is not a list of types: it keeps everything of its stack but its
access path (paybill_components.blocks.guard_by_facts), and tests/lifecycle proves from the recorded
dependency graph that this is closed under dependencies on every cloud and isolation model.
    tag_property    the input property carrying the markers (dotted camelCase), or None
    grant           grants access to something (IAM policies, bindings, role assignments)
    agent_may_create an AI agent may create it (the component-built types; providers are separate)
    database_instance a database server of its own (a plan's dedicated-instance count)

What the engine and the cloud do when a resource changes or goes (the offline lifecycle plan,
`paybill_iac.lifecycle_plan`, and its invariant tests read these; the components read the flags):

    encrypts        a key, or what holds keys (vault, key ring): data and backups encrypted with it
                    are unreadable without it, so it outlives them (a retired shape's key is kept)
    scope           a container whose deletion deletes what it contains (Azure resource group, OCI
                    compartment): kept with a kept key it contains
    backup          a backup or snapshot of a database, taken on offboarding: the data once the
                    instance goes; expires with the plan's retention
    dropped_by_data_plane  a logical database inside a server: the engine never deletes it (Azure: the
                    cell's delete lock covers it; its removal is `DROP DATABASE` by the data plane's
                    db-drop, which also drops the roles owning its objects)
    never_deleted   the cloud never deletes it and never frees its name (GCP KMS key rings and keys:
                    a delete only drops it from the state and destroys its key versions)
    replace_on      the inputs (dotted camelCase) whose change makes the provider replace it
                    (Terraform `ForceNew`, OCI non-"(Updatable)" fields, Azure path parameters)
    deletion_guards (input, value): while the input holds the value the cloud refuses to delete it
                    (RDS deletionProtection, Cloud SQL deletion protection, a non-empty bucket
                    without forceDestroy)
    forgets_on_delete (input, value): while set, the provider's delete leaves the resource in the
                    cloud (OCI compartment enableDelete=false, Cloud SQL deletionPolicy=ABANDON)
    backups_on_delete (input, value): while set, deleting it leaves backups in the cloud (an RDS
                    final snapshot or retained automated backups, Cloud SQL retained and final
                    backups), which its key must outlive
    emptied_first   the cloud deletes it only when empty and has no force option (an OCI bucket):
                    the workflow empties it before the step that deletes it
    contained_in    the inputs naming the container it lives in (a database's server): deleting the
                    container deletes it, even where the engine only forgets it

Tokens are the providers' current ones; `normal_type` maps deprecated tokens and azure-native
API-versioned tokens (`azure-native:storage/v20230101:StorageAccount`) onto them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

Condition = tuple[str, Any]
"""(dotted camelCase input path, value)."""

# The Pulumi package of each cloud (the first part of a type token).
PACKAGE_CLOUD: Mapping[str, str] = MappingProxyType({"aws": "aws", "azure-native": "azure", "gcp": "gcp",
                                                     "oci": "oci"})
CLOUD_PACKAGE: Mapping[str, str] = MappingProxyType({cloud: package for package, cloud in PACKAGE_CLOUD.items()})


@dataclass(frozen=True)
class ResourceFacts:
    """What paybill-iac knows about one resource type."""

    type: str
    cloud: str
    holds_data: bool = False
    guards_data: bool = False
    keep_with_data: bool = False
    tag_property: str | None = None
    grant: bool = False
    agent_may_create: bool = True
    database_instance: bool = False
    encrypts: bool = False
    scope: bool = False
    backup: bool = False
    dropped_by_data_plane: bool = False
    never_deleted: bool = False
    replace_on: tuple[str, ...] = ()
    deletion_guards: tuple[Condition, ...] = ()
    forgets_on_delete: tuple[Condition, ...] = ()
    backups_on_delete: tuple[Condition, ...] = ()
    emptied_first: bool = False
    contained_in: tuple[str, ...] = ()

    @property
    def protected(self) -> bool:
        """`protect` while the tenant lives: losing it loses data."""
        return self.holds_data or self.guards_data

    @property
    def retained_on_offboarding(self) -> bool:
        """Data, a guard of data, or what data needs: what the agent gates never let an agent delete."""
        return self.holds_data or self.guards_data or self.keep_with_data


_FLAGS = ("holds_data", "guards_data", "keep_with_data", "grant", "database_instance", "encrypts", "scope", "backup",
          "dropped_by_data_plane", "never_deleted")


def _facts(cloud: str, rows: tuple[tuple[str, str], ...], tag: str | None,
           engine: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, ResourceFacts]:
    """Rows of (token, flags): flags is a space-separated subset of the boolean field names, plus
    `untagged` (no markers) and `agent-denied` (an agent may not create it). `engine` adds, per token,
    what the provider and the cloud do on change and delete (replace_on, deletion_guards, ...)."""
    table = {}
    for token, flags in rows:
        words = set(flags.split())
        unknown = words - {*_FLAGS, "untagged", "agent-denied"}
        if unknown:
            raise ValueError(f"{token}: unknown flags {sorted(unknown)}")
        booleans: dict[str, Any] = {flag: flag in words for flag in _FLAGS}
        table[token] = ResourceFacts(type=token, cloud=cloud, agent_may_create="agent-denied" not in words,
                                     tag_property=None if "untagged" in words else tag, **booleans)
    for token, extra in (engine or {}).items():
        if token not in table:
            raise ValueError(f"{token}: engine facts for a type the table does not list")
        table[token] = replace(table[token], **extra)
    return table


# Sources of the engine facts below (re-check them when a provider is upgraded):
# - AWS: the Terraform AWS provider's schemas, which pulumi-aws bridges (`ForceNew: true` fields):
#   internal/service/rds/instance.go (identifier, engine, db_name, username, kms_key_id,
#   storage_encrypted, availability_zone, character_set_name, timezone are ForceNew; deletion_protection,
#   skip_final_snapshot, final_snapshot_identifier and delete_automated_backups are plain updates),
#   internal/service/secretsmanager/secret_version.go (secret_id, secret_string, secret_binary and
#   secret_string_wo_version are ForceNew: every new value is a new version, so a SecretVersion is
#   replaced, never updated), and the resources' documentation ("forces new resource").
# - Azure (azure-native): the resource's name and its parents' names are URL path parameters, and the
#   location is fixed at creation: changing any of them replaces the resource.
# - Google Cloud: the Terraform Google provider's schemas (names, projects, locations and the CMEK of a
#   Cloud SQL instance are immutable; `sql.User.name` "Changing this forces a new resource"; a
#   CryptoKey's purpose is "immutable", per pulumi-gcp's docstrings).
# - OCI: pulumi-oci's docstrings mark every updatable input "(Updatable)"; every other input we set
#   forces a new resource (tests/components/test_resource_facts.py checks this against the SDK).
_RDS_INSTANCE_NEW = ("identifier", "engine", "dbName", "username", "kmsKeyId", "storageEncrypted", "availabilityZone",
                     "characterSetName", "timezone", "snapshotIdentifier")
_AWS = _facts("aws", (
    ("aws:ec2/vpc:Vpc", ""),
    ("aws:ec2/subnet:Subnet", ""),
    ("aws:ec2/securityGroup:SecurityGroup", ""),
    ("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", ""),
    ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", ""),
    ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", ""),
    ("aws:kms/key:Key", "holds_data encrypts"),
    ("aws:kms/alias:Alias", "untagged"),
    ("aws:s3/bucket:Bucket", "holds_data"),
    ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "untagged"),
    ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "untagged"),
    ("aws:s3/bucketVersioning:BucketVersioning", "untagged"),
    ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "untagged"),
    ("aws:s3/bucketPolicy:BucketPolicy", "untagged grant"),
    ("aws:s3/bucketObjectv2:BucketObjectv2", ""),
    ("aws:rds/subnetGroup:SubnetGroup", ""),
    ("aws:rds/parameterGroup:ParameterGroup", ""),
    ("aws:rds/instance:Instance", "holds_data database_instance"),
    ("aws:rds/snapshot:Snapshot", "holds_data backup"),
    ("aws:rds/cluster:Cluster", "holds_data database_instance agent-denied"),
    ("aws:secretsmanager/secret:Secret", "holds_data"),
    # A version's content is derived (the pooled tenant's connection details, no password): a new cell
    # endpoint is a new version, which Secrets Manager can only add, so the version is replaceable and
    # not protected; the Secret (its name, ARN and key) is the protected part.
    ("aws:secretsmanager/secretVersion:SecretVersion", "untagged"),
    ("aws:iam/role:Role", ""),
    ("aws:iam/rolePolicy:RolePolicy", "untagged grant"),
    ("aws:iam/policy:Policy", "grant agent-denied"),
), "tags", {
    "aws:ec2/vpc:Vpc": {"replace_on": ("cidrBlock", "instanceTenancy")},
    "aws:ec2/subnet:Subnet": {"replace_on": ("vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId")},
    "aws:ec2/securityGroup:SecurityGroup": {"replace_on": ("name", "namePrefix", "description", "vpcId")},
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": {"replace_on": ("vpcId",)},
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {"replace_on": ("securityGroupId",)},
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": {"replace_on": ("securityGroupId",)},
    "aws:kms/key:Key": {"replace_on": ("customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId")},
    "aws:kms/alias:Alias": {"replace_on": ("name", "namePrefix")},
    "aws:s3/bucket:Bucket": {"replace_on": ("bucket", "bucketPrefix", "objectLockEnabled"),
                             "deletion_guards": (("forceDestroy", False),)},
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": {"replace_on": ("bucket",)},
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        {"replace_on": ("bucket", "expectedBucketOwner")},
    "aws:s3/bucketVersioning:BucketVersioning": {"replace_on": ("bucket", "expectedBucketOwner")},
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": {"replace_on": ("bucket",)},
    "aws:s3/bucketPolicy:BucketPolicy": {"replace_on": ("bucket",)},
    "aws:s3/bucketObjectv2:BucketObjectv2": {"replace_on": ("bucket", "key")},
    "aws:rds/subnetGroup:SubnetGroup": {"replace_on": ("name", "namePrefix")},
    "aws:rds/parameterGroup:ParameterGroup": {"replace_on": ("name", "namePrefix", "family", "description")},
    "aws:rds/instance:Instance": {"replace_on": _RDS_INSTANCE_NEW,
                                  "deletion_guards": (("deletionProtection", True),),
                                  "backups_on_delete": (("skipFinalSnapshot", False),
                                                        ("deleteAutomatedBackups", False))},
    "aws:rds/snapshot:Snapshot": {"replace_on": ("dbInstanceIdentifier", "dbSnapshotIdentifier")},
    "aws:secretsmanager/secret:Secret": {"replace_on": ("name", "namePrefix")},
    "aws:secretsmanager/secretVersion:SecretVersion": {
        "replace_on": ("secretId", "secretString", "secretBinary", "secretStringWoVersion")},
    "aws:iam/role:Role": {"replace_on": ("name", "namePrefix", "path")},
    "aws:iam/rolePolicy:RolePolicy": {"replace_on": ("name", "namePrefix", "role")},
    "aws:iam/policy:Policy": {"replace_on": ("name", "namePrefix", "path")},
})

_AZURE_GROUP = ("resourceGroupName", "location")
_AZURE = _facts("azure", (
    ("azure-native:resources:ResourceGroup", "guards_data scope"),
    ("azure-native:network:VirtualNetwork", ""),
    ("azure-native:network:Subnet", "untagged"),
    ("azure-native:network:NetworkSecurityGroup", ""),
    ("azure-native:privatedns:PrivateZone", ""),
    ("azure-native:privatedns:VirtualNetworkLink", ""),
    ("azure-native:keyvault:Vault", "holds_data encrypts"),
    ("azure-native:keyvault:Key", "holds_data encrypts"),
    ("azure-native:storage:StorageAccount", "holds_data"),
    ("azure-native:storage:BlobServiceProperties", "untagged"),
    ("azure-native:storage:BlobContainer", "holds_data untagged"),
    ("azure-native:dbforpostgresql:Server", "holds_data database_instance"),
    ("azure-native:dbforpostgresql:Database", "holds_data untagged dropped_by_data_plane"),
    ("azure-native:dbforpostgresql:Configuration", "untagged"),
    ("azure-native:dbforpostgresql:AdministratorsMicrosoftEntra", "untagged grant"),
    ("azure-native:dbforpostgresql:BackupsAutomaticAndOnDemand", "holds_data backup untagged"),
    ("azure-native:managedidentity:UserAssignedIdentity", ""),
    ("azure-native:authorization:RoleAssignment", "untagged grant"),
    ("azure-native:authorization:ManagementLockByScope", "guards_data untagged"),
), "tags", {
    "azure-native:resources:ResourceGroup": {"replace_on": ("resourceGroupName", "location")},
    "azure-native:network:VirtualNetwork": {"replace_on": (*_AZURE_GROUP, "virtualNetworkName")},
    "azure-native:network:Subnet": {"replace_on": ("resourceGroupName", "virtualNetworkName", "subnetName")},
    "azure-native:network:NetworkSecurityGroup": {"replace_on": (*_AZURE_GROUP, "networkSecurityGroupName")},
    "azure-native:privatedns:PrivateZone": {"replace_on": ("resourceGroupName", "privateZoneName")},
    "azure-native:privatedns:VirtualNetworkLink": {
        "replace_on": ("resourceGroupName", "privateZoneName", "virtualNetworkLinkName")},
    "azure-native:keyvault:Vault": {"replace_on": (*_AZURE_GROUP, "vaultName")},
    "azure-native:keyvault:Key": {"replace_on": ("resourceGroupName", "vaultName", "keyName")},
    "azure-native:storage:StorageAccount": {"replace_on": (*_AZURE_GROUP, "accountName")},
    "azure-native:storage:BlobServiceProperties": {"replace_on": ("resourceGroupName", "accountName")},
    "azure-native:storage:BlobContainer": {"replace_on": ("resourceGroupName", "accountName", "containerName")},
    "azure-native:dbforpostgresql:Server": {"replace_on": (*_AZURE_GROUP, "serverName")},
    "azure-native:dbforpostgresql:Database": {
        "replace_on": ("resourceGroupName", "serverName", "databaseName", "charset", "collation"),
        "contained_in": ("serverName",)},
    "azure-native:dbforpostgresql:Configuration": {
        "replace_on": ("resourceGroupName", "serverName", "configurationName")},
    "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra": {
        "replace_on": ("resourceGroupName", "serverName", "objectId")},
    "azure-native:dbforpostgresql:BackupsAutomaticAndOnDemand": {
        "replace_on": ("resourceGroupName", "serverName", "backupName")},
    "azure-native:managedidentity:UserAssignedIdentity": {"replace_on": (*_AZURE_GROUP, "resourceName")},
    "azure-native:authorization:RoleAssignment": {
        "replace_on": ("scope", "roleAssignmentName", "principalId", "roleDefinitionId")},
    "azure-native:authorization:ManagementLockByScope": {"replace_on": ("scope", "lockName")},
})

_GCP = _facts("gcp", (
    ("gcp:compute/network:Network", "keep_with_data untagged"),
    ("gcp:compute/subnetwork:Subnetwork", "keep_with_data untagged"),
    ("gcp:compute/globalAddress:GlobalAddress", "keep_with_data"),
    ("gcp:servicenetworking/connection:Connection", "keep_with_data untagged"),
    ("gcp:kms/keyRing:KeyRing", "holds_data untagged encrypts never_deleted"),
    ("gcp:kms/cryptoKey:CryptoKey", "holds_data encrypts never_deleted"),
    ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "keep_with_data untagged grant"),
    ("gcp:storage/bucket:Bucket", "holds_data"),
    ("gcp:storage/managedFolder:ManagedFolder", "holds_data untagged"),
    ("gcp:storage/managedFolderIamMember:ManagedFolderIamMember", "untagged grant"),
    ("gcp:storage/bucketIAMMember:BucketIAMMember", "untagged grant"),
    ("gcp:sql/databaseInstance:DatabaseInstance", "holds_data database_instance"),
    ("gcp:sql/database:Database", "holds_data untagged dropped_by_data_plane"),
    # The identity's Cloud SQL login: a principal (it reaches nothing without roles/cloudsql.instanceUser),
    # built in the access path; abandoned, not deleted, when it leaves (it may own the tenant's objects).
    ("gcp:sql/user:User", "untagged"),
    ("gcp:serviceaccount/account:Account", "untagged"),
    ("gcp:projects/serviceIdentity:ServiceIdentity", "untagged"),
    ("gcp:projects/iAMMember:IAMMember", "untagged grant"),
), "labels", {
    "gcp:compute/network:Network": {"replace_on": ("name", "project", "autoCreateSubnetworks")},
    "gcp:compute/subnetwork:Subnetwork": {"replace_on": ("name", "project", "region", "network")},
    "gcp:compute/globalAddress:GlobalAddress": {
        "replace_on": ("name", "project", "address", "addressType", "prefixLength", "purpose", "network")},
    "gcp:servicenetworking/connection:Connection": {"replace_on": ("network", "service")},
    "gcp:kms/keyRing:KeyRing": {"replace_on": ("name", "project", "location")},
    "gcp:kms/cryptoKey:CryptoKey": {"replace_on": ("name", "keyRing", "purpose", "skipInitialVersionCreation")},
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": {"replace_on": ("cryptoKeyId", "role", "member", "condition")},
    "gcp:storage/bucket:Bucket": {"replace_on": ("name", "project", "location"),
                                  "deletion_guards": (("forceDestroy", False),)},
    "gcp:storage/managedFolder:ManagedFolder": {"replace_on": ("bucket", "name"),
                                                "deletion_guards": (("forceDestroy", False),)},
    "gcp:storage/managedFolderIamMember:ManagedFolderIamMember": {
        "replace_on": ("bucket", "managedFolder", "role", "member", "condition")},
    "gcp:storage/bucketIAMMember:BucketIAMMember": {"replace_on": ("bucket", "role", "member", "condition")},
    "gcp:sql/databaseInstance:DatabaseInstance": {
        "replace_on": ("name", "project", "region", "encryptionKeyName", "masterInstanceName"),
        "deletion_guards": (("deletionProtection", True), ("settings.deletionProtectionEnabled", True)),
        "backups_on_delete": (("settings.retainBackupsOnDelete", True),
                              ("settings.finalBackupConfig.enabled", True))},
    "gcp:sql/database:Database": {"replace_on": ("name", "instance", "project"),
                                  "forgets_on_delete": (("deletionPolicy", "ABANDON"),), "contained_in": ("instance",)},
    "gcp:sql/user:User": {"replace_on": ("name", "instance", "project", "type"),
                          "forgets_on_delete": (("deletionPolicy", "ABANDON"),), "contained_in": ("instance",)},
    "gcp:serviceaccount/account:Account": {"replace_on": ("accountId", "project")},
    "gcp:projects/serviceIdentity:ServiceIdentity": {"replace_on": ("project", "service")},
    "gcp:projects/iAMMember:IAMMember": {"replace_on": ("project", "role", "member", "condition")},
})
# Cloud SQL carries its labels inside its settings.
_GCP["gcp:sql/databaseInstance:DatabaseInstance"] = replace(
    _GCP["gcp:sql/databaseInstance:DatabaseInstance"], tag_property="settings.userLabels")

_OCI = _facts("oci", (
    ("oci:Identity/compartment:Compartment", "scope"),
    ("oci:Core/vcn:Vcn", "keep_with_data"),
    ("oci:Core/subnet:Subnet", "keep_with_data"),
    ("oci:Core/securityList:SecurityList", "keep_with_data"),
    ("oci:Core/defaultSecurityList:DefaultSecurityList", "keep_with_data"),
    ("oci:Core/networkSecurityGroup:NetworkSecurityGroup", "keep_with_data"),
    ("oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule", "keep_with_data untagged"),
    ("oci:Kms/vault:Vault", "holds_data encrypts"),
    ("oci:Kms/key:Key", "holds_data encrypts"),
    ("oci:ObjectStorage/bucket:Bucket", "holds_data"),
    ("oci:Psql/dbSystem:DbSystem", "holds_data database_instance"),
    ("oci:Psql/backup:Backup", "holds_data backup"),
    ("oci:Vault/secret:Secret", "holds_data"),
    ("oci:Identity/dynamicGroup:DynamicGroup", ""),
    ("oci:Identity/policy:Policy", "keep_with_data grant"),
), "freeformTags", {
    "oci:Identity/compartment:Compartment": {"replace_on": (),
                                             "forgets_on_delete": (("enableDelete", False),)},
    "oci:Core/vcn:Vcn": {"replace_on": ("dnsLabel", "isIpv6enabled")},
    "oci:Core/subnet:Subnet": {"replace_on": ("vcnId", "dnsLabel", "prohibitPublicIpOnVnic", "prohibitInternetIngress",
                                              "availabilityDomain")},
    "oci:Core/securityList:SecurityList": {"replace_on": ("vcnId",)},
    "oci:Core/defaultSecurityList:DefaultSecurityList": {"replace_on": ("manageDefaultResourceId",)},
    "oci:Core/networkSecurityGroup:NetworkSecurityGroup": {"replace_on": ("vcnId",)},
    "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule": {
        "replace_on": ("networkSecurityGroupId", "description", "destination", "destinationType", "direction",
                       "protocol", "source", "sourceType", "stateless", "tcpOptions", "udpOptions", "icmpOptions")},
    "oci:Kms/vault:Vault": {"replace_on": ("vaultType",)},
    "oci:Kms/key:Key": {"replace_on": ("managementEndpoint", "keyShape", "protectionMode")},
    "oci:ObjectStorage/bucket:Bucket": {"replace_on": ("namespace", "name", "storageTier"), "emptied_first": True},
    "oci:Psql/dbSystem:DbSystem": {"replace_on": ("credentials", "dbVersion", "systemType", "instanceCount",
                                                  "instancesDetails", "source")},
    "oci:Psql/backup:Backup": {"replace_on": ("dbSystemId",)},
    "oci:Vault/secret:Secret": {"replace_on": ("secretName", "vaultId", "keyId")},
    "oci:Identity/dynamicGroup:DynamicGroup": {"replace_on": ("compartmentId", "name")},
    "oci:Identity/policy:Policy": {"replace_on": ("compartmentId", "name")},
})

FACTS: Mapping[str, ResourceFacts] = MappingProxyType({**_AWS, **_AZURE, **_GCP, **_OCI})
"""Every resource type a component may create, by canonical token."""

# Deprecated tokens (and type aliases) a provider still accepts for the same resource: a stack
# created with an older provider keeps the old token in its state.
DEPRECATED_TOKENS: Mapping[str, str] = MappingProxyType({
    "aws:s3/bucketV2:BucketV2": "aws:s3/bucket:Bucket",
    "aws:s3/bucketAclV2:BucketAclV2": "aws:s3/bucketAcl:BucketAcl",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2":
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioningV2:BucketVersioningV2": "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/BucketObject:BucketObject": "aws:s3/bucketObjectv2:BucketObjectv2",
    "gcp:serviceAccount/account:Account": "gcp:serviceaccount/account:Account",
})


def normal_type(type_token: str) -> str:
    """The canonical token of `type_token`: deprecated tokens read as their successor and azure-native
    API-versioned tokens as their unversioned resource (same inputs, same facts, same rules)."""
    if type_token.startswith("azure-native:"):
        parts = type_token.split(":")
        if len(parts) == 3 and "/" in parts[1]:
            module, version = parts[1].split("/", 1)
            if version.startswith("v") and version[1:2].isdigit():
                return f"{parts[0]}:{module}:{parts[2]}"
    return DEPRECATED_TOKENS.get(type_token, type_token)


def facts_for(type_token: str) -> ResourceFacts | None:
    """The facts of `type_token` (any spelling normal_type knows); None for a type no component makes."""
    return FACTS.get(normal_type(type_token))


def cloud_of(type_token: str) -> str:
    """aws, azure, gcp or oci for a token of a cloud's own package or its provider; "" otherwise."""
    package = type_token.split(":", 1)[0]
    if type_token.startswith("pulumi:providers:"):
        package = type_token[len("pulumi:providers:"):]
    return PACKAGE_CLOUD.get(package, "")


def of_cloud(cloud: str) -> dict[str, ResourceFacts]:
    """The facts of one cloud's types."""
    return {token: facts for token, facts in FACTS.items() if facts.cloud == cloud}


def tokens_with(flag: str, cloud: str | None = None) -> frozenset[str]:
    """Canonical tokens whose fact `flag` (a field or property name) is true, of `cloud` or all."""
    return frozenset(token for token, facts in FACTS.items()
                     if getattr(facts, flag) and (cloud is None or facts.cloud == cloud))


def is_data_type(type_token: str) -> bool:
    """Whether deleting or replacing a resource of this type may lose data: true for every type of
    another package that the table does not know, so the agent gates deny by default (only the
    engine's own `pulumi:` types and paybill's components are known to hold nothing)."""
    facts = facts_for(type_token)
    if facts is None:
        return type_token.split(":", 1)[0] not in ("pulumi", "paybill")
    return facts.protected or facts.retained_on_offboarding


# --- for the policies: equivalent types, the agent allow-list beyond the table, identities ---------

EQUIVALENT_TYPES: Mapping[str, str] = MappingProxyType({
    # A database instance by another name: the plan's limits and the database settings hold for it.
    "aws:rds/cluster:Cluster": "aws:rds/instance:Instance",
    "aws:rds/clusterInstance:ClusterInstance": "aws:rds/instance:Instance",
    "aws-native:rds:DbInstance": "aws:rds/instance:Instance",
    "aws-native:rds:DbCluster": "aws:rds/instance:Instance",
    "azure:postgresql/flexibleServer:FlexibleServer": "azure-native:dbforpostgresql:Server",
    # Object storage through another package.
    "aws-native:s3:Bucket": "aws:s3/bucket:Bucket",
    "azure:storage/account:Account": "azure-native:storage:StorageAccount",
    # IAM permissions attached another way: to a user or group, or exclusively.
    "aws:iam/userPolicy:UserPolicy": "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/groupPolicy:GroupPolicy": "aws:iam/rolePolicy:RolePolicy",
    "aws-native:iam:RolePolicy": "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policyAttachment:PolicyAttachment": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive":
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive":
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive":
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    # Azure role grants through Privileged Identity Management, or the classic provider.
    "azure-native:authorization:RoleAssignmentScheduleRequest": "azure-native:authorization:RoleAssignment",
    "azure-native:authorization:RoleEligibilityScheduleRequest": "azure-native:authorization:RoleAssignment",
    "azure:authorization/assignment:Assignment": "azure-native:authorization:RoleAssignment",
    # Google Cloud IAM: bindings and authoritative policies grant what members grant; organisation,
    # folder and service-account grants are project grants (at least) by another name.
    "gcp:projects/iAMBinding:IAMBinding": "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMPolicy:IAMPolicy": "gcp:projects/iAMMember:IAMMember",
    "gcp:organizations/iAMMember:IAMMember": "gcp:projects/iAMMember:IAMMember",
    "gcp:organizations/iAMBinding:IAMBinding": "gcp:projects/iAMMember:IAMMember",
    "gcp:organizations/iAMPolicy:IAMPolicy": "gcp:projects/iAMMember:IAMMember",
    "gcp:folder/iAMMember:IAMMember": "gcp:projects/iAMMember:IAMMember",
    "gcp:folder/iAMBinding:IAMBinding": "gcp:projects/iAMMember:IAMMember",
    "gcp:folder/iAMPolicy:IAMPolicy": "gcp:projects/iAMMember:IAMMember",
    "gcp:serviceaccount/iAMMember:IAMMember": "gcp:projects/iAMMember:IAMMember",
    "gcp:serviceaccount/iAMBinding:IAMBinding": "gcp:projects/iAMMember:IAMMember",
    "gcp:serviceaccount/iAMPolicy:IAMPolicy": "gcp:projects/iAMMember:IAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding": "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/bucketIAMPolicy:BucketIAMPolicy": "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/managedFolderIamBinding:ManagedFolderIamBinding":
        "gcp:storage/managedFolderIamMember:ManagedFolderIamMember",
    "gcp:storage/managedFolderIamPolicy:ManagedFolderIamPolicy":
        "gcp:storage/managedFolderIamMember:ManagedFolderIamMember",
    "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:kms/cryptoKeyIAMPolicy:CryptoKeyIAMPolicy": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:kms/keyRingIAMMember:KeyRingIAMMember": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:kms/keyRingIAMBinding:KeyRingIAMBinding": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:kms/keyRingIAMPolicy:KeyRingIAMPolicy": "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
})
"""Types that do what a canonical type of FACTS does, another way: the canonical type's rules read them
too (an Aurora cluster meets the plan's database limits, a user policy the IAM rules, an authoritative
IAM policy the member rules). Being equivalent puts nothing on the agent allow-list."""

ENGINE_TYPES: frozenset[str] = frozenset({
    "pulumi:pulumi:Stack", "pulumi:pulumi:StackReference", "paybill:tenant:Silo", "paybill:tenant:Bridge",
    "paybill:tenant:Pooled", "paybill:cell:Cell",
})
"""The engine's and paybill's own types a stack program registers besides cloud resources (an agent may
create them: the stack, its components and the reference to its cell)."""

PRINCIPAL_OUTPUT: Mapping[str, str] = MappingProxyType({
    "aws:iam/role:Role": "arn",
    "azure-native:managedidentity:UserAssignedIdentity": "principalId",
    "gcp:serviceaccount/account:Account": "email",
    "oci:Identity/dynamicGroup:DynamicGroup": "id",
})
"""Identity types a stack creates, and the output naming the principal a grant gives access to: a grant
may name the stack's own identities (by this output) besides the cloud's service principals."""


def rule_type(type_token: str) -> str:
    """The canonical token whose rules read `type_token`: normal_type, then EQUIVALENT_TYPES."""
    token = normal_type(type_token)
    return EQUIVALENT_TYPES.get(token, token)


def provider_type(cloud: str) -> str:
    """The provider resource type of `cloud`'s package."""
    return f"pulumi:providers:{CLOUD_PACKAGE[cloud]}"


def agent_may_create(type_token: str, cloud: str) -> bool:
    """Whether an AI agent may create `type_token` in a stack of `cloud`: a component-built type of that
    cloud (FACTS, agent_may_create), that cloud's provider, or one of ENGINE_TYPES. Deny by default:
    every other type, of any package, is refused. The project's own components (package `paybill`) register
    nothing in a cloud themselves: their children are judged one by one."""
    if type_token in ENGINE_TYPES or type_token.split(":", 1)[0] == "paybill":
        return True
    if cloud in CLOUD_PACKAGE and type_token == provider_type(cloud):
        return True
    facts = facts_for(type_token)
    return facts is not None and facts.agent_may_create and facts.cloud == cloud

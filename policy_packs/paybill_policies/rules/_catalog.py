"""Facts about resource types the rules share: deprecated tokens, taggable and stateful types, the
database instances of each cloud and the agent allow-list.

Every token and property here is checked against the installed provider SDKs by
tests/policy/test_sdk_properties.py, so a typo cannot make a rule silently never match.
"""

from __future__ import annotations

from collections.abc import Iterable

# Current token -> the deprecated tokens (and type aliases) a provider still accepts for the same
# resource: a stack created with an older provider keeps the old token in its state.
ALIASES: dict[str, tuple[str, ...]] = {
    "aws:s3/bucket:Bucket": ("aws:s3/bucketV2:BucketV2",),
    "aws:s3/bucketAcl:BucketAcl": ("aws:s3/bucketAclV2:BucketAclV2",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",),
    "aws:s3/bucketVersioning:BucketVersioning": ("aws:s3/bucketVersioningV2:BucketVersioningV2",),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("aws:s3/BucketObject:BucketObject",),
    "gcp:serviceaccount/account:Account": ("gcp:serviceAccount/account:Account",),
}


def with_aliases(*tokens: str) -> tuple[str, ...]:
    """`tokens` followed by their deprecated tokens."""
    found: list[str] = []
    for token in tokens:
        found.append(token)
        found.extend(ALIASES.get(token, ()))
    return tuple(found)


def aliases_of(tokens: Iterable[str]) -> tuple[str, ...]:
    return tuple(alias for token in tokens for alias in ALIASES.get(token, ()))


# The property that holds the markers, per taggable type the components use.
TAGGABLE: dict[str, dict[str, str]] = {
    "aws": {
        **{token: "tags" for token in with_aliases(
            "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "aws:kms/key:Key", "aws:s3/bucket:Bucket",
            "aws:s3/bucketObjectv2:BucketObjectv2", "aws:rds/instance:Instance",
            "aws:rds/parameterGroup:ParameterGroup",
            "aws:rds/subnetGroup:SubnetGroup", "aws:secretsmanager/secret:Secret", "aws:iam/role:Role",
            "aws:iam/policy:Policy",
        )},
    },
    "azure": {token: "tags" for token in (
        "azure-native:resources:ResourceGroup", "azure-native:network:VirtualNetwork",
        "azure-native:network:NetworkSecurityGroup", "azure-native:privatedns:PrivateZone",
        "azure-native:privatedns:VirtualNetworkLink", "azure-native:keyvault:Vault", "azure-native:keyvault:Key",
        "azure-native:storage:StorageAccount", "azure-native:dbforpostgresql:Server",
        "azure-native:managedidentity:UserAssignedIdentity",
    )},
    "gcp": {
        "gcp:kms/cryptoKey:CryptoKey": "labels",
        "gcp:compute/globalAddress:GlobalAddress": "labels",
        "gcp:storage/bucket:Bucket": "labels",
        "gcp:sql/databaseInstance:DatabaseInstance": "settings.userLabels",
    },
    "oci": {token: "freeformTags" for token in (
        "oci:Identity/compartment:Compartment", "oci:Core/vcn:Vcn", "oci:Core/subnet:Subnet",
        "oci:Core/securityList:SecurityList", "oci:Core/defaultSecurityList:DefaultSecurityList",
        "oci:Core/networkSecurityGroup:NetworkSecurityGroup", "oci:Kms/vault:Vault", "oci:Kms/key:Key",
        "oci:ObjectStorage/bucket:Bucket", "oci:Psql/dbSystem:DbSystem", "oci:Vault/secret:Secret",
        "oci:Identity/dynamicGroup:DynamicGroup", "oci:Identity/policy:Policy",
    )},
}

# Dedicated database instances (a server of its own, as opposed to a database in a cell's server).
DATABASE_INSTANCES: dict[str, tuple[str, ...]] = {
    "aws": ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster"),
    "azure": ("azure-native:dbforpostgresql:Server",),
    "gcp": ("gcp:sql/databaseInstance:DatabaseInstance",),
    "oci": ("oci:Psql/dbSystem:DbSystem",),
}

# Deletion protection each database type must keep: (property path, required value).
DELETION_PROTECTION: dict[str, tuple[tuple[str, object], ...]] = {
    "aws:rds/instance:Instance": (("deletionProtection", True),),
    "aws:rds/cluster:Cluster": (("deletionProtection", True),),
    "gcp:sql/databaseInstance:DatabaseInstance": (("deletionProtection", True),
                                                  ("settings.deletionProtectionEnabled", True)),
}

# Types that hold data (keys, stores, databases, secrets) -> the properties the agent rule reads.
STATEFUL: dict[str, dict[str, tuple[str, ...]]] = {
    "aws": {token: tuple(path for path, _ in DELETION_PROTECTION.get(token, ())) for token in with_aliases(
        "aws:kms/key:Key", "aws:s3/bucket:Bucket", "aws:rds/instance:Instance", "aws:rds/cluster:Cluster",
        "aws:secretsmanager/secret:Secret",
    )},
    "azure": {token: () for token in (
        "azure-native:keyvault:Vault", "azure-native:keyvault:Key", "azure-native:storage:StorageAccount",
        "azure-native:storage:BlobContainer", "azure-native:dbforpostgresql:Server",
        "azure-native:dbforpostgresql:Database",
    )},
    "gcp": {token: tuple(path for path, _ in DELETION_PROTECTION.get(token, ())) for token in (
        "gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey", "gcp:storage/bucket:Bucket",
        "gcp:storage/managedFolder:ManagedFolder", "gcp:sql/databaseInstance:DatabaseInstance",
        "gcp:sql/database:Database",
    )},
    "oci": {token: () for token in (
        "oci:Kms/vault:Vault", "oci:Kms/key:Key", "oci:ObjectStorage/bucket:Bucket", "oci:Psql/dbSystem:DbSystem",
        "oci:Vault/secret:Secret",
    )},
}

# What an AI agent may create: the types the components build (their deprecated tokens count too).
AGENT_ALLOWED_TYPES: dict[str, frozenset[str]] = {
    "aws": frozenset({
        "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "aws:kms/key:Key", "aws:kms/alias:Alias",
        "aws:s3/bucket:Bucket", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup", "aws:rds/instance:Instance",
        "aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy",
    }),
    "azure": frozenset({
        "azure-native:resources:ResourceGroup", "azure-native:network:VirtualNetwork",
        "azure-native:network:Subnet", "azure-native:network:NetworkSecurityGroup",
        "azure-native:privatedns:PrivateZone", "azure-native:privatedns:VirtualNetworkLink",
        "azure-native:keyvault:Vault", "azure-native:keyvault:Key", "azure-native:storage:StorageAccount",
        "azure-native:storage:BlobServiceProperties", "azure-native:storage:BlobContainer",
        "azure-native:dbforpostgresql:Server", "azure-native:dbforpostgresql:Database",
        "azure-native:dbforpostgresql:Configuration", "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra",
        "azure-native:managedidentity:UserAssignedIdentity", "azure-native:authorization:RoleAssignment",
        "azure-native:authorization:ManagementLockByScope",
    }),
    "gcp": frozenset({
        "gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork", "gcp:compute/globalAddress:GlobalAddress",
        "gcp:servicenetworking/connection:Connection", "gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey",
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "gcp:storage/bucket:Bucket",
        "gcp:storage/managedFolder:ManagedFolder", "gcp:storage/managedFolderIamMember:ManagedFolderIamMember",
        "gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:sql/databaseInstance:DatabaseInstance",
        "gcp:sql/database:Database", "gcp:sql/user:User", "gcp:serviceaccount/account:Account",
        "gcp:projects/serviceIdentity:ServiceIdentity", "gcp:projects/iAMMember:IAMMember",
    }),
    "oci": frozenset({
        "oci:Identity/compartment:Compartment", "oci:Core/vcn:Vcn", "oci:Core/subnet:Subnet",
        "oci:Core/securityList:SecurityList", "oci:Core/defaultSecurityList:DefaultSecurityList",
        "oci:Core/networkSecurityGroup:NetworkSecurityGroup",
        "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule", "oci:Kms/vault:Vault",
        "oci:Kms/key:Key", "oci:ObjectStorage/bucket:Bucket", "oci:Psql/dbSystem:DbSystem",
        "oci:Vault/secret:Secret", "oci:Identity/dynamicGroup:DynamicGroup", "oci:Identity/policy:Policy",
    }),
}

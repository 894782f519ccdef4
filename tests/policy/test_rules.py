# ruff: noqa: E501 - the tables of rule cases read best one case per entry
"""Every rule: a compliant baseline (what the components build for an example tenant or cell) and one
test per violating change. The table must name every registered rule."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import paybill_policies as policies
import pytest

from paybill_iac.policy_context import context_from_catalog
from tests.policy.changes import (  # noqa: F401 - the changes the table uses
    _CATALOG,
    _STACKS,
    Change,
    add,
    become,
    both,
    drop,
    duplicate,
    edit_document,
    edit_input,
    foreign_reference,
    marker,
    set_input,
    set_option,
    unknown_stack,
    with_context,
)

SILO = {"aws": "cyberdyne", "azure": "tyrell", "gcp": "soylent", "oci": "oscorp"}
POOLED = {"aws": "acme", "azure": "globex", "gcp": "initech", "oci": "umbrella"}
ACTIVE = {"aws": "cyberdyne", "azure": "tyrell", "gcp": "wayne", "oci": "oscorp"}  # identities with grants
CELL = {"aws": "aws-euw1-a", "azure": "azure-weu-a", "gcp": "gcp-euw1-a", "oci": "oci-fra-a"}
DB = {"aws": "aws:rds/instance:Instance", "azure": "azure-native:dbforpostgresql:Server",
      "gcp": "gcp:sql/databaseInstance:DatabaseInstance", "oci": "oci:Psql/dbSystem:DbSystem"}
PROVIDER_REGION = {"aws": "region", "azure": "location", "gcp": "region", "oci": "region"}
OTHER_REGION = {"aws": "ap-southeast-2", "azure": "australiaeast", "gcp": "asia-east1", "oci": "ap-tokyo-1"}
FOREIGN_TYPE = {"aws": "aws:ec2/instance:Instance", "azure": "azure-native:compute:VirtualMachine",
                "gcp": "gcp:compute/instance:Instance", "oci": "oci:Core/instance:Instance"}


# --- the table ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    stack: str
    changes: dict[str, Change]
    actor: str = "human"
    base: Change | None = None


def _common(cloud: str) -> dict[str, Case]:
    provider = f"pulumi:providers:{'azure-native' if cloud == 'azure' else cloud}"
    silo, agent = SILO[cloud], "agent:claude"
    stateful = {"protect off": set_option(DB[cloud], protect=False)}
    if cloud in ("aws", "gcp"):
        stateful["deletion protection off"] = set_input(DB[cloud], "deletionProtection", False)
    return {
        f"{cloud}-resource-markers-present": Case(silo, {
            "a marker names another tenant": marker(cloud, "paybill-tenant", "someone-else"),
            "a marker is missing": marker(cloud, "paybill-plan", None)}),
        f"{cloud}-resource-no-foreign-tenant-reference": Case(silo, {
            "an input names another tenant's resource": foreign_reference(cloud)}),
        f"{cloud}-provider-region-within-plan": Case(silo, {
            "the provider deploys to another region": set_input(provider, PROVIDER_REGION[cloud],
                                                                OTHER_REGION[cloud])}),
        f"{cloud}-database-instance-count-within-plan": Case(silo, {"a second instance": duplicate(DB[cloud])}),
        f"{cloud}-stateful-resource-protected-for-agent": Case(silo, stateful, actor=agent),
        f"{cloud}-cell-stack-unchanged-by-agent": Case(silo, {"a cell stack": become(CELL[cloud])}, actor=agent),
    }


def _new() -> dict[str, Case]:
    """The rules of issue 14 the bypass table does not already reach."""
    agent = "agent:claude"
    firewall = {"network": "x", "direction": "INGRESS", "allows": [{"protocol": "tcp", "ports": ["5432"]}],
                "sourceRanges": ["0.0.0.0/1", "128.0.0.0/1"]}
    return {
        "any-stack-known-to-catalog-for-isolation": Case("tyrell", {"unknown": unknown_stack()}),
        "any-stack-known-to-catalog-for-agent": Case("tyrell", {"unknown": unknown_stack()}, actor=agent),
        "any-stack-resource-count-within-cap": Case("cyberdyne", {"above the cap": with_context(max_resources=3)},
                                                    actor=agent),
        "azure-provider-settings-within-organisation": Case("tyrell", {
            "no location": set_input("pulumi:providers:azure-native", "location", None),
            "another subscription": set_input("pulumi:providers:azure-native", "subscriptionId",
                                              "99999999-9999-4999-8999-999999999999")}),
        "gcp-provider-settings-within-organisation": Case("soylent", {
            "another project": set_input("pulumi:providers:gcp", "project", "someone-elses"),
            "no region": set_input("pulumi:providers:gcp", "region", None)}),
        "oci-provider-settings-within-organisation": Case("oscorp", {
            "no region": set_input("pulumi:providers:oci", "region", None),
            "another tenancy": set_input("pulumi:providers:oci", "tenancyOcid", "ocid1.tenancy.oc1..evil")}),
        "gcp-compute-firewall-no-public-ingress": Case("soylent", {
            "the internet in two halves": add("gcp:compute/firewall:Firewall", firewall)}),
        "gcp-resource-not-targeting-cell": Case("wayne", {
            "a grant on the cell's key": add("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", {
                "cryptoKeyId": "projects/pb-tenants-prod/locations/europe-west1/keyRings/pb-gcp-euw1-a-ring/cryptoKeys/"
                               "pb-gcp-euw1-a-data", "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
                "member": "serviceAccount:pb-wayne-b-app@pb-tenants-prod.iam.gserviceaccount.com"})}),
        "oci-resource-not-targeting-cell": Case("umbrella", {
            "a lifecycle policy on the cell's bucket": add("oci:ObjectStorage/objectLifecyclePolicy:ObjectLifecyclePolicy",
                                                           {"bucket": "pb-oci-fra-a-data", "namespace": "pbtenancy"})}),
    }


def _any() -> dict[str, Case]:
    from tests.policy.test_bypasses import BYPASSES

    found: dict[str, Case] = {}
    for bypass in BYPASSES:
        if bypass.human == "shown":
            continue  # undecided, not a violation: test_bypasses judges it
        case = found.setdefault(bypass.rule, Case(bypass.stack, {}, actor="agent:x" if bypass.agent_only else "human"))
        if case.stack == bypass.stack:
            case.changes[bypass.label] = bypass.change
    return found


def _aws() -> dict[str, Case]:
    rds, pab = "aws:rds/instance:Instance", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    sse = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    role_policy, role = "aws:iam/rolePolicy:RolePolicy", "aws:iam/role:Role"
    admin = {"role": "pb-cyberdyne-app", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}

    def statement(index: int, **fields: Any) -> Callable[[dict[str, Any]], None]:
        return lambda document: document["Statement"][index].update(fields)

    def public_statement(document: dict[str, Any]) -> None:
        document["Statement"].append({"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                      "Resource": "arn:aws:s3:::pb-cyberdyne-data/*"})

    def drop_condition(document: dict[str, Any]) -> None:
        document["Statement"][1].pop("Condition")

    return {
        "aws-rds-instance-allowed-by-isolation": Case("cyberdyne", {"pooled plan": with_context(isolation="pooled")}),
        "aws-rds-instance-vcpus-within-plan": Case("cyberdyne", {
            "a larger class": set_input(rds, "instanceClass", "db.m7g.16xlarge"),
            "a class the table does not know": set_input(rds, "instanceClass", "db.x9.weird")}),
        "aws-rds-instance-storage-within-plan": Case("cyberdyne", {
            "more storage": set_input(rds, "allocatedStorage", 10000.0),
            "autoscaling past the plan": set_input(rds, "maxAllocatedStorage", 10000.0)}),
        "aws-rds-instance-backup-retention-meets-plan": Case("cyberdyne", {
            "shorter retention": set_input(rds, "backupRetentionPeriod", 1.0),
            "no retention": set_input(rds, "backupRetentionPeriod", None)}),
        "aws-s3-bucket-no-public-access": Case("cyberdyne", {
            "a block setting off": set_input(pab, "blockPublicAcls", False),
            "a public ACL": set_input("aws:s3/bucket:Bucket", "acl", "public-read"),
            "a policy allowing everyone": edit_document("aws:s3/bucketPolicy:BucketPolicy", "policy",
                                                        public_statement)}),
        "aws-s3-bucket-public-access-blocked": Case("cyberdyne", {"no public access block": drop(pab)}),
        "aws-s3-bucket-encrypted-with-cmk": Case("cyberdyne", {
            "no encryption configuration": drop(sse),
            "S3-managed keys": set_input(sse, "rules", [{"applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "AES256"}}]),
            "the AWS-managed KMS key": set_input(sse, "rules", [{"applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "aws:kms"}}])}),
        "aws-s3-bucket-tls-enforced": Case("cyberdyne", {"no bucket policy": drop("aws:s3/bucketPolicy:BucketPolicy")}),
        "aws-rds-instance-not-public": Case("cyberdyne", {"public": set_input(rds, "publiclyAccessible", True)}),
        "aws-rds-instance-encrypted-with-cmk": Case("cyberdyne", {
            "unencrypted": set_input(rds, "storageEncrypted", False), "no key": set_input(rds, "kmsKeyId", None)}),
        "aws-rds-instance-tls-enforced": Case("cyberdyne", {
            "force_ssl off": set_input("aws:rds/parameterGroup:ParameterGroup", "parameters",
                                       [{"name": "rds.force_ssl", "value": "0"}]),
            "TLS 1.1 allowed": set_input("aws:rds/parameterGroup:ParameterGroup", "parameters",
                                         [{"name": "ssl_min_protocol_version", "value": "TLSv1.1"}])}),
        "aws-rds-instance-deletion-protection": Case("cyberdyne", {"off": set_input(rds, "deletionProtection", False)}),
        "aws-secretsmanager-secret-encrypted-with-cmk": Case("acme", {
            "no key": set_input("aws:secretsmanager/secret:Secret", "kmsKeyId", None)}),
        "aws-kms-key-rotation-enabled": Case("cyberdyne", {"off": set_input("aws:kms/key:Key", "enableKeyRotation",
                                                                            False)}),
        "aws-ec2-security-group-no-public-ingress": Case("cyberdyne", {
            "ingress from anywhere": set_input("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "cidrIpv4",
                                               "0.0.0.0/0")}),
        "aws-iam-policy-no-wildcards": Case("cyberdyne", {
            "a wildcard action": edit_document(role_policy, "policy", statement(0, Action="s3:*")),
            "a wildcard resource": edit_document(role_policy, "policy", statement(0, Resource="*"))}),
        "aws-iam-role-no-admin-policy": Case("cyberdyne", {
            "AdministratorAccess attached": add("aws:iam/rolePolicyAttachment:RolePolicyAttachment", admin),
            "a managed admin policy on the role": set_input(role, "managedPolicyArns", [admin["policyArn"]])}),
        "aws-iam-policy-scoped-to-tenant": Case("acme", {
            "objects of another prefix": edit_document(role_policy, "policy", statement(
                0, Resource="arn:aws:s3:::pb-aws-euw1-a-data/tenants/*")),
            "ListBucket without a prefix condition": edit_document(role_policy, "policy", drop_condition)}),
        "aws-iam-within-role-templates": Case("cyberdyne", {
            "an action beyond the templates": edit_document(role_policy, "policy", statement(
                1, Action="iam:PassRole")),
            "an account may assume the role": edit_document(role, "assumeRolePolicy", statement(
                0, Principal={"AWS": "arn:aws:iam::999999999999:root"})),
            "a managed policy attachment": add("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {
                "role": "pb-cyberdyne-app", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})}, actor="agent:x"),
    }


def _azure() -> dict[str, Case]:
    server, storage = "azure-native:dbforpostgresql:Server", "azure-native:storage:StorageAccount"
    configuration = "azure-native:dbforpostgresql:Configuration"
    assignment, lock = "azure-native:authorization:RoleAssignment", "azure-native:authorization:ManagementLockByScope"
    definition = "azure-native:authorization:RoleDefinition"
    role_id = "/subscriptions/00000000-0000-4000-8000-000000000000/providers/Microsoft.Authorization/roleDefinitions/"
    scope = ("/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/pb-azure-weu-a-rg/providers/"
             "Microsoft.Storage/storageAccounts/pbazureweuastet445k")
    narrow_definition = add(definition, {"roleName": "reader", "permissions": [{"actions": [
        "Microsoft.Storage/storageAccounts/read"]}], "scope": scope})

    def first_rule_from_anywhere(inputs: dict[str, Any]) -> None:
        inputs["securityRules"][0]["sourceAddressPrefix"] = "*"

    return {
        "azure-postgres-server-allowed-by-isolation": Case("tyrell", {"pooled plan": with_context(isolation="pooled")}),
        "azure-postgres-server-vcpus-within-plan": Case("tyrell", {
            "a larger SKU": set_input(server, "sku.name", "Standard_D16ds_v5"),
            "a SKU the table does not know": set_input(server, "sku.name", "Standard_X1")}),
        "azure-postgres-server-storage-within-plan": Case("tyrell", {
            "more storage": set_input(server, "storage.storageSizeGB", 4096.0),
            "storage grows on its own": set_input(server, "storage.autoGrow", "Enabled")}),
        "azure-postgres-server-backup-retention-meets-plan": Case("tyrell", {
            "shorter retention": set_input(server, "backup.backupRetentionDays", 7.0)}),
        "azure-storage-account-no-public-access": Case("tyrell", {
            "anonymous blob access": set_input(storage, "allowBlobPublicAccess", True),
            "a public container": set_input("azure-native:storage:BlobContainer", "publicAccess", "Blob")}),
        "azure-storage-account-encrypted-with-cmk": Case("tyrell", {
            "Microsoft-managed keys": set_input(storage, "encryption.keySource", "Microsoft.Storage")}),
        "azure-storage-account-tls-1-2": Case("tyrell", {
            "TLS 1.0": set_input(storage, "minimumTlsVersion", "TLS1_0"),
            "plain HTTP": set_input(storage, "enableHttpsTrafficOnly", False)}),
        "azure-postgres-server-not-public": Case("tyrell", {
            "public access": set_input(server, "network.publicNetworkAccess", "Enabled")}),
        "azure-postgres-server-encrypted-with-cmk": Case("tyrell", {
            "system-managed keys": set_input(server, "dataEncryption.type", "SystemManaged")}),
        "azure-postgres-configuration-tls-1-2": Case("tyrell", {
            "secure transport off": set_input(configuration, "value", "off", which=0),
            "TLS 1.1": set_input(configuration, "value", "TLSv1.1", which=1)}),
        "azure-postgres-server-deletion-protection": Case("tyrell", {
            "no lock": drop(lock),
            "a lock on another server": set_input(lock, "scope", scope.replace(
                "Microsoft.Storage/storageAccounts/pbazureweuastet445k",
                "Microsoft.DBforPostgreSQL/flexibleServers/x"))}),
        "azure-network-nsg-no-public-ingress": Case("tyrell", {
            "inbound from anywhere": edit_input("azure-native:network:NetworkSecurityGroup",
                                                first_rule_from_anywhere)}),
        "azure-authorization-role-assignment-no-admin-role": Case("tyrell", {
            "Owner": set_input(assignment, "roleDefinitionId", role_id + "8e3af657-a8ff-443c-a75c-2fe8c4bcb635")}),
        "azure-authorization-role-definition-no-wildcards": Case("tyrell", {
            "a wildcard action": set_input(definition, "permissions", [{"actions": ["*"]}])}, base=narrow_definition),
        "azure-authorization-role-assignment-scoped-to-tenant": Case("globex", {
            "the cell's whole storage account": set_input(assignment, "scope", scope),
            "a resource group": set_input(assignment, "scope", scope.split("/providers/")[0])}),
        "azure-authorization-within-role-templates": Case("tyrell", {
            "Reader": set_input(assignment, "roleDefinitionId", role_id + "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
            "a custom role": narrow_definition}, actor="agent:x"),
    }


def _gcp() -> dict[str, Case]:
    sql, bucket = "gcp:sql/databaseInstance:DatabaseInstance", "gcp:storage/bucket:Bucket"
    member, bucket_member = "gcp:projects/iAMMember:IAMMember", "gcp:storage/bucketIAMMember:BucketIAMMember"
    return {
        "gcp-sql-instance-allowed-by-isolation": Case("soylent", {"pooled plan": with_context(isolation="pooled")}),
        "gcp-sql-instance-vcpus-within-plan": Case("soylent", {
            "a larger tier": set_input(sql, "settings.tier", "db-custom-16-61440"),
            "a tier the table does not know": set_input(sql, "settings.tier", "db-f1-micro")}),
        "gcp-sql-instance-storage-within-plan": Case("soylent", {
            "a larger disk": set_input(sql, "settings.diskSize", 4096.0),
            "unlimited growth": set_input(sql, "settings.diskAutoresize", True),
            "growth past the plan": both(set_input(sql, "settings.diskAutoresize", True),
                                         set_input(sql, "settings.diskAutoresizeLimit", 4096.0))}),
        "gcp-sql-instance-backup-retention-meets-plan": Case("soylent", {
            "fewer backups": set_input(
                sql, "settings.backupConfiguration.backupRetentionSettings.retainedBackups", 3.0),
            "no backups": set_input(sql, "settings.backupConfiguration.enabled", False)}),
        "gcp-storage-bucket-no-public-access": Case("soylent", {
            "prevention inherited": set_input(bucket, "publicAccessPrevention", "inherited"),
            "object ACLs": set_input(bucket, "uniformBucketLevelAccess", False),
            "allUsers": add(bucket_member, {"bucket": "pb-soylent-data", "member": "allUsers",
                                            "role": "roles/storage.objectViewer"})}),
        "gcp-storage-bucket-encrypted-with-cmk": Case("soylent", {"no key": set_input(bucket, "encryption", None)}),
        "gcp-sql-instance-not-public": Case("soylent", {
            "a public IP": set_input(sql, "settings.ipConfiguration.ipv4Enabled", True),
            "authorized networks": set_input(sql, "settings.ipConfiguration.authorizedNetworks",
                                             [{"value": "0.0.0.0/0"}])}),
        "gcp-sql-instance-encrypted-with-cmk": Case("soylent", {"no key": set_input(sql, "encryptionKeyName", None)}),
        "gcp-sql-instance-tls-enforced": Case("soylent", {
            "unencrypted allowed": set_input(sql, "settings.ipConfiguration.sslMode",
                                             "ALLOW_UNENCRYPTED_AND_ENCRYPTED")}),
        "gcp-sql-instance-deletion-protection": Case("soylent", {
            "Pulumi protection off": set_input(sql, "deletionProtection", False),
            "API protection off": set_input(sql, "settings.deletionProtectionEnabled", False)}),
        "gcp-kms-crypto-key-rotation-enabled": Case("soylent", {
            "no rotation": set_input("gcp:kms/cryptoKey:CryptoKey", "rotationPeriod", None)}),
        "gcp-iam-member-no-admin-role": Case("wayne", {
            "owner": set_input(member, "role", "roles/owner"),
            "an admin role": set_input(bucket_member, "role", "roles/storage.admin"),
            "a wildcard custom role": add("gcp:projects/iAMCustomRole:IAMCustomRole", {
                "roleId": "x", "title": "x", "permissions": ["storage.*"]})}),
        "gcp-iam-member-scoped-to-tenant": Case("wayne", {
            "a project grant without condition": set_input(member, "condition", None),
            "the cell's whole bucket": set_input(bucket_member, "bucket", "pb-gcp-euw1-a-data")}),
        "gcp-iam-within-role-templates": Case("wayne", {
            "objectAdmin": set_input(bucket_member, "role", "roles/storage.objectAdmin")}, actor="agent:x"),
    }


def _oci() -> dict[str, Case]:
    db, bucket, policy = "oci:Psql/dbSystem:DbSystem", "oci:ObjectStorage/bucket:Bucket", "oci:Identity/policy:Policy"
    configuration = "oci:Psql/configuration:Configuration"
    tls12 = add(configuration, {"compartmentId": "ocid1.compartment.oc1..x", "dbVersion": "16", "shape": "x",
                                "displayName": "pb-oscorp-db", "dbConfigurationOverrides": {"items": [
                                    {"configKey": "ssl_min_protocol_version", "overridenConfigValue": "TLSv1.2"}]}})
    dynamic = "ocid1.dynamicgroup.oc1..aaaaaaaa0924a3c9635566efcf13f8636fbb629e"
    compartment = "ocid1.compartment.oc1..aaaaaaaa0447d0f43d464b8fcc26ccba69b99cbb"

    def statements(*extra: str, which: int = 1) -> Change:
        def edit(inputs: dict[str, Any]) -> None:
            inputs["statements"] = [*inputs["statements"], *extra]
        return edit_input(policy, edit) if which == 0 else _nth_policy(edit, which)

    return {
        "oci-psql-db-system-allowed-by-isolation": Case("oscorp", {"pooled plan": with_context(isolation="pooled")}),
        "oci-psql-db-system-vcpus-within-plan": Case("oscorp", {
            "more OCPUs": set_input(db, "instanceOcpuCount", 16.0),
            "more instances": set_input(db, "instanceCount", 3.0),
            "a shape the table does not know": set_input(db, "shape", "PostgreSQL.VM.Weird")}),
        "oci-psql-db-system-backup-retention-meets-plan": Case("oscorp", {
            "shorter retention": set_input(db, "managementPolicy.backupPolicy.retentionDays", 1.0),
            "no backups": set_input(db, "managementPolicy.backupPolicy.kind", "NONE")}),
        "oci-objectstorage-bucket-no-public-access": Case("oscorp", {
            "public read": set_input(bucket, "accessType", "ObjectRead")}),
        "oci-objectstorage-bucket-encrypted-with-cmk": Case("oscorp", {"no key": set_input(bucket, "kmsKeyId", None)}),
        "oci-psql-db-system-encrypted-with-cmk": Case("oscorp", {
            "no key": set_input(db, "storageDetails.kmsKeyId", None)}),
        "oci-psql-db-system-deletion-protection": Case("oscorp", {"unprotected": set_option(db, protect=False)}),
        "oci-psql-configuration-tls-1-2": Case("oscorp", {
            "TLS 1.1": set_input(configuration, "dbConfigurationOverrides.items", [
                {"configKey": "ssl_min_protocol_version", "overridenConfigValue": "TLSv1.1"}])}, base=tls12),
        "oci-core-subnet-private": Case("oscorp", {
            "public IPs": set_input("oci:Core/subnet:Subnet", "prohibitPublicIpOnVnic", False),
            "internet ingress": set_input("oci:Core/subnet:Subnet", "prohibitInternetIngress", False)}),
        "oci-kms-key-rotation-enabled": Case("oscorp", {
            "no rotation": set_input("oci:Kms/key:Key", "isAutoRotationEnabled", False)}),
        "oci-identity-policy-no-wildcards": Case("oscorp", {
            "all-resources in the tenancy": statements("Allow group Admins to manage all-resources in tenancy"),
            "any-user": statements(f"Allow any-user to read buckets in compartment id {compartment}")}),
        "oci-identity-policy-scoped-to-tenant": Case("umbrella", {
            "the cell's bucket without prefix": statements(
                f"Allow dynamic-group id {dynamic} to {{OBJECT_READ}} in compartment id {compartment} where "
                "target.bucket.name = 'pb-oci-fra-a-data'", which=0),
            "no where-condition": statements(
                f"Allow dynamic-group id {dynamic} to read buckets in compartment id {compartment}", which=0)}),
        "oci-identity-within-role-templates": Case("oscorp", {
            "manage buckets": statements(
                f"Allow dynamic-group id {dynamic} to manage buckets in compartment id {compartment}"),
            "a wider matching rule": set_input("oci:Identity/dynamicGroup:DynamicGroup", "matchingRule",
                                               "ANY {resource.type = 'instance'}")}, actor="agent:x"),
    }


def _nth_policy(edit: Callable[[dict[str, Any]], None], which: int) -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        matching = [index for index, item in enumerate(resources) if item.type == "oci:Identity/policy:Policy"]
        index = matching[which]
        inputs = copy.deepcopy(resources[index].inputs)
        edit(inputs)
        resources[index] = dataclasses.replace(resources[index], inputs=inputs)
        return resources, context
    return change


CASES: dict[str, Case] = {}
for _cloud in ("aws", "azure", "gcp", "oci"):
    CASES.update(_common(_cloud))
CASES.update(_aws())
CASES.update(_azure())
CASES.update(_gcp())
CASES.update(_oci())
CASES.update(_new())
for _rule_id, _case in _any().items():
    if _rule_id in CASES:
        if CASES[_rule_id].actor == _case.actor and CASES[_rule_id].stack == _case.stack:
            CASES[_rule_id].changes.update(_case.changes)
    else:
        CASES[_rule_id] = _case

@pytest.fixture
def stacks(example_stacks: dict[str, Any], catalog: Any) -> dict[str, Any]:
    _STACKS.update(example_stacks)
    _CATALOG[:] = [catalog]
    return example_stacks


def _run(stacks: dict[str, Any], catalog: Any, rule_id: str, change: Change | None) -> list[Any]:
    case = CASES[rule_id]
    stack = stacks[case.stack]
    context = context_from_catalog(catalog, stack.project, stack.stack, case.actor)
    resources = list(stack.resources)
    if case.base is not None:
        resources, context = case.base(resources, context)
    if change is not None:
        resources, context = change(resources, context)
    report = policies.check(resources, context)
    assert not [item for item in report.undecided if item.policy == rule_id]
    return [violation for violation in report.violations if violation.policy == rule_id]


def test_every_rule_has_cases() -> None:
    registered = {rule.id for rule in policies.rules()}
    assert registered == set(CASES), (sorted(registered - set(CASES)), sorted(set(CASES) - registered))
    assert all(case.changes for case in CASES.values())


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_baseline_is_compliant(stacks: dict[str, Any], catalog: Any, rule_id: str) -> None:
    assert _run(stacks, catalog, rule_id, None) == []


@pytest.mark.parametrize(("rule_id", "label"), sorted((rule_id, label) for rule_id, case in CASES.items()
                                                      for label in case.changes))
def test_violating_change_is_reported(stacks: dict[str, Any], catalog: Any, rule_id: str, label: str) -> None:
    found = _run(stacks, catalog, rule_id, CASES[rule_id].changes[label])
    assert found, f"{rule_id} missed: {label}"
    rule = policies.REGISTRY[rule_id]
    assert all(violation.level == rule.enforcement and violation.pack == rule.pack for violation in found)
    if rule.approval:
        assert all(f"Approval needed: {rule.approval}" in violation.message for violation in found)

# ruff: noqa: E501 - a table of attempts reads best one attempt per entry
"""Bypass attempts, one or more per class of issue 14, each a compliant baseline (what the components
build for an example stack) plus one hostile change, judged for a person and for an agent.

Verdicts: `blocked` (a mandatory violation, or for an agent an undecided mandatory rule), `shown` (reported,
does not block), `pass`. The rule that catches each attempt must be among those reported."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import paybill_policies as policies
import pytest

from paybill_iac.policy_context import context_from_catalog
from tests.policy.changes import (
    Change,
    add,
    edit_document,
    edit_input,
    set_input,
    unknown_stack,
)

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OUTSIDER = "arn:aws:iam::999999999999:root"
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "AAAABBBB"}
SUB = "/subscriptions/00000000-0000-4000-8000-000000000000"


@dataclasses.dataclass(frozen=True)
class Bypass:
    klass: str
    label: str
    stack: str
    change: Change
    rule: str
    human: str = "blocked"
    agent: str = "blocked"
    agent_only: bool = False


def _statement(**fields: Any) -> Any:
    return lambda document: document["Statement"].append({"Sid": "Hostile", "Effect": "Allow", **fields})


def _cell_output(path: str) -> Any:
    """A change adding a resource whose input is a value of the tenant's cell stack outputs."""
    def value(resources: list[Any]) -> Any:
        reference = next(item for item in resources if item.type == "pulumi:pulumi:StackReference")
        current: Any = reference.outputs["outputs"]["cell"]
        for key in path.split("."):
            current = current[key]
        return current
    return value


def add_with(type_token: str, inputs: dict[str, Any], **from_cell: Any) -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        values = {**copy.deepcopy(inputs), **{key: getter(resources) for key, getter in from_cell.items()}}
        return add(type_token, values)(resources, context)
    return change


def replace_type(type_token: str, new_type: str, **inputs: Any) -> Change:
    def change(resources: list[Any], context: Any) -> tuple[list[Any], Any]:
        index = next(index for index, item in enumerate(resources) if item.type == type_token)
        old = resources[index]
        resources[index] = dataclasses.replace(old, type=new_type, urn=old.urn.replace(type_token, new_type),
                                               inputs={**copy.deepcopy(old.inputs), **inputs})
        return resources, context
    return change


def _nsg_rule(source: str) -> dict[str, Any]:
    return {"name": "hostile", "access": "Allow", "direction": "Inbound", "sourceAddressPrefix": source,
            "destinationAddressPrefix": "*", "destinationPortRange": "5432", "protocol": "Tcp", "priority": 90}


BYPASSES: list[Bypass] = [
    # --- outside the stack's own provider package ---
    Bypass("package", "a local command", "cyberdyne", add("command:local:Command", {"create": "curl x | sh"}),
           "any-resource-type-allowed-for-agent", human="pass", agent_only=True),
    Bypass("package", "a dynamic provider", "cyberdyne", add("pulumi-python:dynamic:Resource", {"x": 1}),
           "any-resource-type-allowed-for-agent", human="pass", agent_only=True),
    Bypass("package", "an aws-native bucket", "cyberdyne", add("aws-native:s3:Bucket", {"bucketName": "x"}),
           "aws-s3-bucket-public-access-blocked"),
    Bypass("package", "the classic azure provider's storage account", "tyrell",
           add("azure:storage/account:Account", {"name": "x", "allowNestedItemsToBePublic": True}),
           "azure-storage-account-no-public-access"),
    Bypass("package", "another cloud's bucket in an AWS stack", "cyberdyne",
           add("gcp:storage/bucket:Bucket", {"name": "x", "location": "US"}), "any-resource-in-stack-cloud"),
    Bypass("package", "another cloud's provider in an AWS stack", "cyberdyne",
           add("pulumi:providers:gcp", {"project": "evil"}), "any-resource-in-stack-cloud"),
    # --- equivalent types and shapes ---
    Bypass("equivalent", "an API-versioned storage account", "tyrell",
           replace_type("azure-native:storage:StorageAccount", "azure-native:storage/v20230101:StorageAccount",
                        allowBlobPublicAccess=True), "azure-storage-account-no-public-access"),
    Bypass("equivalent", "an exclusive policy attachment", "cyberdyne",
           add("aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive", {
               "roleName": "pb-cyberdyne-s-app", "policyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}),
           "aws-iam-role-no-admin-policy"),
    Bypass("equivalent", "a user policy", "cyberdyne", add("aws:iam/userPolicy:UserPolicy", {
        "user": "someone", "policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                                "Resource": "*"}]})}),
           "aws-iam-policy-no-wildcards"),
    Bypass("equivalent", "an authoritative project IAM policy", "wayne", add("gcp:projects/iAMPolicy:IAMPolicy", {
        "project": "pb-tenants-prod", "policyData": json.dumps({"bindings": [{
            "role": "roles/owner", "members": ["serviceAccount:pb-wayne-b-app@pb-tenants-prod.iam.gserviceaccount.com"]}]})}),
           "gcp-iam-member-no-admin-role"),
    Bypass("equivalent", "service-account IAM to an outsider", "wayne", add("gcp:serviceaccount/iAMMember:IAMMember", {
        "serviceAccountId": "projects/pb-tenants-prod/serviceAccounts/pb-wayne-b-app@pb-tenants-prod.iam.gserviceaccount.com",
        "role": "roles/iam.serviceAccountTokenCreator", "member": "user:someone@gmail.com"}),
           "gcp-iam-member-within-organisation"),
    Bypass("equivalent", "an organisation IAM member", "wayne", add("gcp:organizations/iAMMember:IAMMember", {
        "orgId": "1234", "role": "roles/storage.objectUser",
        "member": "serviceAccount:pb-wayne-b-app@pb-tenants-prod.iam.gserviceaccount.com"}),
           "gcp-iam-member-scoped-to-tenant"),
    Bypass("equivalent", "a PIM eligibility for Owner", "tyrell",
           add("azure-native:authorization:RoleEligibilityScheduleRequest", {
               "scope": f"{SUB}/resourceGroups/pb-tyrell-s-rg", "principalId": "a7e6bf2f-afeb-0b9f-6c1b-534639b8384c",
               "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
                                   "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"}),
           "azure-authorization-role-assignment-no-admin-role"),
    Bypass("equivalent", "an Aurora cluster for a pooled tenant", "acme", add("aws:rds/cluster:Cluster", {
        "engine": "aurora-postgresql", "storageEncrypted": True, "deletionProtection": True}),
           "aws-rds-instance-allowed-by-isolation"),
    Bypass("equivalent", "a pre-authenticated request", "oscorp", add("oci:ObjectStorage/preauthrequest:Preauthrequest", {
        "bucket": "pb-oscorp-s-data", "namespace": "pbtenancy", "accessType": "AnyObjectRead", "name": "x",
        "timeExpires": "2030-01-01T00:00:00Z"}), "oci-objectstorage-bucket-no-preauthenticated-access"),
    # --- principals ---
    Bypass("principals", "a bucket policy granting another account", "cyberdyne",
           edit_document(BUCKET_POLICY, "policy", _statement(Principal={"AWS": OUTSIDER}, Action="s3:GetObject",
                                                             Resource="arn:aws:s3:::pb-cyberdyne-s-data/*")),
           "aws-iam-principal-within-organisation"),
    Bypass("principals", "a role trust policy for another account", "cyberdyne",
           edit_document(ROLE, "assumeRolePolicy", _statement(Principal={"AWS": OUTSIDER}, Action="sts:AssumeRole")),
           "aws-iam-principal-within-organisation"),
    Bypass("principals", "a key grant to an outsider", "cyberdyne", add("aws:kms/grant:Grant", {
        "keyId": "x", "granteePrincipal": OUTSIDER, "operations": ["Decrypt"]}), "aws-iam-principal-within-organisation"),
    Bypass("principals", "a template role granted to a gmail user", "wayne",
           set_input("gcp:storage/bucketIAMMember:BucketIAMMember", "member", "user:someone@gmail.com"),
           "gcp-iam-member-within-organisation"),
    Bypass("principals", "a role assignment to an outside principal", "tyrell",
           set_input("azure-native:authorization:RoleAssignment", "principalId", "99999999-9999-4999-8999-999999999999"),
           "azure-authorization-principal-within-organisation"),
    Bypass("principals", "an OCI statement for a group", "oscorp", edit_input("oci:Identity/policy:Policy", lambda i: i[
        "statements"].append("Allow group Everyone to read buckets in compartment id ocid1.compartment.oc1..x where "
                             "target.bucket.name = 'pb-oscorp-s-data'")), "oci-identity-policy-principal-within-organisation"),
    # --- a tenant stack changing its cell ---
    Bypass("cell", "a bucket policy on the cell's bucket", "acme", add(BUCKET_POLICY, {
        "bucket": "pb-aws-euw1-a-data", "policy": json.dumps({"Statement": []})}), "aws-resource-not-targeting-cell"),
    Bypass("cell", "a lifecycle rule on the cell's bucket", "acme",
           add("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", {
               "bucket": "pb-aws-euw1-a-data", "rules": [{"id": "x", "status": "Enabled", "expiration": {"days": 1}}]}),
           "aws-resource-not-targeting-cell"),
    Bypass("cell", "a grant on the cell's key", "acme", add_with("aws:kms/grant:Grant", {
        "granteePrincipal": "arn:aws:iam::123456789012:role/pb-acme-p-app", "operations": ["Decrypt"]},
        keyId=_cell_output("key.key_arn")), "aws-resource-not-targeting-cell"),
    Bypass("cell", "a grant on the cell's vault", "globex",
           set_input("azure-native:authorization:RoleAssignment", "scope",
                     f"{SUB}/resourceGroups/pb-azure-weu-a-rg/providers/Microsoft.KeyVault/vaults/pb-azure-weu-a-kv"),
           "azure-resource-not-targeting-cell"),
    # --- wildcards behind conditions ---
    Bypass("conditions", "Principal * behind a condition that limits nothing", "cyberdyne",
           edit_document(BUCKET_POLICY, "policy", _statement(Principal="*", Action="s3:GetObject",
                                                             Resource="arn:aws:s3:::pb-cyberdyne-s-data/*",
                                                             Condition={"Bool": {"aws:SecureTransport": "true"}})),
           "aws-s3-bucket-no-public-access"),
    Bypass("conditions", "resource.name != \"\" || true", "wayne",
           set_input("gcp:projects/iAMMember:IAMMember", "condition.expression",
                     'resource.name != "" || true'), "gcp-iam-member-scoped-to-tenant"),
    Bypass("conditions", "where any {...}", "oscorp", edit_input("oci:Identity/policy:Policy", lambda i: i[
        "statements"].append("Allow service objectstorage-eu-frankfurt-1 to use keys in compartment id x where any "
                             "{target.key.id = 'ocid1.key.oc1..x', request.permission != 'NONE'}")),
           "oci-identity-policy-scoped-to-tenant"),
    Bypass("conditions", "request.permission != 'NONE'", "oscorp", edit_input("oci:Identity/policy:Policy", lambda i: i[
        "statements"].append("Allow service objectstorage-eu-frankfurt-1 to use keys in compartment id x where "
                             "request.permission != 'NONE'")), "oci-identity-policy-scoped-to-tenant"),
    # --- network ---
    Bypass("network", "ingress split into 0.0.0.0/1 and 128.0.0.0/1", "cyberdyne", edit_input(
        "aws:ec2/securityGroup:SecurityGroup", lambda i: i.update(ingress=[
            {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"]}])),
           "aws-ec2-security-group-no-public-ingress"),
    Bypass("network", "storage public network access", "tyrell",
           edit_input("azure-native:storage:StorageAccount", lambda i: i.update(
               publicNetworkAccess="Enabled", networkRuleSet={"defaultAction": "Allow"})),
           "azure-storage-account-no-public-network-access"),
    Bypass("network", "vault public network access", "tyrell",
           edit_input("azure-native:keyvault:Vault", lambda i: i["properties"].update(
               publicNetworkAccess="Enabled", networkAcls={"defaultAction": "Allow"})),
           "azure-keyvault-vault-no-public-network-access"),
    Bypass("network", "a separate security-rule resource", "tyrell", add("azure-native:network:SecurityRule", {
        "networkSecurityGroupName": "pb-tyrell-s-db", "resourceGroupName": "pb-tyrell-s-rg", **_nsg_rule("Internet")}),
           "azure-network-nsg-no-public-ingress"),
    Bypass("network", "an OCI network security group rule from half the internet", "oscorp",
           add("oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule", {
               "networkSecurityGroupId": "x", "direction": "INGRESS", "protocol": "6", "source": "128.0.0.0/1",
               "sourceType": "CIDR_BLOCK"}), "oci-core-security-rule-no-public-ingress"),
    # --- providers and references ---
    Bypass("providers", "a second provider without an explicit region", "cyberdyne",
           add("pulumi:providers:aws", {"skipCredentialsValidation": "false"}), "aws-provider-settings-within-organisation"),
    Bypass("providers", "a provider assuming a role in another account", "cyberdyne", add("pulumi:providers:aws", {
        "region": "us-east-1", "assumeRoles": json.dumps([{"roleArn": "arn:aws:iam::999999999999:role/x"}])}),
           "aws-provider-settings-within-organisation"),
    Bypass("providers", "a StackReference to another tenant's stack", "acme",
           set_input("pulumi:pulumi:StackReference", "name", "organization/paybill-tenant/dunder-mifflin"),
           "any-stack-reference-to-own-cell"),
    # --- unknowns and secrets ---
    Bypass("unknowns", "a stack the catalog does not know", "cyberdyne", unknown_stack(), "any-stack-known-to-catalog"),
    Bypass("unknowns", "a grant whose document is an encrypted secret", "cyberdyne",
           set_input(ROLE_POLICY, "policy", SECRET), "aws-iam-policy-no-wildcards", human="shown"),
    Bypass("unknowns", "a grant whose value is not known yet", "wayne",
           set_input("gcp:storage/bucketIAMMember:BucketIAMMember", "member", "04da6b54-80e4-46f7-96ec-b56ff0331ba9"),
           "gcp-iam-member-within-organisation", human="shown"),
]

_STACKS: dict[str, Any] = {}


def verdict(report: Any, actor: str) -> str:
    if report.blocking(actor):
        return "blocked"
    return "shown" if report.violations or report.undecided else "pass"


def judge(stacks: dict[str, Any], catalog: Any, bypass: Bypass, actor: str) -> tuple[str, set[str], Any]:
    import tests.policy.changes as table

    table._STACKS.update(stacks)
    table._CATALOG[:] = [catalog]
    stack = stacks[bypass.stack]
    context = context_from_catalog(catalog, stack.project, stack.stack, actor)
    resources, context = bypass.change(list(stack.resources), context)
    report = policies.check(resources, context)
    fired = {item.policy for item in report.violations} | {item.policy for item in report.undecided}
    return verdict(report, actor), fired, report


@pytest.mark.parametrize("bypass", BYPASSES, ids=lambda bypass: f"{bypass.klass}: {bypass.label}")
def test_each_bypass_has_its_verdict_for_a_person_and_an_agent(
        example_stacks: dict[str, Any], catalog: Any, bypass: Bypass) -> None:
    for actor, expected in (("human", bypass.human), ("agent:claude", bypass.agent)):
        found, fired, report = judge(example_stacks, catalog, bypass, actor)
        assert found == expected, (actor, found, report)
        if expected != "pass":
            assert bypass.rule in fired, (actor, sorted(fired))


@pytest.mark.parametrize("stack", ["cyberdyne", "acme", "tyrell", "globex", "wayne", "oscorp", "umbrella"])
def test_every_baseline_passes_for_both_actors(example_stacks: dict[str, Any], catalog: Any, stack: str) -> None:
    for actor in ("human", "agent:claude"):
        context = context_from_catalog(catalog, example_stacks[stack].project, stack, actor)
        report = policies.check(example_stacks[stack].resources, context)
        assert verdict(report, actor) == "pass", (actor, report)


def test_every_class_of_the_issue_has_attempts() -> None:
    assert {bypass.klass for bypass in BYPASSES} == {"package", "equivalent", "principals", "cell", "conditions",
                                                     "network", "providers", "unknowns"}

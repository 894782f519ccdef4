"""The AWS blocks in every topology, run through the real stack programs under the mock runtime.

Each scenario (cell, silo, pooled, bridge, a second pooled tenant, suspended, offboarding) runs once
per module; the tests only read what the runs registered and exported.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections import Counter
from typing import Any

import pytest

from paybill_iac.mock_outputs import aws as aws_mocks
from paybill_iac.mock_outputs.common import MOCK_AWS_ACCOUNT
from paybill_iac.model import markers, naming, sizing

CLOUD = "aws"
REGION = "eu-west-1"

PROVIDER = "pulumi:providers:aws"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
VPC = "aws:ec2/vpc:Vpc"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
INSTANCE = "aws:rds/instance:Instance"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SNAPSHOT = "aws:rds/snapshot:Snapshot"
ACCESS = "paybill:tenant:Access"

# A SecretVersion is derived (the pooled tenant's connection details): replaceable, so not protected.
STATEFUL = {KEY, BUCKET, INSTANCE, SECRET, SNAPSHOT}

NETWORK = Counter({VPC: 1, DEFAULT_SG: 1, SUBNET: 2, SECURITY_GROUP: 1, INGRESS: 1})
KEY_PARTS = Counter({KEY: 1, ALIAS: 1})
STORE = Counter({BUCKET: 1, PUBLIC_ACCESS: 1, OWNERSHIP: 1, ENCRYPTION: 1, VERSIONING: 1, BUCKET_POLICY: 1})
DATABASE = Counter({SUBNET_GROUP: 1, PARAMETER_GROUP: 1, INSTANCE: 1})
IDENTITY = Counter({ACCESS: 1, ROLE: 1, ROLE_POLICY: 1})

EXPECTED_TYPES = {
    "cell": Counter({PROVIDER: 1, "paybill:cell:Cell": 1}) + NETWORK + KEY_PARTS + STORE + DATABASE,
    "silo": Counter({PROVIDER: 1, "paybill:tenant:Silo": 1}) + NETWORK + KEY_PARTS + STORE + DATABASE + IDENTITY,
    "bridge": Counter({PROVIDER: 1, STACK_REFERENCE: 1, "paybill:tenant:Bridge": 1})
    + KEY_PARTS + STORE + DATABASE + IDENTITY,
    "pooled": Counter({PROVIDER: 1, STACK_REFERENCE: 1, "paybill:tenant:Pooled": 1, SECRET: 1, SECRET_VERSION: 1,
                       OBJECT: 1}) + IDENTITY,
}


@pytest.fixture(scope="module")
def _runs() -> dict[str, Any]:
    return {}


@pytest.fixture
def runs(stackkit: Any, _runs: dict[str, Any]) -> dict[str, Any]:
    """Every scenario, run once per module (sequentially: the mock runtime is global state)."""
    if not _runs:
        cell = stackkit.run_cell(stackkit.cell_stack(CLOUD))
        _runs["cell"] = cell
        _runs["silo"] = stackkit.run_tenant(stackkit.tenant_stack(CLOUD, "silo"))
        _runs["pooled"] = stackkit.run_tenant(stackkit.tenant_stack(CLOUD, "pooled"), cell)
        _runs["bridge"] = stackkit.run_tenant(stackkit.tenant_stack(CLOUD, "bridge"), cell)
        _runs["pooled-globex"] = stackkit.run_tenant(stackkit.tenant_stack(CLOUD, "pooled", tenant="globex"), cell)
        _runs["pooled-suspended"] = stackkit.run_tenant(
            stackkit.tenant_stack(CLOUD, "pooled", state="suspended"), cell
        )
        _runs["silo-suspended"] = stackkit.run_tenant(stackkit.tenant_stack(CLOUD, "silo", state="suspended"))
        _runs["silo-offboarding"] = stackkit.run_tenant(stackkit.tenant_stack(CLOUD, "silo", state="offboarding"))
        _runs["bridge-offboarding"] = stackkit.run_tenant(
            stackkit.tenant_stack(CLOUD, "bridge", state="offboarding"), cell
        )
    return _runs


def _names(owner: str) -> dict[str, str]:
    return dict(naming.names_for(CLOUD, "pb", owner))


def _custom(run: Any) -> list[Any]:
    return [r for r in run.resources if r.custom and not r.type.startswith("pulumi:")]


def _sdk_class(type_token: str) -> Any:
    """The pulumi_aws class of a type token (aws:s3/bucket:Bucket -> pulumi_aws.s3.Bucket)."""
    _, module_path, class_name = type_token.split(":")
    module = importlib.import_module(f"pulumi_aws.{module_path.split('/')[0]}")
    return getattr(module, class_name)


def _takes_tags(type_token: str) -> bool:
    return "tags" in inspect.signature(_sdk_class(type_token)._internal_init).parameters


def _policy(run: Any) -> dict[str, Any]:
    return json.loads(run.one(ROLE_POLICY).inputs["policy"])


def _resources_of(policy: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for statement in policy["Statement"]:
        resource = statement["Resource"]
        found.extend(resource if isinstance(resource, list) else [resource])
    return found


# --- shape ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["cell", "silo", "bridge", "pooled"])
def test_exact_resource_types(runs: dict[str, Any], scenario: str) -> None:
    assert Counter(r.type for r in runs[scenario].resources) == EXPECTED_TYPES[scenario]


def test_suspended_tenants_have_an_identity_without_grants(runs: dict[str, Any]) -> None:
    for scenario in ("pooled-suspended", "silo-suspended"):
        run = runs[scenario]
        assert run.one(ROLE).inputs["name"] == _names("acme")["role"]
        assert run.by_type(ROLE_POLICY) == []
        assert not any(r.type.startswith("aws:iam/") and r.type != ROLE for r in run.resources)
        assert "managedPolicyArns" not in run.one(ROLE).inputs
        assert "inlinePolicies" not in run.one(ROLE).inputs
    assert Counter(r.type for r in runs["pooled-suspended"].resources) == EXPECTED_TYPES["pooled"] - Counter(
        {ROLE_POLICY: 1}
    )


@pytest.mark.parametrize("scenario", list(EXPECTED_TYPES) + ["pooled-suspended", "silo-offboarding"])
def test_urns_are_unique(runs: dict[str, Any], scenario: str) -> None:
    urns = [r.urn for r in runs[scenario].resources]
    assert len(urns) == len(set(urns))


@pytest.mark.parametrize("scenario", ["cell", "silo", "bridge", "pooled"])
def test_every_resource_is_parented_to_the_component_with_the_explicit_provider(
    runs: dict[str, Any], scenario: str
) -> None:
    run = runs[scenario]
    by_urn = {r.urn: r for r in run.resources}
    (provider,) = run.by_type(PROVIDER)
    assert provider.inputs["region"] == REGION
    for resource in _custom(run):
        chain, parent = [], resource.parent
        while parent in by_urn:
            chain.append(by_urn[parent].type)
            parent = by_urn[parent].parent
        assert chain and chain[0].startswith("paybill:"), (resource.name, chain)
        assert resource.provider.startswith(provider.urn + "::"), resource.name
        assert resource.name.startswith("acme-" if scenario != "cell" else "cell-a-"), resource.name


@pytest.mark.parametrize("scenario", ["cell", "silo", "bridge", "pooled"])
def test_markers_on_every_taggable_resource(runs: dict[str, Any], scenario: str) -> None:
    run = runs[scenario]
    expected = (markers.cell_markers("cell-a") if scenario == "cell"
                else markers.tenant_markers("acme", "pro", scenario))
    taggable = [r for r in _custom(run) if _takes_tags(r.type)]
    assert {r.type for r in taggable} >= ({ROLE} if scenario == "pooled" else {KEY, BUCKET, INSTANCE, ROLE} - (
        {ROLE} if scenario == "cell" else set()))
    for resource in taggable:
        tags = resource.inputs.get("tags") or {}
        assert expected.items() <= tags.items(), (resource.type, tags)


@pytest.mark.parametrize(("scenario", "owner"), [("cell", "cell-a"), ("silo", "acme"), ("bridge", "acme")])
def test_physical_names_come_from_naming(runs: dict[str, Any], scenario: str, owner: str) -> None:
    run, names = runs[scenario], _names(owner)
    assert run.one(BUCKET).inputs["bucket"] == names["bucket"]
    assert run.one(ALIAS).inputs["name"] == names["key_alias"]
    assert run.one(SUBNET_GROUP).inputs["name"] == names["db_subnet_group"]
    assert run.one(PARAMETER_GROUP).inputs["name"] == names["db_parameter_group"]
    instance = run.one(INSTANCE).inputs
    assert instance["identifier"] == names["db_instance"]
    assert instance["dbName"] == names["database"]
    assert instance["username"] == names["db_admin"]
    assert instance["finalSnapshotIdentifier"] == names["db_final_snapshot"]
    if scenario != "bridge":
        assert run.one(SECURITY_GROUP).inputs["name"] == names["security_group"]
        assert run.one(VPC).inputs["tags"]["Name"] == names["network"]
    if scenario != "cell":
        assert run.one(ROLE).inputs["name"] == names["role"]
        assert run.one(ROLE_POLICY).inputs["name"] == names["policy"]


def test_pooled_names_and_slice(runs: dict[str, Any]) -> None:
    run, names, cell_names = runs["pooled"], _names("acme"), _names("cell-a")
    assert run.one(SECRET).inputs["name"] == names["secret"]
    marker = run.one(OBJECT).inputs
    assert marker["bucket"] == cell_names["bucket"]
    assert marker["key"] == names["prefix"] == "tenants/acme/"
    assert marker["content"] == ""
    assert run.one(ROLE).inputs["name"] == names["role"]
    store = run.outputs["store"]
    assert store["bucket"] == cell_names["bucket"] and store["prefix"] == "tenants/acme/"


# --- security ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["cell", "silo"])
def test_network_is_private(runs: dict[str, Any], scenario: str) -> None:
    run = runs[scenario]
    vpc = run.one(VPC)
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True
    assert not any("internetGateway" in r.type or "natGateway" in r.type or "eip" in r.type.lower()
                   for r in run.resources)
    subnets = run.by_type(SUBNET)
    assert len({s.inputs["availabilityZone"] for s in subnets}) == len(subnets) >= 2
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    assert all(s.inputs["vpcId"] == vpc.id for s in subnets)
    group = run.one(SECURITY_GROUP)
    assert "ingress" not in group.inputs and "egress" not in group.inputs
    rule = run.one(INGRESS).inputs
    assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 5432, 5432)
    assert rule["cidrIpv4"] == vpc.outputs["cidrBlock"] and rule["securityGroupId"] == group.id
    default = run.one(DEFAULT_SG).inputs
    assert default["vpcId"] == vpc.id and "ingress" not in default and "egress" not in default


@pytest.mark.parametrize("scenario", ["cell", "silo", "bridge"])
def test_key_and_bucket_are_locked_down(runs: dict[str, Any], scenario: str) -> None:
    run = runs[scenario]
    key = run.one(KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert run.one(ALIAS).inputs["targetKeyId"] == key.outputs["keyId"]
    bucket = run.one(BUCKET)
    assert bucket.inputs.get("forceDestroy") in (None, False)
    block = run.one(PUBLIC_ACCESS).inputs
    assert block["bucket"] == bucket.id
    assert all(block[flag] is True for flag in
               ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert run.one(OWNERSHIP).inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (rule,) = run.one(ENCRYPTION).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                          "kmsMasterKeyId": key.outputs["arn"]}
    assert rule["bucketKeyEnabled"] is True
    assert run.one(VERSIONING).inputs["versioningConfiguration"] == {"status": "Enabled"}
    policy = json.loads(run.one(BUCKET_POLICY).inputs["policy"])
    conditions = [s["Condition"] for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert {"NumericLessThan": {"s3:TlsVersion": "1.2"}} in conditions
    assert all(s["Resource"] == [bucket.outputs["arn"], bucket.outputs["arn"] + "/*"] for s in policy["Statement"])


@pytest.mark.parametrize(("scenario", "vcpus", "storage", "retention"), [
    ("cell", 4, 128, 14), ("silo", 2, 64, 7), ("bridge", 2, 64, 7),
])
def test_database_is_encrypted_private_tls_and_backed_up(
    runs: dict[str, Any], scenario: str, vcpus: int, storage: int, retention: int
) -> None:
    run = runs[scenario]
    size = sizing.database_size(CLOUD, vcpus, storage, retention)
    key_arn = run.one(KEY).outputs["arn"]
    db = run.one(INSTANCE).inputs
    assert (db["engine"], db["engineVersion"], db["instanceClass"], db["allocatedStorage"]) == (
        "postgres", size.engine_version, size.instance_class, size.storage_gb)
    assert db["storageEncrypted"] is True and db["kmsKeyId"] == key_arn
    assert db["publiclyAccessible"] is False
    assert db["deletionProtection"] is True
    assert db["backupRetentionPeriod"] == size.backup_retention_days == retention
    assert db["deleteAutomatedBackups"] is False
    assert db["skipFinalSnapshot"] is False and db["finalSnapshotIdentifier"]
    assert db["iamDatabaseAuthenticationEnabled"] is True
    assert db["manageMasterUserPassword"] is True and db["masterUserSecretKmsKeyId"] == key_arn
    assert "password" not in db and "passwordWo" not in db
    assert db["copyTagsToSnapshot"] is True
    params = run.one(PARAMETER_GROUP)
    assert params.inputs["family"] == f"postgres{size.engine_version}"
    values = {p["name"]: p["value"] for p in params.inputs["parameters"]}
    assert values == {"rds.force_ssl": "1", "ssl_min_protocol_version": "TLSv1.2"}
    assert db["parameterGroupName"] == params.inputs["name"]
    assert db["dbSubnetGroupName"] == run.one(SUBNET_GROUP).inputs["name"]


def test_bridge_places_its_own_data_tier_in_the_cells_network(runs: dict[str, Any]) -> None:
    cell, bridge = runs["cell"], runs["bridge"]
    assert sorted(bridge.one(SUBNET_GROUP).inputs["subnetIds"]) == sorted(s.id for s in cell.by_type(SUBNET))
    assert bridge.one(INSTANCE).inputs["vpcSecurityGroupIds"] == [cell.one(SECURITY_GROUP).id]
    assert bridge.one(INSTANCE).inputs["kmsKeyId"] == bridge.one(KEY).outputs["arn"] != cell.one(KEY).outputs["arn"]
    assert bridge.outputs["network"] == cell.outputs["cell"]["network"]
    assert bridge.outputs["store"]["bucket"] == _names("acme")["bucket"]


def test_pooled_secret_is_encrypted_with_the_cell_key_and_holds_no_password(runs: dict[str, Any]) -> None:
    cell, pooled = runs["cell"], runs["pooled"]
    cell_key = cell.one(KEY).outputs["arn"]
    secret = pooled.one(SECRET)
    assert secret.inputs["kmsKeyId"] == cell_key
    version = pooled.one(SECRET_VERSION).inputs
    assert version["secretId"] == secret.id
    info = json.loads(version["secretString"])
    cell_db = cell.outputs["cell"]["database"]
    assert info == {"host": cell_db["host"], "port": 5432, "dbname": "pb_acme_db", "username": "pb_acme_app",
                    "auth": "iam", "sslmode": "verify-full"}
    assert pooled.one(OBJECT).inputs["kmsKeyId"] == cell_key
    database = pooled.outputs["database"]
    assert database["port"] == 5432 and isinstance(database["port"], int)
    assert database["db_resource_id"] == cell_db["db_resource_id"]
    assert database["secret_arn"] == secret.outputs["arn"]


# --- lifecycle -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["cell", "silo", "bridge", "pooled"])
def test_stateful_resources_are_protected(runs: dict[str, Any], scenario: str) -> None:
    for resource in _custom(runs[scenario]):
        assert resource.protect is (resource.type in STATEFUL), resource.type
        assert resource.retain_on_delete is False


@pytest.mark.parametrize("scenario", ["silo-offboarding", "bridge-offboarding"])
def test_offboarding_keeps_data_and_takes_a_final_snapshot(runs: dict[str, Any], scenario: str) -> None:
    """Offboarding keeps the whole stack but its access path (the network, subnet and parameter groups,
    the bucket's settings: what the kept data needs), protected as before, and takes a snapshot of the
    instance that stays until retention end."""
    run = runs[scenario]
    assert run.by_type(ROLE) == [] and run.by_type(ROLE_POLICY) == []
    assert not any(ACCESS in r.urn for r in run.resources)
    for resource in _custom(run):
        assert resource.retain_on_delete is True, resource.type
        assert resource.protect is (resource.type in STATEFUL), resource.type
    db = run.one(INSTANCE).inputs
    assert db["skipFinalSnapshot"] is False and db["deleteAutomatedBackups"] is False
    assert db["finalSnapshotIdentifier"] == _names("acme")["db_final_snapshot"]
    assert db["deletionProtection"] is True
    snapshot = run.one(SNAPSHOT)
    assert snapshot.inputs["dbInstanceIdentifier"] == run.one(INSTANCE).outputs["identifier"]
    assert snapshot.inputs["dbSnapshotIdentifier"] == _names("acme")["db_backup"]
    assert run.outputs["final_backup"]["arn"] == snapshot.outputs["dbSnapshotArn"]
    assert run.one(INSTANCE).urn in snapshot.dependencies


def test_the_bucket_waits_for_its_key(runs: dict[str, Any]) -> None:
    """No input of the bucket names its key: `depends_on` gives the engine the edge, so a destroy never
    deletes the key before the data it encrypted."""
    for scenario in ("cell", "silo", "bridge"):
        run = runs[scenario]
        assert run.one(KEY).urn in run.one(BUCKET).dependencies


def test_the_pooled_secret_version_is_replaceable_and_the_secret_kept() -> None:
    """A new cell endpoint is a new SecretVersion (Terraform: secret_string is ForceNew): the version is
    not protected, so the engine may replace it; the Secret, its name and its key stay protected."""
    from paybill_iac.model.resource_facts import facts_for

    version = facts_for(SECRET_VERSION)
    assert version is not None and not version.protected and "secretString" in version.replace_on
    secret = facts_for(SECRET)
    assert secret is not None and secret.protected and "secretString" not in secret.replace_on


# --- identity ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["silo", "bridge", "pooled", "pooled-globex"])
def test_identity_is_least_privilege(runs: dict[str, Any], scenario: str) -> None:
    run = runs[scenario]
    trust = json.loads(run.one(ROLE).inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": MOCK_AWS_ACCOUNT}}
    policy = _policy(run)
    assert run.one(ROLE_POLICY).inputs["role"] == run.one(ROLE).id
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions)
    assert "*" not in _resources_of(policy)


@pytest.mark.parametrize("scenario", ["silo", "bridge"])
def test_dedicated_identity_reaches_only_its_own_store_key_and_database(runs: dict[str, Any], scenario: str) -> None:
    run = runs[scenario]
    bucket_arn = run.one(BUCKET).outputs["arn"]
    db = run.one(INSTANCE).outputs
    expected = {
        bucket_arn, f"{bucket_arn}/*", run.one(KEY).outputs["arn"],
        f"arn:aws:rds-db:{REGION}:{MOCK_AWS_ACCOUNT}:dbuser:{db['resourceId']}/pb_acme_app",
    }
    assert set(_resources_of(_policy(run))) == expected
    assert db["resourceId"] != runs["cell"].one(INSTANCE).outputs["resourceId"]


@pytest.mark.parametrize(
    ("scenario", "tenant", "other"), [("pooled", "acme", "globex"), ("pooled-globex", "globex", "acme")]
)
def test_pooled_identity_reaches_only_its_prefix_database_user_and_secret(
    runs: dict[str, Any], scenario: str, tenant: str, other: str
) -> None:
    cell, run = runs["cell"], runs[scenario]
    bucket_arn = cell.one(BUCKET).outputs["arn"]
    resource_id = cell.one(INSTANCE).outputs["resourceId"]
    policy = _policy(run)
    assert set(_resources_of(policy)) == {
        bucket_arn, f"{bucket_arn}/tenants/{tenant}/*", cell.one(KEY).outputs["arn"],
        f"arn:aws:rds-db:{REGION}:{MOCK_AWS_ACCOUNT}:dbuser:{resource_id}/pb_{tenant}_app",
        run.one(SECRET).outputs["arn"],
    }
    listing = next(s for s in policy["Statement"] if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"tenants/{tenant}/", f"tenants/{tenant}/*"]}}
    text = run.one(ROLE_POLICY).inputs["policy"]
    assert other not in text
    assert runs["pooled"].one(SECRET).outputs["arn"] != runs["pooled-globex"].one(SECRET).outputs["arn"]


# --- handles and mocks ---------------------------------------------------------------------------


def test_cell_output_carries_every_handle_key(runs: dict[str, Any]) -> None:
    from paybill_components.aws.blocks import HANDLE_KEYS

    cell = runs["cell"].outputs["cell"]
    assert {part: tuple(values) for part, values in cell.items()} == HANDLE_KEYS
    assert cell["database"]["master_user_secret_arn"].startswith(
        f"arn:aws:secretsmanager:{REGION}:{MOCK_AWS_ACCOUNT}:secret:rds!")
    assert "secrets" not in runs["cell"].outputs


@pytest.mark.parametrize("scenario", ["silo", "bridge", "pooled"])
def test_tenant_outputs_give_a_service_what_it_needs(runs: dict[str, Any], scenario: str) -> None:
    outputs = runs[scenario].outputs
    assert outputs["identity"]["role_arn"] == f"arn:aws:iam::{MOCK_AWS_ACCOUNT}:role/pb-acme-app"
    assert outputs["database"]["host"].endswith(".rds.amazonaws.com")
    assert outputs["database"]["username"] == "pb_acme_app"
    assert outputs["store"]["bucket"] and outputs["key"]["key_arn"].startswith("arn:aws:kms:")
    assert outputs["tenant"]["isolation"] == scenario


def test_mock_invokes() -> None:
    zones = aws_mocks.invoke("aws:index/getAvailabilityZones:getAvailabilityZones", {"state": "available"})
    assert zones["names"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert zones["zoneIds"][0] == "euw1-az1"
    caller = aws_mocks.invoke("aws:index/getCallerIdentity:getCallerIdentity", {})
    assert caller["accountId"] == MOCK_AWS_ACCOUNT
    assert aws_mocks.invoke("aws:index/getPartition:getPartition", {})["partition"] == "aws"
    assert aws_mocks.invoke("aws:index/getRegion:getRegion", {"region": "us-east-1"})["name"] == "us-east-1"
    assert aws_mocks.invoke("aws:index/unknown:unknown", {}) == {}


def test_mock_shapes_are_deterministic() -> None:
    inputs = {"identifier": "pb-acme-db", "manageMasterUserPassword": True}
    first = aws_mocks.shape(INSTANCE, "acme-db", inputs, "acme")
    assert first == aws_mocks.shape(INSTANCE, "acme-db", inputs, "acme")
    resource_id, outputs = first
    assert resource_id == outputs["resourceId"] and resource_id.startswith("db-") and len(resource_id) == 29
    assert outputs["arn"] == f"arn:aws:rds:eu-west-1:{MOCK_AWS_ACCOUNT}:db:pb-acme-db"
    assert outputs["endpoint"] == f"{outputs['address']}:5432"
    assert aws_mocks.shape(BUCKET, "b", {"bucket": "x"}, "s")[1]["arn"] == "arn:aws:s3:::x"
    assert aws_mocks.shape("aws:ec2/unknown:Unknown", "n", {}, "s")[0].startswith("n-")


def test_parameter_group_family_and_zones() -> None:
    from paybill_components.aws.blocks import _zone, parameter_group_family

    assert parameter_group_family("16") == parameter_group_family("16.4") == "postgres16"
    with pytest.raises(ValueError, match="not a PostgreSQL version"):
        parameter_group_family("POSTGRES_16")
    assert _zone(1, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]) == "eu-west-1b"
    with pytest.raises(ValueError, match="1 availability zones"):
        _zone(0, ["eu-west-1a"])

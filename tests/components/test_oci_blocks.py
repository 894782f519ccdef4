"""The Oracle Cloud blocks in every topology, through the real stack programs under the mock runtime.

Each stack runs once for the module (`runs`), one after another (the mock runtime is global state).
"""

from __future__ import annotations

import importlib
import inspect
import json
import warnings
from collections import Counter
from typing import Any

import pytest
from paybill_components.oci import OciBlocks, iam
from paybill_components.oci.blocks import (
    CELL_REFS,
    KEY_ROTATION_DAYS,
    VCN_CIDR,
    connection_template,
)

from paybill_iac.mock_outputs import oci as mock_oci
from paybill_iac.model import markers, naming
from paybill_iac.model.spec import Placement

CLOUD = "oci"
ORG = "pb"
TENANCY = "ocid1.tenancy.oc1..aaaaaaaaexampletenancy"

COMPARTMENT = "oci:Identity/compartment:Compartment"
VCN = "oci:Core/vcn:Vcn"
DEFAULT_LIST = "oci:Core/defaultSecurityList:DefaultSecurityList"
SECURITY_LIST = "oci:Core/securityList:SecurityList"
SUBNET = "oci:Core/subnet:Subnet"
NSG = "oci:Core/networkSecurityGroup:NetworkSecurityGroup"
NSG_RULE = "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule"
VAULT = "oci:Kms/vault:Vault"
KEY = "oci:Kms/key:Key"
BUCKET = "oci:ObjectStorage/bucket:Bucket"
SECRET = "oci:Vault/secret:Secret"
DB_SYSTEM = "oci:Psql/dbSystem:DbSystem"
BACKUP = "oci:Psql/backup:Backup"
DYNAMIC_GROUP = "oci:Identity/dynamicGroup:DynamicGroup"
POLICY = "oci:Identity/policy:Policy"
PROVIDER = "pulumi:providers:oci"
STACK_REF = "pulumi:pulumi:StackReference"
ACCESS = "paybill:tenant:Access"

STATEFUL = {VAULT, KEY, BUCKET, SECRET, DB_SYSTEM, BACKUP}
NETWORK_TYPES = {VCN, DEFAULT_LIST, SECURITY_LIST, SUBNET, NSG, NSG_RULE}

NETWORK_TIER = Counter({VCN: 1, DEFAULT_LIST: 1, SECURITY_LIST: 1, SUBNET: 1, NSG: 1, NSG_RULE: 2})
# the data tier: the service policy, the admin secret, and the DB system's own dynamic group and policy
DATA_TIER = Counter({COMPARTMENT: 1, VAULT: 1, KEY: 1, POLICY: 2, BUCKET: 1, SECRET: 1, DB_SYSTEM: 1,
                     DYNAMIC_GROUP: 1})
APP_LOGIN = Counter({SECRET: 1})  # a dedicated instance's application login (never the admin's secret)
IDENTITY = Counter({ACCESS: 1, DYNAMIC_GROUP: 1, POLICY: 1})
EXPECTED_TYPES = {
    "cell": NETWORK_TIER + DATA_TIER + Counter({"paybill:cell:Cell": 1, PROVIDER: 1}),
    "silo": NETWORK_TIER + DATA_TIER + APP_LOGIN + IDENTITY + Counter({"paybill:tenant:Silo": 1, PROVIDER: 1}),
    "bridge": DATA_TIER + APP_LOGIN + IDENTITY + Counter({"paybill:tenant:Bridge": 1, PROVIDER: 1, STACK_REF: 1}),
    "pooled": IDENTITY + Counter({COMPARTMENT: 1, SECRET: 1, "paybill:tenant:Pooled": 1, PROVIDER: 1,
                                  STACK_REF: 1}),
}

_RUNS: dict[str, Any] = {}


@pytest.fixture
def runs(stackkit: Any) -> dict[str, Any]:
    """Every oci stack of this module, run once: the cell, each isolation in each lifecycle state, and a
    second pooled tenant in the same cell. Warnings raised while they run are kept in `warnings`."""
    if not _RUNS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cell_spec = stackkit.cell_stack(CLOUD)
            cell = stackkit.run_cell(cell_spec)
            _RUNS.update({"cell": cell, "cell:spec": cell_spec})
            for isolation in ("silo", "pooled", "bridge"):
                for state in ("active", "suspended", "offboarding"):
                    spec = stackkit.tenant_stack(CLOUD, isolation, state=state)
                    key = isolation if state == "active" else f"{isolation}-{state}"
                    _RUNS[key] = stackkit.run_tenant(spec, None if isolation == "silo" else cell)
                    _RUNS[f"{key}:spec"] = spec
            other = stackkit.tenant_stack(CLOUD, "pooled", tenant="globex")
            _RUNS["pooled-globex"] = stackkit.run_tenant(other, cell)
            _RUNS["pooled-globex:spec"] = other
        _RUNS["warnings"] = list(caught)
    return _RUNS


def _names(owner: str) -> dict[str, str]:
    return naming.names_for(CLOUD, ORG, owner)


def _oci(run: Any) -> list[Any]:
    return [resource for resource in run.resources if resource.type.startswith("oci:")]


def _by_name(run: Any, type_token: str, name: str) -> Any:
    found = [resource for resource in run.by_type(type_token) if resource.name == name]
    assert len(found) == 1, f"expected one {type_token} named {name}, found {len(found)}"
    return found[0]


def _named(run: Any, type_token: str, field: str, value: str) -> Any:
    found = [resource for resource in run.by_type(type_token) if resource.inputs.get(field) == value]
    assert len(found) == 1, f"expected one {type_token} with {field} {value}, found {len(found)}"
    return found[0]


def _tenant_policy(run: Any, owner: str = "acme") -> Any | None:
    found = [p for p in run.by_type(POLICY) if p.inputs.get("name") == _names(owner)["policy"]]
    return found[0] if found else None


def _sdk_class(type_token: str) -> type:
    """The pulumi_oci class behind a type token (oci:Kms/key:Key -> pulumi_oci.kms.Key)."""
    module, cls = type_token.split(":")[1].split("/")[0].lower(), type_token.split(":")[2]
    return getattr(importlib.import_module(f"pulumi_oci.{module}"), cls)  # type: ignore[no-any-return]


def _takes_tags(type_token: str) -> bool:
    parameters = inspect.signature(_sdk_class(type_token)._internal_init).parameters  # type: ignore[attr-defined]
    return "freeform_tags" in parameters


# --- topology shape ---------------------------------------------------------------------------------


@pytest.mark.parametrize("topology", ["cell", "silo", "bridge", "pooled"])
def test_exact_resource_types(runs: dict[str, Any], topology: str) -> None:
    assert Counter(resource.type for resource in runs[topology].resources) == EXPECTED_TYPES[topology]


@pytest.mark.parametrize("topology", ["cell", "silo", "bridge", "pooled"])
def test_no_route_out_of_or_into_the_network(runs: dict[str, Any], topology: str) -> None:
    types = {resource.type for resource in runs[topology].resources}
    for gateway in ("internetGateway", "natGateway", "serviceGateway", "publicIp", "routeTable"):
        assert not any(gateway in type_token for type_token in types)


def test_sdk_classes_exist_and_nothing_deprecated_is_used(runs: dict[str, Any]) -> None:
    for type_token in set(EXPECTED_TYPES["silo"]) | {BACKUP}:
        if type_token.startswith("oci:"):
            assert _sdk_class(type_token).pulumi_type == type_token  # type: ignore[attr-defined]
    deprecated = [str(w.message) for w in runs["warnings"] if "deprecat" in str(w.message).lower()]
    assert deprecated == []


# --- physical names -------------------------------------------------------------------------------


@pytest.mark.parametrize("topology", ["cell", "silo"])
def test_physical_names_come_from_naming(runs: dict[str, Any], topology: str) -> None:
    run = runs[topology]
    owner = "cell-a" if topology == "cell" else "acme"
    names = _names(owner)
    assert run.one(COMPARTMENT).inputs["name"] == names["compartment"]
    assert run.one(VCN).inputs["displayName"] == names["network"]
    assert run.one(VCN).inputs["dnsLabel"] == names["dns_label"]
    assert run.one(SUBNET).inputs["displayName"] == names["subnet"]
    assert run.one(SECURITY_LIST).inputs["displayName"] == names["security_list"]
    assert run.one(NSG).inputs["displayName"] == names["nsg"]
    assert run.one(VAULT).inputs["displayName"] == names["vault"]
    assert run.one(KEY).inputs["displayName"] == names["key"]
    assert run.one(BUCKET).inputs["name"] == names["bucket"]
    assert _named(run, SECRET, "secretName", names["secret"]).name.endswith("-db-admin-secret")
    assert run.one(DB_SYSTEM).inputs["displayName"] == names["db_system"]
    assert run.one(DB_SYSTEM).inputs["credentials"]["username"] == names["db_admin"]
    policy_names = {p.inputs["name"] for p in run.by_type(POLICY)}
    group_names = {group.inputs["name"] for group in run.by_type(DYNAMIC_GROUP)}
    assert names["service_policy"] in policy_names and names["db_policy"] in policy_names
    if topology == "silo":
        assert group_names == {names["dynamic_group"], names["db_dynamic_group"]}
        assert policy_names == {names["service_policy"], names["policy"], names["db_policy"]}
        assert _named(run, SECRET, "secretName", names["db_app_secret"]).name == "acme-db-app-secret"
    else:
        assert group_names == {names["db_dynamic_group"]}
        assert policy_names == {names["service_policy"], names["db_policy"]}


def test_pooled_and_bridge_names(runs: dict[str, Any]) -> None:
    names = _names("acme")
    pooled = runs["pooled"]
    assert pooled.one(COMPARTMENT).inputs["name"] == names["compartment"]
    assert pooled.one(SECRET).inputs["secretName"] == names["secret"]
    template = json.loads(pooled.one(SECRET).inputs["secretGenerationContext"]["secretTemplate"])
    assert (template["database"], template["username"]) == (names["database"], names["db_user"])
    assert pooled.outputs["store"]["prefix"] == names["prefix"] == "tenants/acme/"
    bridge = runs["bridge"]
    assert bridge.one(BUCKET).inputs["name"] == names["bucket"]
    assert bridge.one(DB_SYSTEM).inputs["displayName"] == names["db_system"]
    assert bridge.one(VAULT).inputs["displayName"] == names["vault"]


# --- security settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("topology", ["cell", "silo", "bridge"])
def test_data_tier_is_encrypted_private_and_backed_up(runs: dict[str, Any], topology: str) -> None:
    run = runs[topology]
    spec = runs[f"{topology}:spec"]
    key_id = run.one(KEY).id
    vault = run.one(VAULT)
    assert vault.inputs["vaultType"] == "VIRTUAL_PRIVATE"
    key = run.one(KEY).inputs
    assert key["managementEndpoint"] == vault.outputs["managementEndpoint"]
    assert key["keyShape"] == {"algorithm": "AES", "length": 32}  # bytes: AES-256
    assert key["protectionMode"] == "HSM"
    assert key["isAutoRotationEnabled"] is True
    assert key["autoKeyRotationDetails"]["rotationIntervalInDays"] == KEY_ROTATION_DAYS

    bucket = run.one(BUCKET).inputs
    assert bucket["accessType"] == "NoPublicAccess"
    assert bucket["versioning"] == "Enabled"
    assert bucket["storageTier"] == "Standard"
    assert bucket["kmsKeyId"] == key_id
    assert bucket["namespace"] == mock_oci.MOCK_NAMESPACE  # from the getNamespace invoke
    service = _by_name(run, POLICY, f"{run.one(COMPARTMENT).name.rsplit('-compartment', 1)[0]}-service-policy")
    assert service.inputs["statements"] == [
        iam.object_storage_service_statement("eu-frankfurt-1", run.one(COMPARTMENT).id, key_id)
    ]

    db = run.one(DB_SYSTEM).inputs
    size = spec.database
    assert db["storageDetails"] == {"isRegionallyDurable": True, "systemType": "OCI_OPTIMIZED_STORAGE",
                                    "kmsKeyId": key_id}
    assert db["managementPolicy"]["backupPolicy"]["kind"] == "DAILY"
    assert db["managementPolicy"]["backupPolicy"]["retentionDays"] == size.backup_retention_days
    assert (db["shape"], db["dbVersion"]) == (size.instance_class, size.engine_version)
    assert (db["instanceOcpuCount"], db["instanceMemorySizeInGbs"]) == (size.ocpus, size.memory_gb)
    assert db["instanceCount"] == 1
    assert db["networkDetails"]["isReaderEndpointEnabled"] is False

    owner = "cell-a" if topology == "cell" else "acme"
    secret = _named(run, SECRET, "secretName", _names(owner)["secret"])
    assert secret.inputs["enableAutoGeneration"] is True
    assert "secretContent" not in secret.inputs  # OCI Vault generates the password: none in state
    assert secret.inputs["secretGenerationContext"]["generationType"] == "PASSPHRASE"
    assert (secret.inputs["keyId"], secret.inputs["vaultId"]) == (key_id, vault.id)
    password = db["credentials"]["passwordDetails"]
    assert password == {"passwordType": "VAULT_SECRET", "secretId": secret.id, "secretVersion": "1"}
    # Rotating the secret never replaces the DB system: `credentials` is create-only, so it is ignored
    # (a rotation resets the password through the API).
    registered = run.one(DB_SYSTEM)
    assert registered.ignore_changes == ("credentials",)

    # The DB system's own identity: the compartment's PostgreSQL DB systems may use the storage key and
    # read the administrator secret, nothing else; the DB system waits for that policy.
    group = _named(run, DYNAMIC_GROUP, "name", _names(owner)["db_dynamic_group"])
    compartment = run.one(COMPARTMENT).id
    assert group.inputs["matchingRule"] == iam.db_system_matching_rule(compartment)
    assert group.inputs["compartmentId"] == TENANCY
    policy = _named(run, POLICY, "name", _names(owner)["db_policy"])
    assert policy.inputs["compartmentId"] == compartment
    assert policy.inputs["statements"] == iam.db_system_statements(group.id, compartment, key_id, secret.id)
    assert policy.urn in registered.dependencies


@pytest.mark.parametrize("topology", ["cell", "silo"])
def test_network_is_private_and_opens_only_postgres_inside_the_vcn(runs: dict[str, Any], topology: str) -> None:
    run = runs[topology]
    vcn = run.one(VCN)
    assert vcn.inputs["cidrBlocks"] == [VCN_CIDR]
    subnet = run.one(SUBNET).inputs
    assert subnet["prohibitPublicIpOnVnic"] is True and subnet["prohibitInternetIngress"] is True
    assert subnet["securityListIds"] == [run.one(SECURITY_LIST).id]
    assert "availabilityDomain" not in subnet  # regional
    default = run.one(DEFAULT_LIST).inputs
    assert default["manageDefaultResourceId"] == vcn.outputs["defaultSecurityListId"]
    assert default["ingressSecurityRules"] == [] and default["egressSecurityRules"] == []
    security_list = run.one(SECURITY_LIST).inputs
    rules = security_list["ingressSecurityRules"] + security_list["egressSecurityRules"]
    nsg_rules = [rule.inputs for rule in run.by_type(NSG_RULE)]
    assert {rule["direction"] for rule in nsg_rules} == {"INGRESS", "EGRESS"}
    for rule in rules + nsg_rules:
        assert rule["protocol"] == "6"
        assert rule.get("source", rule.get("destination")) == VCN_CIDR
        ports = rule["tcpOptions"].get("destinationPortRange", rule["tcpOptions"])
        assert (ports["min"], ports["max"]) == (5432, 5432)
    for rule in nsg_rules:
        assert rule["networkSecurityGroupId"] == run.one(NSG).id
    db = run.one(DB_SYSTEM).inputs["networkDetails"]
    assert (db["subnetId"], db["nsgIds"]) == (run.one(SUBNET).id, [run.one(NSG).id])


def test_bridge_database_sits_in_the_cell_network(runs: dict[str, Any]) -> None:
    cell_network = runs["cell"].outputs["cell"]["network"]
    db = runs["bridge"].one(DB_SYSTEM).inputs
    assert db["networkDetails"]["subnetId"] == cell_network["subnet_id"] == runs["cell"].one(SUBNET).id
    assert db["networkDetails"]["nsgIds"] == [cell_network["nsg_id"]]
    assert db["compartmentId"] == runs["bridge"].one(COMPARTMENT).id  # its own compartment
    assert db["storageDetails"]["kmsKeyId"] == runs["bridge"].one(KEY).id != runs["cell"].one(KEY).id
    assert runs["bridge"].outputs["network"] == cell_network


def test_pooled_secret_lives_in_the_cell_vault_and_the_tenant_compartment(runs: dict[str, Any]) -> None:
    cell, pooled = runs["cell"], runs["pooled"]
    secret = pooled.one(SECRET).inputs
    assert (secret["vaultId"], secret["keyId"]) == (cell.one(VAULT).id, cell.one(KEY).id)
    assert secret["compartmentId"] == pooled.one(COMPARTMENT).id
    assert secret["enableAutoGeneration"] is True and "secretContent" not in secret
    context = secret["secretGenerationContext"]
    host = cell.outputs["cell"]["database"]["host"]
    assert context["secretTemplate"] == connection_template(host, 5432, _names("acme")["database"],
                                                             _names("acme")["db_user"])
    assert secret["metadata"]["host"] == host and secret["metadata"]["port"] == "5432"
    database = pooled.outputs["database"]
    assert database["secret_id"] == pooled.one(SECRET).id
    assert (database["host"], database["port"]) == (host, 5432)
    assert pooled.outputs["key"] == cell.outputs["cell"]["key"]
    assert pooled.outputs["network"] == cell.outputs["cell"]["network"]


# --- tags, parents, providers, protection ----------------------------------------------------------


@pytest.mark.parametrize("topology", ["cell", "silo", "bridge", "pooled"])
def test_every_taggable_resource_carries_the_markers(runs: dict[str, Any], topology: str) -> None:
    run = runs[topology]
    spec = runs[f"{topology}:spec"]
    expected = dict(spec.markers)
    required = markers.REQUIRED_FOR_CELL if topology == "cell" else markers.REQUIRED_FOR_TENANT
    assert set(required) <= set(expected)
    for resource in _oci(run):
        if _takes_tags(resource.type):
            assert resource.inputs.get("freeformTags") == expected, resource.name
        else:
            assert resource.type == NSG_RULE


@pytest.mark.parametrize("topology", ["cell", "silo", "bridge", "pooled"])
def test_parents_reach_the_component_and_the_explicit_provider(runs: dict[str, Any], topology: str) -> None:
    run = runs[topology]
    by_urn = {resource.urn: resource for resource in run.resources}
    provider = run.one(PROVIDER)
    assert provider.inputs["region"] == "eu-frankfurt-1"
    for resource in _oci(run):
        parent = by_urn[resource.parent]
        while not parent.type.startswith("paybill:"):
            parent = by_urn[parent.parent]
        assert parent.type.startswith("paybill:")
        assert resource.provider.startswith(provider.urn + "::"), resource.name


@pytest.mark.parametrize("topology", ["cell", "silo", "bridge", "pooled"])
def test_stateful_resources_are_protected(runs: dict[str, Any], topology: str) -> None:
    for resource in _oci(runs[topology]):
        assert resource.protect is (resource.type in STATEFUL), resource.name
        assert resource.retain_on_delete is False
    assert runs[topology].by_type(BACKUP) == []


def test_compartment_is_never_deleted(runs: dict[str, Any]) -> None:
    for topology in ("cell", "silo", "bridge", "pooled", "silo-offboarding"):
        compartment = runs[topology].one(COMPARTMENT).inputs
        assert compartment["enableDelete"] is False
        assert compartment["compartmentId"] == TENANCY


@pytest.mark.parametrize("isolation", ["silo", "bridge", "pooled"])
def test_offboarding_keeps_all_but_the_access_path_and_takes_a_final_backup(runs: dict[str, Any],
                                                                           isolation: str) -> None:
    run = runs[f"{isolation}-offboarding"]
    names = _names("acme")
    assert not any(ACCESS in resource.urn for resource in run.resources)  # no identity, no grants
    assert _tenant_policy(run) is None
    assert names["dynamic_group"] not in {group.inputs["name"] for group in run.by_type(DYNAMIC_GROUP)}
    for resource in _oci(run):
        assert resource.protect is (resource.type in STATEFUL), resource.name  # protected as ever
        assert resource.retain_on_delete is True, resource.name  # and kept in the cloud on delete
    if isolation == "pooled":
        assert run.by_type(BACKUP) == []
        assert run.outputs["final_backup"]["kind"] == "logical dump"
        return
    backup = run.one(BACKUP).inputs
    assert backup["dbSystemId"] == run.one(DB_SYSTEM).id
    assert backup["displayName"] == names["final_backup"]
    assert backup["retentionPeriod"] == runs[f"{isolation}-offboarding:spec"].database.backup_retention_days
    assert run.outputs["final_backup"]["id"] == run.one(BACKUP).id


# --- identity -------------------------------------------------------------------------------------


@pytest.mark.parametrize("isolation", ["silo", "bridge", "pooled"])
def test_suspended_identity_exists_without_grants(runs: dict[str, Any], isolation: str) -> None:
    run = runs[f"{isolation}-suspended"]
    group = _named(run, DYNAMIC_GROUP, "name", _names("acme")["dynamic_group"])
    assert _tenant_policy(run) is None
    for policy in run.by_type(POLICY):
        assert group.id not in json.dumps(policy.inputs["statements"])
    assert "policy_id" not in run.outputs["identity"]


@pytest.mark.parametrize("isolation", ["silo", "bridge"])
def test_dedicated_identity_reaches_only_its_own_store_key_and_secret(runs: dict[str, Any], isolation: str) -> None:
    run = runs[isolation]
    names = _names("acme")
    group = _named(run, DYNAMIC_GROUP, "name", names["dynamic_group"])
    compartment = run.one(COMPARTMENT).id
    assert group.inputs["compartmentId"] == TENANCY
    assert group.inputs["matchingRule"] == iam.dynamic_group_matching_rule(compartment)
    policy = _tenant_policy(run)
    assert policy is not None and policy.inputs["compartmentId"] == compartment
    # its own application login's secret: never the administrator's
    secret = _named(run, SECRET, "secretName", names["db_app_secret"]).id
    assert run.outputs["database"]["secret_id"] == secret != run.outputs["database"]["admin_secret_id"]
    app = _named(run, SECRET, "secretName", names["db_app_secret"]).inputs
    template = json.loads(app["secretGenerationContext"]["secretTemplate"])
    assert (template["database"], template["username"]) == (names["database"], names["db_user"])
    assert policy.inputs["statements"] == iam.tenant_statements(
        group.id, store_compartment_id=compartment, bucket=names["bucket"], secret_compartment_id=compartment,
        secret_id=secret, key_compartment_id=compartment, key_id=run.one(KEY).id,
    )
    assert iam.statement_ocids(policy.inputs["statements"]) == {group.id, compartment, secret, run.one(KEY).id}
    text = json.dumps(policy.inputs["statements"])
    assert _names("cell-a")["bucket"] not in text and runs["cell"].one(KEY).id not in text


def test_pooled_identity_reaches_only_its_prefix_and_its_secret(runs: dict[str, Any]) -> None:
    cell, acme, globex = runs["cell"], runs["pooled"], runs["pooled-globex"]
    group = _named(acme, DYNAMIC_GROUP, "name", _names("acme")["dynamic_group"])
    policy = _tenant_policy(acme)
    assert policy is not None
    # The statements reach the cell's compartment, so the policy sits on the common parent.
    assert policy.inputs["compartmentId"] == TENANCY
    cell_compartment = cell.one(COMPARTMENT).id
    assert policy.inputs["statements"] == iam.tenant_statements(
        group.id, store_compartment_id=cell_compartment, bucket=_names("cell-a")["bucket"],
        prefix="tenants/acme/", secret_compartment_id=acme.one(COMPARTMENT).id, secret_id=acme.one(SECRET).id,
    )
    assert iam.statement_ocids(policy.inputs["statements"]) == {
        group.id, cell_compartment, acme.one(COMPARTMENT).id, acme.one(SECRET).id
    }
    text = json.dumps(policy.inputs["statements"])
    assert "/tenants/acme/*/" in text
    assert "tenants/globex" not in text and globex.one(SECRET).id not in text
    assert cell.one(KEY).id not in text  # the cell's key is shared: no direct use
    other = _tenant_policy(globex, "globex")
    assert other is not None
    other_text = json.dumps(other.inputs["statements"])
    assert "/tenants/globex/*/" in other_text and "tenants/acme" not in other_text
    assert acme.one(SECRET).id not in other_text and group.id not in other_text


def test_identity_goes_through_the_home_region_provider(stackkit: Any) -> None:
    """OCI manages compartments, dynamic groups and policies only in the tenancy's home region: a stack
    elsewhere manages them through a provider there (its own provider serves everything else)."""
    import dataclasses

    spec = stackkit.tenant_stack(CLOUD, "silo")
    spec = dataclasses.replace(spec, account={**spec.account, "home_region": "us-ashburn-1"})
    run = stackkit.run_tenant(spec)
    providers = {provider.inputs["region"]: provider for provider in run.by_type(PROVIDER)}
    assert set(providers) == {"eu-frankfurt-1", "us-ashburn-1"}
    home = providers["us-ashburn-1"].urn
    for resource in _oci(run):
        identity = resource.type in (COMPARTMENT, DYNAMIC_GROUP, POLICY)
        assert resource.provider.startswith(home + "::") is identity, resource.name
        if resource.type in (DYNAMIC_GROUP, POLICY):
            assert resource.delete_before_replace, resource.name  # names are unique in the tenancy


# --- outputs and handles ----------------------------------------------------------------------------


def test_cell_output_carries_the_documented_refs(runs: dict[str, Any]) -> None:
    cell = runs["cell"].outputs["cell"]
    assert {part: tuple(values) for part, values in cell.items()} == CELL_REFS
    assert cell["store"]["namespace"] == mock_oci.MOCK_NAMESPACE
    assert cell["database"]["host"] == runs["cell"].one(DB_SYSTEM).outputs["networkDetails"][
        "primaryDbEndpointPrivateIp"]
    assert cell["key"]["management_endpoint"].startswith("https://")


@pytest.mark.parametrize("topology", ["silo", "bridge", "pooled"])
def test_tenant_outputs_give_a_service_what_it_needs(runs: dict[str, Any], topology: str) -> None:
    outputs = runs[topology].outputs
    assert set(outputs) == {"scope", "network", "key", "store", "database", "identity", "tenant"}
    assert {"namespace", "bucket", "compartment_id"} <= set(outputs["store"])
    assert {"host", "port", "secret_id"} <= set(outputs["database"])
    assert {"dynamic_group_id", "dynamic_group", "policy_id"} == set(outputs["identity"])
    assert outputs["database"]["port"] == 5432


# --- plain parts ---------------------------------------------------------------------------------


def test_connection_template_leaves_the_password_to_the_vault() -> None:
    template = json.loads(connection_template("10.0.1.5", 5432.0, "pb_acme_db", "pb_acme_app"))
    assert template == {"host": "10.0.1.5", "port": 5432, "database": "pb_acme_db", "username": "pb_acme_app",
                        "password": "%GENERATED_PASSPHRASE%"}


def test_placement_needs_a_parent_compartment() -> None:
    blocks = OciBlocks(Placement("oci", "eu-frankfurt-1", {}), {})
    with pytest.raises(ValueError, match="parent_compartment_id"):
        blocks._parent_compartment()
    tenancy = OciBlocks(Placement("oci", "eu-frankfurt-1", {"parent_compartment_id": "ocid1.compartment.oc1..x",
                                                            "tenancy_id": TENANCY}), {})
    assert tenancy._tenancy() == TENANCY


def test_mock_outputs_are_provider_shaped() -> None:
    assert mock_oci.invoke("oci:ObjectStorage/getNamespace:getNamespace", {})["namespace"] == "pbtenancy"
    first = mock_oci.shape(VAULT, "v", {}, "s")
    assert first == mock_oci.shape(VAULT, "v", {}, "s")  # deterministic
    vault_id, vault = first
    assert vault_id.startswith("ocid1.vault.oc1..")
    key_id, key = mock_oci.shape(KEY, "k", {"managementEndpoint": vault["managementEndpoint"]}, "s")
    assert key_id.startswith("ocid1.key.oc1..") and key["vaultId"] == vault_id
    bucket_id, bucket = mock_oci.shape(BUCKET, "b", {"namespace": "pbtenancy", "name": "pb-x"}, "s")
    assert bucket_id == "n/pbtenancy/b/pb-x" and bucket["bucketId"].startswith("ocid1.bucket.oc1..")
    db_id, _ = mock_oci.shape(DB_SYSTEM, "d", {}, "s")
    assert db_id.startswith("ocid1.postgresqldbsystem.oc1..")

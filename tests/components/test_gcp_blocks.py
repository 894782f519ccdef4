"""The Google Cloud blocks in every topology, through the real stack programs under the mock runtime.

Each stack runs once for the module (`runs`), one after another (the mock runtime is global state).
"""

from __future__ import annotations

import importlib
import inspect
import json
import warnings
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from paybill_components.gcp import GcpBlocks, iam
from paybill_components.gcp.blocks import backup_retention

from paybill_iac.mock_outputs import gcp as mock_gcp
from paybill_iac.model import markers, naming
from paybill_iac.model.spec import Placement

CLOUD = "gcp"
PROJECT = "pb-tenants-prod"
REGION = "europe-west1"

NETWORK = "gcp:compute/network:Network"
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
RANGE = "gcp:compute/globalAddress:GlobalAddress"
PEERING = "gcp:servicenetworking/connection:Connection"
RING = "gcp:kms/keyRing:KeyRing"
KEY = "gcp:kms/cryptoKey:CryptoKey"
KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
AGENT = "gcp:projects/serviceIdentity:ServiceIdentity"
BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
FOLDER = "gcp:storage/managedFolder:ManagedFolder"
FOLDER_MEMBER = "gcp:storage/managedFolderIamMember:ManagedFolderIamMember"
INSTANCE = "gcp:sql/databaseInstance:DatabaseInstance"
DATABASE = "gcp:sql/database:Database"
USER = "gcp:sql/user:User"
ACCOUNT = "gcp:serviceaccount/account:Account"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
PROVIDER = "pulumi:providers:gcp"
STACK_REF = "pulumi:pulumi:StackReference"

STATEFUL = {RING, KEY, BUCKET, FOLDER, INSTANCE, DATABASE}  # the IAM login (USER) is an access path
KEPT_WITH_DATA = {NETWORK, SUBNETWORK, RANGE, PEERING}  # a kept private-IP instance needs its VPC
TENANT_IAM = {KEY_MEMBER, BUCKET_MEMBER, FOLDER_MEMBER, PROJECT_MEMBER}

DATA_TIER = Counter({RING: 1, KEY: 1, KEY_MEMBER: 2, AGENT: 1, BUCKET: 1, INSTANCE: 1})
NETWORK_TIER = Counter({NETWORK: 1, SUBNETWORK: 1, RANGE: 1, PEERING: 1})
ACCESS = "paybill:tenant:Access"
OWN_IDENTITY = Counter({ACCESS: 1, ACCOUNT: 1, USER: 1, BUCKET_MEMBER: 1, KEY_MEMBER: 1, PROJECT_MEMBER: 2})
EXPECTED_TYPES = {
    "cell": DATA_TIER + NETWORK_TIER + Counter({"paybill:cell:Cell": 1, PROVIDER: 1}),
    "silo": DATA_TIER + NETWORK_TIER + OWN_IDENTITY + Counter({"paybill:tenant:Silo": 1, PROVIDER: 1}),
    "bridge": DATA_TIER + OWN_IDENTITY + Counter({"paybill:tenant:Bridge": 1, PROVIDER: 1, STACK_REF: 1}),
    "pooled": Counter({DATABASE: 1, FOLDER: 1, ACCESS: 1, ACCOUNT: 1, USER: 1, FOLDER_MEMBER: 1, PROJECT_MEMBER: 2,
                       "paybill:tenant:Pooled": 1, PROVIDER: 1, STACK_REF: 1}),
}

_RUNS: dict[str, Any] = {}


def _tolerate_invokes(monkeypatch: pytest.MonkeyPatch) -> None:
    """paybill_iac.mockrun answers invokes with `(result, None)`, which pulumi's MockMonitor iterates
    as the list of check failures (TypeError). The gcp blocks call one invoke (the Cloud Storage
    service agent); until mockrun returns `[]`, these tests hand the monitor an empty list."""
    from paybill_iac import mockrun

    original = mockrun.ProviderShapedMocks.call

    def call(self: Any, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        result, failures = original(self, args)
        return result, list(failures or [])

    monkeypatch.setattr(mockrun.ProviderShapedMocks, "call", call)


@pytest.fixture
def runs(stackkit: Any) -> dict[str, Any]:
    """Every gcp stack of this module, run once: the cell, each isolation in each relevant state, and a
    second pooled tenant in the same cell."""
    if not _RUNS:
        with warnings.catch_warnings():  # the SDK modules warn at import about aliases we never use
            warnings.simplefilter("ignore", DeprecationWarning)
            for type_token in (*STATEFUL, *KEPT_WITH_DATA, *TENANT_IAM, AGENT, ACCOUNT):
                _sdk_class(type_token)
        with pytest.MonkeyPatch.context() as monkeypatch, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            _tolerate_invokes(monkeypatch)
            cell = stackkit.run_cell(stackkit.cell_stack(CLOUD))
            _RUNS["cell"] = cell
            for isolation in ("silo", "pooled", "bridge"):
                for state in ("active", "suspended", "offboarding"):
                    spec = stackkit.tenant_stack(CLOUD, isolation, state=state)
                    key = isolation if state == "active" else f"{isolation}-{state}"
                    _RUNS[key] = stackkit.run_tenant(spec, None if isolation == "silo" else cell)
                    _RUNS[f"{key}:spec"] = spec
            other = stackkit.tenant_stack(CLOUD, "pooled", tenant="globex")
            _RUNS["pooled-globex"] = stackkit.run_tenant(other, cell)
            _RUNS["pooled-globex:spec"] = other
        _RUNS["deprecations"] = [str(warning.message) for warning in caught
                                 if issubclass(warning.category, DeprecationWarning)
                                 and "pulumi_gcp" in warning.filename]
    return _RUNS


def _names(owner: str) -> Mapping[str, str]:
    return naming.names_for(CLOUD, "pb", owner)  # the stackkit's org


def _gcp(run: Any) -> list[Any]:
    return [resource for resource in run.resources if resource.type.startswith("gcp:")]


def _member(run: Any) -> str:
    return str(run.one(ACCOUNT).outputs["member"])


def _sdk_class(type_token: str) -> type:
    """The pulumi_gcp class behind a type token (gcp:storage/bucket:Bucket -> pulumi_gcp.storage.Bucket)."""
    module, cls = type_token.split(":")[1].split("/")[0], type_token.split(":")[2]
    return getattr(importlib.import_module(f"pulumi_gcp.{module}"), cls)  # type: ignore[no-any-return]


def _labels_field(type_token: str) -> tuple[str, ...] | None:
    """Where a resource takes labels per the installed SDK: ('labels',), ('settings', 'userLabels')."""
    cls = _sdk_class(type_token)
    parameters = inspect.signature(cls._internal_init).parameters  # type: ignore[attr-defined]
    if "labels" in parameters:
        return ("labels",)
    if type_token == INSTANCE:
        import pulumi_gcp

        settings = inspect.signature(pulumi_gcp.sql.DatabaseInstanceSettingsArgs.__init__).parameters
        return ("settings", "userLabels") if "user_labels" in settings else None
    return None


# --- pure helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "retained", "log_days"),
    [(1, 2, 1), (2, 2, 1), (7, 7, 6), (8, 8, 7), (14, 14, 7), (365, 365, 7)],
)
def test_backup_retention_keeps_at_least_the_plan(days: int, retained: int, log_days: int) -> None:
    assert backup_retention(days) == (retained, log_days)
    assert retained >= days and retained > log_days and 1 <= log_days <= 7


def test_backup_retention_refuses_zero() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        backup_retention(0)


def test_provider_needs_a_project() -> None:
    with pytest.raises(ValueError, match=r"account\['project'\]"):
        GcpBlocks.provider("p", Placement("gcp", REGION, {}))


# --- every stack -------------------------------------------------------------------------------------


@pytest.mark.parametrize("topology", ["cell", "silo", "pooled", "bridge"])
def test_exact_resource_types(runs: dict[str, Any], topology: str) -> None:
    assert Counter(resource.type for resource in runs[topology].resources) == EXPECTED_TYPES[topology]


@pytest.mark.parametrize("state", ["active", "suspended", "offboarding"])
@pytest.mark.parametrize("isolation", ["silo", "pooled", "bridge"])
def test_states_keep_the_same_resources_except_grants(runs: dict[str, Any], isolation: str, state: str) -> None:
    key = isolation if state == "active" else f"{isolation}-{state}"
    types = Counter(resource.type for resource in runs[key].resources)
    expected = Counter(EXPECTED_TYPES[isolation])
    if state == "offboarding":  # no access path at all
        expected -= Counter({ACCESS: 1, ACCOUNT: 1, USER: 1, PROJECT_MEMBER: 2,
                             (FOLDER_MEMBER if isolation == "pooled" else BUCKET_MEMBER): 1})
        if isolation != "pooled":
            expected[KEY_MEMBER] -= 1
    if state == "suspended":
        grants = iam.tenant_grants(shared_store=isolation == "pooled", active=True)
        expected[BUCKET_MEMBER if isolation != "pooled" else FOLDER_MEMBER] -= 1
        expected[PROJECT_MEMBER] -= 2
        expected[KEY_MEMBER] -= 1 if isolation != "pooled" else 0
        assert len(grants) == (3 if isolation == "pooled" else 4)
    assert types == +expected


def test_no_deprecated_resource_or_property_is_used(runs: dict[str, Any]) -> None:
    assert runs["deprecations"] == []


@pytest.mark.parametrize("key", ["cell", "silo", "pooled", "bridge", "silo-offboarding", "pooled-suspended"])
def test_urns_unique_and_logical_names_derive_from_the_component(runs: dict[str, Any], key: str) -> None:
    run = runs[key]
    owner = run.stack
    assert len({resource.urn for resource in run.resources}) == len(run.resources)
    for resource in run.resources:
        if resource.type != STACK_REF:
            assert resource.name == owner or resource.name.startswith(f"{owner}-"), resource.name


@pytest.mark.parametrize("key", ["cell", "silo", "pooled", "bridge", "silo-offboarding"])
def test_every_resource_is_parented_to_the_component_with_the_explicit_provider(
    runs: dict[str, Any], key: str
) -> None:
    run = runs[key]
    by_urn = {resource.urn: resource for resource in run.resources}
    provider = run.one(PROVIDER)
    assert provider.inputs["project"] == PROJECT and provider.inputs["region"] == REGION
    for resource in _gcp(run):
        chain, parent = [], resource.parent
        while parent in by_urn:
            chain.append(by_urn[parent].type)
            parent = by_urn[parent].parent
        assert chain and chain[-1].startswith("paybill:"), (resource.name, chain)
        assert resource.provider.startswith(f"{provider.urn}::"), resource.name


@pytest.mark.parametrize("key", ["cell", "silo", "pooled", "bridge", "pooled-suspended"])
def test_labels_on_every_taggable_resource(runs: dict[str, Any], key: str) -> None:
    run = runs[key]
    expected = (markers.cell_markers(run.stack) if key == "cell"
                else markers.tenant_markers(run.stack, "pro", key.split("-")[0]))
    checked = 0
    for resource in _gcp(run):
        field = _labels_field(resource.type)
        if field is None:
            continue
        value: Any = resource.inputs
        for part in field:
            value = value.get(part, {})
        assert value == expected, (resource.type, value)
        checked += 1
    # GlobalAddress, CryptoKey, Bucket and DatabaseInstance take labels; a pooled tenant makes none of them
    assert checked == {"cell": 4, "silo": 4, "bridge": 3}.get(key, 0)


@pytest.mark.parametrize("key", ["cell", "silo", "pooled", "bridge"])
def test_stateful_resources_are_protected(runs: dict[str, Any], key: str) -> None:
    for resource in _gcp(runs[key]):
        assert resource.protect is (resource.type in STATEFUL), resource.type
        # a pooled tenant's database lives in the cell's instance: the data plane drops it
        assert resource.retain_on_delete is (resource.type == DATABASE), resource.type


@pytest.mark.parametrize("isolation", ["silo", "pooled", "bridge"])
def test_offboarding_keeps_all_but_the_access_path(runs: dict[str, Any], isolation: str) -> None:
    run = runs[f"{isolation}-offboarding"]
    assert not any(ACCESS in resource.urn for resource in run.resources)
    assert run.by_type(ACCOUNT) == [] and run.by_type(USER) == [] and run.by_type(PROJECT_MEMBER) == []
    for resource in _gcp(run):
        assert resource.retain_on_delete is True, resource.name
        assert resource.protect is (resource.type in STATEFUL), resource.name
    if isolation != "pooled":
        settings = run.one(INSTANCE).inputs["settings"]
        assert settings["finalBackupConfig"] == {"enabled": True, "retentionDays": 7}
        assert settings["retainBackupsOnDelete"] is True
        assert run.outputs["final_backup"]["instance"] == _names("acme")["db_instance"]


def test_logins_and_pooled_databases_are_abandoned_not_deleted(runs: dict[str, Any]) -> None:
    """Cloud SQL cannot delete a PostgreSQL role or database that owns objects: the provider abandons
    them when they leave the program, and the data plane drops them (db-drop)."""
    assert runs["silo"].one(USER).inputs["deletionPolicy"] == "ABANDON"
    assert runs["pooled"].one(DATABASE).inputs["deletionPolicy"] == "ABANDON"


# --- names and security -----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["cell", "silo", "bridge"])
def test_physical_names_come_from_naming(runs: dict[str, Any], key: str) -> None:
    run = runs[key]
    names = _names(run.stack)
    expected = {KEY: "key", RING: "key_ring", BUCKET: "bucket", INSTANCE: "db_instance"}
    if key != "bridge":
        expected.update({NETWORK: "network", SUBNETWORK: "subnetwork", RANGE: "private_range"})
    for type_token, name_key in expected.items():
        assert run.one(type_token).inputs["name"] == names[name_key], type_token
    if key != "cell":
        assert run.one(ACCOUNT).inputs["accountId"] == names["service_account"]


def test_pooled_names_come_from_naming(runs: dict[str, Any]) -> None:
    run, names, cell = runs["pooled"], _names("acme"), _names("cell-a")
    assert run.one(DATABASE).inputs["name"] == names["database"]
    assert run.one(DATABASE).inputs["instance"] == cell["db_instance"]
    assert run.one(FOLDER).inputs == {"bucket": cell["bucket"], "name": names["prefix"], "forceDestroy": False}
    assert run.one(ACCOUNT).inputs["accountId"] == names["service_account"]


@pytest.mark.parametrize("key", ["cell", "silo"])
def test_private_network_with_private_services_access(runs: dict[str, Any], key: str) -> None:
    run, names = runs[key], _names(runs[key].stack)
    network = run.one(NETWORK)
    assert network.inputs["autoCreateSubnetworks"] is False
    subnetwork = run.one(SUBNETWORK).inputs
    assert subnetwork["privateIpGoogleAccess"] is True and subnetwork["region"] == REGION
    assert subnetwork["network"] == network.id
    private_range = run.one(RANGE).inputs
    assert (private_range["purpose"], private_range["addressType"]) == ("VPC_PEERING", "INTERNAL")
    peering = run.one(PEERING).inputs
    assert peering == {"network": network.id, "service": "servicenetworking.googleapis.com",
                       "reservedPeeringRanges": [names["private_range"]]}
    assert not [resource for resource in run.resources if "firewall" in resource.type.lower()]


@pytest.mark.parametrize("key", ["cell", "silo", "bridge"])
def test_key_rotates_and_only_the_service_agents_use_it(runs: dict[str, Any], key: str) -> None:
    run = runs[key]
    key_resource = run.one(KEY)
    inputs = key_resource.inputs
    assert inputs["purpose"] == "ENCRYPT_DECRYPT"
    assert int(inputs["rotationPeriod"].rstrip("s")) <= 90 * 24 * 3600
    assert inputs["keyRing"] == run.one(RING).id
    assert run.one(RING).inputs["location"] == REGION
    agents = {resource.inputs["member"] for resource in run.by_type(KEY_MEMBER) if "-agent" in resource.name}
    assert agents == {
        f"serviceAccount:{mock_gcp.storage_agent_email(PROJECT)}",
        f"serviceAccount:{mock_gcp.service_agent_email(PROJECT, 'sqladmin.googleapis.com')}",
    }
    assert run.one(AGENT).inputs["service"] == "sqladmin.googleapis.com"
    for resource in run.by_type(KEY_MEMBER):
        assert resource.inputs["cryptoKeyId"] == key_resource.id
        assert resource.inputs["role"] == iam.ROLE_KEY_USER


@pytest.mark.parametrize("key", ["cell", "silo", "bridge"])
def test_bucket_private_versioned_encrypted_with_the_key(runs: dict[str, Any], key: str) -> None:
    run = runs[key]
    bucket = run.one(BUCKET).inputs
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["encryption"] == {"defaultKmsKeyName": run.one(KEY).id}
    assert bucket["forceDestroy"] is False
    assert bucket["location"] == REGION.upper()


@pytest.mark.parametrize("key", ["cell", "silo", "bridge"])
def test_database_instance_private_tls_protected_backed_up(runs: dict[str, Any], key: str) -> None:
    run, cell = runs[key], runs["cell"]
    spec = runs.get(f"{key}:spec")
    size = spec.database if spec is not None else None
    instance = run.one(INSTANCE).inputs
    settings = instance["settings"]
    assert instance["deletionProtection"] is True and settings["deletionProtectionEnabled"] is True
    assert instance["encryptionKeyName"] == run.one(KEY).id
    assert instance["region"] == REGION
    ip = settings["ipConfiguration"]
    assert ip["ipv4Enabled"] is False and ip["sslMode"] == "ENCRYPTED_ONLY" and "authorizedNetworks" not in ip
    network_run = run if key != "bridge" else cell
    assert ip["privateNetwork"] == network_run.one(NETWORK).outputs["selfLink"]
    assert ip["allocatedIpRange"] == network_run.one(RANGE).inputs["name"]
    backups = settings["backupConfiguration"]
    retention = size.backup_retention_days if size else 14
    assert backups["enabled"] is True and backups["pointInTimeRecoveryEnabled"] is True
    assert backups["backupRetentionSettings"]["retentionUnit"] == "COUNT"
    assert backups["backupRetentionSettings"]["retainedBackups"] >= retention
    assert backups["transactionLogRetentionDays"] < backups["backupRetentionSettings"]["retainedBackups"]
    assert settings["finalBackupConfig"] == {"enabled": True, "retentionDays": retention}
    assert {"name": "cloudsql.iam_authentication", "value": "on"} in settings["databaseFlags"]
    if size:
        assert instance["databaseVersion"] == size.engine_version
        assert settings["tier"] == size.instance_class and settings["diskSize"] == size.storage_gb
    else:
        assert settings["tier"] == "db-custom-4-15360" and settings["diskSize"] == 128
    assert settings["edition"] == "ENTERPRISE"
    assert settings["diskAutoresize"] is False  # the plan's storage is a ceiling


def test_bridge_uses_the_cells_network_and_its_own_data_tier(runs: dict[str, Any]) -> None:
    bridge, cell = runs["bridge"], runs["cell"]
    assert not bridge.by_type(NETWORK) and not bridge.by_type(PEERING)
    assert bridge.outputs["network"] == cell.outputs["cell"]["network"]
    assert bridge.one(KEY).id != cell.one(KEY).id
    assert bridge.outputs["key"]["key_id"] == bridge.one(KEY).id
    assert bridge.outputs["store"]["bucket"] == _names("acme")["bucket"]


# --- identity ------------------------------------------------------------------------------------------


def _tenant_iam(run: Any) -> list[Any]:
    member = _member(run)
    return [resource for resource in run.resources if resource.type in TENANT_IAM
            and resource.inputs.get("member") == member]


def _assert_instance_conditions(run: Any, instance: str) -> None:
    bindings = run.by_type(PROJECT_MEMBER)
    assert {binding.inputs["role"] for binding in bindings} == {iam.ROLE_SQL_CLIENT, iam.ROLE_SQL_INSTANCE_USER}
    for binding in bindings:
        assert binding.inputs["project"] == PROJECT
        assert binding.inputs["condition"]["expression"] == (
            'resource.type == "sqladmin.googleapis.com/Instance" && '
            f'resource.name == "projects/{PROJECT}/instances/{instance}"'
        )


@pytest.mark.parametrize("isolation", ["silo", "bridge"])
def test_own_identity_reaches_only_its_own_bucket_key_and_instance(runs: dict[str, Any], isolation: str) -> None:
    run, names = runs[isolation], _names("acme")
    member = f"serviceAccount:{names['service_account']}@{PROJECT}.iam.gserviceaccount.com"
    assert _member(run) == member and run.outputs["identity"]["member"] == member
    grants = _tenant_iam(run)
    assert {(grant.type, grant.inputs["role"]) for grant in grants} == {
        (BUCKET_MEMBER, iam.ROLE_OBJECT_USER), (KEY_MEMBER, iam.ROLE_KEY_USER),
        (PROJECT_MEMBER, iam.ROLE_SQL_CLIENT), (PROJECT_MEMBER, iam.ROLE_SQL_INSTANCE_USER),
    }
    assert run.one(BUCKET_MEMBER).inputs["bucket"] == names["bucket"]
    own_key = [grant for grant in grants if grant.type == KEY_MEMBER]
    assert [grant.inputs["cryptoKeyId"] for grant in own_key] == [run.one(KEY).id]
    _assert_instance_conditions(run, names["db_instance"])
    user = run.one(USER).inputs
    assert user == {"instance": names["db_instance"], "project": PROJECT, "type": "CLOUD_IAM_SERVICE_ACCOUNT",
                    "name": f"{names['service_account']}@{PROJECT}.iam", "deletionPolicy": "ABANDON"}
    assert run.one(ACCOUNT).inputs["disabled"] is False


@pytest.mark.parametrize(
    ("key", "tenant", "other"), [("pooled", "acme", "globex"), ("pooled-globex", "globex", "acme")]
)
def test_pooled_identity_reaches_only_its_folder_and_database(
    runs: dict[str, Any], key: str, tenant: str, other: str
) -> None:
    run, names, cell = runs[key], _names(tenant), _names("cell-a")
    grants = _tenant_iam(run)
    assert {(grant.type, grant.inputs["role"]) for grant in grants} == {
        (FOLDER_MEMBER, iam.ROLE_OBJECT_USER), (PROJECT_MEMBER, iam.ROLE_SQL_CLIENT),
        (PROJECT_MEMBER, iam.ROLE_SQL_INSTANCE_USER),
    }
    folder = run.one(FOLDER_MEMBER).inputs
    assert (folder["bucket"], folder["managedFolder"]) == (cell["bucket"], f"tenants/{tenant}/")
    _assert_instance_conditions(run, cell["db_instance"])
    assert run.one(USER).inputs["instance"] == cell["db_instance"]
    assert run.one(DATABASE).inputs["name"] == names["database"]
    assert not run.by_type(KEY_MEMBER), "a pooled tenant never gets the cell's key"
    text = json.dumps([resource.inputs for resource in run.resources if resource.type != STACK_REF])
    assert other not in text and "*" not in text
    assert run.outputs["store"] == {"bucket": cell["bucket"], "folder": f"tenants/{tenant}/",
                                    "url": f"gs://{cell['bucket']}/tenants/{tenant}/"}
    assert run.outputs["database"]["database"] == names["database"]
    assert run.outputs["database"]["connection_name"] == f"{PROJECT}:{REGION}:{cell['db_instance']}"


@pytest.mark.parametrize("key", ["silo", "pooled", "bridge", "pooled-globex"])
def test_no_broad_roles_and_every_project_grant_is_conditioned(runs: dict[str, Any], key: str) -> None:
    for resource in runs[key].resources:
        if resource.type in TENANT_IAM:
            assert iam.check_role(resource.inputs["role"])
        if resource.type == PROJECT_MEMBER:
            assert resource.inputs["condition"]["expression"]


@pytest.mark.parametrize("isolation", ["silo", "pooled", "bridge"])
def test_suspended_identity_exists_with_no_grants(runs: dict[str, Any], isolation: str) -> None:
    run = runs[f"{isolation}-suspended"]
    assert run.one(ACCOUNT).inputs["disabled"] is True
    assert _tenant_iam(run) == []
    assert not run.by_type(PROJECT_MEMBER) and not run.by_type(FOLDER_MEMBER) and not run.by_type(BUCKET_MEMBER)
    assert run.one(USER).inputs["type"] == "CLOUD_IAM_SERVICE_ACCOUNT"  # kept: it may own the tenant's tables
    assert run.outputs["identity"]["service_account"] == run.one(ACCOUNT).outputs["email"]


def test_cell_outputs_round_trip_into_tenant_handles(runs: dict[str, Any]) -> None:
    cell = runs["cell"].outputs["cell"]
    pooled = runs["pooled"].outputs
    assert set(cell) == {"scope", "network", "key", "store", "database"}
    assert pooled["network"] == cell["network"] and pooled["key"] == cell["key"]
    assert cell["database"]["connection_name"] == f"{PROJECT}:{REGION}:{_names('cell-a')['db_instance']}"
    assert cell["network"]["self_link"] == (
        f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/{_names('cell-a')['network']}"
    )
    assert cell["key"]["key_id"] == (
        f"projects/{PROJECT}/locations/{REGION}/keyRings/{_names('cell-a')['key_ring']}"
        f"/cryptoKeys/{_names('cell-a')['key']}"
    )
    assert "secrets" not in runs["cell"].outputs

"""The Azure building blocks in every topology, run through the real stack programs under the mock
runtime (cell, silo, pooled, bridge; suspended and offboarding tenants)."""

from __future__ import annotations

import importlib
import inspect
from collections import Counter
from functools import cache
from typing import Any

import pytest

from paybill_iac.mock_outputs.common import MOCK_AZURE_SUBSCRIPTION, MOCK_AZURE_TENANT
from paybill_iac.mockrun import RegisteredResource, StackRun
from paybill_iac.model import markers, naming

RG = "azure-native:resources:ResourceGroup"
VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
NSG = "azure-native:network:NetworkSecurityGroup"
ZONE = "azure-native:privatedns:PrivateZone"
LINK = "azure-native:privatedns:VirtualNetworkLink"
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
CONTAINER = "azure-native:storage:BlobContainer"
SERVER = "azure-native:dbforpostgresql:Server"
DATABASE = "azure-native:dbforpostgresql:Database"
CONFIG = "azure-native:dbforpostgresql:Configuration"
ENTRA_ADMIN = "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE = "azure-native:authorization:RoleAssignment"
LOCK = "azure-native:authorization:ManagementLockByScope"

NETWORK_TYPES = {NSG: 1, VNET: 1, SUBNET: 1, ZONE: 1, LINK: 1}
KEY_TYPES = {VAULT: 1, KEY: 1, IDENTITY: 1, ROLE: 1}  # the encryption identity and its grant on the key
STORE_TYPES = {ACCOUNT: 1, BLOB_SERVICE: 1, CONTAINER: 1}
SERVER_TYPES = {SERVER: 1, IDENTITY: 1, ENTRA_ADMIN: 1, CONFIG: 2, DATABASE: 1, LOCK: 1}


def _types(*parts: dict[str, int]) -> Counter[str]:
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    return total


EXPECTED_TYPES = {
    "cell": _types({RG: 1}, NETWORK_TYPES, KEY_TYPES, STORE_TYPES, SERVER_TYPES),
    # silo: everything of its own, plus its identity and two grants (its account, its key)
    "silo": _types({RG: 1}, NETWORK_TYPES, KEY_TYPES, STORE_TYPES, SERVER_TYPES, {IDENTITY: 1, ROLE: 2}),
    # bridge: the same without a network
    "bridge": _types({RG: 1}, KEY_TYPES, STORE_TYPES, SERVER_TYPES, {IDENTITY: 1, ROLE: 2}),
    # pooled: a resource group for its identity, a database and a container in the cell, one grant
    "pooled": _types({RG: 1, DATABASE: 1, CONTAINER: 1, IDENTITY: 1, ROLE: 1}),
}

# Resources that hold data (or, for the lock, keep it from being deleted).
STATEFUL = {RG, VAULT, KEY, ACCOUNT, CONTAINER, SERVER, DATABASE, LOCK,
            "azure-native:dbforpostgresql:BackupsAutomaticAndOnDemand"}

# Which input of each type is its physical name, and which names key it must be.
NAME_INPUTS = {
    RG: ("resourceGroupName", {"resource_group"}),
    VNET: ("virtualNetworkName", {"network"}),
    SUBNET: ("subnetName", {"subnet"}),
    NSG: ("networkSecurityGroupName", {"network_security_group"}),
    ZONE: ("privateZoneName", {"dns_zone"}),
    LINK: ("virtualNetworkLinkName", {"network"}),
    VAULT: ("vaultName", {"key_vault"}),
    KEY: ("keyName", {"key"}),
    ACCOUNT: ("accountName", {"storage_account"}),
    CONTAINER: ("containerName", {"container"}),
    SERVER: ("serverName", {"db_server"}),
    DATABASE: ("databaseName", {"database"}),
    IDENTITY: ("resourceName", {"identity", "key_identity", "db_admin"}),
    LOCK: ("lockName", {"db_lock"}),
}

ORG = "pb"  # the stackkit fixture's org
CELL_NAMES = naming.names_for("azure", ORG, "cell-a")
ACME = naming.names_for("azure", ORG, "acme")
GLOBEX = naming.names_for("azure", ORG, "globex")
SUBSCRIPTION = f"/subscriptions/{MOCK_AZURE_SUBSCRIPTION}"


@pytest.fixture(scope="module")
def _runs() -> dict[str, StackRun]:
    return {}


@pytest.fixture
def runs(stackkit: Any, _runs: dict[str, StackRun]) -> dict[str, StackRun]:
    """Every stack of this module, run once per module, one after another (the mock runtime is global
    state)."""
    if not _runs:
        cell = stackkit.run_cell(stackkit.cell_stack("azure"))
        _runs["cell"] = cell
        for key, isolation, tenant, state in [
            ("silo", "silo", "acme", "active"),
            ("pooled", "pooled", "acme", "active"),
            ("bridge", "bridge", "acme", "active"),
            ("pooled-globex", "pooled", "globex", "active"),
            ("silo-suspended", "silo", "acme", "suspended"),
            ("pooled-suspended", "pooled", "acme", "suspended"),
            ("bridge-suspended", "bridge", "acme", "suspended"),
            ("silo-offboarding", "silo", "acme", "offboarding"),
            ("pooled-offboarding", "pooled", "acme", "offboarding"),
        ]:
            spec = stackkit.tenant_stack("azure", isolation, tenant=tenant, state=state)
            _runs[key] = stackkit.run_tenant(spec, cell)
    return _runs


def _azure(run: StackRun) -> list[RegisteredResource]:
    return [resource for resource in run.resources if resource.type.startswith("azure-native:")]


def _named(run: StackRun, type_token: str, name: str) -> RegisteredResource:
    found = [resource for resource in run.by_type(type_token) if resource.name == name]
    assert len(found) == 1, f"{type_token} {name}: {[resource.name for resource in run.by_type(type_token)]}"
    return found[0]


@cache
def _taggable(type_token: str) -> bool:
    """Whether the installed SDK's resource takes `tags` (read from its constructor)."""
    _, module, cls = type_token.split(":")
    resource = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), cls)
    return "tags" in inspect.signature(resource._internal_init).parameters


# --- resource types and names -------------------------------------------------------------------


@pytest.mark.parametrize("topology", ["cell", "silo", "pooled", "bridge"])
def test_resource_types(runs: dict[str, StackRun], topology: str) -> None:
    found = Counter(resource.type for resource in _azure(runs[topology]))
    assert found == EXPECTED_TYPES[topology]


@pytest.mark.parametrize(("topology", "names"), [("cell", CELL_NAMES), ("silo", ACME), ("pooled", ACME),
                                                  ("bridge", ACME)])
def test_physical_names_come_from_naming(runs: dict[str, StackRun], topology: str, names: dict[str, str]) -> None:
    seen: dict[str, set[str]] = {}
    for resource in _azure(runs[topology]):
        if resource.type not in NAME_INPUTS:
            continue
        field, keys = NAME_INPUTS[resource.type]
        physical = resource.inputs[field]
        assert physical in {names[key] for key in keys}, (resource.type, physical)
        seen.setdefault(resource.type, set()).add(physical)
    if topology != "pooled":
        assert seen[IDENTITY] >= {names["key_identity"], names["db_admin"]}
    if topology != "cell":
        assert names["identity"] in seen[IDENTITY]


def test_dns_zone_name_is_a_postgres_private_zone() -> None:
    for owner in ("cell-a", "acme", "a" * 30):
        zone = naming.names_for("azure", "pb", owner)["dns_zone"]
        assert zone.endswith(".private.postgres.database.azure.com")
        assert all(0 < len(label) <= 63 for label in zone.split("."))


def test_urns_are_unique(runs: dict[str, StackRun]) -> None:
    for run in runs.values():
        urns = [resource.urn for resource in run.resources]
        assert len(urns) == len(set(urns))


# --- options: tags, parents, providers, protection ----------------------------------------------


@pytest.mark.parametrize("topology", ["cell", "silo", "pooled", "bridge"])
def test_every_taggable_resource_carries_the_markers(runs: dict[str, StackRun], topology: str) -> None:
    tenant = topology != "cell"
    expected = (markers.tenant_markers("acme", "pro", topology) if tenant else markers.cell_markers("cell-a"))
    taggable = [resource for resource in _azure(runs[topology]) if _taggable(resource.type)]
    assert taggable
    for resource in taggable:
        assert resource.inputs.get("tags") == expected, resource.name


@pytest.mark.parametrize("topology", ["cell", "silo", "pooled", "bridge"])
def test_parents_reach_the_component_and_the_explicit_provider(runs: dict[str, StackRun], topology: str) -> None:
    run = runs[topology]
    by_urn = {resource.urn: resource for resource in run.resources}
    region = "westeurope"
    providers = [resource for resource in run.resources if resource.type == "pulumi:providers:azure-native"]
    assert len(providers) == 1 and providers[0].inputs["location"] == region
    for resource in _azure(run):
        assert resource.provider.startswith(providers[0].urn), resource.name
        parent, chain = resource.parent, []
        while parent in by_urn and not by_urn[parent].type.startswith("paybill:"):
            chain.append(parent)
            parent = by_urn[parent].parent
        assert parent in by_urn and by_urn[parent].type.startswith("paybill:"), resource.name


@pytest.mark.parametrize("topology", ["cell", "silo", "pooled", "bridge"])
def test_stateful_resources_are_protected(runs: dict[str, StackRun], topology: str) -> None:
    for resource in _azure(runs[topology]):
        assert resource.protect == (resource.type in STATEFUL), resource.name
        # A database inside a server is never deleted by the engine: a pooled tenant's lives in the cell's
        # server under the cell's delete lock (ARM refuses); the data plane drops it (DROP DATABASE).
        assert resource.retain_on_delete == (resource.type == DATABASE), resource.name


@pytest.mark.parametrize("topology", ["silo-offboarding", "pooled-offboarding"])
def test_offboarding_keeps_all_but_the_access_path(runs: dict[str, StackRun], topology: str) -> None:
    """The network, delegated subnet, NSG, DNS zone and link, the Entra admin, the CMK identity and its key
    grant stay with the server: everything but the tenant's identity and its role assignments."""
    run = runs[topology]
    resources = _azure(run)
    assert {resource.type for resource in resources} & STATEFUL
    assert not any("paybill:tenant:Access" in resource.urn for resource in run.resources)
    for resource in resources:
        assert resource.retain_on_delete, resource.name
        assert resource.protect == (resource.type in STATEFUL), resource.name
    names = [resource.inputs.get("resourceName") for resource in run.by_type(IDENTITY)]
    assert ACME["identity"] not in names


def test_offboarding_takes_an_on_demand_backup(runs: dict[str, StackRun]) -> None:
    run = runs["silo-offboarding"]
    (backup,) = run.by_type("azure-native:dbforpostgresql:BackupsAutomaticAndOnDemand")
    assert backup.inputs["backupName"] == ACME["db_backup"]
    assert backup.inputs["serverName"] == ACME["db_server"]
    assert backup.protect and backup.retain_on_delete
    assert run.outputs["final_backup"]["name"] == ACME["db_backup"]
    assert runs["pooled-offboarding"].outputs["final_backup"]["kind"] == "logical dump"


def test_offboarding_keeps_the_deletion_lock(runs: dict[str, StackRun]) -> None:
    lock = runs["silo-offboarding"].one(LOCK)
    assert lock.retain_on_delete and lock.inputs["level"] == "CanNotDelete"


# --- security settings --------------------------------------------------------------------------


def _server_id(names: dict[str, str]) -> str:
    return (f"{SUBSCRIPTION}/resourceGroups/{names['resource_group']}/providers/Microsoft.DBforPostgreSQL/"
            f"flexibleServers/{names['db_server']}")


def _group_id(names: dict[str, str]) -> str:
    return f"{SUBSCRIPTION}/resourceGroups/{names['resource_group']}"


@pytest.mark.parametrize(("topology", "names"), [("cell", CELL_NAMES), ("silo", ACME)])
def test_network_is_private(runs: dict[str, StackRun], topology: str, names: dict[str, str]) -> None:
    run = runs[topology]
    subnet = run.one(SUBNET)
    assert subnet.inputs["delegations"] == [
        {"name": "postgres-flexible-servers", "serviceName": "Microsoft.DBforPostgreSQL/flexibleServers"}
    ]
    assert subnet.inputs["defaultOutboundAccess"] is False
    assert subnet.inputs["networkSecurityGroup"]["id"] == run.one(NSG).id
    rules = {rule["name"]: rule for rule in run.one(NSG).inputs["securityRules"]}
    assert rules["deny-internet-inbound"]["access"] == "Deny"
    assert rules["deny-internet-inbound"]["sourceAddressPrefix"] == "Internet"
    assert rules["allow-postgres-from-vnet"]["sourceAddressPrefix"] == "VirtualNetwork"
    link = run.one(LINK)
    assert link.inputs["virtualNetwork"]["id"] == run.one(VNET).id
    assert link.inputs["privateZoneName"] == names["dns_zone"]
    assert link.inputs["registrationEnabled"] is False
    assert not [resource for resource in run.resources if "PublicIP" in resource.type]


@pytest.mark.parametrize(("topology", "names"), [("cell", CELL_NAMES), ("silo", ACME), ("bridge", ACME)])
def test_key_vault_and_key(runs: dict[str, StackRun], topology: str, names: dict[str, str]) -> None:
    run = runs[topology]
    properties = run.one(VAULT).inputs["properties"]
    assert properties["tenantId"] == MOCK_AZURE_TENANT
    assert properties["enableRbacAuthorization"] is True
    assert properties["enablePurgeProtection"] is True
    assert properties["softDeleteRetentionInDays"] == 90
    assert properties["publicNetworkAccess"] == "Disabled"
    assert properties["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}
    assert "accessPolicies" not in properties
    key = run.one(KEY).inputs
    assert key["vaultName"] == names["key_vault"]
    assert key["properties"]["kty"] == "RSA-HSM" and key["properties"]["keySize"] >= 3072
    assert set(key["properties"]["keyOps"]) == {"wrapKey", "unwrapKey"}
    rotation = key["properties"]["rotationPolicy"]
    assert {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "rotate"}} in rotation["lifetimeActions"]
    assert rotation["attributes"]["expiryTime"] == "P1Y"


@pytest.mark.parametrize(("topology", "names"), [("cell", CELL_NAMES), ("silo", ACME), ("bridge", ACME)])
def test_encryption_identity_grant_is_the_key_only(runs: dict[str, StackRun], topology: str,
                                                    names: dict[str, str]) -> None:
    run = runs[topology]
    identity = next(resource for resource in run.by_type(IDENTITY)
                    if resource.inputs["resourceName"] == names["key_identity"])
    grants = [role for role in run.by_type(ROLE) if role.inputs["principalId"] == identity.outputs["principalId"]]
    assert len(grants) == 1
    assert grants[0].inputs["scope"] == run.one(KEY).id
    assert grants[0].inputs["roleDefinitionId"].endswith("/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6")
    assert grants[0].inputs["principalType"] == "ServicePrincipal"


@pytest.mark.parametrize(("topology", "names"), [("cell", CELL_NAMES), ("silo", ACME), ("bridge", ACME)])
def test_storage_account_is_private_and_encrypted_with_its_key(
    runs: dict[str, StackRun], topology: str, names: dict[str, str]
) -> None:
    run = runs[topology]
    account = run.one(ACCOUNT).inputs
    identity_id = (f"{_group_id(names)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                   f"{names['key_identity']}")
    assert account["resourceGroupName"] == names["resource_group"]
    assert account["kind"] == "StorageV2"
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["enableHttpsTrafficOnly"] is True
    assert account["publicNetworkAccess"] == "Disabled"
    assert account["networkRuleSet"]["defaultAction"] == "Deny"
    assert account["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity_id]}
    encryption = account["encryption"]
    assert encryption["keySource"] == "Microsoft.Keyvault"
    assert encryption["keyVaultProperties"] == {
        "keyName": names["key"], "keyVaultUri": f"https://{names['key_vault']}.vault.azure.net/"
    }
    assert encryption["encryptionIdentity"] == {"encryptionUserAssignedIdentity": identity_id}
    assert encryption["requireInfrastructureEncryption"] is True
    service = run.one(BLOB_SERVICE).inputs
    assert service["accountName"] == names["storage_account"]
    assert service["isVersioningEnabled"] is True
    assert service["deleteRetentionPolicy"]["enabled"] is True and service["deleteRetentionPolicy"]["days"] >= 7
    assert service["containerDeleteRetentionPolicy"]["enabled"] is True
    container = run.one(CONTAINER).inputs
    assert container == {"containerName": names["container"], "accountName": names["storage_account"],
                         "resourceGroupName": names["resource_group"], "publicAccess": "None"}


@pytest.mark.parametrize(
    ("topology", "names", "network_names"),
    [("cell", CELL_NAMES, CELL_NAMES), ("silo", ACME, ACME), ("bridge", ACME, CELL_NAMES)],
)
def test_database_server(runs: dict[str, StackRun], stackkit: Any, topology: str, names: dict[str, str],
                         network_names: dict[str, str]) -> None:
    run = runs[topology]
    spec = stackkit.cell_stack("azure") if topology == "cell" else stackkit.tenant_stack("azure", topology)
    size = spec.database
    assert size.backup_retention_days >= 7 and size.tier
    server = run.one(SERVER).inputs
    group = _group_id(network_names)
    identity_id = (f"{_group_id(names)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                   f"{names['key_identity']}")
    assert server["resourceGroupName"] == names["resource_group"]
    assert server["version"] == size.engine_version
    assert server["sku"] == {"name": size.instance_class, "tier": size.tier}
    assert server["storage"]["storageSizeGB"] == size.storage_gb
    assert server["backup"] == {"backupRetentionDays": size.backup_retention_days, "geoRedundantBackup": "Disabled"}
    assert server["network"] == {
        "delegatedSubnetResourceId": (f"{group}/providers/Microsoft.Network/virtualNetworks/"
                                      f"{network_names['network']}/subnets/{network_names['subnet']}"),
        "privateDnsZoneArmResourceId": (f"{group}/providers/Microsoft.Network/privateDnsZones/"
                                        f"{network_names['dns_zone']}"),
        "publicNetworkAccess": "Disabled",
    }
    assert server["dataEncryption"] == {
        "type": "AzureKeyVault",
        "primaryKeyURI": f"https://{names['key_vault']}.vault.azure.net/keys/{names['key']}",
        "primaryUserAssignedIdentityId": identity_id,
    }
    assert server["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {identity_id: {}}}
    assert server["authConfig"] == {"activeDirectoryAuth": "Enabled", "passwordAuth": "Disabled",
                                    "tenantId": MOCK_AZURE_TENANT}
    assert "administratorLogin" not in server and "administratorLoginPassword" not in server
    parameters = {config.inputs["configurationName"]: config.inputs["value"] for config in run.by_type(CONFIG)}
    assert parameters == {"require_secure_transport": "on", "ssl_min_protocol_version": "TLSv1.2"}
    assert all(config.inputs["serverName"] == names["db_server"] for config in run.by_type(CONFIG))
    lock = run.one(LOCK).inputs
    assert lock["scope"] == _server_id(names) and lock["level"] == "CanNotDelete"
    admin = run.one(ENTRA_ADMIN).inputs
    admin_identity = next(resource for resource in run.by_type(IDENTITY)
                          if resource.inputs["resourceName"] == names["db_admin"])
    assert admin["objectId"] == admin_identity.outputs["principalId"]
    assert admin["principalName"] == names["db_admin"] and admin["principalType"] == "servicePrincipal"
    database = run.one(DATABASE).inputs
    assert database["databaseName"] == names["database"] and database["charset"] == "UTF8"


def test_bridge_uses_the_cell_network_and_its_own_data_tier(runs: dict[str, StackRun]) -> None:
    bridge, cell = runs["bridge"], runs["cell"]
    assert bridge.outputs["network"] == cell.outputs["cell"]["network"]
    assert bridge.outputs["key"]["key_id"].startswith(_group_id(ACME))
    assert bridge.outputs["store"]["storage_account"] == ACME["storage_account"]
    assert bridge.outputs["database"]["server_name"] == ACME["db_server"]


def test_pooled_tenant_lives_in_the_cell(runs: dict[str, StackRun]) -> None:
    run = runs["pooled"]
    database = run.one(DATABASE).inputs
    assert database == {"databaseName": ACME["database"], "serverName": CELL_NAMES["db_server"],
                        "resourceGroupName": CELL_NAMES["resource_group"], "charset": "UTF8",
                        "collation": "en_US.utf8"}
    container = run.one(CONTAINER).inputs
    assert container == {"containerName": ACME["container"], "accountName": CELL_NAMES["storage_account"],
                         "resourceGroupName": CELL_NAMES["resource_group"], "publicAccess": "None"}
    assert run.one(IDENTITY).inputs["resourceGroupName"] == ACME["resource_group"]


# --- identity: least privilege, one tenant ------------------------------------------------------


def _tenant_grants(run: StackRun, names: dict[str, str]) -> list[RegisteredResource]:
    identity = next(resource for resource in run.by_type(IDENTITY)
                    if resource.inputs["resourceName"] == names["identity"])
    return [role for role in run.by_type(ROLE) if role.inputs["principalId"] == identity.outputs["principalId"]]


def _role(guid: str) -> str:
    return f"{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


BLOB_ROLE = _role("ba92f5b4-2d11-453d-a403-e96b0029c9fe")
CRYPTO_ROLE = _role("12338af0-0e69-4776-bea7-57ae8d297424")


def test_pooled_identity_reaches_only_its_container(runs: dict[str, StackRun]) -> None:
    run = runs["pooled"]
    grants = _tenant_grants(run, ACME)
    container_id = run.one(CONTAINER).id
    assert container_id.endswith(f"/storageAccounts/{CELL_NAMES['storage_account']}/blobServices/default/"
                                 f"containers/{ACME['container']}")
    assert [(grant.inputs["roleDefinitionId"], grant.inputs["scope"]) for grant in grants] == [
        (BLOB_ROLE, container_id)
    ]
    assert grants[0].inputs["principalType"] == "ServicePrincipal"
    assert run.outputs["identity"]["roles"] == ["Storage Blob Data Contributor"]


def test_pooled_tenants_do_not_meet(runs: dict[str, StackRun]) -> None:
    acme, globex = _tenant_grants(runs["pooled"], ACME), _tenant_grants(runs["pooled-globex"], GLOBEX)
    assert GLOBEX["container"] not in acme[0].inputs["scope"]
    assert globex[0].inputs["scope"].endswith(f"/containers/{GLOBEX['container']}")
    assert acme[0].inputs["roleAssignmentName"] != globex[0].inputs["roleAssignmentName"]
    for run, other in [(runs["pooled"], GLOBEX), (runs["pooled-globex"], ACME)]:
        for resource in _azure(run):
            assert other["container"] not in str(resource.inputs)
            assert other["database"] not in str(resource.inputs)


@pytest.mark.parametrize("topology", ["silo", "bridge"])
def test_dedicated_identity_reaches_its_account_and_key(runs: dict[str, StackRun], topology: str) -> None:
    run = runs[topology]
    grants = {(grant.inputs["roleDefinitionId"], grant.inputs["scope"]) for grant in _tenant_grants(run, ACME)}
    assert grants == {(BLOB_ROLE, run.one(ACCOUNT).id), (CRYPTO_ROLE, run.one(KEY).id)}
    for scope in (scope for _, scope in grants):
        assert scope.startswith(_group_id(ACME) + "/providers/")


@pytest.mark.parametrize("topology", ["cell", "silo", "pooled", "bridge"])
def test_no_broad_roles_or_scopes(runs: dict[str, StackRun], topology: str) -> None:
    allowed = {BLOB_ROLE, CRYPTO_ROLE, _role("e147488a-f6f5-4113-8e2d-b22465e65bf6")}
    for grant in runs[topology].by_type(ROLE):
        assert grant.inputs["roleDefinitionId"] in allowed
        assert "/providers/" in grant.inputs["scope"] and "*" not in grant.inputs["scope"]


@pytest.mark.parametrize(("topology", "names"), [("silo-suspended", ACME), ("pooled-suspended", ACME),
                                                  ("bridge-suspended", ACME)])
def test_suspended_identity_exists_without_grants(runs: dict[str, StackRun], topology: str,
                                                  names: dict[str, str]) -> None:
    run = runs[topology]
    assert any(resource.inputs["resourceName"] == names["identity"] for resource in run.by_type(IDENTITY))
    assert _tenant_grants(run, names) == []
    assert run.outputs["identity"]["roles"] == []
    if topology == "pooled-suspended":
        assert run.by_type(ROLE) == []


# --- outputs ------------------------------------------------------------------------------------


def test_silo_outputs_give_a_service_what_it_needs(runs: dict[str, StackRun]) -> None:
    outputs = runs["silo"].outputs
    assert outputs["database"]["host"] == f"{ACME['db_server']}.postgres.database.azure.com"
    assert outputs["database"]["database"] == ACME["database"]
    assert outputs["database"]["username"] == ACME["db_user"]
    assert outputs["store"]["blob_endpoint"] == f"https://{ACME['storage_account']}.blob.core.windows.net/"
    assert outputs["store"]["container"] == ACME["container"]
    assert outputs["identity"]["client_id"] and outputs["identity"]["tenant_id"] == MOCK_AZURE_TENANT
    assert outputs["key"]["key_uri"] == f"https://{ACME['key_vault']}.vault.azure.net/keys/{ACME['key']}"


def test_pooled_outputs(runs: dict[str, StackRun]) -> None:
    outputs = runs["pooled"].outputs
    assert outputs["database"] == {
        "server_id": _server_id(CELL_NAMES), "server_name": CELL_NAMES["db_server"],
        "host": f"{CELL_NAMES['db_server']}.postgres.database.azure.com", "database": ACME["database"],
        "username": ACME["db_user"],
    }
    assert outputs["store"]["container"] == ACME["container"]
    assert outputs["store"]["storage_account"] == CELL_NAMES["storage_account"]
    assert outputs["scope"]["resource_group_name"] == ACME["resource_group"]


def test_cell_output_round_trips_through_cell_handles(runs: dict[str, StackRun]) -> None:
    from paybill_components.azure.blocks import CELL_KEYS

    cell = runs["cell"].outputs["cell"]
    assert {part: set(refs) for part, refs in cell.items()} == {part: set(keys) for part, keys in CELL_KEYS.items()}
    assert runs["pooled"].outputs["network"] == cell["network"]
    assert runs["pooled"].outputs["key"] == cell["key"]
    assert "secrets" not in runs["cell"].outputs  # no passwords: Entra authentication only

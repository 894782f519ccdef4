"""Provider-shaped mock outputs for azure-native resources (see paybill_iac.mock_outputs).

Every resource gets the Azure resource id the real provider returns
(`/subscriptions/<sub>/resourceGroups/<rg>/providers/<Namespace>/<type>/<name>`, children under their
parent's id, extension resources under their scope) and its `name`; the computed attributes the
components read come on top: a server's fullyQualifiedDomainName, an identity's principalId and
clientId, a vault's vaultUri, a key's keyUri and keyUriWithVersion, a storage account's
primaryEndpoints. Ids and `azure-native:authorization:getClientConfig` carry the stack's subscription and
tenant (common.current(), from its stack config; the MOCK_AZURE_* ones without). Pure Python,
deterministic from (stack, type, name, inputs).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from paybill_iac.mock_outputs.common import MOCK_AZURE_SUBSCRIPTION, MOCK_AZURE_TENANT, current, stable_hex

MOCK_AZURE_CLIENT_ID = "22222222-2222-4222-8222-222222222222"
MOCK_AZURE_OBJECT_ID = "33333333-3333-4333-8333-333333333333"

def _subscription() -> str:
    """The stack's subscription (its catalog's first azure_subscription_ids), as a resource id prefix."""
    return f"/subscriptions/{current().account or MOCK_AZURE_SUBSCRIPTION}"


def _directory() -> str:
    return current().directory or MOCK_AZURE_TENANT


def _group(inputs: dict[str, Any]) -> str:
    return f"{_subscription()}/resourceGroups/{inputs.get('resourceGroupName', '')}"


def _in_group(namespace_type: str, name_key: str) -> Callable[[dict[str, Any], str], tuple[str, str]]:
    """A top-level resource of a resource group: (id, name) from the input holding its name."""

    def build(inputs: dict[str, Any], fallback: str) -> tuple[str, str]:
        name = str(inputs.get(name_key) or fallback)
        return f"{_group(inputs)}/providers/{namespace_type}/{name}", name

    return build


def _child(
    namespace_type: str, parent_key: str, child_type: str, name_key: str, default: str | None = None
) -> Callable[[dict[str, Any], str], tuple[str, str]]:
    """A child resource (`<parent id>/<child type>/<name>`)."""

    def build(inputs: dict[str, Any], fallback: str) -> tuple[str, str]:
        name = str(inputs.get(name_key) or default or fallback)
        parent = f"{_group(inputs)}/providers/{namespace_type}/{inputs.get(parent_key, '')}"
        return f"{parent}/{child_type}/{name}", name

    return build


def _extension(child_type: str, name_key: str) -> Callable[[dict[str, Any], str], tuple[str, str]]:
    """An extension resource living under an arbitrary `scope` (role assignments, locks)."""

    def build(inputs: dict[str, Any], fallback: str) -> tuple[str, str]:
        name = str(inputs.get(name_key) or fallback)
        return f"{inputs.get('scope') or _subscription()}/providers/Microsoft.Authorization/{child_type}/{name}", name

    return build


def _resource_group(inputs: dict[str, Any], fallback: str) -> tuple[str, str]:
    name = str(inputs.get("resourceGroupName") or fallback)
    return f"{_subscription()}/resourceGroups/{name}", name


_FLEXIBLE = "Microsoft.DBforPostgreSQL/flexibleServers"
_STORAGE = "Microsoft.Storage/storageAccounts"

_IDS: dict[str, Callable[[dict[str, Any], str], tuple[str, str]]] = {
    "azure-native:resources:ResourceGroup": _resource_group,
    "azure-native:network:VirtualNetwork": _in_group("Microsoft.Network/virtualNetworks", "virtualNetworkName"),
    "azure-native:network:Subnet": _child(
        "Microsoft.Network/virtualNetworks", "virtualNetworkName", "subnets", "subnetName"
    ),
    "azure-native:network:NetworkSecurityGroup": _in_group(
        "Microsoft.Network/networkSecurityGroups", "networkSecurityGroupName"
    ),
    "azure-native:privatedns:PrivateZone": _in_group("Microsoft.Network/privateDnsZones", "privateZoneName"),
    "azure-native:privatedns:VirtualNetworkLink": _child(
        "Microsoft.Network/privateDnsZones", "privateZoneName", "virtualNetworkLinks", "virtualNetworkLinkName"
    ),
    "azure-native:keyvault:Vault": _in_group("Microsoft.KeyVault/vaults", "vaultName"),
    "azure-native:keyvault:Key": _child("Microsoft.KeyVault/vaults", "vaultName", "keys", "keyName"),
    "azure-native:storage:StorageAccount": _in_group(_STORAGE, "accountName"),
    "azure-native:storage:BlobServiceProperties": _child(
        _STORAGE, "accountName", "blobServices", "blobServicesName", "default"
    ),
    "azure-native:storage:BlobContainer": _child(
        _STORAGE, "accountName", "blobServices/default/containers", "containerName"
    ),
    "azure-native:dbforpostgresql:Server": _in_group(_FLEXIBLE, "serverName"),
    "azure-native:dbforpostgresql:Database": _child(_FLEXIBLE, "serverName", "databases", "databaseName"),
    "azure-native:dbforpostgresql:Configuration": _child(
        _FLEXIBLE, "serverName", "configurations", "configurationName"
    ),
    "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra": _child(
        _FLEXIBLE, "serverName", "administrators", "objectId"
    ),
    "azure-native:dbforpostgresql:BackupsAutomaticAndOnDemand": _child(
        _FLEXIBLE, "serverName", "backups", "backupName"
    ),
    "azure-native:managedidentity:UserAssignedIdentity": _in_group(
        "Microsoft.ManagedIdentity/userAssignedIdentities", "resourceName"
    ),
    "azure-native:authorization:RoleAssignment": _extension("roleAssignments", "roleAssignmentName"),
    "azure-native:authorization:ManagementLockByScope": _extension("locks", "lockName"),
}


def _uuid(*parts: str) -> str:
    return str(uuid.UUID(stable_hex(*parts, length=32)))


def shape(type_token: str, name: str, inputs: dict[str, Any], stack: str) -> tuple[str, dict[str, Any]]:
    """(id, computed outputs) of an azure-native resource."""
    build = _IDS.get(type_token)
    if build is None:
        return f"{name}-{stable_hex(stack, type_token, name, length=8)}", {}
    resource_id, physical = build(inputs, name)
    computed: dict[str, Any] = {"name": physical}
    identity = inputs.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        # azure-native takes a list of identity ids and returns the API's map of id -> details
        computed["identity"] = dict(identity, userAssignedIdentities={
            str(ref): {"principalId": _uuid(stack, str(ref), "principal"), "clientId": _uuid(stack, str(ref), "client")}
            for ref in identity["userAssignedIdentities"]
        })
    if type_token == "azure-native:dbforpostgresql:Server":
        computed["fullyQualifiedDomainName"] = f"{physical}.postgres.database.azure.com"
        computed["state"] = "Ready"
    elif type_token == "azure-native:managedidentity:UserAssignedIdentity":
        computed["principalId"] = _uuid(stack, resource_id, "principal")
        computed["clientId"] = _uuid(stack, resource_id, "client")
        computed["tenantId"] = _directory()
    elif type_token == "azure-native:keyvault:Vault":
        properties = dict(inputs.get("properties") or {})
        properties["vaultUri"] = f"https://{physical}.vault.azure.net/"
        computed["properties"] = properties
    elif type_token == "azure-native:keyvault:Key":
        key_uri = f"https://{inputs.get('vaultName', '')}.vault.azure.net/keys/{physical}"
        computed["keyUri"] = key_uri
        computed["keyUriWithVersion"] = f"{key_uri}/{stable_hex(stack, resource_id, length=32)}"
    elif type_token == "azure-native:storage:StorageAccount":
        computed["primaryEndpoints"] = {
            service: f"https://{physical}.{service}.core.windows.net/"
            for service in ("blob", "dfs", "file", "queue", "table")
        }
        computed["primaryLocation"] = inputs.get("location", "")
    return resource_id, computed


def invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Results of azure-native data-source invokes."""
    if token == "azure-native:authorization:getClientConfig":
        return {"clientId": MOCK_AZURE_CLIENT_ID, "objectId": MOCK_AZURE_OBJECT_ID,
                "subscriptionId": current().account or MOCK_AZURE_SUBSCRIPTION, "tenantId": _directory()}
    return {}

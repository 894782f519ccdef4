"""Azure rules (azure-native 3) beyond the family tables: storage and database exposure, server
parameters (TLS), deletion locks, network security groups and role assignments. Sizes, backups,
customer-managed keys and the storage account's TLS are rows of `database` and `settings`.

API-versioned tokens (`azure-native:storage/v20230101:StorageAccount`) match the same rules as the
unversioned resource, and validators compare `resource.canonical_type`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from paybill_policies.context import PolicyContext
from paybill_policies.evaluate import ResourceView, as_bool, get
from paybill_policies.rules._kit import (
    AGENT_GUARDRAILS,
    TENANT_ISOLATION,
    below_tls_1_2,
    listing,
    rule,
)

SERVER = "azure-native:dbforpostgresql:Server"
CONFIGURATION = "azure-native:dbforpostgresql:Configuration"
STORAGE = "azure-native:storage:StorageAccount"
CONTAINER = "azure-native:storage:BlobContainer"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"
DEFINITION = "azure-native:authorization:RoleDefinition"
LOCKS = ("azure-native:authorization:ManagementLockByScope", "azure-native:authorization:ManagementLockAtResourceLevel",
         "azure-native:authorization:ManagementLockAtResourceGroupLevel")
NSG = "azure-native:network:NetworkSecurityGroup"
SECURITY_RULE = "azure-native:network:SecurityRule"

# Built-in roles that control resources or access: never granted (Owner, Contributor, User Access
# Administrator, RBAC Administrator, Key Vault Administrator, Storage Account Contributor).
FORBIDDEN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
}
# The role templates: the roles a tenant identity (or the encryption identity) may be granted.
TEMPLATE_ROLES = {
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "12338af0-0e69-4776-bea7-57ae8d297424": "Key Vault Crypto User",
    "e147488a-f6f5-4113-8e2d-b22465e65bf6": "Key Vault Crypto Service Encryption User",
}
_SUBSCRIPTION = re.compile(r"^/subscriptions/[^/]+/?$", re.IGNORECASE)
_RESOURCE_GROUP = re.compile(r"^/subscriptions/[^/]+/resourcegroups/([^/]+)/?$", re.IGNORECASE)


def _role_guid(role_definition_id: Any) -> str:
    return str(role_definition_id or "").rstrip("/").rsplit("/", 1)[-1].lower()


# --- tenant-isolation ------------------------------------------------------------------------


@rule(
    "azure-storage-account-no-public-access", TENANT_ISOLATION, "azure", (STORAGE, CONTAINER),
    description="No storage account allows anonymous blob access and no container is public.",
    severity="critical",
    remediation="Set allowBlobPublicAccess to false on the account and publicAccess to None on containers.",
    reads={STORAGE: ("allowBlobPublicAccess",), CONTAINER: ("publicAccess",)}, needs_context=False,
)
def storage_not_public(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.canonical_type == CONTAINER:
        access = get(resource.inputs, "publicAccess")
        return [f"publicAccess is '{access}'."] if access not in (None, "None") else []
    if get(resource.inputs, "allowBlobPublicAccess") is not False:
        return ["allowBlobPublicAccess is not false."]
    return []


@rule(
    "azure-postgres-server-not-public", TENANT_ISOLATION, "azure", (SERVER,),
    description="A PostgreSQL flexible server has no public endpoint (VNet-integrated, public access "
                "disabled).",
    severity="critical",
    remediation="Set network.publicNetworkAccess to Disabled and network.delegatedSubnetResourceId to a "
                "delegated private subnet.",
    reads={SERVER: ("network.publicNetworkAccess", "network.delegatedSubnetResourceId")}, needs_context=False,
)
def server_not_public(resource: ResourceView, context: PolicyContext) -> list[str]:
    access = get(resource.inputs, "network.publicNetworkAccess")
    subnet = get(resource.inputs, "network.delegatedSubnetResourceId")
    if access == "Disabled" or (access is None and subnet):
        return []
    return [f"network.publicNetworkAccess is {access!r}: the server has a public endpoint."]


@rule(
    "azure-postgres-configuration-tls-1-2", TENANT_ISOLATION, "azure", (CONFIGURATION,),
    description="No server parameter turns TLS off or below 1.2 (require_secure_transport, "
                "ssl_min_protocol_version; the flexible server's defaults are on and TLSv1.2).",
    severity="high",
    remediation="Keep require_secure_transport on and ssl_min_protocol_version at TLSv1.2 or newer.",
    reads={CONFIGURATION: ("configurationName", "value")}, needs_context=False,
)
def server_tls(resource: ResourceView, context: PolicyContext) -> list[str]:
    name = str(get(resource.inputs, "configurationName") or resource.name)
    value = str(get(resource.inputs, "value") or "")
    if name == "require_secure_transport" and as_bool(value) is False:
        return ["require_secure_transport is off: connections without TLS are accepted."]
    if name == "ssl_min_protocol_version" and below_tls_1_2(value):
        return [f"ssl_min_protocol_version is '{value}', below TLSv1.2."]
    return []


def _lock_covers(lock: ResourceView, server: ResourceView) -> bool:
    if server.urn in lock.dependencies:
        return True
    scope = str(get(lock.inputs, "scope") or "").lower()
    name = str(get(server.inputs, "serverName") or "").lower()
    group = str(get(server.inputs, "resourceGroupName") or "").lower()
    if lock.canonical_type != LOCKS[0]:
        return str(get(lock.inputs, "resourceGroupName") or "").lower() == group
    if name and scope.endswith(f"/flexibleservers/{name}"):
        return True
    return bool(group) and bool(_RESOURCE_GROUP.match(scope)) and scope.rstrip("/").endswith(f"/{group}")


@rule(
    "azure-postgres-server-deletion-protection", TENANT_ISOLATION, "azure", (SERVER, *LOCKS), kind="stack",
    description="Every PostgreSQL flexible server has a CanNotDelete (or ReadOnly) management lock on it or "
                "its resource group (Azure has no deletion-protection flag).",
    severity="high",
    remediation="Add an azure-native authorization.ManagementLockByScope with level CanNotDelete scoped to the "
                "server.",
    reads={LOCKS[0]: ("scope", "level"), SERVER: ("serverName", "resourceGroupName")}, needs_context=False,
)
def server_locked(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    locks = [resource for resource in resources if resource.canonical_type in LOCKS
             and get(resource.inputs, "level") in ("CanNotDelete", "ReadOnly")]
    return [(server.urn, f"server '{get(server.inputs, 'serverName') or server.name}' has no CanNotDelete lock.")
            for server in resources
            if server.canonical_type == SERVER and not any(_lock_covers(lock, server) for lock in locks)]


@rule(
    "azure-network-nsg-no-public-ingress", TENANT_ISOLATION, "azure", (NSG, SECURITY_RULE),
    description="No network security group allows inbound traffic from the internet.",
    severity="critical",
    remediation="Allow inbound only from VirtualNetwork (or the subnet's range); deny Internet.",
    reads={NSG: ("securityRules",), SECURITY_RULE: ("access", "direction", "sourceAddressPrefix")},
    needs_context=False,
)
def nsg_no_public(resource: ResourceView, context: PolicyContext) -> list[str]:
    rules = listing(get(resource.inputs, "securityRules"), "securityRules") if resource.canonical_type == NSG else [
        resource.inputs]
    found = []
    for item in rules:
        if not isinstance(item, dict) or item.get("access") != "Allow" or item.get("direction") != "Inbound":
            continue
        sources = [item.get("sourceAddressPrefix"), *(item.get("sourceAddressPrefixes") or [])]
        if any(source in ("*", "Internet", "0.0.0.0/0", "::/0") for source in sources):
            found.append(f"rule '{item.get('name', '')}' allows inbound traffic from the internet.")
    return found


@rule(
    "azure-authorization-role-assignment-no-admin-role", TENANT_ISOLATION, "azure", (ASSIGNMENT,),
    description="No role assignment grants Owner, Contributor or an access-administration role.",
    severity="critical",
    remediation="Grant only the data roles of the role templates (Storage Blob Data Contributor, Key Vault "
                "Crypto User).",
    reads={ASSIGNMENT: ("roleDefinitionId",)}, needs_context=False,
)
def assignment_no_admin(resource: ResourceView, context: PolicyContext) -> list[str]:
    guid = _role_guid(get(resource.inputs, "roleDefinitionId"))
    return [f"grants the admin role {FORBIDDEN_ROLES[guid]}."] if guid in FORBIDDEN_ROLES else []


@rule(
    "azure-authorization-role-definition-no-wildcards", TENANT_ISOLATION, "azure", (DEFINITION,),
    description="No custom role definition allows wildcard actions or data actions.",
    severity="critical",
    remediation="Use the built-in data roles of the role templates.",
    reads={DEFINITION: ("permissions",)}, needs_context=False,
)
def definition_no_wildcards(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    for permission in listing(get(resource.inputs, "permissions"), "permissions"):
        if not isinstance(permission, dict):
            continue
        for key in ("actions", "dataActions"):
            for action in permission.get(key) or []:
                if "*" in str(action):
                    found.append(f"permissions.{key} allows wildcard '{action}'.")
    return found


@rule(
    "azure-authorization-role-assignment-scoped-to-tenant", TENANT_ISOLATION, "azure", (ASSIGNMENT,),
    description="A role assignment's scope is one resource of the tenant's own slice: never a subscription or "
                "resource group; in the cell's storage account only the tenant's own container.",
    severity="critical",
    remediation="Scope assignments to the tenant's storage account, container or key "
                "(paybill_components.azure.iam.checked_scope).",
    reads={ASSIGNMENT: ("scope",)},
)
def assignment_scoped(resource: ResourceView, context: PolicyContext) -> list[str]:
    scope = str(get(resource.inputs, "scope") or "")
    lowered = scope.lower()
    broad = _SUBSCRIPTION.match(scope) or _RESOURCE_GROUP.match(scope) or "/providers/" not in lowered
    if not scope or "*" in scope or broad:
        return [f"scope '{scope}' is broader than one resource."]
    if context.kind != "tenant":
        return []
    shared_account = str(context.cell_names.get("storage_account", "")).lower()
    own_container = str(context.names.get("container", "")).lower()
    inside_shared = bool(shared_account) and f"/storageaccounts/{shared_account}" in lowered
    if inside_shared and not lowered.rstrip("/").endswith(f"/containers/{own_container}"):
        return [f"scope '{scope}' reaches the cell's storage account beyond the tenant's container "
                    f"'{own_container}'."]
    return []


@rule(
    "azure-authorization-within-role-templates", AGENT_GUARDRAILS, "azure", (ASSIGNMENT, DEFINITION),
    description="When an AI agent deploys, role assignments grant only the roles of the tenant role templates "
                "and no custom role is defined.",
    severity="critical",
    remediation="Use the tenant identity block; other roles need a security review.",
    reads={ASSIGNMENT: ("roleDefinitionId",)},
    agent_only=True, approval="the security team (IAM beyond the role templates)",
)
def assignment_templates(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.canonical_type == DEFINITION:
        return ["defines a custom role, beyond the role templates."]
    guid = _role_guid(get(resource.inputs, "roleDefinitionId"))
    if guid not in TEMPLATE_ROLES:
        return [f"grants role '{guid}', which is not one of the role templates "
                f"({', '.join(sorted(TEMPLATE_ROLES.values()))})."]
    return []

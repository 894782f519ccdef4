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
from paybill_policies.errors import Unknown
from paybill_policies.evaluate import ResourceView, as_bool, get
from paybill_policies.rules._access import (
    own_principals,
    public_message,
    public_sources,
    targets_cell,
)
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
VAULT = "azure-native:keyvault:Vault"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ENTRA_ADMIN = "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra"
ACCESS_POLICY = "azure-native:keyvault:AccessPolicy"
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
    if resource.rule_type == CONTAINER:
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


def _server_identity(server: ResourceView) -> tuple[str, str]:
    """(server name, resource group) of a server in either shape: inputs carry serverName and
    resourceGroupName; outputs carry `name` and an ARM `id` holding both. Unknown when neither says."""
    name = str(server.prop("serverName", "name") or "").lower()
    group = str(server.prop("resourceGroupName") or "").lower()
    arm_id = str(server.prop("id") or "").lower()
    match = re.search(r"/resourcegroups/([^/]+)/providers/microsoft\.dbforpostgresql/flexibleservers/([^/]+)", arm_id)
    if match:
        group, name = group or match.group(1), name or match.group(2)
    if not name:
        raise Unknown(f"{server.name}.serverName")
    return name, group


def _lock_scope(lock: ResourceView) -> str:
    """The scope of a lock in either shape: the input `scope`, or the lock's ARM id before
    `/providers/Microsoft.Authorization/locks/`."""
    scope = str(lock.prop("scope") or "")
    if not scope:
        arm_id = str(lock.prop("id") or "")
        scope = arm_id.split("/providers/Microsoft.Authorization/locks/")[0] if "/locks/" in arm_id else ""
    return scope.lower().rstrip("/")


def _lock_covers(lock: ResourceView, server: ResourceView) -> bool:
    """Whether `lock` covers `server`: it depends on it, or its scope (or resource group) names it.
    Never vacuous: with neither a dependency nor a scope, the lock covers nothing."""
    scoped_by = lock.property_dependencies.get("scope")
    if server.urn in (scoped_by if scoped_by is not None else lock.dependencies):
        return True
    name, group = _server_identity(server)
    if lock.canonical_type != LOCKS[0]:
        lock_group = str(lock.prop("resourceGroupName") or "").lower()
        return bool(group) and lock_group == group
    scope = _lock_scope(lock)
    if not scope:
        return False
    if scope.endswith(f"/flexibleservers/{name}"):
        return not group or f"/resourcegroups/{group}/" in scope
    return bool(group) and bool(_RESOURCE_GROUP.match(scope)) and scope.endswith(f"/{group}")


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
             and resource.prop("level") in ("CanNotDelete", "ReadOnly")]
    return [(server.urn, f"server '{server.prop('serverName', 'name') or server.name}' has no CanNotDelete lock.")
            for server in resources
            if server.rule_type == SERVER and not any(_lock_covers(lock, server) for lock in locks)]


@rule(
    "azure-network-nsg-no-public-ingress", TENANT_ISOLATION, "azure", (NSG, SECURITY_RULE),
    description="No network security group rule (inline or a separate SecurityRule) allows inbound traffic from "
                "outside private address space: `*`, Internet, any service tag but VirtualNetwork and "
                "AzureLoadBalancer, and any CIDR not inside 10/8, 172.16/12, 192.168/16 or 100.64/10 (0.0.0.0/1 "
                "and 128.0.0.0/1 are the internet).",
    severity="critical",
    remediation="Allow inbound only from VirtualNetwork (or the subnet's range); deny Internet.",
    reads={NSG: ("securityRules",), SECURITY_RULE: ("access", "direction", "sourceAddressPrefix",
                                                    "sourceAddressPrefixes")},
    needs_context=False,
)
def nsg_no_public(resource: ResourceView, context: PolicyContext) -> list[str]:
    rules = listing(get(resource.inputs, "securityRules"), "securityRules") if resource.rule_type == NSG else [
        resource.inputs]
    found = []
    for item in rules:
        if not isinstance(item, dict):
            found.append("a security rule is not an object (unexpected shape).")
            continue
        if str(item.get("access", "")).lower() != "allow" or str(item.get("direction", "")).lower() != "inbound":
            continue
        sources = [item.get("sourceAddressPrefix"), *(item.get("sourceAddressPrefixes") or [])]
        if all(source in (None, "") for source in sources) and not item.get("sourceApplicationSecurityGroups"):
            sources = ["*"]  # no source at all: any
        found += [f"rule '{item.get('name', '')}': {message}" for message in public_message(public_sources(sources))]
    return found


@rule(
    "azure-storage-account-no-public-network-access", TENANT_ISOLATION, "azure", (STORAGE,),
    description="A storage account is not reachable from public networks: publicNetworkAccess Disabled, or a "
                "network rule set denying by default with no IP rule (absent, the account is public).",
    severity="critical",
    remediation="Set publicNetworkAccess to Disabled (and networkRuleSet.defaultAction to Deny); reach it through "
                "trusted services or private endpoints.",
    reads={STORAGE: ("publicNetworkAccess", "networkRuleSet.defaultAction", "networkRuleSet.ipRules")},
    needs_context=False,
)
def storage_network_private(resource: ResourceView, context: PolicyContext) -> list[str]:
    return _network_private(get(resource.inputs, "publicNetworkAccess"), get(resource.inputs, "networkRuleSet"),
                            "networkRuleSet")


@rule(
    "azure-keyvault-vault-no-public-network-access", TENANT_ISOLATION, "azure", (VAULT,),
    description="A key vault is not reachable from public networks: properties.publicNetworkAccess Disabled, or "
                "network ACLs denying by default with no IP rule.",
    severity="critical",
    remediation="Set properties.publicNetworkAccess to Disabled and properties.networkAcls.defaultAction to Deny.",
    reads={VAULT: ("properties.publicNetworkAccess", "properties.networkAcls.defaultAction",
                   "properties.networkAcls.ipRules")},
    needs_context=False,
)
def vault_network_private(resource: ResourceView, context: PolicyContext) -> list[str]:
    return _network_private(get(resource.inputs, "properties.publicNetworkAccess"),
                            get(resource.inputs, "properties.networkAcls"), "properties.networkAcls")


def _network_private(access: Any, acls: Any, where: str) -> list[str]:
    if str(access or "").lower() == "disabled":
        return []
    acls = acls if isinstance(acls, dict) else {}
    if str(acls.get("defaultAction") or "").lower() == "deny" and not acls.get("ipRules"):
        return []
    shown = access if access is not None else "not set (Enabled)"
    rules = f" and {where} allows {acls.get('ipRules')}" if acls.get("ipRules") else (
        f" and {where}.defaultAction is {acls.get('defaultAction') or 'not set (Allow)'}")
    return [f"public network access is {shown}{rules}: reachable from the internet."]


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
    subscription = re.match(r"^/subscriptions/([^/]+)/", lowered)
    organisation = context.org_accounts("azure_subscription")
    if subscription is None or subscription.group(1) not in organisation:
        return [f"scope '{scope}' is outside the organisation's subscriptions "
                f"({', '.join(organisation) or 'none: set accounts.azure_subscription_ids'})."]
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
    if resource.canonical_type != ASSIGNMENT and resource.rule_type == ASSIGNMENT:
        return [f"'{resource.type}' grants a role another way than the role templates' RoleAssignment."]
    if resource.canonical_type == DEFINITION:
        return ["defines a custom role, beyond the role templates."]
    guid = _role_guid(get(resource.inputs, "roleDefinitionId"))
    if guid not in TEMPLATE_ROLES:
        return [f"grants role '{guid}', which is not one of the role templates "
                f"({', '.join(sorted(TEMPLATE_ROLES.values()))})."]
    return []


# --- tenant-isolation: principals -----------------------------------------------------------------


def _principal_problem(principal: Any, own: set[str], where: str) -> str | None:
    if principal is None:
        return None
    value = str(principal).lower()
    if value in own:
        return None
    if not own:
        raise Unknown(f"{where} (the principal ids of the stack's identities are outputs this shape lacks)")
    return f"{where} '{principal}' is none of the stack's own identities"


@rule(
    "azure-authorization-principal-within-organisation", TENANT_ISOLATION, "azure", (), kind="stack",
    description="Every grant names only the stack's own managed identities (by their principal ids) as service "
                "principals of the organisation's Entra tenant: role assignments and their PIM forms, the "
                "database's Entra administrator, key vault access policies. A user, a group or an outside tenant "
                "is refused.",
    severity="critical",
    remediation="Grant to the identity the components create; other principals need a security review.",
    incremental=True,
)
def azure_principals(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    own = own_principals(resources)
    tenants = context.org_accounts("azure_tenant")
    found = []
    for resource in resources:
        problems: list[str | None] = []
        if resource.rule_type == ASSIGNMENT:
            kind = str(resource.prop("principalType") or "")
            if kind.lower() != "serviceprincipal":
                problems.append(f"principalType is '{kind or 'not set'}', not ServicePrincipal (a managed identity)")
            problems.append(_principal_problem(resource.prop("principalId"), own, "principalId"))
        elif resource.canonical_type == ENTRA_ADMIN:
            problems.append(_principal_problem(resource.prop("objectId"), own, "objectId"))
            problems.append(_tenant_problem(resource.prop("tenantId"), tenants))
        elif resource.canonical_type in (VAULT, ACCESS_POLICY):
            properties = resource.prop("properties") if resource.canonical_type == VAULT else resource.prop("policy")
            policies = (properties or {}).get("accessPolicies") if resource.canonical_type == VAULT else [properties]
            problems.append(_tenant_problem((properties or {}).get("tenantId"), tenants)
                            if resource.canonical_type == VAULT and properties else None)
            for policy in policies or []:
                if isinstance(policy, dict):
                    problems.append(_principal_problem(policy.get("objectId"), own, "access policy objectId"))
                    problems.append(_tenant_problem(policy.get("tenantId"), tenants))
        found += [(resource.urn, f"{problem}.") for problem in problems if problem]
    return found


def _tenant_problem(tenant: Any, tenants: tuple[str, ...]) -> str | None:
    if tenant is None or str(tenant).lower() in tenants:
        return None
    return (f"tenantId '{tenant}' is outside the organisation's Entra tenant "
            f"({', '.join(tenants) or 'none: set accounts.azure_tenant_id'})")


# --- tenant-isolation: providers ------------------------------------------------------------------

_AZURE_CREDENTIALS = ("clientSecret", "clientCertificatePassword", "clientCertificatePath", "clientCertificate",
                      "oidcToken", "oidcRequestToken", "auxiliaryTenantIds", "metadataHost")


@rule(
    "azure-provider-settings-within-organisation", TENANT_ISOLATION, "azure", ("pulumi:providers:azure-native",),
    description="Every azure-native provider names its location explicitly and, when it names a subscription or "
                "tenant, only the organisation's; it carries no credentials or auxiliary tenants of its own.",
    severity="critical",
    remediation="Build providers with the components (`AzureBlocks.provider`).",
    reads={"pulumi:providers:azure-native": ("location", "subscriptionId", "tenantId", "auxiliaryTenantIds")},
)
def azure_provider_settings(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    if not resource.prop("location"):
        found.append("no explicit location: the provider would deploy wherever its environment points.")
    subscription = resource.prop("subscriptionId")
    if subscription and str(subscription).lower() not in context.org_accounts("azure_subscription"):
        found.append(f"subscriptionId '{subscription}' is outside the organisation's subscriptions.")
    problem = _tenant_problem(resource.prop("tenantId"), context.org_accounts("azure_tenant"))
    if problem:
        found.append(f"{problem}.")
    set_keys = [key for key in _AZURE_CREDENTIALS if resource.prop(key) not in (None, "", [], {}, "[]")]
    if set_keys:
        found.append(f"sets {', '.join(set_keys)}: credentials or tenants of its own.")
    return found


# --- tenant-isolation: the cell is the cell stack's -----------------------------------------------

AZURE_TARGETS = ("resourceGroupName", "accountName", "vaultName", "serverName", "virtualNetworkName",
                 "networkSecurityGroupName", "privateZoneName", "scope", "resourceName")


def _azure_slice(resource: ResourceView, context: PolicyContext) -> bool:
    """The tenant's slice of the cell: its container in the cell's account, its database in the cell's
    server, a role assignment on exactly its container."""
    if resource.canonical_type == CONTAINER:
        return resource.prop("containerName") in context.own("container")
    if resource.canonical_type == "azure-native:dbforpostgresql:Database":
        return resource.prop("databaseName") in context.own("database")
    if resource.rule_type == ASSIGNMENT:
        scope = str(resource.prop("scope") or "").lower().rstrip("/")
        return any(scope.endswith(f"/containers/{container.lower()}") for container in context.own("container"))
    return False


@rule(
    "azure-resource-not-targeting-cell", TENANT_ISOLATION, "azure", (), kind="stack",
    description="A tenant stack never acts on its cell's resources (anything in the cell's resource group but its "
                "own container and database, the cell's storage account, vault, server, network or DNS zone, a "
                "role or lock scoped to them): it only references them in its own scoped grants.",
    severity="critical",
    remediation="Change the cell in the cell stack (a cell operator); grant the tenant on its own container.",
    incremental=True,
)
def azure_not_targeting_cell(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    return targets_cell("azure", AZURE_TARGETS, _azure_slice, resources, context)

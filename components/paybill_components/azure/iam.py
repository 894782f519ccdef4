"""Azure role assignments of paybill-iac, as plain functions of plain strings (no pulumi import).

Azure RBAC grants a built-in role on a scope (a resource id). What a tenant's identity gets:

    silo, bridge  Storage Blob Data Contributor on its own storage account,
                  Key Vault Crypto User on its own key (not the vault)
    pooled        Storage Blob Data Contributor on its own container of the cell's storage account;
                  nothing on the cell's key (the storage service uses it, the tenant never does)
    suspended     nothing

Database access is not an Azure role: the tenant's PostgreSQL role (`username` in the database
handle) is mapped to the identity's principal id inside the server (Microsoft Entra authentication).

The encryption identity that storage accounts and database servers use for customer-managed keys gets
Key Vault Crypto Service Encryption User on the one key. Owner, Contributor and the access
administrator roles are never granted, and every scope must be one resource of the expected type:
`checked_scope` refuses subscription, resource-group and wildcard scopes.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Literal

STORAGE_BLOB_DATA_CONTRIBUTOR = "Storage Blob Data Contributor"
KEY_VAULT_CRYPTO_USER = "Key Vault Crypto User"
KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "Key Vault Crypto Service Encryption User"

# Built-in role definition ids (the same GUIDs in every Azure tenant).
ROLE_IDS: dict[str, str] = {
    STORAGE_BLOB_DATA_CONTRIBUTOR: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    KEY_VAULT_CRYPTO_USER: "12338af0-0e69-4776-bea7-57ae8d297424",
    KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
}

# Roles that would give an identity control over resources or access: never granted.
FORBIDDEN_ROLE_IDS: dict[str, str] = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
}

ScopeKind = Literal["container", "storage_account", "key"]

# The resource type each kind of scope must be (resource type segments of its id).
SCOPE_TYPES: dict[str, str] = {
    "container": "Microsoft.Storage/storageAccounts/blobServices/containers",
    "storage_account": "Microsoft.Storage/storageAccounts",
    "key": "Microsoft.KeyVault/vaults/keys",
}

# Which role may be granted on which kind of scope.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    STORAGE_BLOB_DATA_CONTRIBUTOR: frozenset({"container", "storage_account"}),
    KEY_VAULT_CRYPTO_USER: frozenset({"key"}),
    KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER: frozenset({"key"}),
}

_ASSIGNMENT_NAMESPACE = uuid.UUID("5b6f0d8e-3c1a-5d2e-9f47-0a1b2c3d4e5f")
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._()-]*")


@dataclass(frozen=True)
class Assignment:
    """One role an identity is granted, on one kind of scope."""

    role: str
    scope: ScopeKind


def tenant_assignments(*, active: bool, shared_store: bool) -> tuple[Assignment, ...]:
    """The roles of a tenant's identity: its store (container when the store is shared, else the
    account) and, with a dedicated store, its own key; nothing while suspended."""
    if not active:
        return ()
    if shared_store:
        return (Assignment(STORAGE_BLOB_DATA_CONTRIBUTOR, "container"),)
    return (Assignment(STORAGE_BLOB_DATA_CONTRIBUTOR, "storage_account"), Assignment(KEY_VAULT_CRYPTO_USER, "key"))


def encryption_assignments() -> tuple[Assignment, ...]:
    """The roles of the identity storage accounts and database servers use to reach their key."""
    return (Assignment(KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER, "key"),)


def role_definition_id(subscription_id: str, role: str) -> str:
    """The full role definition id of built-in `role` in `subscription_id`."""
    if role not in ROLE_IDS:
        raise ValueError(f"role '{role}' is not one paybill-iac grants (allowed: {sorted(ROLE_IDS)})")
    if not _is_guid(subscription_id):
        raise ValueError(f"subscription id '{subscription_id}' is not a GUID")
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_IDS[role]}"


def role_assignment_name(scope: str, role: str, principal: str) -> str:
    """The role assignment's name: a GUID, the same for the same (scope, role, principal), so a
    re-run never creates a second assignment and two principals never share one."""
    return str(uuid.uuid5(_ASSIGNMENT_NAMESPACE, f"{scope.lower()}|{ROLE_IDS.get(role, role)}|{principal}"))


def container_id(storage_account_id: str, container: str) -> str:
    """The resource id of blob container `container` in the storage account `storage_account_id`."""
    return f"{storage_account_id}/blobServices/default/containers/{container}"


def resource_type(resource_id: str) -> str:
    """The resource type of an Azure resource id (`Microsoft.Storage/storageAccounts/blobServices/...`);
    "" for subscription and resource-group ids or ids that are not well formed."""
    parts = resource_id.split("/")
    if not resource_id.startswith("/") or "providers" not in parts:
        return ""
    at = len(parts) - 1 - parts[::-1].index("providers")
    rest = parts[at + 1 :]
    if len(rest) < 3 or len(rest) % 2 == 0 or not all(_SEGMENT.fullmatch(part) for part in rest):
        return ""
    namespace, pairs = rest[0], rest[1:]
    return "/".join([namespace, *pairs[0::2]])


def checked_scope(scope: str, kind: ScopeKind, role: str) -> str:
    """`scope` when it is exactly one resource of `kind` and `role` may be granted there; raises
    ValueError for broader scopes (subscription, resource group, wildcards) and forbidden roles."""
    if role in FORBIDDEN_ROLE_IDS or ROLE_IDS.get(role) in FORBIDDEN_ROLE_IDS.values():
        raise ValueError(f"role '{role}' is never granted by paybill-iac")
    if kind not in ROLE_SCOPES.get(role, frozenset()):
        raise ValueError(f"role '{role}' may not be granted on a {kind}")
    found = resource_type(scope)
    if found != SCOPE_TYPES[kind] or "*" in scope or not scope.startswith("/subscriptions/"):
        raise ValueError(f"scope '{scope}' is not one {kind} (expected a {SCOPE_TYPES[kind]} resource id)")
    return scope


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True

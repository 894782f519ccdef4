"""The Azure role assignments as plain functions (paybill_components.azure.iam): no pulumi, no mocks."""

from __future__ import annotations

import uuid

import pytest
from paybill_components.azure import iam

SUB = "00000000-0000-4000-8000-000000000000"
GROUP = f"/subscriptions/{SUB}/resourceGroups/pb-cell-a-rg"
ACCOUNT = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/pbcellast"
CONTAINER = f"{ACCOUNT}/blobServices/default/containers/pb-acme-data"
VAULT = f"{GROUP}/providers/Microsoft.KeyVault/vaults/pb-cell-a-kv"
KEY = f"{VAULT}/keys/pb-cell-a-data"
SERVER = f"{GROUP}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pb-cell-a-db"

BLOB = iam.STORAGE_BLOB_DATA_CONTRIBUTOR
CRYPTO = iam.KEY_VAULT_CRYPTO_USER
CMK = iam.KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER


@pytest.mark.parametrize(
    ("active", "shared_store", "expected"),
    [
        (True, True, [(BLOB, "container")]),
        (True, False, [(BLOB, "storage_account"), (CRYPTO, "key")]),
        (False, True, []),
        (False, False, []),
    ],
)
def test_tenant_assignments(active: bool, shared_store: bool, expected: list[tuple[str, str]]) -> None:
    found = iam.tenant_assignments(active=active, shared_store=shared_store)
    assert [(grant.role, grant.scope) for grant in found] == expected


def test_pooled_tenants_get_nothing_on_the_cell_key() -> None:
    assert all(grant.scope != "key" for grant in iam.tenant_assignments(active=True, shared_store=True))


def test_encryption_identity_only_wraps_with_the_key() -> None:
    assert [(grant.role, grant.scope) for grant in iam.encryption_assignments()] == [(CMK, "key")]


@pytest.mark.parametrize(
    ("role", "guid"),
    [
        (BLOB, "ba92f5b4-2d11-453d-a403-e96b0029c9fe"),
        (CRYPTO, "12338af0-0e69-4776-bea7-57ae8d297424"),
        (CMK, "e147488a-f6f5-4113-8e2d-b22465e65bf6"),
    ],
)
def test_role_definition_id(role: str, guid: str) -> None:
    assert iam.role_definition_id(SUB, role) == (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    )


@pytest.mark.parametrize(
    ("subscription", "role"),
    [(SUB, "Owner"), (SUB, "Contributor"), (SUB, "User Access Administrator"), (SUB, "Reader"),
     ("not-a-guid", BLOB), ("", BLOB)],
)
def test_role_definition_id_refuses(subscription: str, role: str) -> None:
    with pytest.raises(ValueError):
        iam.role_definition_id(subscription, role)


def test_no_forbidden_role_is_grantable() -> None:
    assert not set(iam.ROLE_IDS.values()) & set(iam.FORBIDDEN_ROLE_IDS.values())
    assert not set(iam.ROLE_IDS) & set(iam.FORBIDDEN_ROLE_IDS)


def test_role_assignment_name_is_a_stable_guid() -> None:
    name = iam.role_assignment_name(CONTAINER, BLOB, "pb-acme-app")
    assert uuid.UUID(name)
    assert name == iam.role_assignment_name(CONTAINER, BLOB, "pb-acme-app")
    assert name == iam.role_assignment_name(CONTAINER.upper(), BLOB, "pb-acme-app")  # ids are case-insensitive


@pytest.mark.parametrize(
    "other",
    [
        (CONTAINER.replace("pb-acme-data", "pb-globex-data"), BLOB, "pb-acme-app"),
        (CONTAINER, BLOB, "pb-globex-app"),
        (ACCOUNT, BLOB, "pb-acme-app"),
        (KEY, CRYPTO, "pb-acme-app"),
    ],
)
def test_role_assignment_names_differ(other: tuple[str, str, str]) -> None:
    assert iam.role_assignment_name(CONTAINER, BLOB, "pb-acme-app") != iam.role_assignment_name(*other)


def test_container_id() -> None:
    assert iam.container_id(ACCOUNT, "pb-acme-data") == CONTAINER


@pytest.mark.parametrize(
    ("resource_id", "expected"),
    [
        (CONTAINER, "Microsoft.Storage/storageAccounts/blobServices/containers"),
        (ACCOUNT, "Microsoft.Storage/storageAccounts"),
        (KEY, "Microsoft.KeyVault/vaults/keys"),
        (VAULT, "Microsoft.KeyVault/vaults"),
        (SERVER, "Microsoft.DBforPostgreSQL/flexibleServers"),
        (f"{KEY}/providers/Microsoft.Authorization/roleAssignments/x", "Microsoft.Authorization/roleAssignments"),
        (GROUP, ""),
        (f"/subscriptions/{SUB}", ""),
        ("", ""),
        ("*", ""),
        (f"{ACCOUNT}/blobServices/default/containers/*", ""),
        (f"{GROUP}/providers/Microsoft.Storage/storageAccounts", ""),
        (ACCOUNT[1:], ""),
    ],
)
def test_resource_type(resource_id: str, expected: str) -> None:
    assert iam.resource_type(resource_id) == expected


@pytest.mark.parametrize(
    ("scope", "kind", "role"),
    [(CONTAINER, "container", BLOB), (ACCOUNT, "storage_account", BLOB), (KEY, "key", CRYPTO), (KEY, "key", CMK)],
)
def test_checked_scope_accepts_one_resource(scope: str, kind: iam.ScopeKind, role: str) -> None:
    assert iam.checked_scope(scope, kind, role) == scope


@pytest.mark.parametrize(
    ("scope", "kind", "role"),
    [
        (GROUP, "storage_account", BLOB),  # a whole resource group
        (f"/subscriptions/{SUB}", "storage_account", BLOB),  # a whole subscription
        ("/", "container", BLOB),
        (f"{ACCOUNT}/blobServices/default/containers/*", "container", BLOB),  # a wildcard
        (ACCOUNT, "container", BLOB),  # the whole shared account where one container is meant
        (VAULT, "key", CRYPTO),  # the whole vault where one key is meant
        (CONTAINER, "key", CRYPTO),  # wrong resource type
        (KEY, "container", BLOB),
        (CONTAINER, "container", CRYPTO),  # role not meant for that scope
        (KEY, "key", BLOB),
        (ACCOUNT, "storage_account", "Owner"),
        (ACCOUNT, "storage_account", "Contributor"),
    ],
)
def test_checked_scope_refuses(scope: str, kind: iam.ScopeKind, role: str) -> None:
    with pytest.raises(ValueError):
        iam.checked_scope(scope, kind, role)

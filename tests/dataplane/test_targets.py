"""A catalog tenant's database target and the admin settings (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybill_iac.catalog import load_catalog
from paybill_iac.dataplane import (
    AwsIamAuth,
    AwsSecretsManagerStore,
    AzureEntraAuth,
    AzureEntraTokenSource,
    EnvSecretStore,
    GcpIamAuth,
    GcpSecretManagerStore,
    InvalidInput,
    OciVaultStore,
    PasswordAuth,
)
from paybill_iac.dataplane.targets import AdminSettings, Target, target_for
from paybill_iac.errors import UsageError
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.naming import tenant_names

CATALOG = Path(__file__).resolve().parents[2] / "stacks" / "catalog"
OID = "6f1f7a4e-2b1c-4d3e-9f00-1234567890ab"
AZURE_OUTPUTS = {"identity": {"principal_id": OID, "identity_name": "pb-globex-p-app"}}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOG)


def test_a_pooled_tenant_lives_on_its_cell_with_the_stacks_names(catalog: Catalog) -> None:
    target = target_for(catalog, "acme")
    db = target.database
    names = tenant_names("aws", "pb", "acme", "pooled")
    assert (db.database, db.login_role, db.owner_role) == (names["database"], names["db_user"], "pb_acme_p_owner")
    assert target.server == "cell:aws-euw1-a" and db.cell == "aws-euw1-a" and target.isolation == "pooled"
    assert db.connection_limit == catalog.plans["starter"].limits.db_connections == 20
    assert db.auth == AwsIamAuth()


def test_bridge_and_silo_tenants_live_on_their_own_instance(catalog: Catalog) -> None:
    hooli, cyberdyne = target_for(catalog, "hooli"), target_for(catalog, "cyberdyne")
    assert (hooli.server, hooli.cell, hooli.database.database) == ("tenant:hooli", "aws-euw1-a", "pb_hooli_b_db")
    assert hooli.database.connection_limit == 60
    assert (cyberdyne.server, cyberdyne.cell, cyberdyne.database.connection_limit) == ("tenant:cyberdyne", None, 200)


def test_the_auth_mapping_per_cloud(catalog: Catalog) -> None:
    assert target_for(catalog, "globex", AZURE_OUTPUTS).database.auth == AzureEntraAuth(OID, "pb-globex-p-app")
    assert target_for(catalog, "initech").database.auth == GcpIamAuth(
        "pb-initech-p-app@pb-tenants-prod.iam.gserviceaccount.com")
    given = {"identity": {"service_account": "other-sa-01@pb-tenants-prod.iam.gserviceaccount.com"}}
    assert target_for(catalog, "initech", given).database.auth == GcpIamAuth(given["identity"]["service_account"])
    # OCI pooled: the password OCI Vault generated into the tenant's own secret (by OCID when known)
    assert target_for(catalog, "umbrella").database.auth == PasswordAuth(
        "pb-umbrella-p-db-secret", generated_by="vault", field="password")
    by_id = {"database": {"secret_id": "ocid1.vaultsecret.oc1..abc"}}
    assert target_for(catalog, "umbrella", by_id).database.auth.secret_name == "ocid1.vaultsecret.oc1..abc"  # type: ignore[union-attr]
    # OCI bridge and silo: the login's own app secret beside the instance (Vault-generated), never the admin's
    assert target_for(catalog, "wonka").database.auth == PasswordAuth(
        "pb-wonka-b-db-app", generated_by="vault", field="password")
    app = {"database": {"secret_id": "ocid1.vaultsecret.oc1..app", "admin_secret_id": "ocid1.vaultsecret.oc1..admin"}}
    assert target_for(catalog, "wonka", app).database.auth == PasswordAuth(
        "ocid1.vaultsecret.oc1..app", generated_by="vault", field="password")


def test_refusals_name_the_tenant_and_say_what_to_do(catalog: Catalog) -> None:
    with pytest.raises(UsageError, match="unknown tenant 'nobody' \\(tenants: acme, cyberdyne"):
        target_for(catalog, "nobody")
    with pytest.raises(UsageError, match="'vandelay' is pooled but placed on no cell.*offboarded"):
        target_for(catalog, "vandelay")
    with pytest.raises(InvalidInput, match="tenant 'globex' \\(cell 'azure-weu-a'\\): the Microsoft Entra object id"):
        target_for(catalog, "globex", {"identity": {"principal_id": "[secret]"}})
    with pytest.raises(InvalidInput, match="tenant 'globex' \\(cell 'azure-weu-a'\\): auth.object_id 'nope'"):
        target_for(catalog, "globex", {"identity": {"principal_id": "nope"}})


def test_a_target_round_trips_through_plain_data(catalog: Catalog) -> None:
    for tenant, outputs in (("acme", None), ("globex", AZURE_OUTPUTS), ("initech", None), ("umbrella", None),
                            ("wonka", None), ("cyberdyne", None)):
        target = target_for(catalog, tenant, outputs)
        assert Target.from_dict(target.to_dict()) == target
    with pytest.raises(InvalidInput, match="incomplete"):
        Target.from_dict({"tenant": "acme"})


def test_admin_settings_prefer_the_server_s_own_variables(catalog: Catalog) -> None:
    acme, hooli = target_for(catalog, "acme"), target_for(catalog, "hooli")
    env = {"PAYBILL_DB_ADMIN_URL": "postgresql://admin@db.example:5432/postgres",
           "PAYBILL_DB_ADMIN_URL__CELL_AWS_EUW1_A": "postgresql://master@10.0.0.5:5433/postgres?sslmode=verify-full",
           "PAYBILL_DB_ADMIN_SECRET__CELL_AWS_EUW1_A": "arn:aws:secretsmanager:eu-west-1:1:secret:rds",
           "PAYBILL_DB_ADMIN_SECRET_FIELD": "password", "PAYBILL_DB_SECRET_STORE": "aws:eu-west-1"}
    settings = AdminSettings.from_env(acme, env)
    admin = settings.connection(acme)
    assert (admin.host, admin.port, admin.user, admin.sslmode) == ("10.0.0.5", 5433, "master", "verify-full")
    assert admin.password_secret == "arn:aws:secretsmanager:eu-west-1:1:secret:rds"
    assert admin.password_field == "password"
    store = settings.secret_store(acme)
    assert isinstance(store, AwsSecretsManagerStore) and store.region == "eu-west-1"
    other = AdminSettings.from_env(hooli, env).connection(hooli)  # another server: the general variables
    assert (other.host, other.password_secret) == ("db.example", None)
    given = AdminSettings.from_env(acme, env, url="postgresql://me@127.0.0.1/postgres", store="env")
    assert given.connection(acme).host == "127.0.0.1" and isinstance(given.secret_store(acme), EnvSecretStore)
    assert given.sources["PAYBILL_DB_ADMIN_URL"] == "the command line"


@pytest.mark.parametrize(("spec", "kind"), [
    ("env", EnvSecretStore), ("none", type(None)), ("aws", AwsSecretsManagerStore),
    ("gcp:pb-tenants-prod", GcpSecretManagerStore), ("oci:ocid1.vault.oc1..v?compartment=ocid1.compartment.oc1..c",
                                                      OciVaultStore),
    ("azure-entra", AzureEntraTokenSource),
])
def test_secret_store_specs(catalog: Catalog, spec: str, kind: type) -> None:
    acme = target_for(catalog, "acme")
    store = AdminSettings.from_env(acme, {"PAYBILL_DB_SECRET_STORE": spec}).secret_store(acme)
    assert isinstance(store, kind)
    if isinstance(store, OciVaultStore):
        assert (store.vault_id, store.compartment_id, store.key_id) == (
            "ocid1.vault.oc1..v", "ocid1.compartment.oc1..c", None)


def test_admin_settings_refusals_never_repeat_a_password(catalog: Catalog) -> None:
    acme = target_for(catalog, "acme")
    with pytest.raises(InvalidInput, match="no admin connection for server cell:aws-euw1-a: set "
                                           "PAYBILL_DB_ADMIN_URL__CELL_AWS_EUW1_A"):
        AdminSettings.from_env(acme, {}).connection(acme)
    with pytest.raises(InvalidInput) as refused:
        AdminSettings.from_env(acme, {"PAYBILL_DB_ADMIN_URL": "postgresql://a:hunter2@h/x"}).connection(acme)
    assert "hunter2" not in str(refused.value) and "carries a password" in str(refused.value)
    assert "tenant 'acme' (cell 'aws-euw1-a')" in str(refused.value)
    with pytest.raises(InvalidInput, match="secret store 'vault' \\(from PAYBILL_DB_SECRET_STORE\\) is not one of"):
        AdminSettings.from_env(acme, {"PAYBILL_DB_SECRET_STORE": "vault"}).secret_store(acme)
    entra = AdminSettings.from_env(acme, {"PAYBILL_DB_ADMIN_URL": "postgresql://admin-id@h/postgres",
                                          "PAYBILL_DB_SECRET_STORE": "azure-entra"})
    assert entra.connection(acme).password_secret == "entra-token"  # the token source answers any name

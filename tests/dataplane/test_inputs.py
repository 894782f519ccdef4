"""The data plane's pure parts, no server: inputs and their checks, names, SQL text, secret stores."""

from __future__ import annotations

import importlib.util

import pytest

from paybill_iac.dataplane import (
    AdminConnection,
    AwsIamAuth,
    AwsSecretsManagerStore,
    AzureEntraAuth,
    AzureEntraTokenSource,
    AzureKeyVaultStore,
    DataPlaneError,
    EnvSecretStore,
    GcpIamAuth,
    GcpSecretManagerStore,
    InMemorySecretStore,
    InvalidInput,
    OciVaultStore,
    PasswordAuth,
    SecretMissing,
    SecretStore,
    SecretStoreUnavailable,
    TenantDatabase,
    read_secret,
    tenant_database,
    tenant_role_names,
)
from paybill_iac.dataplane import sql as q
from paybill_iac.errors import PaybillError
from paybill_iac.model.naming import tenant_names

OID = "6f1f7a4e-2b1c-4d3e-9f00-1234567890ab"


def make(**changes: object) -> TenantDatabase:
    values: dict[str, object] = dict(
        tenant="acme", cell="cell-a", cloud="postgres", database="pb_acme_p_db", owner_role="pb_acme_p_owner",
        login_role="pb_acme_p_app", connection_limit=20, auth=PasswordAuth("pb-acme-p-db"),
    )
    values.update(changes)
    return TenantDatabase(**values)  # type: ignore[arg-type]


def test_names_follow_the_naming_module_on_every_cloud() -> None:
    names = tenant_role_names("pb", "acme", "pooled")
    assert (names.database, names.owner_role, names.login_role) == ("pb_acme_p_db", "pb_acme_p_owner", "pb_acme_p_app")
    for cloud in ("aws", "azure", "gcp", "oci"):
        for isolation in ("pooled", "bridge", "silo"):
            cloud_names = tenant_names(cloud, "pb", "a-very-long-tenant-id-here-x", isolation)
            ours = tenant_role_names("pb", "a-very-long-tenant-id-here-x", isolation)
            assert (ours.database, ours.login_role) == (cloud_names["database"], cloud_names["db_user"])
            assert len(ours.owner_role) <= 63
    built = tenant_database(org="pb", tenant="acme", cell="cell-a", cloud="aws", isolation="bridge",
                            connection_limit=10, auth=AwsIamAuth())
    assert built.database == "pb_acme_b_db" and built.login_identities == ("pb_acme_b_app",)


@pytest.mark.parametrize(("field", "value", "words"), [
    ("database", "x" * 64, "64 bytes"),
    ("database", "é" * 32, "64 bytes"),
    ("login_role", "pg_sneaky", "reserved prefix 'pg_'"),
    ("owner_role", "PG_owner", "reserved prefix 'pg_'"),
    ("owner_role", "rds_iam", "reserves"),
    ("database", "postgres", "reserves"),
    ("login_role", "Acme", "lowercase ASCII"),
    ("login_role", 'a"; DROP DATABASE x; --', "lowercase ASCII"),
    ("database", "", "non-empty"),
])
def test_identifiers_are_checked_with_clear_messages(field: str, value: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        make(**{field: value})
    message = str(caught.value)
    assert field in message and words in message and "acme" in message
    assert isinstance(caught.value, PaybillError)


def test_other_inputs_are_checked() -> None:
    for limit in (0, -1, 10_001, True, 2.5):
        with pytest.raises(InvalidInput, match="connection_limit"):
            make(connection_limit=limit)
    with pytest.raises(InvalidInput, match="does not fit cloud 'aws'"):
        make(cloud="aws")
    with pytest.raises(InvalidInput, match="cloud 'ibm'"):
        make(cloud="ibm")
    with pytest.raises(InvalidInput, match="must differ"):
        make(login_role="pb_acme_p_owner")
    with pytest.raises(InvalidInput, match="GUID"):
        AzureEntraAuth(object_id="not-a-guid", principal_name="pb-acme-p-app")
    with pytest.raises(InvalidInput, match="object_type"):
        AzureEntraAuth(object_id=OID, principal_name="pb-acme-p-app", object_type="robot")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="service account email"):
        GcpIamAuth("someone@example.com")
    long_email = f"{'a' * 30}@{'p' * 30}.iam.gserviceaccount.com"
    with pytest.raises(InvalidInput, match="shorten the service account id"):
        GcpIamAuth(long_email)
    with pytest.raises(InvalidInput, match="plain text"):
        PasswordAuth("s", generated_by="module", field="password")


def test_gcp_iam_user_is_the_email_without_the_suffix() -> None:
    auth = GcpIamAuth("pb-acme-p-app@pb-tenants-prod.iam.gserviceaccount.com")
    assert auth.iam_user == "pb-acme-p-app@pb-tenants-prod.iam"
    target = make(cloud="gcp", auth=auth)
    assert target.login_identities == ("pb-acme-p-app@pb-tenants-prod.iam",)
    assert not target.login_role_logs_in and target.own_roles == ("pb_acme_p_app", "pb_acme_p_owner")


def test_admin_connection_never_takes_a_password_from_a_url() -> None:
    admin = AdminConnection.from_url("postgresql+psycopg://ops@10.0.0.5:6432/postgres?sslmode=verify-full",
                                     password_secret="cell-a-admin")
    assert (admin.host, admin.port, admin.user, admin.dbname, admin.sslmode) == (
        "10.0.0.5", 6432, "ops", "postgres", "verify-full")
    assert admin.endpoint == "10.0.0.5:6432" and AdminConnection(host="::1").endpoint == "[::1]:5432"
    with pytest.raises(InvalidInput) as caught:
        AdminConnection.from_url("postgresql://ops:Hunter2-Secret@10.0.0.5/postgres")
    assert "Hunter2-Secret" not in str(caught.value) and "password_secret" in str(caught.value)
    with pytest.raises(InvalidInput, match="sslmode"):
        AdminConnection(host="h", sslmode="sometimes")
    assert "password" not in repr(admin).replace("password_secret", "").replace("password_field", "")


def test_sql_quotes_every_identifier_and_literal() -> None:
    hostile = 'x"; DROP DATABASE postgres; --'
    assert q.create_role(hostile, login=True, connection_limit=3).text() == (
        'CREATE ROLE "x""; DROP DATABASE postgres; --" LOGIN CONNECTION LIMIT 3')
    assert q.grant_connect("a b", "c'd").text() == 'GRANT CONNECT ON DATABASE "a b" TO "c\'d"'
    assert q.set_default_role("app", "db", "o'wner").text() == (
        "ALTER ROLE \"app\" IN DATABASE \"db\" SET role = 'o''wner'")
    assert q.revoke_database_from_public("pb_acme_p_db").text() == 'REVOKE ALL ON DATABASE "pb_acme_p_db" FROM PUBLIC'
    assert q.alter_role_attributes("r", {"rolcanlogin": False, "rolsuper": False}).text() == (
        'ALTER ROLE "r" NOLOGIN NOSUPERUSER')


def test_password_statement_is_redacted_everywhere_but_the_query() -> None:
    verifier = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy"
    statement = q.alter_role_password("pb_acme_p_app", verifier)
    assert statement.text() == "ALTER ROLE \"pb_acme_p_app\" PASSWORD '***'"
    assert verifier not in repr(statement) and verifier not in statement.text()
    assert verifier in statement.query.as_string(None) and statement.secrets == (verifier,)
    assert q.password_fingerprint("r", "one") != q.password_fingerprint("r", "two")
    assert q.password_fingerprint("r", "one") != q.password_fingerprint("s", "one")


def test_cloud_statements_render_as_documented() -> None:
    assert q.grant_rds_iam("pb_acme_p_app").text() == 'GRANT "rds_iam" TO "pb_acme_p_app"'
    assert q.azure_create_principal("pb_acme_p_app", OID, "service").text() == (
        f"SELECT * FROM \"pgaadauth_create_principal_with_oid\"('pb_acme_p_app', '{OID}', 'service', false, false)")
    assert q.azure_security_label("pb_acme_p_app", OID, "service").text() == (
        f"SECURITY LABEL FOR \"pgaadauth\" ON ROLE \"pb_acme_p_app\" IS 'aadauth,oid={OID},type=service'")
    iam_user = GcpIamAuth("pb-acme-p-app@pb-tenants-prod.iam.gserviceaccount.com").iam_user
    assert q.grant_role("pb_acme_p_app", iam_user).text() == (
        'GRANT "pb_acme_p_app" TO "pb-acme-p-app@pb-tenants-prod.iam"')


def test_in_memory_store_and_json_fields() -> None:
    store = InMemorySecretStore({"rds-master": '{"username": "admin", "password": "Sup3r-Secret"}'})
    assert isinstance(store, SecretStore)
    assert read_secret(store, "rds-master", "password") == "Sup3r-Secret"
    assert "Sup3r-Secret" not in repr(store)
    with pytest.raises(SecretMissing, match="'nope'"):
        store.get("nope")
    with pytest.raises(SecretMissing, match="no text field 'pw'") as caught:
        read_secret(store, "rds-master", "pw")
    assert "Sup3r-Secret" not in str(caught.value)
    store.put("plain", "not json")
    with pytest.raises(SecretMissing, match="not a JSON document"):
        read_secret(store, "plain", "password")


def test_env_store_reads_injected_secrets_and_refuses_writes() -> None:
    store = EnvSecretStore(environ={"PAYBILL_SECRET_PB_ACME_P_DB": "from-the-platform"})
    assert store.variable("pb/acme/p-db") == "PAYBILL_SECRET_PB_ACME_P_DB"
    assert store.get("pb/acme/p-db") == "from-the-platform"
    with pytest.raises(SecretMissing, match="PAYBILL_SECRET_OTHER"):
        store.get("other")
    with pytest.raises(SecretStoreUnavailable, match="read-only"):
        store.put("x", "y")


@pytest.mark.parametrize(("make_store", "module", "package"), [
    (lambda: AwsSecretsManagerStore(region="eu-west-1"), "boto3", "boto3"),
    (lambda: GcpSecretManagerStore(project="pb-tenants-prod"), "google.cloud.secretmanager",
     "google-cloud-secret-manager"),
    (lambda: OciVaultStore(vault_id="ocid1.vault.oc1..x"), "oci", "oci"),
    (lambda: AzureKeyVaultStore(vault_url="https://pb-kv.vault.azure.net"), "azure.keyvault.secrets",
     "azure-keyvault-secrets"),
    (lambda: AzureEntraTokenSource(), "azure.identity", "azure-identity"),
])
def test_cloud_stores_name_the_missing_sdk(make_store: object, module: str, package: str) -> None:
    try:
        installed = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        installed = False
    if installed:
        pytest.skip(f"{module} is installed here")
    store = make_store()  # type: ignore[operator]
    with pytest.raises(SecretStoreUnavailable) as caught:
        store.get("pb-acme-p-db")
    assert f"pip install {package}" in str(caught.value)
    assert isinstance(caught.value, DataPlaneError)

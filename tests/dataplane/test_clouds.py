"""Each cloud's authentication mapping: the SQL it generates (rendered with a real connection) and a
real run against the test server, where the cloud's own objects are STAND-INS the tests create:

- AWS: a plain NOLOGIN role named `rds_iam` stands in for the RDS role of that name (created when
  missing and left in place: tenants of parallel tests may be members of it);
- Azure: functions `pgaadauth_create_principal_with_oid(text, text, text, boolean, boolean)` and
  `pgaadauth_list_principals(boolean)`, with Azure's documented signatures, stand in for Azure's,
  in a per-test database that plays the part of Azure's `postgres` database; the stand-in creates a
  NOLOGIN role and records its object id in a table instead of a security label;
- GCP: a LOGIN role named like a Cloud SQL IAM user stands in for the one the Cloud SQL API creates.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from psycopg import errors as pgerrors
from psycopg import sql

from paybill_iac.dataplane import (
    AdminConnection,
    AuthMappingMissing,
    AwsIamAuth,
    AzureEntraAuth,
    GcpIamAuth,
    InMemorySecretStore,
    InvalidInput,
    PasswordAuth,
    SecretMissing,
    apply,
    drop,
    rotate_password,
    status,
    suspend,
)
from paybill_iac.dataplane import sql as q
from tests.dataplane.conftest import Names, Server

pytestmark = pytest.mark.postgres

OID = "6f1f7a4e-2b1c-4d3e-9f00-1234567890ab"
OTHER_OID = "0a0a0a0a-1111-2222-3333-444444444444"

# STAND-IN for Azure's pgaadauth functions (same names and argument types as documented).
AZURE_STAND_INS = """
CREATE TABLE pgaadauth_standin_map (rolname name PRIMARY KEY, principal_type text, object_id text);
CREATE FUNCTION pgaadauth_create_principal_with_oid(
    role_name text, object_id text, object_type text, is_admin boolean, is_mfa boolean)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
    INSERT INTO pgaadauth_standin_map VALUES (role_name, object_type, object_id);
    RETURN format('Created role for %s', role_name);
END $$;
CREATE FUNCTION pgaadauth_list_principals(is_admin_value boolean)
RETURNS TABLE (rolname name, "principalType" text, "objectId" text, "tenantId" text, "isMfa" integer,
               "isAdmin" integer)
LANGUAGE sql AS $$ SELECT rolname, principal_type, object_id, NULL::text, 0, 0 FROM pgaadauth_standin_map $$;
"""


def ensure_rds_iam_stand_in(server: Server) -> None:
    """STAND-IN: a role named rds_iam, as RDS has (left in place: parallel tests may use it)."""
    with server.connect() as su:
        if su.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'").fetchone():
            return
        # another worker may make it at the same moment
        with contextlib.suppress(pgerrors.DuplicateObject, pgerrors.UniqueViolation):
            su.execute("CREATE ROLE rds_iam NOLOGIN")


def test_generated_sql_renders_the_same_with_a_connection(superuser: psycopg.Connection[Any]) -> None:
    iam_user = GcpIamAuth("pb-acme-p-app@pb-tenants-prod.iam.gserviceaccount.com").iam_user
    expected = [
        (q.grant_rds_iam("pb_acme_p_app"), 'GRANT "rds_iam" TO "pb_acme_p_app"'),
        (q.azure_create_principal("pb_acme_p_app", OID, "service"),
         f"SELECT * FROM \"pgaadauth_create_principal_with_oid\"('pb_acme_p_app', '{OID}', 'service', false, false)"),
        (q.grant_role("pb_acme_p_app", iam_user), 'GRANT "pb_acme_p_app" TO "pb-acme-p-app@pb-tenants-prod.iam"'),
        (q.set_default_role(iam_user, "pb_acme_p_db", "pb_acme_p_owner"),
         "ALTER ROLE \"pb-acme-p-app@pb-tenants-prod.iam\" IN DATABASE \"pb_acme_p_db\" SET role = 'pb_acme_p_owner'"),
    ]
    for statement, text in expected:
        assert statement.query.as_string(superuser) == text
        assert statement.text() == text


def test_aws_login_is_a_member_of_rds_iam(server: Server, admin: AdminConnection, store: InMemorySecretStore,
                                          names: Names, monkeypatch: pytest.MonkeyPatch) -> None:
    a = names.tenant("a", cloud="aws", auth=AwsIamAuth())
    # without the role (a name no server has stands in for a server that is not RDS)
    monkeypatch.setattr(q, "RDS_IAM_ROLE", f"dp_{names.token}_no_rds_iam")
    with pytest.raises(AuthMappingMissing, match="IAM database authentication is an Amazon RDS feature") as caught:
        apply(a, admin, store)
    assert a.tenant in str(caught.value) and admin.endpoint in str(caught.value)
    monkeypatch.undo()

    ensure_rds_iam_stand_in(server)
    report = apply(a, admin, store)
    assert "auth_rds_iam" in report.changed and "password" not in report.changed + report.unchanged
    assert f'GRANT "rds_iam" TO "{a.login_role}"' in report.statements
    assert apply(a, admin, store).changed == ()
    seen = status(a, admin, store)
    assert seen.auth_mapping_present is True and seen.healthy, seen.problems
    assert "rds_iam" in seen.logins[0].member_of and a.owner_role in seen.logins[0].member_of
    assert store.names() == []  # IAM authentication: no password anywhere


def test_azure_login_is_an_entra_principal(server: Server, admin: AdminConnection, store: InMemorySecretStore,
                                           names: Names) -> None:
    a = names.tenant("a", cloud="azure", auth=AzureEntraAuth(object_id=OID, principal_name="pb-acme-p-app"))
    # without Azure's functions (the server's own maintenance database has none)
    with pytest.raises(AuthMappingMissing, match="exists only in the 'postgres' database"):
        apply(a, admin, store)

    maintenance = f"dp_{names.token}_maint"  # plays Azure's `postgres` database, holding the stand-ins
    with server.connect() as su:
        su.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(maintenance)))
    with server.connect(maintenance) as su:
        su.execute(AZURE_STAND_INS)
    azure_admin = replace(admin, dbname=maintenance)

    report = apply(a, azure_admin, store)
    assert {"login_role", "login_attributes"} <= set(report.changed)
    assert "auth_entra_principal" in report.unchanged  # the function bound it when it created the role
    assert (f"SELECT * FROM \"pgaadauth_create_principal_with_oid\"('{a.login_role}', '{OID}', 'service', "
            "false, false)") in report.statements
    assert apply(a, azure_admin, store).changed == ()
    seen = status(a, azure_admin, store)
    assert seen.auth_mapping_present is True and seen.healthy, seen.problems
    with server.connect(a.database, user=a.login_role) as conn:  # Azure would check an Entra token here
        assert conn.execute("SELECT current_user::text").fetchone() == (a.owner_role,)

    # a role already bound to another Entra object is never rebound silently
    b = names.tenant("b", cloud="azure", auth=AzureEntraAuth(object_id=OID, principal_name="pb-other-app"))
    with server.connect(maintenance) as su:
        su.execute("SELECT pgaadauth_create_principal_with_oid(%s, %s, 'service', false, false)",
                   (b.login_role, OTHER_OID))
    with pytest.raises(AuthMappingMissing, match=f"bound to Microsoft Entra object '{OTHER_OID}'"):
        apply(b, azure_admin, store)


def test_gcp_iam_user_logs_in_through_the_login_role(server: Server, admin: AdminConnection,
                                                     store: InMemorySecretStore, names: Names) -> None:
    email = f"dp{names.token}-app@pb-tenants.iam.gserviceaccount.com"
    a = names.tenant("a", cloud="gcp", auth=GcpIamAuth(email))
    iam_user = a.login_identities[0]
    assert iam_user == f"dp{names.token}-app@pb-tenants.iam"

    # the IAM user does not exist yet (the tenant stack has not run): apply stops there, having done
    # everything before it ...
    with pytest.raises(AuthMappingMissing, match="the Cloud SQL API creates it"):
        apply(a, admin, store)
    # ... STAND-IN for the Cloud SQL API creating the IAM user
    with server.connect() as su:
        su.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(iam_user)))
    report = apply(a, admin, store)
    assert {"owner_role", "database", "login_role", "login_connect"} <= set(report.unchanged)
    assert report.changed == ("auth_iam_user_member", "auth_iam_user_attributes", "login_default_role",
                              "schema_public_owner", "schema_public_revoked")
    assert f'GRANT "{a.login_role}" TO "{iam_user}"' in report.statements
    assert apply(a, admin, store).changed == ()

    with server.connect(a.database, user=iam_user) as conn:
        assert conn.execute("SELECT session_user::text, current_user::text").fetchone() == (iam_user, a.owner_role)
        conn.execute("CREATE TABLE t (id int)")
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        server.connect(a.database, user=a.login_role)  # the group role itself never logs in
    seen = status(a, admin, store)
    assert seen.auth_mapping_present is True and seen.healthy, seen.problems
    assert [login.role for login in seen.logins] == [a.login_role, iam_user]

    assert suspend(a, admin, store).changed == ("login_disabled",)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        server.connect(a.database, user=iam_user)

    report = drop(a, admin, store)
    assert report.changed == ("database_dropped", "login_role_dropped", "owner_role_dropped")
    assert any("Cloud SQL IAM user" in note for note in report.notes)
    with server.connect() as su:  # the IAM user is the Cloud SQL API's to delete
        assert su.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (iam_user,)).fetchone() == (1,)


def test_oci_password_comes_from_the_vault_and_follows_its_rotation(
        server: Server, admin: AdminConnection, names: Names, role_password_is: Any) -> None:
    secret = f"dp-{names.token}-a-db-secret"
    a = names.tenant("a", cloud="oci", auth=PasswordAuth(secret, generated_by="vault", field="password"))
    store = InMemorySecretStore()
    with pytest.raises(SecretMissing, match="generated by the cloud's vault"):
        apply(a, admin, store)
    # what OCI Vault holds for the tenant stack's secret: the connection template, password generated
    store.put(secret, json.dumps({"host": "10.0.0.5", "port": 5432, "database": a.database,
                                  "username": a.login_role, "password": "Vault-Generated-1"}))
    assert "password" in apply(a, admin, store).changed
    assert role_password_is(a.login_role, "Vault-Generated-1")
    assert apply(a, admin, store).changed == ()
    store.put(secret, json.dumps({"username": a.login_role, "password": "Vault-Rotated-2"}))  # the vault rotated it
    assert apply(a, admin, store).changed == ("password",)
    assert role_password_is(a.login_role, "Vault-Rotated-2")
    assert status(a, admin, store).auth_mapping_present is True
    with pytest.raises(InvalidInput, match="rotate_password needs"):
        rotate_password(a, admin, store)


def test_module_generated_password_rotates(server: Server, admin: AdminConnection, store: InMemorySecretStore,
                                           names: Names, role_password_is: Any) -> None:
    a = names.tenant("a")
    apply(a, admin, store)
    first = store.get(a.auth.secret_name)  # type: ignore[union-attr]
    assert len(first) >= 40
    report = rotate_password(a, admin, store)
    assert report.changed == ("password",) and first not in repr(report)
    second = store.get(a.auth.secret_name)  # type: ignore[union-attr]
    assert second != first and role_password_is(a.login_role, second)
    assert apply(a, admin, store).changed == ()
    store.put(a.auth.secret_name, "changed-in-the-store-by-hand")  # type: ignore[union-attr]
    seen = status(a, admin, store)
    assert seen.auth_mapping_present is False and not seen.healthy

"""The pure Google Cloud IAM helpers (paybill_components.gcp.iam) and sizing helpers, without mocks."""

from __future__ import annotations

import pytest
from paybill_components.gcp import iam

from paybill_iac.mock_outputs import gcp as mock_gcp

EMAIL = "pb-acme-app@pb-tenants-prod.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("shared_store", "active", "expected"),
    [
        (False, True, {("bucket", iam.ROLE_OBJECT_USER), ("key", iam.ROLE_KEY_USER),
                       ("instance", iam.ROLE_SQL_INSTANCE_USER), ("instance", iam.ROLE_SQL_CLIENT)}),
        (True, True, {("folder", iam.ROLE_OBJECT_USER), ("instance", iam.ROLE_SQL_INSTANCE_USER),
                      ("instance", iam.ROLE_SQL_CLIENT)}),
        (False, False, set()),
        (True, False, set()),
    ],
    ids=["silo-or-bridge", "pooled", "suspended-own", "suspended-pooled"],
)
def test_tenant_grants(shared_store: bool, active: bool, expected: set[tuple[str, str]]) -> None:
    grants = iam.tenant_grants(shared_store=shared_store, active=active)
    assert {(grant.target, grant.role) for grant in grants} == expected
    assert len(grants) == len(expected)


def test_pooled_tenant_never_gets_the_shared_key_or_bucket() -> None:
    targets = {grant.target for grant in iam.tenant_grants(shared_store=True, active=True)}
    assert "key" not in targets and "bucket" not in targets


@pytest.mark.parametrize(
    "role",
    ["roles/owner", "roles/editor", "roles/viewer", "roles/storage.admin", "roles/cloudsql.admin",
     "roles/cloudkms.admin", "roles/storage.*", "storage.objects.get", "roles/iam.serviceAccountAdmin"],
)
def test_check_role_refuses_broad_roles(role: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        iam.check_role(role)


@pytest.mark.parametrize(
    "role", [iam.ROLE_OBJECT_USER, iam.ROLE_SQL_CLIENT, iam.ROLE_SQL_INSTANCE_USER, iam.ROLE_KEY_USER]
)
def test_check_role_accepts_the_roles_used(role: str) -> None:
    assert iam.check_role(role) == role


@pytest.mark.parametrize(
    ("email", "member", "user"),
    [
        (EMAIL, f"serviceAccount:{EMAIL}", "pb-acme-app@pb-tenants-prod.iam"),
        ("service-123456789012@gcp-sa-cloud-sql.iam.gserviceaccount.com",
         "serviceAccount:service-123456789012@gcp-sa-cloud-sql.iam.gserviceaccount.com",
         "service-123456789012@gcp-sa-cloud-sql.iam"),
        ("svc@proj.example.com.iam.gserviceaccount.com", "serviceAccount:svc@proj.example.com.iam.gserviceaccount.com",
         "svc@proj.example.com.iam"),
    ],
)
def test_member_and_sql_user(email: str, member: str, user: str) -> None:
    assert iam.service_account_member(email) == member
    assert iam.sql_iam_user_name(email) == user


@pytest.mark.parametrize(
    "email",
    ["", "alice@example.com", "allUsers", "*@pb.iam.gserviceaccount.com", 'x"@p.iam.gserviceaccount.com',
     "pb-acme-app@pb-tenants-prod.iam.gserviceaccount.com.evil.com", "user:a@p.iam.gserviceaccount.com"],
)
def test_member_refuses_non_service_accounts(email: str) -> None:
    with pytest.raises(ValueError, match="service account"):
        iam.service_account_member(email)
    with pytest.raises(ValueError, match="service account"):
        iam.sql_iam_user_name(email)


@pytest.mark.parametrize(
    ("project", "instance", "resource"),
    [
        ("pb-tenants-prod", "pb-acme-db", "projects/pb-tenants-prod/instances/pb-acme-db"),
        ("example.com:proj-1", "db", "projects/example.com:proj-1/instances/db"),
    ],
)
def test_sql_instance_condition(project: str, instance: str, resource: str) -> None:
    condition = iam.sql_instance_condition(project, instance)
    assert iam.sql_instance_resource(project, instance) == resource
    assert condition["expression"] == (
        f'resource.type == "sqladmin.googleapis.com/Instance" && resource.name == "{resource}"'
    )
    assert instance in condition["title"] and len(condition["title"]) <= 100
    assert resource in condition["description"]


@pytest.mark.parametrize(
    ("project", "instance"),
    [
        ("pb-tenants-prod", "*"),
        ("pb-tenants-prod", ""),
        ("pb-tenants-prod", 'db" || true || "'),
        ("pb-tenants-prod", "pb-acme-db/../other"),
        ("PB", "pb-acme-db"),
        ("*", "pb-acme-db"),
        ("pb-tenants-prod", "Db"),
    ],
)
def test_sql_instance_condition_refuses_what_would_widen_it(project: str, instance: str) -> None:
    with pytest.raises(ValueError):
        iam.sql_instance_condition(project, instance)


@pytest.mark.parametrize("prefix", ["tenants/acme/", "a/", "tenants/acme-co/x/"])
def test_managed_folder_name(prefix: str) -> None:
    assert iam.managed_folder_name(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "/", "tenants/acme", "/tenants/acme/", "tenants//", "tenants/../", "*/"])
def test_managed_folder_name_refuses_bucket_wide_or_malformed(prefix: str) -> None:
    with pytest.raises(ValueError, match="managed folder"):
        iam.managed_folder_name(prefix)


def test_mock_service_agents_follow_google_formats() -> None:
    number = mock_gcp.project_number("pb-tenants-prod")
    assert number == mock_gcp.project_number("pb-tenants-prod") and len(number) == 12 and number.isdigit()
    assert mock_gcp.storage_agent_email("pb-tenants-prod") == (
        f"service-{number}@gs-project-accounts.iam.gserviceaccount.com"
    )
    assert mock_gcp.service_agent_email("pb-tenants-prod", "sqladmin.googleapis.com") == (
        f"service-{number}@gcp-sa-cloud-sql.iam.gserviceaccount.com"
    )
    token = "gcp:storage/getProjectServiceAccount:getProjectServiceAccount"
    result = mock_gcp.invoke(token, {"project": "pb-tenants-prod"})
    assert result["emailAddress"] == mock_gcp.storage_agent_email("pb-tenants-prod")
    assert result["member"] == f"serviceAccount:{result['emailAddress']}"

"""The pure OCI policy builders (paybill_components.oci.iam): exact statements, one tenant's scope only."""

from __future__ import annotations

import re

import pytest
from paybill_components.oci import iam

DG = "ocid1.dynamicgroup.oc1..aaaaaaaadg"
TENANT_CMP = "ocid1.compartment.oc1..aaaaaaaatenant"
CELL_CMP = "ocid1.compartment.oc1..aaaaaaaacell"
KEY = "ocid1.key.oc1.eu-frankfurt-1.bbvault.aaaaaaaakey"
SECRET = "ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaaaaaasecret"
PERMISSIONS = "{OBJECT_INSPECT, OBJECT_READ, OBJECT_CREATE, OBJECT_OVERWRITE, OBJECT_DELETE}"


def _matches(pattern: str, object_name: str) -> bool:
    """OCI's pattern semantics: between slashes, `*` matches any characters, case-insensitively."""
    assert pattern.startswith("/") and pattern.endswith("/")
    body = re.escape(pattern[1:-1]).replace(r"\*", ".*")
    return re.fullmatch(body, object_name, re.IGNORECASE) is not None


def test_matching_rule_is_the_tenant_compartment() -> None:
    # instances match on instance.compartment.id, every other resource principal on resource.compartment.id
    assert iam.dynamic_group_matching_rule(TENANT_CMP) == (
        f"ANY {{instance.compartment.id = '{TENANT_CMP}', resource.compartment.id = '{TENANT_CMP}'}}")


def test_db_system_rule_and_statements_name_one_compartment_key_and_secret() -> None:
    assert iam.db_system_matching_rule(TENANT_CMP) == (
        f"ALL {{resource.type = 'postgresqldbsystem', resource.compartment.id = '{TENANT_CMP}'}}")
    group, key, secret = ("ocid1.dynamicgroup.oc1..dbgroup", "ocid1.key.oc1..storagekey",
                          "ocid1.vaultsecret.oc1..adminsecret")
    statements = iam.db_system_statements(group, TENANT_CMP, key, secret)
    assert statements == [iam.key_statement(group, TENANT_CMP, key), iam.secret_statement(group, TENANT_CMP, secret)]
    assert iam.statement_ocids(statements) == {group, TENANT_CMP, key, secret}
    with pytest.raises(iam.PolicyInputError):
        iam.db_system_matching_rule("ocid1.compartment.oc1..a' OR 1=1")


@pytest.mark.parametrize(
    ("prefix", "pattern"),
    [
        ("tenants/acme/", "/tenants/acme/*/"),
        ("tenants/acme-corp/", "/tenants/acme-corp/*/"),
        ("tenants/a1/data/", "/tenants/a1/data/*/"),
    ],
)
def test_prefix_pattern(prefix: str, pattern: str) -> None:
    assert iam.prefix_pattern(prefix) == pattern


@pytest.mark.parametrize(
    ("pattern_of", "object_name", "allowed"),
    [
        ("tenants/acme/", "tenants/acme/invoices/1.pdf", True),
        ("tenants/acme/", "tenants/acme/", True),
        ("tenants/acme/", "tenants/acme-corp/invoices/1.pdf", False),  # the trailing "/" separates ids
        ("tenants/acme/", "tenants/globex/invoices/1.pdf", False),
        ("tenants/acme/", "tenants/acm/x", False),
        ("tenants/acme/", "other/tenants/acme/x", False),
        ("tenants/acme-corp/", "tenants/acme/x", False),
    ],
)
def test_prefix_pattern_confines_to_one_tenant(pattern_of: str, object_name: str, allowed: bool) -> None:
    assert _matches(iam.prefix_pattern(pattern_of), object_name) is allowed


@pytest.mark.parametrize(
    "prefix",
    ["tenants/acme", "", "/tenants/acme/", "tenants/*/", "tenants/ac'me/", "Tenants/acme/", "tenants//",
     "tenants/acme/ x/", None],
)
def test_prefix_pattern_refuses_what_no_policy_could_confine(prefix: object) -> None:
    with pytest.raises(iam.PolicyInputError, match="prefix"):
        iam.prefix_pattern(prefix)  # type: ignore[arg-type]


def test_object_statement_own_bucket() -> None:
    assert iam.object_statement(DG, TENANT_CMP, "pb-acme-data") == (
        f"Allow dynamic-group id {DG} to {PERMISSIONS} in compartment id {TENANT_CMP} "
        "where target.bucket.name = 'pb-acme-data'"
    )


def test_object_statement_shared_bucket_prefix() -> None:
    assert iam.object_statement(DG, CELL_CMP, "pb-cell-a-data", "tenants/acme/") == (
        f"Allow dynamic-group id {DG} to {PERMISSIONS} in compartment id {CELL_CMP} "
        "where all {target.bucket.name = 'pb-cell-a-data', target.object.name = /tenants/acme/*/}"
    )


def test_object_permissions_exclude_version_purge() -> None:
    assert "OBJECT_VERSION_DELETE" not in iam.OBJECT_PERMISSIONS
    assert "manage" not in iam.object_statement(DG, TENANT_CMP, "b")


def test_key_and_secret_statements() -> None:
    assert iam.key_statement(DG, TENANT_CMP, KEY) == (
        f"Allow dynamic-group id {DG} to use keys in compartment id {TENANT_CMP} where target.key.id = '{KEY}'"
    )
    assert iam.secret_statement(DG, TENANT_CMP, SECRET) == (
        f"Allow dynamic-group id {DG} to read secret-bundles in compartment id {TENANT_CMP} "
        f"where target.secret.id = '{SECRET}'"
    )


@pytest.mark.parametrize(
    ("kwargs", "count", "ocids"),
    [
        (  # silo or bridge: own bucket, own secret, own key
            {"store_compartment_id": TENANT_CMP, "bucket": "pb-acme-data", "secret_compartment_id": TENANT_CMP,
             "secret_id": SECRET, "key_compartment_id": TENANT_CMP, "key_id": KEY},
            3, {DG, TENANT_CMP, SECRET, KEY},
        ),
        (  # pooled: a prefix of the cell's bucket, own secret, no key (the cell's is shared)
            {"store_compartment_id": CELL_CMP, "bucket": "pb-cell-a-data", "prefix": "tenants/acme/",
             "secret_compartment_id": TENANT_CMP, "secret_id": SECRET},
            2, {DG, CELL_CMP, TENANT_CMP, SECRET},
        ),
    ],
)
def test_tenant_statements(kwargs: dict[str, str], count: int, ocids: set[str]) -> None:
    statements = iam.tenant_statements(DG, **kwargs)
    assert len(statements) == count
    assert iam.statement_ocids(statements) == ocids
    for statement in statements:
        assert statement.startswith(f"Allow dynamic-group id {DG} to ")
        assert " where " in statement  # every grant is narrowed to one resource
        lowered = statement.lower()
        for broad in ("all-resources", " in tenancy", "manage ", "any-user", "-family"):
            assert broad not in lowered


def test_tenant_statements_need_the_key_compartment() -> None:
    with pytest.raises(iam.PolicyInputError, match="key_compartment_id"):
        iam.tenant_statements(DG, store_compartment_id=TENANT_CMP, bucket="b", secret_compartment_id=TENANT_CMP,
                              secret_id=SECRET, key_id=KEY)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: iam.object_statement("not-an-ocid", TENANT_CMP, "b"), "dynamic_group_id"),
        (lambda: iam.object_statement(DG, "*", "b"), "compartment_id"),
        (lambda: iam.object_statement(DG, TENANT_CMP, "b' or target.bucket.name = 'x"), "bucket"),
        (lambda: iam.object_statement(DG, TENANT_CMP, "*"), "bucket"),
        (lambda: iam.key_statement(DG, TENANT_CMP, "ocid1.key.oc1..x'}"), "key_id"),
        (lambda: iam.secret_statement(DG, TENANT_CMP, ""), "secret_id"),
        (lambda: iam.dynamic_group_matching_rule("ocid1.compartment.oc1..a' OR 1=1"), "compartment_id"),
        (lambda: iam.object_storage_service_statement("frankfurt", TENANT_CMP, KEY), "region"),
    ],
)
def test_refuses_values_that_would_widen_a_statement(call: object, field: str) -> None:
    with pytest.raises(iam.PolicyInputError, match=field):
        call()  # type: ignore[operator]


def test_object_storage_service_statement() -> None:
    assert iam.object_storage_service_statement("eu-frankfurt-1", TENANT_CMP, KEY) == (
        f"Allow service objectstorage-eu-frankfurt-1 to use keys in compartment id {TENANT_CMP} "
        f"where target.key.id = '{KEY}'"
    )


def test_statement_ocids() -> None:
    statement = iam.key_statement(DG, TENANT_CMP, KEY)
    assert iam.statement_ocids([statement]) == {DG, TENANT_CMP, KEY}

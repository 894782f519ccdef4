"""Physical names: valid under every cloud rule, deterministic, unique, for any valid id."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from paybill_iac.model import naming

ids = st.from_regex(r"\A[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,29}\Z", fullmatch=True).filter(
    lambda value: naming.id_problem(value) is None
)
orgs = st.from_regex(r"\A[a-z][a-z0-9]{1,5}\Z", fullmatch=True).filter(lambda value: naming.org_problem(value) is None)
clouds = st.sampled_from(sorted(naming.NAME_SETS))


@settings(max_examples=300, deadline=None)
@given(cloud=clouds, org=orgs, owner=ids)
def test_every_name_is_valid_under_its_cloud_rule(cloud: str, org: str, owner: str) -> None:
    for key, name in naming.names_for(cloud, org, owner).items():
        if key == "prefix":
            assert name == f"tenants/{owner}/"
            continue
        rule = naming.RULES[naming.name_kind(cloud, key)]
        assert rule.problem(name) is None, (cloud, key, name, rule.problem(name))


@settings(max_examples=300, deadline=None)
@given(cloud=clouds, org=orgs, first=ids, second=ids)
def test_names_are_unique_per_owner(cloud: str, org: str, first: str, second: str) -> None:
    if first == second:
        return
    a, b = naming.names_for(cloud, org, first), naming.names_for(cloud, org, second)
    for key in a:
        assert a[key] != b[key], (cloud, key, first, second, a[key])


@settings(max_examples=100, deadline=None)
@given(cloud=clouds, org=orgs, owner=ids)
def test_names_are_deterministic(cloud: str, org: str, owner: str) -> None:
    kinds = naming.NAME_SETS[cloud]
    for key, (kind, purpose) in kinds.items():
        assert naming.physical_name(kind, org, owner, purpose) == naming.names_for(cloud, org, owner)[key]


def test_names_that_fit_read_as_org_id_purpose() -> None:
    names = naming.names_for("aws", "pb", "acme")
    assert names["bucket"] == "pb-acme-data"
    assert names["key_alias"] == "alias/pb-acme-data"
    assert names["database"] == "pb_acme_db"
    assert names["secret"] == "pb/acme/db"


def test_a_shortened_name_keeps_a_stable_hash_suffix() -> None:
    owner = "a-very-long-tenant-identifier"  # 29 characters
    name = naming.physical_name("gcp.service_account", "pb", owner, "app")
    assert len(name) <= 30 and re.fullmatch(r"pb-a-very-long-[a-z0-9-]*-[a-z2-7]{6}", name), name
    assert name == naming.physical_name("gcp.service_account", "pb", owner, "app")


def test_a_charset_without_hyphens_cannot_merge_two_ids() -> None:
    first = naming.physical_name("azure.storage_account", "pb", "ab-c", "st")
    second = naming.physical_name("azure.storage_account", "pb", "a-bc", "st")
    assert first != second
    assert naming.physical_name("azure.storage_account", "pb", "abc", "st") == "pbabcst"


def test_reserved_words_are_avoided() -> None:
    bucket = naming.physical_name("gcp.bucket", "pb", "google", "data")
    assert "google" not in bucket and naming.RULES["gcp.bucket"].problem(bucket) is None
    assert naming.RULES["gcp.bucket"].problem("pb-google-data") is not None


def test_rules_refuse_what_the_clouds_refuse() -> None:
    rules = naming.RULES
    assert rules["aws.s3_bucket"].problem("ab") is not None  # too short
    assert rules["aws.s3_bucket"].problem("Pb-acme") is not None  # uppercase
    assert rules["aws.s3_bucket"].problem("xn--acme") is not None  # reserved prefix
    assert rules["aws.s3_bucket"].problem("acme-s3alias") is not None  # reserved suffix
    assert rules["azure.storage_account"].problem("pb-acme") is not None  # hyphen
    assert rules["azure.key_vault"].problem("pb-acme-kv-" + "x" * 20) is not None  # > 24
    assert rules["gcp.service_account"].problem("pb-a") is not None  # < 6
    assert rules["aws.rds_instance"].problem("pb--acme") is not None  # double hyphen
    assert rules["aws.secret"].problem("pb/acme-abcdef") is not None  # looks like a random suffix
    assert rules["postgres.identifier"].problem("pg_acme") is not None  # reserved role prefix


def test_id_rule_refuses_look_alikes_and_shows_them_escaped() -> None:
    problem = naming.id_problem("\u0430cme")  # Cyrillic a
    assert problem is not None and "\\u0430cme" in problem
    assert naming.id_problem("acme") is None


@settings(max_examples=200, deadline=None)
@given(cloud=clouds, org=orgs, owner=ids, isolation=st.sampled_from(sorted(naming.SHAPE_TAGS)))
def test_tenant_names_are_valid_in_every_shape(cloud: str, org: str, owner: str, isolation: str) -> None:
    for key, name in naming.tenant_names(cloud, org, owner, isolation).items():
        if key != "prefix":
            assert naming.RULES[naming.name_kind(cloud, key)].problem(name) is None, (cloud, key, name)


@settings(max_examples=200, deadline=None)
@given(cloud=clouds, org=orgs, owner=ids)
def test_two_shapes_of_one_tenant_never_share_a_name(cloud: str, org: str, owner: str) -> None:
    """A plan change builds the new shape beside the old one before it retires the old one."""
    shapes = {isolation: naming.tenant_names(cloud, org, owner, isolation) for isolation in naming.SHAPE_TAGS}
    for key in naming.NAME_SETS[cloud]:
        values = [names[key] for names in shapes.values()]
        assert len(set(values)) == len(values), (cloud, key, values)


def test_tenant_names_say_their_shape() -> None:
    assert naming.tenant_names("aws", "pb", "acme", "silo")["bucket"] == "pb-acme-s-data"
    assert naming.tenant_names("aws", "pb", "acme", "pooled")["role"] == "pb-acme-p-app"
    assert naming.tenant_names("aws", "pb", "acme", "bridge")["prefix"] == "tenants/acme/"

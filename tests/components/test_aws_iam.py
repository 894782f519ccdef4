"""The AWS policy documents (paybill_components.aws.iam): pure functions, no mocks."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest
from paybill_components.aws import iam

ACCOUNT = "123456789012"
BUCKET = "arn:aws:s3:::pb-cell-a-data"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0b9e8a4c-0000-4000-8000-000000000001"
INSTANCE = f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:pb-cell-a-db"
RESOURCE_ID = "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SECRET = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:pb/acme/db-AbC123"


def _statements(document: str) -> list[dict[str, Any]]:
    parsed = json.loads(document)
    assert parsed["Version"] == "2012-10-17"
    return list(parsed["Statement"])


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _allows(document: str, action: str, resource: str) -> bool:
    """IAM-style evaluation of Allow statements (glob match on resources, conditions ignored)."""
    return any(
        statement["Effect"] == "Allow"
        and action in _as_list(statement["Action"])
        and any(fnmatchcase(resource, pattern) for pattern in _as_list(statement["Resource"]))
        for statement in _statements(document)
    )


def _policy(**overrides: Any) -> str:
    values: dict[str, Any] = {"bucket_arn": BUCKET, "key_arn": KEY, "instance_arn": INSTANCE,
                              "db_resource_id": RESOURCE_ID, "db_user": "pb_acme_app"}
    values.update(overrides)
    return iam.tenant_policy(**values)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (KEY, iam.Arn("aws", "kms", "eu-west-1", ACCOUNT, "key/0b9e8a4c-0000-4000-8000-000000000001")),
        (BUCKET, iam.Arn("aws", "s3", "", "", "pb-cell-a-data")),
        ("arn:aws-cn:rds:cn-north-1:1:db:x", iam.Arn("aws-cn", "rds", "cn-north-1", "1", "db:x")),
        (SECRET, iam.Arn("aws", "secretsmanager", "eu-west-1", ACCOUNT, "secret:pb/acme/db-AbC123")),
    ],
)
def test_parse_arn(arn: str, expected: iam.Arn) -> None:
    assert iam.parse_arn(arn) == expected


@pytest.mark.parametrize("bad", ["", "pb-cell-a-data", "arn:aws:s3", "urn:aws:s3:::b", "arn::s3:::b"])
def test_parse_arn_refuses_non_arns(bad: str) -> None:
    with pytest.raises(iam.PolicyInputError, match="is not an ARN"):
        iam.parse_arn(bad)


@pytest.mark.parametrize(
    ("instance_arn", "expected"),
    [
        (INSTANCE, f"arn:aws:rds-db:eu-west-1:{ACCOUNT}:dbuser:{RESOURCE_ID}/pb_acme_app"),
        ("arn:aws-cn:rds:cn-north-1:210987654321:db:x",
         f"arn:aws-cn:rds-db:cn-north-1:210987654321:dbuser:{RESOURCE_ID}/pb_acme_app"),
        ("arn:aws-us-gov:rds:us-gov-west-1:1:db:x",
         f"arn:aws-us-gov:rds-db:us-gov-west-1:1:dbuser:{RESOURCE_ID}/pb_acme_app"),
    ],
)
def test_rds_db_user_arn_follows_the_instance(instance_arn: str, expected: str) -> None:
    assert iam.rds_db_user_arn(instance_arn, RESOURCE_ID, "pb_acme_app") == expected


@pytest.mark.parametrize(
    ("instance_arn", "resource_id", "user", "message"),
    [
        (KEY, RESOURCE_ID, "u", "not an RDS DB instance ARN"),
        (f"arn:aws:rds:eu-west-1:{ACCOUNT}:cluster:c", RESOURCE_ID, "u", "not an RDS DB instance ARN"),
        (INSTANCE, "pb-cell-a-db", "u", "not a DB instance resource id"),
        (INSTANCE, "", "u", "database resource id is required"),
        (INSTANCE, RESOURCE_ID, "", "database user is required"),
        (INSTANCE, RESOURCE_ID, "*", "must not contain a wildcard"),
        (INSTANCE, "db-*", "u", "must not contain a wildcard"),
    ],
)
def test_rds_db_user_arn_refuses(instance_arn: str, resource_id: str, user: str, message: str) -> None:
    with pytest.raises(iam.PolicyInputError, match=message):
        iam.rds_db_user_arn(instance_arn, resource_id, user)


@pytest.mark.parametrize(
    ("prefix", "objects", "list_condition"),
    [
        (None, f"{BUCKET}/*", None),
        ("tenants/acme/", f"{BUCKET}/tenants/acme/*", ["tenants/acme/", "tenants/acme/*"]),
        ("tenants/acme", f"{BUCKET}/tenants/acme/*", ["tenants/acme/", "tenants/acme/*"]),
        ("/tenants/acme/", f"{BUCKET}/tenants/acme/*", ["tenants/acme/", "tenants/acme/*"]),
    ],
)
def test_object_statements(prefix: str | None, objects: str, list_condition: list[str] | None) -> None:
    statements = iam.object_statements(BUCKET, prefix)
    assert statements[0]["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    assert statements[0]["Resource"] == objects
    assert statements[1]["Action"] == "s3:ListBucket"
    assert statements[1]["Resource"] == BUCKET
    assert statements[1].get("Condition") == (
        None if list_condition is None else {"StringLike": {"s3:prefix": list_condition}}
    )


@pytest.mark.parametrize(
    ("bucket_arn", "prefix", "message"),
    [
        (BUCKET, "", "prefix is required"),
        (BUCKET, "tenants/*", "must not contain a wildcard"),
        (BUCKET, "/", "not a folder path"),
        (BUCKET, "tenants/../globex/", "not a folder path"),
        (BUCKET, "tenants//acme/", "not a folder path"),
        (f"{BUCKET}/tenants", None, "not an S3 bucket ARN"),
        (KEY, None, "not an S3 bucket ARN"),
        ("arn:aws:s3:::*", None, "must not contain a wildcard"),
    ],
)
def test_object_statements_refuse(bucket_arn: str, prefix: str | None, message: str) -> None:
    with pytest.raises(iam.PolicyInputError, match=message):
        iam.object_statements(bucket_arn, prefix)


@pytest.mark.parametrize(
    ("key_arn", "via", "services"),
    [
        (KEY, ("s3",), ["s3.eu-west-1.amazonaws.com"]),
        (KEY, ("secretsmanager", "s3"), ["s3.eu-west-1.amazonaws.com", "secretsmanager.eu-west-1.amazonaws.com"]),
        ("arn:aws-cn:kms:cn-north-1:1:key/k", ("s3",), ["s3.cn-north-1.amazonaws.com.cn"]),
    ],
)
def test_key_statement_only_through_services(key_arn: str, via: tuple[str, ...], services: list[str]) -> None:
    statement = iam.key_statement(key_arn, via)
    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Resource"] == key_arn
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": services}}


@pytest.mark.parametrize(
    "bad", [BUCKET, f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/pb-acme-data", "arn:aws:kms:r:1:key/*"]
)
def test_key_statement_refuses_other_arns(bad: str) -> None:
    with pytest.raises(iam.PolicyInputError):
        iam.key_statement(bad)


@pytest.mark.parametrize(
    ("overrides", "allowed", "denied"),
    [
        (  # silo / bridge: its whole bucket
            {},
            [("s3:GetObject", f"{BUCKET}/any/key"), ("s3:ListBucket", BUCKET), ("kms:Decrypt", KEY),
             ("rds-db:connect", f"arn:aws:rds-db:eu-west-1:{ACCOUNT}:dbuser:{RESOURCE_ID}/pb_acme_app")],
            [("s3:GetObject", "arn:aws:s3:::pb-globex-data/any"), ("s3:DeleteBucket", BUCKET),
             ("rds-db:connect", f"arn:aws:rds-db:eu-west-1:{ACCOUNT}:dbuser:{RESOURCE_ID}/pb_globex_app"),
             ("secretsmanager:GetSecretValue", SECRET), ("kms:Decrypt", KEY.replace("0001", "0002"))],
        ),
        (  # pooled: its prefix, its secret
            {"prefix": "tenants/acme/", "secret_arn": SECRET},
            [("s3:PutObject", f"{BUCKET}/tenants/acme/invoices/1.pdf"), ("secretsmanager:GetSecretValue", SECRET)],
            [("s3:GetObject", f"{BUCKET}/tenants/acme-corp/x"), ("s3:GetObject", f"{BUCKET}/tenants/globex/x"),
             ("s3:GetObject", f"{BUCKET}/other"),
             ("secretsmanager:GetSecretValue", SECRET.replace("acme", "globex"))],
        ),
    ],
)
def test_tenant_policy_reaches_exactly_its_own(
    overrides: dict[str, Any], allowed: list[tuple[str, str]], denied: list[tuple[str, str]]
) -> None:
    document = _policy(**overrides)
    for action, resource in allowed:
        assert _allows(document, action, resource), (action, resource)
    for action, resource in denied:
        assert not _allows(document, action, resource), (action, resource)


@pytest.mark.parametrize("overrides", [{}, {"prefix": "tenants/acme/", "secret_arn": SECRET}])
def test_tenant_policy_has_no_wildcard_action_or_resource(overrides: dict[str, Any]) -> None:
    for statement in _statements(_policy(**overrides)):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            assert "*" not in action
        for resource in _as_list(statement["Resource"]):
            assert resource != "*"
            assert "*" not in resource or resource.startswith(f"{BUCKET}/")
        assert "NotAction" not in statement and "NotResource" not in statement


def test_tenant_policy_is_deterministic_and_secret_is_optional() -> None:
    assert _policy() == _policy()
    assert "secretsmanager" not in _policy()
    with_secret = _statements(_policy(secret_arn=SECRET))
    key = next(statement for statement in with_secret if statement["Sid"] == "DataKey")
    assert "secretsmanager.eu-west-1.amazonaws.com" in key["Condition"]["StringEquals"]["kms:ViaService"]
    with pytest.raises(iam.PolicyInputError, match="not a Secrets Manager secret ARN"):
        _policy(secret_arn=KEY)


def test_assume_role_policy() -> None:
    (statement,) = _statements(iam.assume_role_policy("ecs-tasks.amazonaws.com", ACCOUNT))
    assert statement == {
        "Sid": "AssumeByService", "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }
    with pytest.raises(iam.PolicyInputError, match="account id is required"):
        iam.assume_role_policy("ecs-tasks.amazonaws.com", "")


def test_bucket_tls_policy_denies_plain_http_and_old_tls() -> None:
    statements = _statements(iam.bucket_tls_policy(BUCKET))
    assert all(statement["Effect"] == "Deny" and statement["Principal"] == "*" for statement in statements)
    assert all(statement["Resource"] == [BUCKET, f"{BUCKET}/*"] for statement in statements)
    conditions = [statement["Condition"] for statement in statements]
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert {"NumericLessThan": {"s3:TlsVersion": "1.2"}} in conditions
    with pytest.raises(iam.PolicyInputError):
        iam.bucket_tls_policy(KEY)

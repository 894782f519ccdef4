"""IAM and resource policy documents of the AWS blocks, as pure functions of plain strings.

No pulumi import: the blocks call these inside `Output.apply` / `Output.all(...).apply`, and the
tests call them directly. Every document is returned as compact, key-sorted JSON, so the same inputs
always give the same text (no spurious diffs).

Least privilege, one tenant at a time:
- objects: Get/Put/DeleteObject on exactly the tenant's bucket (silo, bridge) or on exactly its
  prefix of the cell's bucket (pooled), ListBucket on that bucket only (pooled: with an `s3:prefix`
  condition on its own prefix);
- key: Decrypt and GenerateDataKey on exactly one key ARN, and only through S3 (and Secrets Manager
  when the tenant has a secret) in the key's region (`kms:ViaService`);
- database: `rds-db:connect` as exactly one database user of exactly one instance (IAM database
  authentication; no password anywhere);
- secret: GetSecretValue on exactly one secret ARN.
No action or resource is a bare wildcard; the only `*` are the object keys under the tenant's own
bucket or prefix.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

POLICY_VERSION = "2012-10-17"

OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
DATABASE_ACTIONS = ("rds-db:connect",)
SECRET_ACTIONS = ("secretsmanager:GetSecretValue",)
MIN_TLS_VERSION = "1.2"

# Service endpoints' DNS suffix per partition (for kms:ViaService).
_DNS_SUFFIX = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}


class PolicyInputError(ValueError):
    """An ARN, name or prefix a policy cannot be built from; the message names the value."""


@dataclass(frozen=True)
class Arn:
    """The parts of an ARN: arn:<partition>:<service>:<region>:<account>:<resource>."""

    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(arn: str) -> Arn:
    """Split `arn` into its parts; raises PolicyInputError when it is not an ARN."""
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        raise PolicyInputError(f"'{arn}' is not an ARN")
    return Arn(*parts[1:])


def _document(statements: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"Version": POLICY_VERSION, "Statement": list(statements)}, sort_keys=True,
                      separators=(",", ":"))


def _require(value: str | None, what: str) -> str:
    if not value or not isinstance(value, str):
        raise PolicyInputError(f"{what} is required, got {value!r}")
    if "*" in value or "?" in value:
        raise PolicyInputError(f"{what} '{value}' must not contain a wildcard")
    return value


def _normal_prefix(prefix: str) -> str:
    """A tenant prefix as a folder: no leading slash, exactly one trailing slash, no wildcard."""
    _require(prefix, "prefix")
    cleaned = prefix.strip("/")
    if not cleaned or "//" in cleaned or any(part in (".", "..") for part in cleaned.split("/")):
        raise PolicyInputError(f"prefix '{prefix}' is not a folder path")
    return cleaned + "/"


def assume_role_policy(service: str, account_id: str) -> str:
    """Trust policy: `service` (e.g. ecs-tasks.amazonaws.com) may assume the role, only on behalf of
    `account_id` (aws:SourceAccount, against the confused deputy)."""
    _require(service, "service principal")
    _require(account_id, "account id")
    return _document([{
        "Sid": "AssumeByService",
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }])


def bucket_tls_policy(bucket_arn: str) -> str:
    """Bucket policy: refuse every request not made over TLS 1.2 or newer."""
    bucket = _bucket_arn(bucket_arn)
    resources = [bucket, f"{bucket}/*"]
    return _document([
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyTlsBelow12",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"NumericLessThan": {"s3:TlsVersion": MIN_TLS_VERSION}},
        },
    ])


def _bucket_arn(bucket_arn: str) -> str:
    parsed = parse_arn(_require(bucket_arn, "bucket ARN"))
    if parsed.service != "s3" or not parsed.resource or "/" in parsed.resource:
        raise PolicyInputError(f"'{bucket_arn}' is not an S3 bucket ARN")
    return bucket_arn


def rds_db_user_arn(instance_arn: str, db_resource_id: str, username: str) -> str:
    """The `rds-db:connect` resource of database user `username` on the instance whose ARN is
    `instance_arn` (partition, region and account come from it) and resource id `db_resource_id`."""
    parsed = parse_arn(_require(instance_arn, "database instance ARN"))
    if parsed.service != "rds" or not parsed.resource.startswith("db:"):
        raise PolicyInputError(f"'{instance_arn}' is not an RDS DB instance ARN")
    _require(db_resource_id, "database resource id")
    if not db_resource_id.startswith("db-"):
        raise PolicyInputError(f"'{db_resource_id}' is not a DB instance resource id (db-...)")
    _require(username, "database user")
    return f"arn:{parsed.partition}:rds-db:{parsed.region}:{parsed.account}:dbuser:{db_resource_id}/{username}"


def object_statements(bucket_arn: str, prefix: str | None = None) -> list[dict[str, Any]]:
    """Object read/write on the whole bucket, or only under `prefix` (with ListBucket limited to it)."""
    bucket = _bucket_arn(bucket_arn)
    if prefix is None:
        return [
            {"Sid": "Objects", "Effect": "Allow", "Action": list(OBJECT_ACTIONS), "Resource": f"{bucket}/*"},
            {"Sid": "ListBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket},
        ]
    folder = _normal_prefix(prefix)
    return [
        {"Sid": "ObjectsInPrefix", "Effect": "Allow", "Action": list(OBJECT_ACTIONS),
         "Resource": f"{bucket}/{folder}*"},
        {"Sid": "ListPrefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket,
         "Condition": {"StringLike": {"s3:prefix": [folder, f"{folder}*"]}}},
    ]


def key_statement(key_arn: str, via_services: Sequence[str] = ("s3",)) -> dict[str, Any]:
    """Decrypt and GenerateDataKey on exactly `key_arn`, only through `via_services` in its region."""
    parsed = parse_arn(_require(key_arn, "key ARN"))
    if parsed.service != "kms" or not parsed.resource.startswith("key/"):
        raise PolicyInputError(f"'{key_arn}' is not a KMS key ARN")
    suffix = _DNS_SUFFIX.get(parsed.partition, "amazonaws.com")
    services = sorted(f"{service}.{parsed.region}.{suffix}" for service in via_services)
    return {"Sid": "DataKey", "Effect": "Allow", "Action": list(KEY_ACTIONS), "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": services}}}


def tenant_policy(
    *,
    bucket_arn: str,
    key_arn: str,
    instance_arn: str,
    db_resource_id: str,
    db_user: str,
    prefix: str | None = None,
    secret_arn: str | None = None,
) -> str:
    """The tenant identity's permissions: its objects (whole bucket, or its `prefix` of a shared one),
    its key, its database user and, when it has one, its connection secret."""
    via = ("s3", "secretsmanager") if secret_arn else ("s3",)
    statements = object_statements(bucket_arn, prefix)
    statements.append(key_statement(key_arn, via))
    statements.append({"Sid": "DatabaseConnect", "Effect": "Allow", "Action": list(DATABASE_ACTIONS),
                       "Resource": rds_db_user_arn(instance_arn, db_resource_id, db_user)})
    if secret_arn:
        parsed = parse_arn(_require(secret_arn, "secret ARN"))
        if parsed.service != "secretsmanager" or not parsed.resource.startswith("secret:"):
            raise PolicyInputError(f"'{secret_arn}' is not a Secrets Manager secret ARN")
        statements.append({"Sid": "ConnectionSecret", "Effect": "Allow", "Action": list(SECRET_ACTIONS),
                           "Resource": secret_arn})
    return _document(statements)

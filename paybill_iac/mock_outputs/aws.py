"""Provider-shaped mock outputs for aws resources (see paybill_iac.mock_outputs).

What pulumi-aws 7 computes for the resources paybill_components.aws creates: ids in the shape EC2,
KMS, RDS and Secrets Manager give them, ARNs in the stack's account, endpoints and the few
attributes the blocks read (VPC cidrBlock, RDS address/port/resourceId/masterUserSecrets, S3 domain
names, role name). Deterministic from (stack, type, name, inputs).

The mock runtime does not tell this module which region or account the resource's provider is for, so
ARNs and endpoints use the resource's own `region` input when it has one, else the stack's region and
account (common.current(), from its stack config), else MOCK_AWS_REGION and MOCK_AWS_ACCOUNT.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from paybill_iac.mock_outputs.common import MOCK_AWS_ACCOUNT, current, stable_hex

MOCK_AWS_REGION = "eu-west-1"
MOCK_PARTITION = "aws"
MOCK_CALLER_ROLE = "paybill-preview"
_POSTGRES_PORT = 5432
_EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _region(inputs: dict[str, Any]) -> str:
    return str(inputs.get("region") or current().region or MOCK_AWS_REGION)


def _account() -> str:
    return current().account or MOCK_AWS_ACCOUNT


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:{MOCK_PARTITION}:{service}:{region}:{_account()}:{resource}"


def _uuid(*parts: str) -> str:
    return str(uuid.UUID(hex=stable_hex(*parts, length=32), version=4))


def _upper_alnum(*parts: str, length: int) -> str:
    """Uppercase letters and digits, like RDS resource ids and IAM unique ids."""
    raw = hashlib.sha256("/".join(parts).encode()).digest() * 2
    return base64.b32encode(raw).decode()[:length]


def _secret_suffix(*parts: str) -> str:
    """The six random characters Secrets Manager appends to a secret's name in its ARN."""
    return _upper_alnum("secret", *parts, length=6)


Shaper = Callable[[str, str, dict[str, Any], str, str], tuple[str, dict[str, Any]]]


def _vpc(token: str, name: str, inputs: dict[str, Any], stack: str, region: str) -> tuple[str, dict[str, Any]]:
    vpc_id = f"vpc-{stable_hex(stack, token, name, length=17)}"
    return vpc_id, {
        "arn": _arn("ec2", region, f"vpc/{vpc_id}"),
        "cidrBlock": inputs.get("cidrBlock") or "10.0.0.0/16",
        "defaultSecurityGroupId": f"sg-{stable_hex(stack, token, name, 'default-sg', length=17)}",
        "defaultNetworkAclId": f"acl-{stable_hex(stack, token, name, 'acl', length=17)}",
        "defaultRouteTableId": f"rtb-{stable_hex(stack, token, name, 'rtb', length=17)}",
        "mainRouteTableId": f"rtb-{stable_hex(stack, token, name, 'rtb', length=17)}",
        "instanceTenancy": inputs.get("instanceTenancy") or "default",
        "ownerId": _account(),
    }


def _subnet(token: str, name: str, inputs: dict[str, Any], stack: str, region: str) -> tuple[str, dict[str, Any]]:
    subnet_id = f"subnet-{stable_hex(stack, token, name, length=17)}"
    zone = inputs.get("availabilityZone") or f"{region}a"
    return subnet_id, {
        "arn": _arn("ec2", region, f"subnet/{subnet_id}"),
        "availabilityZone": zone,
        "availabilityZoneId": f"{region[:2]}{region.split('-')[1][:1]}{region[-1]}-az{ord(zone[-1]) - 96}",
        "ownerId": _account(),
    }


def _security_group(
    token: str, name: str, inputs: dict[str, Any], stack: str, region: str
) -> tuple[str, dict[str, Any]]:
    group_id = f"sg-{stable_hex(stack, token, name, length=17)}"
    return group_id, {"arn": _arn("ec2", region, f"security-group/{group_id}"), "ownerId": _account(),
                      "name": inputs.get("name") or "default"}


def _security_group_rule(
    token: str, name: str, inputs: dict[str, Any], stack: str, region: str
) -> tuple[str, dict[str, Any]]:
    rule_id = f"sgr-{stable_hex(stack, token, name, length=17)}"
    return rule_id, {"arn": _arn("ec2", region, f"security-group-rule/{rule_id}"), "securityGroupRuleId": rule_id}


def _kms_key(token: str, name: str, inputs: dict[str, Any], stack: str, region: str) -> tuple[str, dict[str, Any]]:
    key_id = _uuid(stack, token, name)
    return key_id, {"keyId": key_id, "arn": _arn("kms", region, f"key/{key_id}")}


def _kms_alias(token: str, name: str, inputs: dict[str, Any], stack: str, region: str) -> tuple[str, dict[str, Any]]:
    alias = str(inputs.get("name") or f"alias/{name}")
    target = str(inputs.get("targetKeyId") or "")
    target_arn = target if target.startswith("arn:") else _arn("kms", region, f"key/{target}")
    return alias, {"name": alias, "arn": _arn("kms", region, alias), "targetKeyArn": target_arn}


def _bucket(token: str, name: str, inputs: dict[str, Any], stack: str, region: str) -> tuple[str, dict[str, Any]]:
    bucket = str(inputs.get("bucket") or f"{name}-{stable_hex(stack, token, name, length=8)}")
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:{MOCK_PARTITION}:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        "hostedZoneId": "Z1BKCTXD74EZPE",
        "region": region,
        "forceDestroy": bool(inputs.get("forceDestroy", False)),
    }


def _bucket_part(token: str, name: str, inputs: dict[str, Any], stack: str, region: str) -> tuple[str, dict[str, Any]]:
    """Bucket sub-resources (public access block, encryption, versioning, ownership, policy): the id
    is the bucket's name."""
    return str(inputs.get("bucket") or name), {}


def _bucket_object(
    token: str, name: str, inputs: dict[str, Any], stack: str, region: str
) -> tuple[str, dict[str, Any]]:
    bucket = str(inputs.get("bucket") or "")
    key = str(inputs.get("key") or name)
    return f"{bucket}/{key}", {
        "arn": f"arn:{MOCK_PARTITION}:s3:::{bucket}/{key}",
        "etag": _EMPTY_MD5 if not inputs.get("content") else stable_hex(stack, token, name, length=32),
        "versionId": stable_hex(stack, token, name, "version", length=32),
    }


def _rds_subnet_group(
    token: str, name: str, inputs: dict[str, Any], stack: str, region: str
) -> tuple[str, dict[str, Any]]:
    group = str(inputs.get("name") or name)
    return group, {"name": group, "arn": _arn("rds", region, f"subgrp:{group}"),
                   "vpcId": f"vpc-{stable_hex(stack, 'vpc-of', group, length=17)}",
                   "supportedNetworkTypes": ["IPV4"]}


def _rds_parameter_group(
    token: str, name: str, inputs: dict[str, Any], stack: str, region: str
) -> tuple[str, dict[str, Any]]:
    group = str(inputs.get("name") or name)
    return group, {"name": group, "arn": _arn("rds", region, f"pg:{group}")}


def _rds_instance(
    token: str, name: str, inputs: dict[str, Any], stack: str, region: str
) -> tuple[str, dict[str, Any]]:
    identifier = str(inputs.get("identifier") or name)
    resource_id = "db-" + _upper_alnum(stack, token, name, length=26)
    port = int(inputs.get("port") or _POSTGRES_PORT)
    address = f"{identifier}.{stable_hex(_account(), region, length=12)}.{region}.rds.amazonaws.com"
    computed: dict[str, Any] = {
        "identifier": identifier,
        "resourceId": resource_id,
        "arn": _arn("rds", region, f"db:{identifier}"),
        "address": address,
        "port": port,
        "endpoint": f"{address}:{port}",
        "hostedZoneId": "Z29XKXDKYMONMX",
        "status": "available",
        "engineVersionActual": f"{inputs.get('engineVersion') or '16'}.4",
        "availabilityZone": inputs.get("availabilityZone") or f"{region}a",
        "caCertIdentifier": inputs.get("caCertIdentifier") or "rds-ca-rsa2048-g1",
    }
    if inputs.get("manageMasterUserPassword"):
        secret_name = f"rds!{resource_id.lower()}"
        computed["masterUserSecrets"] = [{
            "kmsKeyId": inputs.get("masterUserSecretKmsKeyId") or "",
            "secretArn": _arn("secretsmanager", region,
                              f"secret:{secret_name}-{_secret_suffix(stack, token, name, 'master')}"),
            "secretStatus": "active",
        }]
    return resource_id, computed


def _rds_snapshot(token: str, name: str, inputs: dict[str, Any], stack: str, region: str) -> tuple[str, dict[str, Any]]:
    identifier = str(inputs.get("dbSnapshotIdentifier") or name)
    arn = _arn("rds", region, f"snapshot:{identifier}")
    return identifier, {"dbSnapshotArn": arn, "dbSnapshotIdentifier": identifier, "encrypted": True,
                        "snapshotType": "manual", "status": "available"}


def _secret(token: str, name: str, inputs: dict[str, Any], stack: str, region: str) -> tuple[str, dict[str, Any]]:
    secret_name = str(inputs.get("name") or name)
    arn = _arn("secretsmanager", region, f"secret:{secret_name}-{_secret_suffix(stack, token, name)}")
    return arn, {"arn": arn, "name": secret_name}


def _secret_version(
    token: str, name: str, inputs: dict[str, Any], stack: str, region: str
) -> tuple[str, dict[str, Any]]:
    secret_id = str(inputs.get("secretId") or "")
    version_id = _uuid(stack, token, name)
    return f"{secret_id}|{version_id}", {"arn": secret_id, "secretArn": secret_id, "versionId": version_id,
                                         "versionStages": inputs.get("versionStages") or ["AWSCURRENT"]}


def _iam_role(token: str, name: str, inputs: dict[str, Any], stack: str, region: str) -> tuple[str, dict[str, Any]]:
    role = str(inputs.get("name") or name)
    path = str(inputs.get("path") or "/")
    return role, {"name": role, "arn": f"arn:{MOCK_PARTITION}:iam::{_account()}:role{path}{role}",
                  "uniqueId": "AROA" + _upper_alnum(stack, token, name, length=17),
                  "createDate": "2026-01-01T00:00:00Z", "path": path}


def _iam_policy(token: str, name: str, inputs: dict[str, Any], stack: str, region: str) -> tuple[str, dict[str, Any]]:
    policy = str(inputs.get("name") or name)
    arn = f"arn:{MOCK_PARTITION}:iam::{_account()}:policy{inputs.get('path') or '/'}{policy}"
    return arn, {"arn": arn, "name": policy, "policyId": "ANPA" + _upper_alnum(stack, token, name, length=17)}


def _iam_role_policy(
    token: str, name: str, inputs: dict[str, Any], stack: str, region: str
) -> tuple[str, dict[str, Any]]:
    return f"{inputs.get('role') or ''}:{inputs.get('name') or name}", {}


_SHAPERS: dict[str, Shaper] = {
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _subnet,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _security_group_rule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _security_group_rule,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _bucket_part,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _bucket_part,
    "aws:s3/bucketVersioning:BucketVersioning": _bucket_part,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _bucket_part,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_part,
    "aws:s3/bucketObjectv2:BucketObjectv2": _bucket_object,
    "aws:rds/subnetGroup:SubnetGroup": _rds_subnet_group,
    "aws:rds/parameterGroup:ParameterGroup": _rds_parameter_group,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/snapshot:Snapshot": _rds_snapshot,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:iam/rolePolicy:RolePolicy": _iam_role_policy,
}


def shape(type_token: str, name: str, inputs: dict[str, Any], stack: str) -> tuple[str, dict[str, Any]]:
    """(id, computed outputs) of a aws resource."""
    shaper = _SHAPERS.get(type_token)
    if shaper is None:
        return f"{name}-{stable_hex(stack, type_token, name, length=8)}", {}
    return shaper(type_token, name, inputs, stack, _region(inputs))


def invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Results of aws data-source invokes."""
    region = _region(args)
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        short = f"{region[:2]}{region.split('-')[1][:1]}{region[-1]}"
        return {
            "id": region,
            "names": [f"{region}{suffix}" for suffix in "abc"],
            "zoneIds": [f"{short}-az{index}" for index in (1, 2, 3)],
            "groupNames": [region],
            "state": args.get("state"),
        }
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "id": _account(),
            "accountId": _account(),
            "arn": f"arn:{MOCK_PARTITION}:sts::{_account()}:assumed-role/{MOCK_CALLER_ROLE}/preview",
            "userId": "AROA" + _upper_alnum("caller", length=17) + ":preview",
        }
    if token == "aws:index/getRegion:getRegion":
        return {"id": region, "name": region, "region": region, "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region}
    if token == "aws:index/getPartition:getPartition":
        return {"id": MOCK_PARTITION, "partition": MOCK_PARTITION, "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws"}
    return {}

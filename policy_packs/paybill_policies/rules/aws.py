"""AWS rules (pulumi-aws 7) beyond the family tables: S3 exposure, encryption and TLS (bucket, public
access block, encryption configuration and bucket policy read together), RDS TLS through its
parameter group, security groups, IAM documents. Sizes, backups, keys, deletion protection and
public flags are rows of `database` and `settings`.

Types compare as canonical tokens (`resource.canonical_type`): a deprecated token (BucketV2) reads
as its current resource."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from paybill_policies.context import PolicyContext
from paybill_policies.evaluate import ResourceView, get, json_document
from paybill_policies.rules._kit import (
    AGENT_GUARDRAILS,
    TENANT_ISOLATION,
    below_tls_1_2,
    in_stack,
    listing,
    referenced_by,
    rule,
    statements,
    with_deprecated,
)

RDS = "aws:rds/instance:Instance"
BUCKET = "aws:s3/bucket:Bucket"
BUCKETS = with_deprecated(BUCKET)
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
BUCKET_ACLS = with_deprecated(BUCKET_ACL)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = with_deprecated("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
IAM_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
ATTACHMENTS = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
ADMIN_POLICIES = re.compile(r":policy/(AdministratorAccess|PowerUserAccess|IAMFullAccess)$|:policy/.*FullAccess$")
PUBLIC_CIDRS = ("0.0.0.0/0", "::/0")

# The role templates: every action a tenant identity's policies may allow (paybill_components.aws.iam).
TEMPLATE_ACTIONS = frozenset({
    "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "kms:Decrypt", "kms:GenerateDataKey",
    "rds-db:connect", "secretsmanager:GetSecretValue",
})
TEMPLATE_TRUST_ACTIONS = frozenset({"sts:AssumeRole"})


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _documents(resource: ResourceView) -> list[tuple[str, Any]]:
    """(where, parsed document) of every IAM permissions document the resource carries."""
    if resource.canonical_type in (IAM_POLICY, ROLE_POLICY):
        return [("policy", json_document(resource.inputs.get("policy"), "policy"))]
    if resource.canonical_type == ROLE:
        found = []
        for index, inline in enumerate(listing(get(resource.inputs, "inlinePolicies"), "inlinePolicies")):
            if isinstance(inline, dict):
                found.append((f"inlinePolicies[{index}]", json_document(inline.get("policy"), "inlinePolicies.policy")))
        return found
    return []


def _allows(document: Any) -> list[dict[str, Any]]:
    return [statement for statement in statements(document) if statement.get("Effect") == "Allow"]


# --- tenant-isolation: S3 --------------------------------------------------------------------


def _block_public(resource: ResourceView, context: PolicyContext) -> dict[str, Any] | None:
    if resource.canonical_type != PUBLIC_ACCESS_BLOCK or all(resource.inputs.get(flag) is True for flag in PAB_FLAGS):
        return None
    return {**resource.inputs, **{flag: True for flag in PAB_FLAGS}}


@rule(
    "aws-s3-bucket-no-public-access", TENANT_ISOLATION, "aws",
    (*BUCKETS, *BUCKET_ACLS, BUCKET_POLICY, PUBLIC_ACCESS_BLOCK),
    description="No S3 bucket is public: no public ACL, no bucket policy allowing everyone, and public "
                "access blocks with all four settings on.",
    severity="critical",
    remediation="Remove public ACLs and `Principal: \"*\"` allows; set blockPublicAcls, blockPublicPolicy, "
                "ignorePublicAcls and restrictPublicBuckets to true (the pack's remediation sets them).",
    reads={**{token: ("acl", "policy") for token in BUCKETS}, **{token: ("acl",) for token in BUCKET_ACLS},
           BUCKET_POLICY: ("policy",), PUBLIC_ACCESS_BLOCK: PAB_FLAGS},
    needs_context=False, remediate=_block_public,
)
def s3_no_public_access(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    if resource.canonical_type == PUBLIC_ACCESS_BLOCK:
        off = [flag for flag in PAB_FLAGS if get(resource.inputs, flag) is not True]
        if off:
            found.append(f"public access block leaves {', '.join(off)} off.")
        return found
    if resource.canonical_type in (BUCKET, BUCKET_ACL):
        acl = get(resource.inputs, "acl")
        if acl in PUBLIC_ACLS:
            found.append(f"acl '{acl}' makes the bucket public.")
    if resource.canonical_type in (BUCKET, BUCKET_POLICY):
        document = json_document(resource.inputs.get("policy"), "policy")
        for statement in _allows(document):
            principal = statement.get("Principal")
            everyone = principal == "*" or (isinstance(principal, dict) and "*" in _listed(principal.get("AWS")))
            if everyone and not statement.get("Condition"):
                found.append(f"bucket policy statement '{statement.get('Sid', '')}' allows everyone.")
    return found


def _bucket_names(bucket: ResourceView) -> list[str]:
    return [value for value in (get(bucket.inputs, "bucket"), get(bucket.inputs, "id")) if isinstance(value, str)]


@rule(
    "aws-s3-bucket-public-access-blocked", TENANT_ISOLATION, "aws", (*BUCKETS, PUBLIC_ACCESS_BLOCK), kind="stack",
    description="Every S3 bucket of the stack has a public access block.",
    severity="critical",
    remediation="Add an aws.s3.BucketPublicAccessBlock for the bucket with all four settings true.",
    reads={PUBLIC_ACCESS_BLOCK: ("bucket",), **{token: ("bucket",) for token in BUCKETS}}, needs_context=False,
)
def s3_public_access_blocked(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    blocks = in_stack(resources, (PUBLIC_ACCESS_BLOCK,))
    found = []
    for bucket in in_stack(resources, BUCKETS):
        names = _bucket_names(bucket)
        if not any(referenced_by(bucket, block, ("bucket",), names) for block in blocks):
            found.append((bucket.urn, f"bucket '{names[0] if names else bucket.name}' has no public access block."))
    return found


def _sse_rules(resource: ResourceView) -> list[Any]:
    if resource.canonical_type in SSE:
        return listing(get(resource.inputs, "rules"), "rules") + listing(get(resource.inputs, "rule"), "rule")
    inline = get(resource.inputs, "serverSideEncryptionConfiguration")
    inline = inline or get(resource.inputs, "serverSideEncryptionConfigurations")
    rules = []
    for item in _listed(inline):
        if isinstance(item, dict):
            rules += _listed(item.get("rule")) + _listed(item.get("rules"))
    return rules


def _sse_problem(rules: list[Any]) -> str | None:
    if not rules:
        return "no encryption rule."
    for item in rules:
        default = item.get("applyServerSideEncryptionByDefault") if isinstance(item, dict) else None
        default = default[0] if isinstance(default, list) and default else default
        if not isinstance(default, dict):
            return "an encryption rule has no default encryption."
        algorithm = default.get("sseAlgorithm")
        if algorithm not in KMS_ALGORITHMS:
            return f"sseAlgorithm is '{algorithm}', not a KMS key (aws:kms)."
        if not default.get("kmsMasterKeyId"):
            return "no kmsMasterKeyId: the AWS-managed key is not a customer-managed key."
    return None


@rule(
    "aws-s3-bucket-encrypted-with-cmk", TENANT_ISOLATION, "aws", (*BUCKETS, *SSE), kind="stack",
    description="Every S3 bucket is encrypted at rest with a customer-managed KMS key.",
    severity="high",
    remediation="Add an aws.s3.BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms and the "
                "tenant's (or cell's) key as kmsMasterKeyId.",
    reads={SSE[0]: ("bucket", "rules"), SSE[1]: ("bucket", "rules")},
    needs_context=False,
)
def s3_encrypted(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    configs = in_stack(resources, SSE)
    found = []
    for config in configs:
        problem = _sse_problem(_sse_rules(config))
        if problem:
            found.append((config.urn, f"bucket encryption: {problem}"))
    for bucket in in_stack(resources, BUCKETS):
        names = _bucket_names(bucket)
        inline = _sse_rules(bucket)
        if inline and not _sse_problem(inline):
            continue
        if not any(referenced_by(bucket, config, ("bucket",), names) for config in configs):
            found.append((bucket.urn, f"bucket '{names[0] if names else bucket.name}' has no encryption "
                                      "configuration with a customer-managed key."))
    return found


def _denies_insecure_transport(document: Any) -> bool:
    for statement in statements(document):
        condition = statement.get("Condition") or {}
        if statement.get("Effect") != "Deny" or not isinstance(condition, dict):
            continue
        secure = (condition.get("Bool") or {}).get("aws:SecureTransport")
        if str(secure).lower() == "false":
            return True
    return False


@rule(
    "aws-s3-bucket-tls-enforced", TENANT_ISOLATION, "aws", (*BUCKETS, BUCKET_POLICY), kind="stack",
    description="Every S3 bucket's policy refuses requests not made over TLS (and S3 refuses TLS below 1.2).",
    severity="high",
    remediation="Attach a bucket policy denying s3:* when aws:SecureTransport is false (and s3:TlsVersion "
                "below 1.2), as paybill_components.aws.iam.bucket_tls_policy writes it.",
    reads={BUCKET_POLICY: ("bucket", "policy")}, needs_context=False,
)
def s3_tls(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    policies = in_stack(resources, (BUCKET_POLICY,))
    found = []
    for bucket in in_stack(resources, BUCKETS):
        names = _bucket_names(bucket)
        covering = [policy for policy in policies if referenced_by(bucket, policy, ("bucket",), names)]
        documents = [json_document(policy.inputs.get("policy"), "policy") for policy in covering]
        documents.append(json_document(bucket.inputs.get("policy"), "policy"))
        if not any(_denies_insecure_transport(document) for document in documents if document):
            found.append((bucket.urn, f"bucket '{names[0] if names else bucket.name}' accepts requests "
                                      "without TLS (no policy denies aws:SecureTransport false)."))
    return found


# --- tenant-isolation: RDS -------------------------------------------------------------------


def _parameters(group: ResourceView) -> dict[str, str]:
    values = {}
    for item in listing(get(group.inputs, "parameters"), "parameters"):
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            values[item["name"]] = str(item.get("value"))
    return values


@rule(
    "aws-rds-instance-tls-enforced", TENANT_ISOLATION, "aws", (RDS, PARAMETER_GROUP), kind="stack",
    description="RDS PostgreSQL refuses connections without TLS, and TLS below 1.2 (rds.force_ssl=1, "
                "ssl_min_protocol_version TLSv1.2 or newer; PostgreSQL 15+ forces SSL by default).",
    severity="high",
    remediation="Give the instance a parameter group with rds.force_ssl=1 and ssl_min_protocol_version=TLSv1.2.",
    reads={RDS: ("parameterGroupName", "engine", "engineVersion"), PARAMETER_GROUP: ("name", "parameters")},
    needs_context=False,
)
def rds_tls(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    groups = in_stack(resources, (PARAMETER_GROUP,))
    found = []
    for instance in in_stack(resources, (RDS,)):
        engine = str(get(instance.inputs, "engine") or "")
        if "postgres" not in engine:
            continue
        name = get(instance.inputs, "parameterGroupName")
        group = next((item for item in groups if referenced_by(item, instance, ("parameterGroupName",),
                                                               [get(item.inputs, "name")])), None)
        parameters = _parameters(group) if group is not None else {}
        major = re.match(r"\d+", str(get(instance.inputs, "engineVersion") or ""))
        default_forced = major is not None and int(major.group(0)) >= 15
        forced = parameters.get("rds.force_ssl", "1" if default_forced else "0")
        minimum = parameters.get("ssl_min_protocol_version", "TLSv1.2")
        if forced != "1":
            found.append((instance.urn, f"rds.force_ssl is {forced} (parameter group '{name or 'default'}'): "
                                        "connections without TLS are accepted."))
        if below_tls_1_2(minimum):
            found.append((instance.urn, f"ssl_min_protocol_version is '{minimum}', below TLSv1.2."))
    return found


@rule(
    "aws-ec2-security-group-no-public-ingress", TENANT_ISOLATION, "aws",
    ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/securityGroup:SecurityGroup",
     "aws:ec2/securityGroupRule:SecurityGroupRule"),
    description="No security group admits traffic from the internet (0.0.0.0/0 or ::/0): databases stay "
                "private.",
    severity="critical",
    remediation="Allow only the VPC's own CIDR (or security groups) to reach the database port.",
    reads={"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("cidrIpv4", "cidrIpv6"),
           "aws:ec2/securityGroup:SecurityGroup": ("ingress",),
           "aws:ec2/securityGroupRule:SecurityGroupRule": ("type", "cidrBlocks", "ipv6CidrBlocks")},
    needs_context=False,
)
def sg_no_public_ingress(resource: ResourceView, context: PolicyContext) -> list[str]:
    cidrs: list[Any] = []
    if resource.type.startswith("aws:vpc/"):
        cidrs = [get(resource.inputs, "cidrIpv4"), get(resource.inputs, "cidrIpv6")]
    elif resource.canonical_type == "aws:ec2/securityGroup:SecurityGroup":
        for item in listing(get(resource.inputs, "ingress"), "ingress"):
            if isinstance(item, dict):
                cidrs += _listed(item.get("cidrBlocks")) + _listed(item.get("ipv6CidrBlocks"))
    elif get(resource.inputs, "type") == "ingress":
        cidrs = _listed(get(resource.inputs, "cidrBlocks")) + _listed(get(resource.inputs, "ipv6CidrBlocks"))
    return [f"ingress from {cidr} (the internet)." for cidr in cidrs if cidr in PUBLIC_CIDRS]


# --- tenant-isolation: IAM -------------------------------------------------------------------


def _wildcard_resource(arn: str) -> bool:
    """A resource is a wildcard unless the only `*` are object keys under a named bucket path."""
    if "*" not in arn and "?" not in arn:
        return False
    head, _, _ = arn.rpartition("/")
    return not head or "*" in head or "?" in head or not arn.endswith("*") or arn.count("*") > 1


@rule(
    "aws-iam-policy-no-wildcards", TENANT_ISOLATION, "aws", (IAM_POLICY, ROLE_POLICY, ROLE),
    description="IAM policies allow no wildcard action (`*`, `s3:*`, `s3:Get*`) and no wildcard resource "
                "(only object keys under a named bucket or prefix may end in `/*`); no NotAction/NotResource.",
    severity="critical",
    remediation="List the exact actions and resource ARNs the tenant needs (paybill_components.aws.iam).",
    reads={IAM_POLICY: ("policy",), ROLE_POLICY: ("policy",), ROLE: ("inlinePolicies",)}, needs_context=False,
)
def iam_no_wildcards(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    for where, document in _documents(resource):
        for statement in _allows(document):
            sid = statement.get("Sid", "")
            for key in ("NotAction", "NotResource"):
                if key in statement:
                    found.append(f"{where} statement '{sid}' uses {key}, which allows everything else.")
            for action in _listed(statement.get("Action")):
                if "*" in str(action) or "?" in str(action):
                    found.append(f"{where} statement '{sid}' allows wildcard action '{action}'.")
            for arn in _listed(statement.get("Resource")):
                if _wildcard_resource(str(arn)):
                    found.append(f"{where} statement '{sid}' allows wildcard resource '{arn}'.")
    return found


@rule(
    "aws-iam-role-no-admin-policy", TENANT_ISOLATION, "aws", (*ATTACHMENTS, ROLE),
    description="No role gets an administrator or full-access managed policy (AdministratorAccess, "
                "PowerUserAccess, IAMFullAccess, *FullAccess).",
    severity="critical",
    remediation="Grant the tenant role only its own inline policy from the role templates.",
    reads={ATTACHMENTS[0]: ("policyArn",), ATTACHMENTS[1]: ("policyArn",), ROLE: ("managedPolicyArns",)},
    needs_context=False,
)
def iam_no_admin(resource: ResourceView, context: PolicyContext) -> list[str]:
    arns = _listed(get(resource.inputs, "managedPolicyArns")) if resource.canonical_type == ROLE else [
        get(resource.inputs, "policyArn")]
    return [f"attaches the admin policy '{arn}'." for arn in arns
            if isinstance(arn, str) and ADMIN_POLICIES.search(arn)]


def _prefix_condition_ok(statement: dict[str, Any], prefix: str) -> bool:
    condition = statement.get("Condition") or {}
    values: list[Any] = []
    for operator in ("StringLike", "StringEquals"):
        values += _listed((condition.get(operator) or {}).get("s3:prefix"))
    return bool(values) and all(isinstance(value, str) and value.startswith(prefix) for value in values)


@rule(
    "aws-iam-policy-scoped-to-tenant", TENANT_ISOLATION, "aws", (IAM_POLICY, ROLE_POLICY, ROLE),
    description="A pooled tenant's IAM policies reach the cell's shared bucket only under the tenant's own "
                "prefix (object ARNs under it, ListBucket conditioned on it).",
    severity="critical",
    remediation="Scope object statements to `<bucket>/<prefix>*` and ListBucket to an s3:prefix condition on "
                "the tenant's prefix (paybill_components.aws.iam.object_statements).",
    reads={IAM_POLICY: ("policy",), ROLE_POLICY: ("policy",), ROLE: ("inlinePolicies",)},
)
def iam_scoped(resource: ResourceView, context: PolicyContext) -> list[str]:
    shared = context.cell_names.get("bucket") if context.kind == "tenant" else None
    prefix = context.names.get("prefix", "")
    if not shared:
        return []
    found = []
    bucket_arn = f"arn:aws:s3:::{shared}"
    for where, document in _documents(resource):
        for statement in _allows(document):
            for arn in _listed(statement.get("Resource")):
                arn = str(arn)
                if arn == bucket_arn and not _prefix_condition_ok(statement, prefix):
                    found.append(f"{where} reaches the cell's bucket '{shared}' without an s3:prefix condition "
                                 f"on '{prefix}'.")
                elif arn.startswith(bucket_arn + "/") and not arn.startswith(f"{bucket_arn}/{prefix}"):
                    found.append(f"{where} reaches '{arn}', outside the tenant's prefix '{prefix}'.")
    return found


# --- agent-guardrails ------------------------------------------------------------------------


@rule(
    "aws-iam-within-role-templates", AGENT_GUARDRAILS, "aws", (IAM_POLICY, ROLE_POLICY, ROLE, *ATTACHMENTS,
                                                               "aws:iam/user:User", "aws:iam/group:Group"),
    description="When an AI agent deploys, IAM changes stay within the tenant role templates: a service-"
                "assumed role whose policies allow only the template actions, no managed policy attachment.",
    severity="critical",
    remediation="Use the tenant identity block; other IAM needs a security review.",
    reads={IAM_POLICY: ("policy",), ROLE_POLICY: ("policy",), ROLE: ("assumeRolePolicy", "inlinePolicies",
                                                                     "managedPolicyArns")},
    agent_only=True, approval="the security team (IAM beyond the role templates)",
)
def iam_templates(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.canonical_type not in (IAM_POLICY, ROLE_POLICY, ROLE):
        return [f"'{resource.type}' is not part of the role templates."]
    found = []
    for where, document in _documents(resource):
        for statement in _allows(document):
            extra = [str(action) for action in _listed(statement.get("Action")) if action not in TEMPLATE_ACTIONS]
            if extra:
                found.append(f"{where} allows {', '.join(extra)}, beyond the role templates.")
    if resource.canonical_type == ROLE:
        if _listed(get(resource.inputs, "managedPolicyArns")):
            found.append("attaches managed policies, beyond the role templates.")
        trust = json_document(resource.inputs.get("assumeRolePolicy"), "assumeRolePolicy")
        for statement in _allows(trust):
            principal = statement.get("Principal")
            if not (isinstance(principal, dict) and set(principal) == {"Service"}):
                found.append(f"the trust policy lets '{principal}' assume the role; templates trust a service only.")
            extra = [str(action) for action in _listed(statement.get("Action")) if action not in TEMPLATE_TRUST_ACTIONS]
            if extra:
                found.append(f"the trust policy allows {', '.join(extra)}.")
    return found

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
from paybill_policies.rules._access import (
    account_of,
    aws_principals,
    condition_accounts,
    public_message,
    public_sources,
    targets_cell,
)
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
ATTACHMENTS = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",)
"""Managed policy attachments (user, group, exclusive and PolicyAttachment read as this: resource_facts)."""
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
    """(where, parsed document) of every IAM permissions document the resource carries (a role, user or
    group policy, a managed policy, a role's inline policies)."""
    if resource.rule_type in (IAM_POLICY, ROLE_POLICY):
        return [("policy", json_document(resource.inputs.get("policy"), "policy"))]
    if resource.rule_type == ROLE:
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
    if resource.rule_type == PUBLIC_ACCESS_BLOCK:
        off = [flag for flag in PAB_FLAGS if get(resource.inputs, flag) is not True]
        if off:
            found.append(f"public access block leaves {', '.join(off)} off.")
        return found
    if resource.rule_type in (BUCKET, BUCKET_ACL):
        acl = get(resource.inputs, "acl")
        if acl in PUBLIC_ACLS:
            found.append(f"acl '{acl}' makes the bucket public.")
    if resource.rule_type in (BUCKET, BUCKET_POLICY):
        document = json_document(resource.inputs.get("policy"), "policy")
        for statement in _allows(document):
            sid = statement.get("Sid", "")
            if "NotPrincipal" in statement:
                found.append(f"bucket policy statement '{sid}' allows everyone but NotPrincipal.")
                continue
            if not any(kind == "*" for kind, _ in aws_principals(statement)):
                continue
            accounts, narrowed = condition_accounts(statement)
            organisation = set(context.org_accounts("aws"))
            if not (narrowed and accounts and accounts <= organisation):
                found.append(f"bucket policy statement '{sid}' allows everyone: its conditions do not limit the "
                             "principal to the organisation's accounts.")
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
    description="No security group admits traffic from outside private address space, however written: any CIDR "
                "not inside 10/8, 172.16/12, 192.168/16, 100.64/10 or fc00::/7 is the internet (0.0.0.0/1 and "
                "128.0.0.0/1 each are), and so is a managed prefix list; inline rules and separate rule resources "
                "alike. Databases stay private.",
    severity="critical",
    remediation="Allow only the VPC's own CIDR (or security groups) to reach the database port.",
    reads={"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("cidrIpv4", "cidrIpv6", "prefixListId"),
           "aws:ec2/securityGroup:SecurityGroup": ("ingress",),
           "aws:ec2/securityGroupRule:SecurityGroupRule": ("type", "cidrBlocks", "ipv6CidrBlocks", "prefixListIds")},
    needs_context=False,
)
def sg_no_public_ingress(resource: ResourceView, context: PolicyContext) -> list[str]:
    sources: list[Any] = []
    prefix_lists: list[Any] = []
    if resource.rule_type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        sources = [get(resource.inputs, "cidrIpv4"), get(resource.inputs, "cidrIpv6")]
        prefix_lists = _listed(get(resource.inputs, "prefixListId"))
    elif resource.rule_type == "aws:ec2/securityGroup:SecurityGroup":
        for item in listing(get(resource.inputs, "ingress"), "ingress"):
            if not isinstance(item, dict):
                return ["an ingress rule is not an object (unexpected shape)."]
            sources += _listed(item.get("cidrBlocks")) + _listed(item.get("ipv6CidrBlocks"))
            prefix_lists += _listed(item.get("prefixListIds"))
    elif str(get(resource.inputs, "type") or "").lower() != "egress":
        sources = _listed(get(resource.inputs, "cidrBlocks")) + _listed(get(resource.inputs, "ipv6CidrBlocks"))
        prefix_lists = _listed(get(resource.inputs, "prefixListIds"))
    found = public_message(public_sources(sources))
    if prefix_lists:
        found.append(f"ingress from managed prefix list(s) {', '.join(map(str, prefix_lists))}, which may hold any "
                     "public range.")
    return found


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
    reads={ATTACHMENTS[0]: ("policyArn",), ROLE: ("managedPolicyArns",)},
    needs_context=False,
)
def iam_no_admin(resource: ResourceView, context: PolicyContext) -> list[str]:
    if resource.rule_type == ROLE:
        arns = _listed(get(resource.inputs, "managedPolicyArns"))
    else:  # an attachment, one ARN or (exclusive attachments) a list
        arns = _listed(get(resource.inputs, "policyArn")) + _listed(get(resource.inputs, "policyArns"))
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
    if resource.rule_type == ROLE:
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


# --- tenant-isolation: principals -----------------------------------------------------------------

_DOCUMENT_INPUTS = ("policy", "assumeRolePolicy", "keyPolicy", "resourcePolicy", "accessPolicy")
"""Inputs holding a resource or trust policy (any type): their Allow statements name principals."""
_GRANT_PRINCIPALS = {"aws:kms/grant:Grant": ("granteePrincipal", "retiringPrincipal"),
                     "aws:lambda/permission:Permission": ("principal",)}
_ATTACHED_TO = {"aws:iam/rolePolicy:RolePolicy": ("role",), "aws:iam/userPolicy:UserPolicy": ("user",),
                "aws:iam/groupPolicy:GroupPolicy": ("group",),
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role",),
                "aws:iam/userPolicyAttachment:UserPolicyAttachment": ("user",),
                "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": ("group",),
                "aws:iam/policyAttachment:PolicyAttachment": ("roles", "users", "groups"),
                "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": ("roleName",),
                "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": ("userName",),
                "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": ("groupName",)}
"""Where a permissions resource names the identity it gives the permissions to."""


def _own_roles(context: PolicyContext) -> set[str]:
    return context.own("role") if context.kind == "tenant" else set()


def _principal_problem(kind: str, value: str, statement: dict[str, Any], context: PolicyContext) -> str | None:
    organisation = set(context.org_accounts("aws"))
    if kind == "*":
        return None  # everyone: the public-access rules judge it with its conditions
    if kind == "Service":
        if not value.endswith((".amazonaws.com", ".amazonaws.com.cn")):
            return f"'{value}' is not an AWS service principal"
        accounts, _ = condition_accounts(statement)
        outside = sorted(accounts - organisation)
        if outside:
            return (f"the service '{value}' may act on behalf of account(s) {', '.join(outside)}, outside the "
                    "organisation")
        return None
    if kind != "AWS":
        return f"{kind} principal '{value}' is no identity of the organisation"
    account = account_of(value)
    if account is None or account not in organisation:
        known = ", ".join(sorted(organisation)) or "none: set accounts.aws_account_ids in catalog.yaml"
        return f"'{value}' is outside the organisation's AWS accounts ({known})"
    resource = ACCOUNT_ARN_RESOURCE.match(value)
    if resource is None or resource.group(1) == "root":
        return None  # the organisation's account itself
    own = _own_roles(context)
    if resource.group(1) in {f"role/{role}" for role in own}:
        return None
    return f"'{value}' is not the tenant's own role ('{', '.join(sorted(own)) or 'none'}')"


ACCOUNT_ARN_RESOURCE = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:(.+)$")


@rule(
    "aws-iam-principal-within-organisation", TENANT_ISOLATION, "aws", ("aws:*",),
    description="Every grant names only the tenant's own role, AWS service principals (acting for the "
                "organisation's accounts only) and the organisation's accounts (catalog `accounts.aws_account_ids`): "
                "resource and trust policies, KMS grants and permissions, and the identity a policy is attached to.",
    severity="critical",
    remediation="Grant to the tenant's role or a service principal with an aws:SourceAccount condition on the "
                "organisation's account; another account, a user or a group needs a security review.",
)
def principal_within_organisation(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    for key in _DOCUMENT_INPUTS:
        document = json_document(resource.inputs.get(key), key)
        for statement in _allows(document):
            if "NotPrincipal" in statement:
                found.append(f"{key} statement '{statement.get('Sid', '')}' uses NotPrincipal: it names everyone else.")
            for kind, value in aws_principals(statement):
                problem = _principal_problem(kind, value, statement, context)
                if problem:
                    found.append(f"{key} statement '{statement.get('Sid', '')}': {problem}.")
    for key in _GRANT_PRINCIPALS.get(resource.canonical_type, ()):
        value = get(resource.inputs, key)
        if value is None:
            continue
        kind = "Service" if str(value).endswith(".amazonaws.com") else "AWS"
        problem = _principal_problem(kind, str(value), {}, context)
        if problem:
            found.append(f"{key}: {problem}.")
    own = _own_roles(context)
    for key in _ATTACHED_TO.get(resource.canonical_type, ()):
        for target in _listed(get(resource.inputs, key)):
            if key in ("role", "roles", "roleName") and (str(target) in own or any(
                    str(target).endswith(f":role/{role}") for role in own)):
                continue
            found.append(f"{key} '{target}' is not the tenant's own role ('{', '.join(sorted(own)) or 'none'}'): the "
                         "permissions go to another identity.")
    return found


# --- tenant-isolation: providers ------------------------------------------------------------------

_CREDENTIALS = ("accessKey", "secretKey", "token", "profile", "sharedCredentialsFiles", "sharedConfigFiles",
                "endpoints", "customCaBundle", "stsRegion")


@rule(
    "aws-provider-settings-within-organisation", TENANT_ISOLATION, "aws", ("pulumi:providers:aws",),
    description="Every AWS provider names its region explicitly, assumes roles only in the organisation's accounts, "
                "allows only those accounts, and carries no credentials, profile or endpoint of its own (they could "
                "reach any account).",
    severity="critical",
    remediation="Build providers with the components (`AwsBlocks.provider`): the stack's region, the deploying "
                "identity, no assumeRole outside the organisation.",
    reads={"pulumi:providers:aws": ("region", "assumeRoles", "allowedAccountIds")},
)
def provider_settings(resource: ResourceView, context: PolicyContext) -> list[str]:
    found = []
    organisation = set(context.org_accounts("aws"))
    if not resource.prop("region"):
        found.append("no explicit region: the provider would deploy wherever its environment points.")
    roles = []
    for key in ("assumeRoles", "assumeRole", "assumeRoleWithWebIdentity"):
        for item in _listed(resource.prop(key)):
            if isinstance(item, str):  # provider inputs arrive as JSON text
                item = json_document(item, key)
            for entry in _listed(item):
                if isinstance(entry, dict):
                    roles.append(str(entry.get("roleArn") or ""))
                else:
                    found.append(f"{key} has an unexpected shape.")
    for arn in roles:
        account = account_of(arn) if arn else None
        if account is None or account not in organisation:
            found.append(f"assumes role '{arn}', outside the organisation's AWS accounts.")
    allowed = resource.prop("allowedAccountIds")
    if isinstance(allowed, str):
        allowed = json_document(allowed, "allowedAccountIds")
    outside = sorted(str(item) for item in _listed(allowed) if str(item) not in organisation)
    if outside:
        found.append(f"allowedAccountIds names {', '.join(outside)}, outside the organisation.")
    set_keys = [key for key in _CREDENTIALS if resource.prop(key) not in (None, "", [], {})]
    if set_keys:
        found.append(f"sets {', '.join(set_keys)}: credentials or endpoints of its own, of no known account.")
    return found


# --- tenant-isolation: the cell is the cell stack's -----------------------------------------------

AWS_TARGETS = ("bucket", "keyId", "targetKeyId", "role", "securityGroupId", "secretId", "dbInstanceIdentifier",
               "vpcId", "user", "group")
"""Inputs that name the resource another resource acts on (configures, attaches to, grants on)."""


def _aws_slice(resource: ResourceView, context: PolicyContext) -> bool:
    """The tenant's own slice of the cell: an object under its prefix of the cell's bucket."""
    if resource.canonical_type not in ("aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject"):
        return False
    key = str(get(resource.inputs, "key") or "")
    return any(key.startswith(prefix) for prefix in context.own("prefix")) and ".." not in key


@rule(
    "aws-resource-not-targeting-cell", TENANT_ISOLATION, "aws", (), kind="stack",
    description="A tenant stack never acts on its cell's resources (a policy, lifecycle rule or ACL on the cell's "
                "bucket, a grant or alias on its key, a rule in its security group, a policy on its role): it only "
                "references them in its own scoped grants and adds its own objects under its prefix.",
    severity="critical",
    remediation="Change the cell in the cell stack (a cell operator); grant the tenant through its own role policy.",
    incremental=True,
)
def aws_not_targeting_cell(resources: Sequence[ResourceView], context: PolicyContext) -> list[tuple[str, str]]:
    return targets_cell("aws", AWS_TARGETS, _aws_slice, resources, context)

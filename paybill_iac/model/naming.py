"""Every physical cloud name paybill-iac creates, derived from (org, owner id, purpose).

A name is a contract with the cloud: it must pass the cloud's rules (length, charset, first and last
character, reserved prefixes and suffixes) and, once released, it is the resource's identity. So:

- names are a pure, deterministic function of (org, owner id, purpose);
- when a cloud's rules force a change that loses information (a name too long, or a charset without
  the hyphen so `a-bc` and `ab-c` would meet), the name is shortened and a stable hash suffix of the
  full, unambiguous form keeps it unique;
- every name is checked against its rule before it is returned: an invalid name is our bug, raised
  here rather than by a cloud API halfway through a deployment.

`names_for(cloud, org, owner)` returns the set a cell uses on its cloud, keyed by purpose;
`tenant_names(cloud, org, tenant, isolation)` a tenant's, which also carry its isolation model.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any

# Tenant and cell ids: ASCII lowercase letters and digits, single hyphens, a letter first.
ID_MIN_LEN = 2
ID_MAX_LEN = 30
ID_PATTERN = re.compile(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*", re.ASCII)
ID_RULE_TEXT = (
    f"{ID_MIN_LEN}-{ID_MAX_LEN} characters: ASCII lowercase letters, digits and single hyphens, "
    "starting with a letter and not ending with a hyphen"
)
# The organisation prefix is in every name, so it is kept short.
ORG_MIN_LEN = 2
ORG_MAX_LEN = 6
ORG_PATTERN = re.compile(r"[a-z][a-z0-9]*", re.ASCII)
ORG_RULE_TEXT = f"{ORG_MIN_LEN}-{ORG_MAX_LEN} ASCII lowercase letters or digits, starting with a letter"

HASH_LEN = 6  # at most 8: see _digest


def id_problem(value: str) -> str | None:
    """Why `value` is not a valid tenant, plan or cell id; None when it is one."""
    if not ID_MIN_LEN <= len(value) <= ID_MAX_LEN or not ID_PATTERN.fullmatch(value):
        shown = value.encode("ascii", "backslashreplace").decode()
        return f"'{shown}' is not a valid id ({ID_RULE_TEXT})"
    return None


def org_problem(value: str) -> str | None:
    """Why `value` is not a valid organisation prefix; None when it is one."""
    if not ORG_MIN_LEN <= len(value) <= ORG_MAX_LEN or not ORG_PATTERN.fullmatch(value):
        return f"'{value}' is not a valid org prefix ({ORG_RULE_TEXT})"
    # Every name starts with the org: one that opens with a reserved word ("pg_", "goog") cannot work.
    for name_set in NAME_SETS.values():
        for kind, purpose in name_set.values():
            try:
                physical_name(kind, value, "x1", purpose)
            except AssertionError:
                return f"'{value}' cannot start a {RULES[kind].title} name: choose another org prefix"
    return None


@dataclass(frozen=True)
class NameRule:
    """A cloud's documented rule for one kind of name."""

    title: str  # what a person calls it, used in messages
    max_len: int
    sep: str  # how parts are joined: "-", "_", "/" or "" when the charset has no separator
    allowed: str  # regex character class body of the characters allowed anywhere
    first: str = "a-z"  # character class body of the allowed first character
    last: str = "a-z0-9"  # character class body of the allowed last character
    min_len: int = 1
    prefix: str = ""  # literal text before the derived part (e.g. "alias/")
    forbidden_prefixes: tuple[str, ...] = ()
    forbidden_suffixes: tuple[str, ...] = ()
    forbidden_substrings: tuple[str, ...] = ()
    forbidden_patterns: tuple[str, ...] = ()
    no_double_sep: bool = True
    globally_unique: bool = False  # unique across the whole cloud, not just one account
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _whole: re.Pattern[str] = field(init=False, repr=False, compare=False)  # prefix and charset
    _patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _last_char: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _doubled: str = field(init=False, repr=False, compare=False)  # the doubled separator refused ("": none)
    _reserved: bool = field(init=False, repr=False, compare=False)  # any reserved prefix, suffix or word

    def __post_init__(self) -> None:
        body = f"[{self.first}]" + (f"[{self.allowed}]*[{self.last}]" if self.max_len > 1 else "")
        single = f"[{self.first}]" if self.first else ""
        core = f"(?:{body}|{single})"
        object.__setattr__(self, "_regex", re.compile(core, re.ASCII))
        object.__setattr__(self, "_whole", re.compile(re.escape(self.prefix) + core, re.ASCII))
        object.__setattr__(self, "_patterns", tuple(re.compile(pattern) for pattern in self.forbidden_patterns))
        object.__setattr__(self, "_doubled", self.sep * 2 if self.no_double_sep else "")
        object.__setattr__(self, "_reserved", bool(self.forbidden_prefixes or self.forbidden_suffixes
                                                   or self.forbidden_substrings))
        object.__setattr__(self, "_last_char", re.compile(f"[{self.last}]"))

    def passes(self, name: str) -> bool:
        """`self.problem(name) is None`, without composing a reason: the hot path of naming. The same
        checks as `problem`, in the same terms (reserved words on the lowercased name), cheaper."""
        if not self.min_len <= len(name) <= self.max_len or self._whole.fullmatch(name) is None:
            return False
        if self._doubled and self._doubled in name[len(self.prefix) :]:
            return False
        if self._reserved:
            lowered = name.lower()
            if lowered.startswith(self.forbidden_prefixes) or lowered.endswith(self.forbidden_suffixes):
                return False
            if self.forbidden_substrings and any(bad in lowered for bad in self.forbidden_substrings):
                return False
        return not (self._patterns and any(pattern.search(name) for pattern in self._patterns))

    def problem(self, name: str) -> str | None:
        """Why `name` breaks this rule; None when it passes."""
        core = name[len(self.prefix) :] if self.prefix and name.startswith(self.prefix) else None
        if self.prefix and core is None:
            return f"must start with '{self.prefix}'"
        core = name if core is None else core
        if not self.min_len <= len(name) <= self.max_len:
            return f"length {len(name)} is outside {self.min_len}-{self.max_len}"
        if not self._regex.fullmatch(core):
            return "has a character or a first/last character the cloud does not allow"
        if self.no_double_sep and self.sep and self.sep * 2 in core:
            return f"has a doubled '{self.sep}'"
        lowered = name.lower()
        for bad in self.forbidden_prefixes:
            if lowered.startswith(bad):
                return f"starts with the reserved '{bad}'"
        for bad in self.forbidden_suffixes:
            if lowered.endswith(bad):
                return f"ends with the reserved '{bad}'"
        for bad in self.forbidden_substrings:
            if bad in lowered:
                return f"contains the reserved '{bad}'"
        for pattern in self.forbidden_patterns:
            if re.search(pattern, name):
                return f"matches the reserved pattern {pattern}"
        return None


_POSTGRES_RESERVED = ("pg_", "postgres", "template0", "template1", "rds", "azure_", "cloudsql")

RULES: dict[str, NameRule] = {
    # AWS
    "aws.s3_bucket": NameRule(
        "S3 bucket", 63, "-", "a-z0-9-", first="a-z0-9", min_len=3, globally_unique=True,
        forbidden_prefixes=("xn--", "sthree-", "amzn-s3-demo-"),
        forbidden_suffixes=("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"),
    ),
    "aws.kms_alias": NameRule(
        "KMS alias", 256, "-", "a-z0-9-", prefix="alias/", forbidden_prefixes=("alias/aws/",)
    ),
    "aws.rds_instance": NameRule("RDS instance identifier", 63, "-", "a-z0-9-"),
    "aws.rds_subnet_group": NameRule("RDS subnet group", 255, "-", "a-z0-9-", forbidden_prefixes=("default",)),
    "aws.iam_role": NameRule("IAM role", 64, "-", "a-z0-9-"),
    "aws.iam_policy": NameRule("IAM policy", 128, "-", "a-z0-9-"),
    # Secrets Manager appends "-" and six random characters to ARNs: a name ending that way confuses
    # partial-ARN lookups, so it is refused.
    "aws.secret": NameRule(
        "Secrets Manager secret", 512, "/", "a-z0-9/-", forbidden_patterns=(r"-[A-Za-z0-9]{6}$",)
    ),
    "aws.security_group": NameRule("security group", 255, "-", "a-z0-9-", forbidden_prefixes=("sg-",)),
    "aws.name_tag": NameRule("Name tag", 256, "-", "a-z0-9-"),
    # RDS parameter groups and snapshots: letters, digits and hyphens, a letter first, no trailing or
    # doubled hyphen; "default" names are RDS's own parameter groups.
    "aws.rds_parameter_group": NameRule(
        "RDS DB parameter group", 255, "-", "a-z0-9-", forbidden_prefixes=("default",)
    ),
    "aws.rds_snapshot": NameRule("RDS DB snapshot identifier", 255, "-", "a-z0-9-"),
    # CreateDBInstance MasterUsername: 1-16 letters, digits or underscores, a letter first, not a
    # reserved word of the engine.
    "aws.rds_master_user": NameRule(
        "RDS master user name", 16, "_", "a-z0-9_", forbidden_prefixes=_POSTGRES_RESERVED
    ),
    # Azure
    "azure.resource_group": NameRule("resource group", 90, "-", "a-z0-9-"),
    "azure.storage_account": NameRule(
        "storage account", 24, "", "a-z0-9", first="a-z0-9", min_len=3, globally_unique=True
    ),
    "azure.key_vault": NameRule("Key Vault", 24, "-", "a-z0-9-", min_len=3, globally_unique=True),
    "azure.key": NameRule("Key Vault key", 127, "-", "a-z0-9-"),
    "azure.postgres_server": NameRule(
        "PostgreSQL flexible server", 63, "-", "a-z0-9-", first="a-z0-9", min_len=3, globally_unique=True
    ),
    "azure.container": NameRule("blob container", 63, "-", "a-z0-9-", first="a-z0-9", min_len=3),
    "azure.virtual_network": NameRule("virtual network", 64, "-", "a-z0-9-", min_len=2),
    "azure.identity": NameRule("user-assigned identity", 128, "-", "a-z0-9-", min_len=3),
    # Subnets and network security groups: 1-80 letters, digits, hyphens (also "_" and "."), starting
    # with a letter or digit and ending with a letter, digit or underscore.
    "azure.network_part": NameRule("subnet or network security group", 80, "-", "a-z0-9-", first="a-z0-9"),
    # The private DNS zone a VNet-integrated PostgreSQL flexible server registers in: a name of our own
    # in front of the fixed ".private.postgres.database.azure.com" (the purpose carries that suffix);
    # each label at most 63 characters, the whole zone at most 253.
    "azure.private_dns_zone": NameRule(
        "private DNS zone", 253, "-", "a-z0-9.-", min_len=3,
        forbidden_patterns=(r"^(?!.*\.private\.postgres\.database\.azure\.com$)", r"[^.]{64}", r"\.\.")
    ),
    # Management locks: up to 260 characters, none of < > % & : \ ? /.
    "azure.lock": NameRule("management lock", 260, "-", "a-z0-9-"),
    # On-demand backups of a PostgreSQL flexible server (the API's example: "ondemandbackup-20250601T183022"):
    # kept to letters, digits and hyphens, a letter or digit first.
    "azure.backup": NameRule("flexible server backup", 128, "-", "a-z0-9-", first="a-z0-9"),
    # Google Cloud
    "gcp.bucket": NameRule(
        "Cloud Storage bucket", 63, "-", "a-z0-9-", first="a-z0-9", min_len=3, globally_unique=True,
        forbidden_prefixes=("goog",), forbidden_substrings=("google", "g00gle"),
    ),
    "gcp.service_account": NameRule("service account id", 30, "-", "a-z0-9-", min_len=6),
    "gcp.sql_instance": NameRule("Cloud SQL instance", 63, "-", "a-z0-9-"),
    "gcp.network": NameRule("VPC network", 63, "-", "a-z0-9-"),
    "gcp.kms": NameRule("KMS key ring or key", 63, "-", "a-z0-9-"),
    # Oracle Cloud
    "oci.compartment": NameRule("compartment", 100, "-", "a-z0-9-"),
    "oci.display_name": NameRule("display name", 255, "-", "a-z0-9-"),
    "oci.dns_label": NameRule("DNS label", 15, "", "a-z0-9"),
    "oci.bucket": NameRule("Object Storage bucket", 256, "-", "a-z0-9-"),
    "oci.iam": NameRule("dynamic group or policy", 100, "-", "a-z0-9-"),
    # PostgreSQL identifiers (databases and roles inside a server, every cloud)
    "postgres.identifier": NameRule(
        "PostgreSQL identifier", 63, "_", "a-z0-9_", forbidden_prefixes=_POSTGRES_RESERVED
    ),
}


def _digest(text: str, salt: int = 0) -> str:
    raw = hashlib.sha256(f"{text}#{salt}".encode()).digest()
    # Base32 turns each 5 bytes into 8 characters on their own: the first 8 characters of the whole
    # digest's encoding are those of its first 5 bytes (HASH_LEN <= 8), at a quarter of the cost.
    return base64.b32encode(raw[:5]).decode().lower()[:HASH_LEN]  # letters and 2-7: valid everywhere


def physical_name(kind: str, org: str, owner: str, purpose: str) -> str:
    """The physical name of kind `kind` for `owner` (a tenant or cell id) and `purpose`.

    `org`, `owner` and `purpose` must already be valid slugs (the catalog checks them).
    """
    # The common case, 150,000 times for a catalog of 10,000 tenants: the plain join is short enough
    # and passes the rule. `_derive` would return it unchanged; anything else goes through `_derive`.
    rule, head, tail, swap, hyphens = _joiner(kind, org, purpose)
    if swap is not None and (hyphens or "-" not in owner):
        name = head + (owner.replace("-", swap) if swap else owner) + tail
        if rule.passes(name):
            return name
    return _derive(rule, kind, org, owner, purpose)


@cache
def _joiner(kind: str, org: str, purpose: str) -> tuple[NameRule, str, str, str | None, bool]:
    """(rule, head, tail, swap, hyphens): `_derive`'s plain join of any owner is head + owner + tail,
    with the owner's hyphens replaced by `swap` when it is not "". It is lossy when swap is None (a
    charset without separator, and a hyphen in org or purpose), or `hyphens` is False and the owner
    has one."""
    rule = RULES[kind]
    sep = rule.sep
    if sep == "/":  # path-like names keep the id's own hyphens
        return rule, f"{rule.prefix}{org}/", f"/{purpose}", "", True
    if sep == "":
        lossless = "-" not in org and "-" not in purpose
        return rule, rule.prefix + org, purpose, "" if lossless else None, False
    return (rule, rule.prefix + org.replace("-", sep) + sep, sep + purpose.replace("-", sep),
            "" if sep == "-" else sep, True)


def _derive(rule: NameRule, kind: str, org: str, owner: str, purpose: str) -> str:
    """physical_name, the whole algorithm: the join, shortened with a hash when it is lossy or too
    long, and the fallbacks for a name the rule refuses."""
    canonical = f"{kind}:{org}:{owner}:{purpose}"
    parts = [org, owner, purpose]
    # Owner ids carry hyphens; where the rule's separator differs, translate them losslessly when
    # the separator exists, and note the loss when the charset has none.
    lossy = rule.sep == "" and any("-" in part for part in parts)
    joined = rule.sep.join(part.replace("-", rule.sep) for part in parts)
    if rule.sep == "/":  # path-like names keep the id's own hyphens
        joined = "/".join(parts)
    name = rule.prefix + joined
    if lossy or len(name) > rule.max_len:
        name = _shorten(rule, name, _digest(canonical))
    salt = 0
    while not rule.passes(name):
        # A reserved word inside a valid id (e.g. "google"): fall back to the org and a hash, which
        # avoid every reserved word; the salt moves on in the vanishing case a hash hits one.
        salt += 1
        if salt > 16:
            raise AssertionError(f"cannot derive a valid {rule.title} name for {canonical}")
        digest = _digest(canonical, salt)
        name = _shorten(rule, rule.prefix + rule.sep.join([org, digest, purpose.replace("-", rule.sep)]), "")
        if not rule.passes(name):
            name = _shorten(rule, rule.prefix + org + rule.sep + digest, "")
    return name


def _shorten(rule: NameRule, name: str, digest: str) -> str:
    """Cut `name` to the rule's length and append `digest` (when given) with the rule's separator."""
    tail = (rule.sep + digest) if digest else ""
    room = rule.max_len - len(tail)
    head = name[:room]
    # Never leave a separator or a character the rule forbids at the end of the cut.
    while head and (head[-1] in "-_/" or not rule._last_char.fullmatch(head[-1])):
        head = head[:-1]
    return head + tail


# What each owner (tenant or cell) is called on its cloud: key -> (rule kind, purpose).
NAME_SETS: dict[str, dict[str, tuple[str, str]]] = {
    "aws": {
        "network": ("aws.name_tag", "net"),
        "security_group": ("aws.security_group", "db"),
        "key_alias": ("aws.kms_alias", "data"),
        "bucket": ("aws.s3_bucket", "data"),
        "db_instance": ("aws.rds_instance", "db"),
        "db_subnet_group": ("aws.rds_subnet_group", "db"),
        "db_parameter_group": ("aws.rds_parameter_group", "db"),
        "db_final_snapshot": ("aws.rds_snapshot", "db-final"),
        # the snapshot taken when the tenant is offboarded (aws.rds.Snapshot, kept until retention end)
        "db_backup": ("aws.rds_snapshot", "db-offboard"),
        "db_admin": ("aws.rds_master_user", "admin"),
        "database": ("postgres.identifier", "db"),
        "db_user": ("postgres.identifier", "app"),
        "secret": ("aws.secret", "db"),
        "role": ("aws.iam_role", "app"),
        "policy": ("aws.iam_policy", "app"),
    },
    "azure": {
        "resource_group": ("azure.resource_group", "rg"),
        "network": ("azure.virtual_network", "net"),
        "key_vault": ("azure.key_vault", "kv"),
        "key": ("azure.key", "data"),
        "storage_account": ("azure.storage_account", "st"),
        "container": ("azure.container", "data"),
        "db_server": ("azure.postgres_server", "db"),
        "database": ("postgres.identifier", "db"),
        "db_user": ("postgres.identifier", "app"),
        "identity": ("azure.identity", "app"),
        "subnet": ("azure.network_part", "db"),
        "network_security_group": ("azure.network_part", "db"),
        "dns_zone": ("azure.private_dns_zone", "pg.private.postgres.database.azure.com"),
        "key_identity": ("azure.identity", "cmk"),
        "db_admin": ("azure.identity", "db-admin"),
        "db_lock": ("azure.lock", "db-lock"),
        # the on-demand backup taken when the tenant is offboarded
        "db_backup": ("azure.backup", "db-offboard"),
    },
    "gcp": {
        "network": ("gcp.network", "net"),
        "subnetwork": ("gcp.network", "subnet"),
        # the internal range reserved for private services access (Cloud SQL private IP); a Compute
        # Engine resource name, so the same RFC 1035 rule as the network
        "private_range": ("gcp.network", "psa"),
        "key_ring": ("gcp.kms", "ring"),
        "key": ("gcp.kms", "data"),
        "bucket": ("gcp.bucket", "data"),
        "db_instance": ("gcp.sql_instance", "db"),
        "database": ("postgres.identifier", "db"),
        "db_user": ("postgres.identifier", "app"),
        "service_account": ("gcp.service_account", "app"),
    },
    "oci": {
        "compartment": ("oci.compartment", "cmp"),
        "network": ("oci.display_name", "net"),
        "dns_label": ("oci.dns_label", "net"),
        "vault": ("oci.display_name", "vault"),
        "key": ("oci.display_name", "data"),
        "bucket": ("oci.bucket", "data"),
        "db_system": ("oci.display_name", "db"),
        "database": ("postgres.identifier", "db"),
        "db_user": ("postgres.identifier", "app"),
        "secret": ("oci.display_name", "db-secret"),
        "dynamic_group": ("oci.iam", "app"),
        "policy": ("oci.iam", "app"),
        # the private database subnet, its security list and the database's network security group
        "subnet": ("oci.display_name", "db-subnet"),
        "security_list": ("oci.display_name", "db-sl"),
        "nsg": ("oci.display_name", "db-nsg"),
        # the DB system's administrator (OCI Database with PostgreSQL refuses "postgres" and pg_*)
        "db_admin": ("postgres.identifier", "admin"),
        # the policy letting the region's Object Storage service use the store's key (SSE with a
        # customer-managed key needs it before the bucket can be created)
        "service_policy": ("oci.iam", "svc"),
        # the on-demand backup taken when a tenant is offboarded (OCI has no final-backup-on-delete)
        "final_backup": ("oci.display_name", "db-final"),
        # a silo or bridge tenant's application login: its own Vault-generated secret (never the admin's),
        # named as the data plane names it
        "db_app_secret": ("oci.display_name", "db-app"),
        # the DB system's own identity: a dynamic group of the compartment's PostgreSQL DB systems and the
        # policy letting them use the storage key and read the administrator secret
        "db_dynamic_group": ("oci.iam", "db"),
        "db_policy": ("oci.iam", "db"),
    },
}

# Names the cloud keeps taken after the resource is gone (GCP KMS key rings and keys are never deleted;
# an Azure key vault is soft-deleted with purge protection for 90 days and its resource group is kept
# with it; an RDS final snapshot is kept for its retention; an OCI compartment holding a kept vault is
# never deleted) or that a retired shape keeps: a shape provisioned again gets a new generation, whose
# suffix (`-g<n>`) these names carry. Generation 0 has no suffix, so existing stacks keep their names.
NEVER_FREED: dict[str, tuple[str, ...]] = {
    "aws": ("db_final_snapshot",),
    "azure": ("resource_group", "key_vault"),
    "gcp": ("key_ring", "key"),
    "oci": ("compartment",),
}


def tenant_prefix(tenant_id: str) -> str:
    """The object prefix (or folder) that is a pooled tenant's slice of a shared bucket."""
    return f"tenants/{tenant_id}/"


# A tenant's names carry its isolation model, so the resources of a new shape can exist beside those
# of the old one while its plan changes (provision, move data, cut over, retire the old shape).
SHAPE_TAGS = {"silo": "s", "bridge": "b", "pooled": "p"}


def names_for(cloud: str, org: str, owner: str, shape: str = "") -> Mapping[str, str]:
    """Every physical name a tenant or cell `owner` uses on `cloud`, keyed by what it names.

    `shape` ("" for cells, a SHAPE_TAGS value for tenants) goes between the owner and the purpose.
    Cached (validation, placement checks and generation all ask for the same names) and read-only.
    """
    return _names_for(cloud, org, owner, shape)


def tenant_names(cloud: str, org: str, tenant_id: str, isolation: str) -> Mapping[str, str]:
    """A tenant's names in its isolation model: `<org>-<tenant>-<s|b|p>-<purpose>` where the rule allows."""
    return _names_for(cloud, org, tenant_id, SHAPE_TAGS[isolation])


@cache
def _names_for(cloud: str, org: str, owner: str, shape: str) -> Mapping[str, str]:
    names = {}
    valid = ID_MIN_LEN <= len(owner) <= ID_MAX_LEN and ID_PATTERN.fullmatch(owner) is not None
    for key, kind, purpose, (rule, head, tail, swap, hyphens), fits in _name_plan(cloud, org, shape):
        # physical_name, inlined: a catalog of 10,000 tenants asks for 200,000 names
        if swap is not None and (hyphens or "-" not in owner):
            name = head + (owner.replace("-", swap) if swap else owner) + tail
            # A valid id of a length that `fits` makes a name the rule accepts (see _fits): no check
            if (valid and fits is not None and fits[0] <= len(owner) <= fits[1]) or rule.passes(name):
                names[key] = name
                continue
        names[key] = _derive(rule, kind, org, owner, purpose)
    names["prefix"] = tenant_prefix(owner)
    return MappingProxyType(names)


@cache
def _name_plan(cloud: str, org: str, shape: str) -> tuple[tuple[str, str, str, Any, tuple[int, int] | None], ...]:
    """(key, kind, purpose, _joiner(kind, org, purpose), _fits(...)) of each name an owner of `shape` has
    on `cloud`."""
    plan = []
    for key, (kind, purpose) in NAME_SETS[cloud].items():
        purpose = f"{shape}-{purpose}" if shape else purpose
        joiner = _joiner(kind, org, purpose)
        plan.append((key, kind, purpose, joiner, _fits(*joiner)))
    return tuple(plan)


_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _fits(rule: NameRule, head: str, tail: str, swap: str | None, hyphens: bool) -> tuple[int, int] | None:
    """(shortest, longest) id for which head + id + tail (hyphens as `swap` says) passes `rule` for every
    valid id (ID_PATTERN: lowercase letters, digits, single inner hyphens, a letter first); None when
    some valid id could fail it whatever its length, so each name is checked.

    Proof, rule by rule (`problem`), for a valid id of a length in the range:
    - the length is within the rule's;
    - the name starts with the rule's literal prefix (head does);
    - charset: the core's first character is head's, its last tail's, and every other character is of
      head, tail or the id, whose characters (letters, digits, the hyphen or what replaces it) are all
      allowed;
    - no doubled separator: none in head or tail, and an id has none, starts with a letter and ends
      with a letter or digit, so none forms where they meet;
    - reserved prefixes and suffixes: the name is lowercase; a reserved prefix is neither a prefix of
      head nor longer and starting with head (the only ways the name could start with it), and
      likewise for suffixes and tail;
    - reserved words inside and reserved patterns could lie across the id: such rules get None.
    """
    if swap is None or rule.forbidden_substrings or rule.forbidden_patterns or rule.max_len < 2:
        return None
    core_head = head[len(rule.prefix):] if head.startswith(rule.prefix) else ""
    if not core_head or not tail or head != head.lower() or tail != tail.lower():
        return None

    def allowed(chars: str, cls: str) -> bool:
        return all(re.fullmatch(f"[{cls}]", char, re.ASCII) for char in chars)

    id_chars = _ID_CHARS + ((swap or "-") if hyphens else "")
    if not (allowed(core_head[0], rule.first) and allowed(tail[-1], rule.last)
            and allowed(core_head[1:] + tail[:-1] + id_chars, rule.allowed)):
        return None
    if rule.no_double_sep and rule.sep and (rule.sep * 2 in core_head or rule.sep * 2 in tail):
        return None
    if any(head.startswith(bad) or bad.startswith(head) for bad in rule.forbidden_prefixes):
        return None
    if any(tail.endswith(bad) or bad.endswith(tail) for bad in rule.forbidden_suffixes):
        return None
    shortest = max(ID_MIN_LEN, rule.min_len - len(head) - len(tail))
    longest = min(ID_MAX_LEN, rule.max_len - len(head) - len(tail))
    return (shortest, longest) if shortest <= longest else None


def with_generation(cloud: str, org: str, owner: str, shape: str, generation: int,
                    names: Mapping[str, str]) -> dict[str, str]:
    """`names` (an owner's, in `shape`: a SHAPE_TAGS value, "" for a cell) with the names the cloud never
    frees (NEVER_FREED) moved to `generation` (`<purpose>-g<n>`); generation 0 changes nothing."""
    if generation < 0:
        raise ValueError(f"a generation is 0 or more, got {generation}")
    found = dict(names)
    if generation == 0:
        return found
    for key in NEVER_FREED[cloud]:
        if key in found:
            kind, purpose = NAME_SETS[cloud][key]
            base = f"{shape}-{purpose}" if shape else purpose
            found[key] = physical_name(kind, org, owner, f"{base}-g{generation}")
    return found


def name_kind(cloud: str, key: str) -> str:
    """The rule kind behind names_for(...)[key], for collision checks and messages."""
    return NAME_SETS[cloud][key][0] if key in NAME_SETS[cloud] else "object.prefix"


# The names each stack program reads, per cloud and role (a tenant's isolation model, or "cell"):
# a stack's config carries exactly these (tests/components/test_names_used.py records what the
# components read and compares). The other names of NAME_SETS are reserved all the same (the
# collision check covers them) for what the workflows create outside the stack (final backups).
NAMES_USED: dict[tuple[str, str], tuple[str, ...]] = {
    ("aws", "silo"): ("bucket", "database", "db_admin", "db_backup", "db_final_snapshot", "db_instance",
                      "db_parameter_group", "db_subnet_group", "db_user", "key_alias", "network", "policy", "role",
                      "security_group"),
    ("aws", "bridge"): ("bucket", "database", "db_admin", "db_backup", "db_final_snapshot", "db_instance",
                        "db_parameter_group", "db_subnet_group", "db_user", "key_alias", "policy", "role"),
    ("aws", "pooled"): ("database", "db_user", "policy", "prefix", "role", "secret"),
    ("aws", "cell"): ("bucket", "database", "db_admin", "db_final_snapshot", "db_instance", "db_parameter_group",
                      "db_subnet_group", "db_user", "key_alias", "network", "security_group"),
    ("azure", "silo"): ("container", "database", "db_admin", "db_backup", "db_lock", "db_server", "db_user", "dns_zone",
                        "identity", "key", "key_identity", "key_vault", "network", "network_security_group",
                        "resource_group", "storage_account", "subnet"),
    ("azure", "bridge"): ("container", "database", "db_admin", "db_backup", "db_lock", "db_server", "db_user",
                          "identity", "key", "key_identity", "key_vault", "resource_group", "storage_account"),
    ("azure", "pooled"): ("container", "database", "db_user", "identity", "prefix", "resource_group"),
    ("azure", "cell"): ("container", "database", "db_admin", "db_lock", "db_server", "db_user", "dns_zone", "key",
                        "key_identity", "key_vault", "network", "network_security_group", "resource_group",
                        "storage_account", "subnet"),
    ("gcp", "silo"): ("bucket", "db_instance", "key", "key_ring", "network", "private_range", "service_account",
                      "subnetwork"),
    ("gcp", "bridge"): ("bucket", "db_instance", "key", "key_ring", "service_account"),
    ("gcp", "pooled"): ("database", "prefix", "service_account"),
    ("gcp", "cell"): ("bucket", "db_instance", "key", "key_ring", "network", "private_range", "subnetwork"),
    ("oci", "silo"): ("bucket", "compartment", "database", "db_admin", "db_app_secret", "db_dynamic_group",
                      "db_policy", "db_system", "db_user", "dns_label", "dynamic_group", "final_backup", "key",
                      "network", "nsg", "policy", "secret", "security_list", "service_policy", "subnet", "vault"),
    ("oci", "bridge"): ("bucket", "compartment", "database", "db_admin", "db_app_secret", "db_dynamic_group",
                        "db_policy", "db_system", "db_user", "dynamic_group", "final_backup", "key", "policy", "secret",
                        "service_policy", "vault"),
    ("oci", "pooled"): ("compartment", "database", "db_user", "dynamic_group", "policy", "prefix", "secret"),
    ("oci", "cell"): ("bucket", "compartment", "db_admin", "db_dynamic_group", "db_policy", "db_system", "dns_label",
                      "key", "network", "nsg", "secret", "security_list", "service_policy", "subnet", "vault"),
}


def used_names(cloud: str, role: str, names: Mapping[str, str]) -> dict[str, str]:
    """The part of `names` a stack program of `role` (isolation model or "cell") reads on `cloud`."""
    return {key: names[key] for key in NAMES_USED[(cloud, role)]}

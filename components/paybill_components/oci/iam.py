"""OCI IAM policy statements and dynamic-group matching rules, built from plain strings.

Pure functions (no pulumi import): the blocks call them inside `Output.all(...).apply`, the tests call
them directly. Every statement names one compartment by OCID and narrows it with a `where` condition
on the tenant's own bucket, prefix, key or secret; nothing here writes `manage all-resources`, a
tenancy-wide location or a wildcard subject.

Object Storage conditions (OCI policy reference, "Details for Object Storage"): `target.bucket.name`
applies to bucket and object operations and `target.object.name` (string or pattern) to object
operations. A pattern is written between slashes, `*` matching any characters, so a pooled tenant's
prefix `tenants/acme/` becomes `/tenants/acme/*/`. Matching is case-insensitive, which is harmless here:
tenant ids (and so prefixes) are lowercase by the catalog's rule. A condition whose variable does not
apply to a request declines it: ListObjects carries no object name, so a prefix-scoped identity cannot
list the shared bucket (and so cannot learn other tenants' object names); it reads and writes the
objects under its prefix by name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# The object permissions a tenant's workload gets on its bucket or prefix: list/head, get, create,
# overwrite and delete. Deliberately not OBJECT_VERSION_DELETE (purging old versions would defeat the
# bucket's versioning), OBJECT_RESTORE or OBJECT_UPDATE_TIER, which `manage objects` would include.
OBJECT_PERMISSIONS = ("OBJECT_INSPECT", "OBJECT_READ", "OBJECT_CREATE", "OBJECT_OVERWRITE", "OBJECT_DELETE")

_OCID = re.compile(r"ocid1\.[a-z0-9]+\.[a-z0-9-]+\.[a-z0-9-]*\.[a-z0-9._-]+", re.ASCII)
_BUCKET = re.compile(r"[A-Za-z0-9._-]{1,256}", re.ASCII)
_PREFIX = re.compile(r"(?:[a-z0-9][a-z0-9_.-]*/)+", re.ASCII)
_REGION = re.compile(r"[a-z]{2}-[a-z]+-[0-9]+", re.ASCII)


class PolicyInputError(ValueError):
    """A value that would not make a safe, exact policy statement (wrong shape, quote, wildcard)."""


def _ocid(value: str, field: str) -> str:
    if not isinstance(value, str) or not _OCID.fullmatch(value):
        raise PolicyInputError(f"{field}: '{value}' is not an OCID")
    return value


def _bucket(value: str) -> str:
    if not isinstance(value, str) or not _BUCKET.fullmatch(value):
        raise PolicyInputError(f"bucket: '{value}' is not an Object Storage bucket name")
    return value


def prefix_pattern(prefix: str) -> str:
    """The policy pattern matching every object under `prefix` (`tenants/acme/` -> `/tenants/acme/*/`).

    The prefix must end with "/" so that `tenants/acme/` never matches `tenants/acme-corp/...`, and may
    not hold a pattern character of its own.
    """
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise PolicyInputError(
            f"prefix: '{prefix}' is not a folder prefix (lowercase segments, each ending with '/')"
        )
    return f"/{prefix}*/"


def dynamic_group_matching_rule(compartment_id: str) -> str:
    """Every workload in the tenant's own compartment: compute instances (`instance.compartment.id`,
    the variable instance principals match on) and every other resource principal (functions,
    container instances...: `resource.compartment.id`, which never matches an instance). OCI's
    dynamic-group documentation lists the two variables separately; ANY matches either.

    A compartment rule rather than a tag rule: matching rules only read defined tags
    (`tag.<namespace>.<key>.value`), and the markers are freeform tags, which any holder of the
    resource could edit; the compartment is the tenant's isolation boundary already.
    """
    compartment = _ocid(compartment_id, "compartment_id")
    return f"ANY {{instance.compartment.id = '{compartment}', resource.compartment.id = '{compartment}'}}"


DB_SYSTEM_RESOURCE_TYPE = "postgresqldbsystem"
"""The resource type of an OCI Database with PostgreSQL DB system (its OCIDs read ocid1.postgresqldbsystem)."""


def db_system_matching_rule(compartment_id: str) -> str:
    """The PostgreSQL DB systems of one compartment (their resource principals), nothing else."""
    compartment = _ocid(compartment_id, "compartment_id")
    return f"ALL {{resource.type = '{DB_SYSTEM_RESOURCE_TYPE}', resource.compartment.id = '{compartment}'}}"


def db_system_statements(dynamic_group_id: str, compartment_id: str, key_id: str, secret_id: str) -> list[str]:
    """What a DB system needs of its own compartment: to use the key that encrypts its storage and to
    read the administrator secret it is created (and reset) with. The same statement shapes as a
    tenant's (one key, one secret, by OCID); check them once in a real tenancy (README, "One-time
    checks"): OCI's documentation also shows `any-user` statements conditioned on
    `request.principal.type`, which this library's rules refuse."""
    return [key_statement(dynamic_group_id, compartment_id, key_id),
            secret_statement(dynamic_group_id, compartment_id, secret_id)]


def object_statement(dynamic_group_id: str, compartment_id: str, bucket: str, prefix: str | None = None) -> str:
    """Read and write objects of one bucket (and, for a shared bucket, only under `prefix`)."""
    subject = _ocid(dynamic_group_id, "dynamic_group_id")
    location = _ocid(compartment_id, "compartment_id")
    permissions = ", ".join(OBJECT_PERMISSIONS)
    condition = f"target.bucket.name = '{_bucket(bucket)}'"
    if prefix is not None:
        condition = f"all {{{condition}, target.object.name = {prefix_pattern(prefix)}}}"
    return f"Allow dynamic-group id {subject} to {{{permissions}}} in compartment id {location} where {condition}"


def key_statement(dynamic_group_id: str, compartment_id: str, key_id: str) -> str:
    """Encrypt and decrypt with one key (`use keys`: KEY_ENCRYPT, KEY_DECRYPT), nothing else."""
    subject = _ocid(dynamic_group_id, "dynamic_group_id")
    location = _ocid(compartment_id, "compartment_id")
    return (
        f"Allow dynamic-group id {subject} to use keys in compartment id {location} "
        f"where target.key.id = '{_ocid(key_id, 'key_id')}'"
    )


def secret_statement(dynamic_group_id: str, compartment_id: str, secret_id: str) -> str:
    """Read the contents of one secret (its database credentials), not list or manage secrets."""
    subject = _ocid(dynamic_group_id, "dynamic_group_id")
    location = _ocid(compartment_id, "compartment_id")
    return (
        f"Allow dynamic-group id {subject} to read secret-bundles in compartment id {location} "
        f"where target.secret.id = '{_ocid(secret_id, 'secret_id')}'"
    )


def tenant_statements(
    dynamic_group_id: str,
    *,
    store_compartment_id: str,
    bucket: str,
    secret_compartment_id: str,
    secret_id: str,
    prefix: str | None = None,
    key_compartment_id: str | None = None,
    key_id: str | None = None,
) -> list[str]:
    """The statements of one tenant's workload policy: its objects, its database secret and (when the
    key is its own) its key. Pass `key_id=None` for a pooled tenant: the cell's key is shared, and
    neither server-side encryption nor reading a secret needs the caller to hold the key."""
    statements = [
        object_statement(dynamic_group_id, store_compartment_id, bucket, prefix),
        secret_statement(dynamic_group_id, secret_compartment_id, secret_id),
    ]
    if key_id is not None:
        if key_compartment_id is None:
            raise PolicyInputError("key_compartment_id: required with key_id")
        statements.append(key_statement(dynamic_group_id, key_compartment_id, key_id))
    return statements


def object_storage_service_statement(region: str, compartment_id: str, key_id: str) -> str:
    """Let the region's Object Storage service use one key for server-side encryption of a bucket
    (required before a bucket can name a customer-managed key)."""
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise PolicyInputError(f"region: '{region}' is not an OCI region identifier")
    location = _ocid(compartment_id, "compartment_id")
    return (
        f"Allow service objectstorage-{region} to use keys in compartment id {location} "
        f"where target.key.id = '{_ocid(key_id, 'key_id')}'"
    )


def statement_ocids(statements: Sequence[str]) -> set[str]:
    """Every OCID a set of statements names (for checks that a policy reaches one tenant only)."""
    return {match.group(0) for statement in statements for match in _OCID.finditer(statement)}


"""Google Cloud IAM for tenant identities, as plain functions of plain strings (no pulumi import).

The blocks call these inside `Output.apply`, and the tests call them directly. Each function checks
what it is given, so a value that could widen a grant (a wildcard, a quote that would end a CEL
string, a bucket-wide folder) is refused here rather than sent to Google.

What a tenant's service account is granted (`tenant_grants`):

    silo / bridge   roles/storage.objectUser        on its own bucket
                    roles/cloudkms.cryptoKeyEncrypterDecrypter on its own key
                    roles/cloudsql.instanceUser     \\ on the project, with an IAM condition naming its
                    roles/cloudsql.client           /  own Cloud SQL instance only
    pooled          roles/storage.objectUser        on its managed folder of the cell's bucket
                    roles/cloudsql.instanceUser     \\ on the project, with an IAM condition naming the
                    roles/cloudsql.client           /  cell's instance only
    suspended       nothing

Pooled tenants share the cell's instance, so IAM alone cannot tell their databases apart: database-level
isolation is the tenant's own database plus its own IAM database user (Cloud SQL logs a service account
in as exactly one PostgreSQL role). The cell's key is never granted to a pooled tenant: Cloud Storage and
Cloud SQL use it through their service agents, and the tenant never needs the key itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ROLE_OBJECT_USER = "roles/storage.objectUser"
ROLE_SQL_INSTANCE_USER = "roles/cloudsql.instanceUser"
ROLE_SQL_CLIENT = "roles/cloudsql.client"
ROLE_KEY_USER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

SQL_INSTANCE_TYPE = "sqladmin.googleapis.com/Instance"
SERVICE_ACCOUNT_SUFFIX = ".gserviceaccount.com"

# Roles a tenant identity must never hold: basic roles and every admin role.
_FORBIDDEN_ROLE = re.compile(r"^roles/(owner|editor|viewer)$|admin|\*", re.IGNORECASE)

# Project ids (optionally domain-scoped, "example.com:project"), Cloud SQL instance names, service
# account emails: the documented charsets, which also keep every value safe inside a CEL string.
_PROJECT = re.compile(r"(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]", re.ASCII)
_INSTANCE = re.compile(r"[a-z](?:[a-z0-9-]{0,96}[a-z0-9])?", re.ASCII)
_SA_EMAIL = re.compile(r"[a-z0-9][a-z0-9-]{0,62}@[a-z0-9][a-z0-9.-]*\.gserviceaccount\.com", re.ASCII)
_FOLDER = re.compile(r"(?:[A-Za-z0-9._~-]+/)+", re.ASCII)

GrantTarget = Literal["bucket", "folder", "key", "instance"]


@dataclass(frozen=True)
class Grant:
    """One role on one of the tenant's own resources."""

    target: GrantTarget
    """bucket (its own), folder (its managed folder), key (its own), instance (conditioned on it)."""
    role: str


def check_role(role: str) -> str:
    """`role` when a tenant identity may hold it; ValueError for basic, admin or wildcard roles."""
    if not role.startswith("roles/") or _FORBIDDEN_ROLE.search(role):
        raise ValueError(f"role '{role}' is not allowed for a tenant identity")
    return role


def tenant_grants(*, shared_store: bool, active: bool) -> tuple[Grant, ...]:
    """What a tenant identity is granted: `shared_store` for a pooled tenant (a folder of the cell's
    bucket, no key), else its own bucket and key; nothing at all while not `active` (suspended)."""
    if not active:
        return ()
    database = (Grant("instance", ROLE_SQL_INSTANCE_USER), Grant("instance", ROLE_SQL_CLIENT))
    grants: tuple[Grant, ...]
    if shared_store:
        grants = (Grant("folder", ROLE_OBJECT_USER), *database)
    else:
        grants = (Grant("bucket", ROLE_OBJECT_USER), Grant("key", ROLE_KEY_USER), *database)
    for grant in grants:
        check_role(grant.role)
    return grants


def service_account_member(email: str) -> str:
    """The IAM member of a service account (or service agent) email: `serviceAccount:<email>`."""
    if not _SA_EMAIL.fullmatch(email):
        raise ValueError(f"'{email}' is not a service account email")
    return f"serviceAccount:{email}"


def sql_iam_user_name(email: str) -> str:
    """The Cloud SQL user name of an IAM service account: its email without `.gserviceaccount.com`
    (Cloud SQL for PostgreSQL truncates the email so the role name fits)."""
    if not _SA_EMAIL.fullmatch(email):
        raise ValueError(f"'{email}' is not a service account email")
    return email.removesuffix(SERVICE_ACCOUNT_SUFFIX)


def sql_instance_resource(project: str, instance: str) -> str:
    """The IAM resource name of a Cloud SQL instance: `projects/<project>/instances/<instance>`."""
    if not _PROJECT.fullmatch(project):
        raise ValueError(f"'{project}' is not a Google Cloud project id")
    if not _INSTANCE.fullmatch(instance):
        raise ValueError(f"'{instance}' is not a Cloud SQL instance name")
    return f"projects/{project}/instances/{instance}"


def sql_instance_condition(project: str, instance: str) -> dict[str, str]:
    """An IAM condition limiting a project-level Cloud SQL role to one instance (title, description,
    expression), the form Cloud SQL documents for "connect to specific instances"."""
    resource = sql_instance_resource(project, instance)
    return {
        "title": f"only-{instance}"[:100],
        "description": f"Only the Cloud SQL instance {resource}",
        "expression": f'resource.type == "{SQL_INSTANCE_TYPE}" && resource.name == "{resource}"',
    }


def managed_folder_name(prefix: str) -> str:
    """A managed folder name from an object prefix: relative, ending with '/', never the whole bucket."""
    if not _FOLDER.fullmatch(prefix) or any(part in (".", "..") for part in prefix.split("/")[:-1]):
        raise ValueError(f"'{prefix}' is not a managed folder name (segments ending with '/')")
    return prefix

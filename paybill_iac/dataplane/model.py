"""What the data plane works on: a tenant's database (`TenantDatabase`), the cloud identity its
workload logs in with (one `*Auth` per cloud) and the operator's admin connection (`AdminConnection`).

Plain frozen dataclasses, checked where they are built: every identifier fits PostgreSQL (at most 63
bytes, never a reserved `pg_` name), the authentication matches the cloud, and a message names the
field and the value received. Nothing here opens a connection or holds a password: the admin's
password is only ever named (`password_secret`), and read from a `SecretStore` when a session opens.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from typing import Literal, get_args
from urllib.parse import parse_qs, unquote, urlsplit

from paybill_iac.dataplane.errors import InvalidInput
from paybill_iac.model.naming import SHAPE_TAGS, physical_name

CloudName = Literal["aws", "azure", "gcp", "oci", "postgres"]
CLOUDS: tuple[str, ...] = get_args(CloudName)

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names
MAX_CONNECTION_LIMIT = 10_000
# Names PostgreSQL or a managed cloud keeps for itself (roles starting with pg_ are refused by the
# server; the others are the clouds' administrative roles and databases).
RESERVED_PREFIXES = ("pg_",)
RESERVED_NAMES = frozenset({
    "public", "none", "all", "current_user", "current_role", "session_user",
    "postgres", "template0", "template1",
    "rds_iam", "rds_superuser", "rdsadmin", "rds_replication", "rds_password",
    "azure_pg_admin", "azuresu", "azure_superuser", "azure_maintenance",
    "cloudsqlsuperuser", "cloudsqladmin", "cloudsqliamuser", "cloudsqliamserviceaccount",
})
# The names paybill-iac derives itself (naming's `postgres.identifier` rule): lowercase ASCII, so no
# client ever needs to quote them.
OWN_NAME = re.compile(r"[a-z_][a-z0-9_]*", re.ASCII)
GCP_SA_SUFFIX = ".gserviceaccount.com"
GCP_SA_EMAIL = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.:-]+\.iam\.gserviceaccount\.com", re.ASCII)
AZURE_OBJECT_TYPES = ("service", "user", "group")


def identifier_problem(value: object, *, own: bool = True) -> str | None:
    """Why `value` cannot name a database or role; None when it can.

    `own` names are ones paybill-iac derives (lowercase ASCII letters, digits, underscores); other
    names (a Cloud SQL IAM user) may hold any character but NUL, since they are always quoted."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    size = len(value.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        return f"is {size} bytes long; PostgreSQL names are at most {MAX_IDENTIFIER_BYTES} bytes"
    if "\x00" in value:
        return "contains a NUL character"
    lowered = value.lower()
    for prefix in RESERVED_PREFIXES:
        if lowered.startswith(prefix):
            return f"starts with the reserved prefix '{prefix}'"
    if lowered in RESERVED_NAMES:
        return "is a name PostgreSQL or a managed cloud reserves"
    if own and not OWN_NAME.fullmatch(value):
        return "must be lowercase ASCII letters, digits and underscores, not starting with a digit"
    return None


def _check(field: str, value: object, problem: str | None, tenant: str | None = None) -> None:
    if problem is not None:
        raise InvalidInput(f"{field} {value!r} {problem}", tenant=tenant)


# --- the cloud identity a tenant's workload logs in with --------------------------------------------


@dataclass(frozen=True)
class AwsIamAuth:
    """AWS: the login role is a member of `rds_iam`, so it logs in with an IAM authentication token
    (rds-db:connect on the role's name) and never with a password."""

    kind: Literal["aws-iam"] = "aws-iam"


@dataclass(frozen=True)
class AzureEntraAuth:
    """Azure: the login role is a Microsoft Entra principal, created by
    `pgaadauth_create_principal_with_oid` and bound to `object_id` (the tenant's user-assigned
    identity's principal id). `principal_name` is that identity's name, kept for reports; the role
    itself is named by the catalog (the binding is the object id, not the name)."""

    object_id: str
    principal_name: str
    object_type: Literal["service", "user", "group"] = "service"
    kind: Literal["azure-entra"] = "azure-entra"

    def __post_init__(self) -> None:
        try:
            uuid.UUID(str(self.object_id))
        except ValueError:
            raise InvalidInput(f"auth.object_id {self.object_id!r} is not a Microsoft Entra object id (a GUID)") \
                from None
        if self.object_type not in AZURE_OBJECT_TYPES:
            raise InvalidInput(f"auth.object_type {self.object_type!r} is not one of {', '.join(AZURE_OBJECT_TYPES)}")
        if not isinstance(self.principal_name, str) or not self.principal_name:
            raise InvalidInput(f"auth.principal_name {self.principal_name!r} must be a non-empty string")


@dataclass(frozen=True)
class GcpIamAuth:
    """GCP: the tenant's service account logs in as a Cloud SQL IAM user. The Cloud SQL API creates
    that user (the tenant stack's `gcp.sql.User`, type CLOUD_IAM_SERVICE_ACCOUNT); inside PostgreSQL
    its role is the account's email without `.gserviceaccount.com`. The data plane makes it a member
    of the tenant's login role and bounds its connections; it never creates or drops it."""

    service_account_email: str
    kind: Literal["gcp-iam"] = "gcp-iam"

    def __post_init__(self) -> None:
        if not isinstance(self.service_account_email, str) or not GCP_SA_EMAIL.fullmatch(self.service_account_email):
            raise InvalidInput(
                f"auth.service_account_email {self.service_account_email!r} is not a service account email "
                f"(<id>@<project>.iam{GCP_SA_SUFFIX})"
            )
        problem = identifier_problem(self.iam_user, own=False)
        if problem is not None:
            raise InvalidInput(
                f"auth.service_account_email {self.service_account_email!r}: its Cloud SQL user name "
                f"{self.iam_user!r} {problem} (shorten the service account id)"
            )

    @property
    def iam_user(self) -> str:
        """The Cloud SQL IAM user's role name."""
        return self.service_account_email.removesuffix(GCP_SA_SUFFIX)


@dataclass(frozen=True)
class PasswordAuth:
    """OCI and plain PostgreSQL: a password role. The password lives only in the secret store under
    `secret_name`:

    - generated_by="module": the data plane generates it (secrets.token_urlsafe) and puts it in the
      store (plain PostgreSQL, or any store the platform gives);
    - generated_by="vault": the cloud's vault generated it (OCI Vault's auto-generated secret that the
      tenant stack makes, a JSON document whose `field` "password" holds it); the data plane only
      reads it and sets it on the role.
    """

    secret_name: str
    generated_by: Literal["module", "vault"] = "module"
    field: str | None = None  # the JSON field holding the password when the secret is a JSON document
    kind: Literal["password"] = "password"

    def __post_init__(self) -> None:
        if not isinstance(self.secret_name, str) or not self.secret_name:
            raise InvalidInput(f"auth.secret_name {self.secret_name!r} must be a non-empty string")
        if self.generated_by not in ("module", "vault"):
            raise InvalidInput(f"auth.generated_by {self.generated_by!r} is not 'module' or 'vault'")
        if self.generated_by == "module" and self.field is not None:
            raise InvalidInput("auth.field: a password the module generates is stored as plain text, not JSON")


Auth = AwsIamAuth | AzureEntraAuth | GcpIamAuth | PasswordAuth

AUTH_FOR_CLOUD: dict[str, tuple[type, ...]] = {
    "aws": (AwsIamAuth,),
    "azure": (AzureEntraAuth,),
    "gcp": (GcpIamAuth,),
    "oci": (PasswordAuth,),
    "postgres": (PasswordAuth,),
}


@dataclass(frozen=True)
class TenantDatabase:
    """One tenant's database on a shared PostgreSQL server, and the roles around it.

    owner_role        NOLOGIN; owns the database and its `public` schema, so every privilege inside
                      the database flows from it
    login_role        what the workload is: member of the owner role, CONNECT on its own database
                      only, `connection_limit` connections; on GCP a NOLOGIN group the Cloud SQL IAM
                      user is made a member of (that user is what logs in)
    connection_limit  the plan's `db_connections`
    """

    tenant: str
    cell: str | None
    cloud: CloudName
    database: str
    owner_role: str
    login_role: str
    connection_limit: int
    auth: Auth

    def __post_init__(self) -> None:
        tenant = self.tenant
        if not isinstance(tenant, str) or not tenant:
            raise InvalidInput(f"tenant {tenant!r} must be a non-empty tenant id")
        if self.cloud not in CLOUDS:
            raise InvalidInput(f"cloud {self.cloud!r} is not one of {', '.join(CLOUDS)}", tenant=tenant)
        for field in ("database", "owner_role", "login_role"):
            value = getattr(self, field)
            _check(field, value, identifier_problem(value), tenant)
        if len({self.database, self.owner_role, self.login_role}) != 3:
            raise InvalidInput(
                f"database, owner_role and login_role must differ (got {self.database!r}, {self.owner_role!r}, "
                f"{self.login_role!r})", tenant=tenant,
            )
        limit = self.connection_limit
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_CONNECTION_LIMIT:
            raise InvalidInput(
                f"connection_limit {limit!r} must be a whole number from 1 to {MAX_CONNECTION_LIMIT} (the plan's "
                "db_connections)", tenant=tenant,
            )
        expected = AUTH_FOR_CLOUD[self.cloud]
        if not isinstance(self.auth, expected):
            names = " or ".join(kind.__name__ for kind in expected)
            raise InvalidInput(
                f"auth {type(self.auth).__name__} does not fit cloud {self.cloud!r}: it needs {names}", tenant=tenant
            )
        if isinstance(self.auth, GcpIamAuth) and self.auth.iam_user in (self.owner_role, self.login_role):
            raise InvalidInput("the Cloud SQL IAM user cannot be the owner or login role", tenant=tenant)

    @property
    def login_identities(self) -> tuple[str, ...]:
        """The roles that actually log in (and so get LOGIN, the connection limit and suspension)."""
        if isinstance(self.auth, GcpIamAuth):
            return (self.auth.iam_user,)
        return (self.login_role,)

    @property
    def login_role_logs_in(self) -> bool:
        """Whether `login_role` is itself a login (False on GCP, where it is the IAM user's group)."""
        return not isinstance(self.auth, GcpIamAuth)

    @property
    def own_roles(self) -> tuple[str, ...]:
        """The roles the data plane creates and, at retention end, drops (never the IAM user)."""
        return (self.login_role, self.owner_role)


@dataclass(frozen=True)
class TenantRoleNames:
    database: str
    owner_role: str
    login_role: str


def tenant_role_names(org: str, tenant_id: str, isolation: str) -> TenantRoleNames:
    """The physical names of a tenant's database and roles, from the project's naming module:
    `<org>_<tenant>_<s|b|p>_db`, `..._owner`, `..._app` (the same `database` and `db_user` every
    cloud's `tenant_names` gives; the owner role uses the same rule with the purpose `owner`)."""
    if isolation not in SHAPE_TAGS:
        raise InvalidInput(f"isolation {isolation!r} is not one of {', '.join(SHAPE_TAGS)}", tenant=tenant_id)
    tag = SHAPE_TAGS[isolation]

    def name(purpose: str) -> str:
        return physical_name("postgres.identifier", org, tenant_id, f"{tag}-{purpose}")

    return TenantRoleNames(database=name("db"), owner_role=name("owner"), login_role=name("app"))


def tenant_database(
    *, org: str, tenant: str, cell: str | None, cloud: CloudName, isolation: str, connection_limit: int, auth: Auth
) -> TenantDatabase:
    """A TenantDatabase with the names the naming module derives (what the CLI and workflows build)."""
    names = tenant_role_names(org, tenant, isolation)
    return TenantDatabase(
        tenant=tenant, cell=cell, cloud=cloud, database=names.database, owner_role=names.owner_role,
        login_role=names.login_role, connection_limit=connection_limit, auth=auth,
    )


# --- the operator's admin connection ------------------------------------------------------------------

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class AdminConnection:
    """Where and as whom the operator's admin sessions connect. Holds no password: `password_secret`
    names it in the secret store (None: libpq finds it itself, e.g. PGPASSWORD or a mounted
    ~/.pgpass, or the server trusts the connection). `password_field` is the JSON field holding it
    when the secret is a JSON document (the RDS-managed master secret: "password").

    Cluster-wide statements (roles, CREATE/DROP DATABASE, the Azure `pgaadauth_*` functions, which
    exist only in the `postgres` database) run on `dbname`; statements inside a tenant database run
    on a second session to that database with the same credentials.
    """

    host: str
    port: int = 5432
    dbname: str = "postgres"
    user: str = "postgres"
    password_secret: str | None = None
    password_field: str | None = None
    sslmode: str = "require"
    connect_timeout: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise InvalidInput(f"admin host {self.host!r} must be a host name or address")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise InvalidInput(f"admin port {self.port!r} must be a TCP port (1-65535)")
        if not isinstance(self.dbname, str) or not self.dbname:
            raise InvalidInput(f"admin dbname {self.dbname!r} must be a database name")
        if not isinstance(self.user, str) or not self.user:
            raise InvalidInput(f"admin user {self.user!r} must be a role name")
        if self.sslmode not in SSL_MODES:
            raise InvalidInput(f"admin sslmode {self.sslmode!r} is not one of {', '.join(SSL_MODES)}")
        if isinstance(self.connect_timeout, bool) or not isinstance(self.connect_timeout, int) \
                or self.connect_timeout < 1:
            raise InvalidInput(f"admin connect_timeout {self.connect_timeout!r} must be a whole number of seconds >= 1")

    @property
    def endpoint(self) -> str:
        """host:port, as messages show it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def for_database(self, dbname: str) -> AdminConnection:
        """The same credentials on another database (a tenant's, for the steps inside it)."""
        return replace(self, dbname=dbname)

    @classmethod
    def from_url(
        cls, url: str, *, password_secret: str | None = None, password_field: str | None = None,
        sslmode: str | None = None, connect_timeout: int = 10,
    ) -> AdminConnection:
        """Settings from a `postgresql://user@host:port/dbname?sslmode=...` URL.

        A URL carrying a password is refused (a command line or a job spec is no place for one):
        put the password in the secret store and name it with `password_secret`. The message never
        repeats the URL."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
            raise InvalidInput("the admin URL must start with postgresql:// (the URL is not repeated here)")
        if parts.password is not None:
            raise InvalidInput(
                "the admin URL carries a password: put the password in the secret store and name it with "
                "password_secret (or PGPASSWORD in the job's environment); the URL is not repeated here"
            )
        query = parse_qs(parts.query)
        mode = sslmode or (query.get("sslmode") or ["require"])[0]
        try:
            port = parts.port or 5432
        except ValueError:
            raise InvalidInput("the admin URL's port is not a number") from None
        return cls(
            host=parts.hostname or "", port=port, dbname=unquote(parts.path.lstrip("/")) or "postgres",
            user=unquote(parts.username or "postgres"), password_secret=password_secret,
            password_field=password_field, sslmode=mode, connect_timeout=connect_timeout,
        )

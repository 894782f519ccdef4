"""A catalog tenant's database and the admin connection that reaches it: the one place the `db`
commands and the lifecycle workflows build them.

    target_for(catalog, tenant_id, outputs)   Target: the tenant's TenantDatabase, its isolation and
                                              the server it lives on
    AdminSettings.from_env(target, environ)   where and as whom the operator connects (PAYBILL_DB_*)
    Target.to_dict() / Target.from_dict()     the plain record the workflows keep (no secret in it),
                                              so retention end can drop a database whose tenant left
                                              the catalog's placements

Which server:

    pooled   the cell's shared server (the tenant's placement): server "cell:<cell id>"
    bridge   the tenant's own instance, in its cell's network:   server "tenant:<tenant id>"
    silo     the tenant's own instance, in its own network:      server "tenant:<tenant id>"

Names come from the naming module (`tenant_role_names`: <org>_<tenant>_<p|b|s>_db, _owner, _app, the
same `database` and `db_user` the stacks use); the login's connection limit is the plan's
`limits.db_connections`. The authentication mapping per cloud, from catalog facts or, where only the
cloud knows it, from the tenant stack's outputs (`pulumi stack output --json`; no secret is needed):

    aws      rds_iam membership (nothing to look up)
    azure    the tenant identity's object id: outputs identity.principal_id (required), its name
             identity.identity_name (else the name the naming module gives it)
    gcp      outputs identity.service_account, else <naming service_account>@<accounts.gcp_project>
             .iam.gserviceaccount.com
    oci      the password OCI Vault generated for the login's own secret (a JSON document, field
             "password"): outputs database.secret_id, else the secret's name in the store's vault
             (pooled: the tenant's secret, names["secret"]; bridge and silo: the app secret beside the
             instance, names["db_app_secret"], never the administrator's)

The admin connection (AdminSettings) comes from the environment. Each variable may be given for one
server, which wins over the general one: `PAYBILL_DB_ADMIN_URL__CELL_AWS_EUW1_A` (a cell's server)
or `PAYBILL_DB_ADMIN_URL__TENANT_HOOLI` (a bridge or silo tenant's own instance), else
`PAYBILL_DB_ADMIN_URL`:

    PAYBILL_DB_ADMIN_URL            postgresql://<admin user>@<host>:<port>/<dbname>?sslmode=require
                                    (never with a password: such a URL is refused)
    PAYBILL_DB_ADMIN_SECRET         the name of the secret holding the admin's password (unset: libpq
                                    finds it, e.g. PGPASSWORD or ~/.pgpass)
    PAYBILL_DB_ADMIN_SECRET_FIELD   the JSON field holding it (the RDS-managed secret: password)
    PAYBILL_DB_SECRET_STORE         where secrets are read (and, for generated passwords, kept):
                                      env                     PAYBILL_SECRET_<NAME> variables (default)
                                      aws[:<region>]          AWS Secrets Manager
                                      gcp:<project>           Google Secret Manager
                                      oci:<vault ocid>[?compartment=<ocid>&key=<ocid>]   OCI Vault
                                      azure-keyvault:<vault url>                         Azure Key Vault
                                      azure-entra             an Entra token for the admin (Azure)
                                      none                    no store
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from paybill_iac.dataplane.errors import DataPlaneError, InvalidInput
from paybill_iac.dataplane.model import (
    AdminConnection,
    Auth,
    AwsIamAuth,
    AzureEntraAuth,
    GcpIamAuth,
    PasswordAuth,
    TenantDatabase,
    tenant_database,
)
from paybill_iac.dataplane.secretstore import (
    AwsSecretsManagerStore,
    AzureEntraTokenSource,
    AzureKeyVaultStore,
    EnvSecretStore,
    GcpSecretManagerStore,
    OciVaultStore,
    SecretStore,
)
from paybill_iac.errors import UsageError
from paybill_iac.model import naming
from paybill_iac.model.catalog import Catalog

__all__ = ["AdminSettings", "Target", "target_for"]

GCP_SA_DOMAIN = "iam.gserviceaccount.com"
OCI_PASSWORD_FIELD = "password"  # the field OCI Vault's secret template puts the generated password in
OCI_LOGIN_SECRET = {"pooled": "secret", "bridge": "db_app_secret", "silo": "db_app_secret"}
"""The name (naming key) of the OCI Vault secret whose generated password an OCI login uses, per isolation."""
AZURE_TOKEN_SECRET = "entra-token"  # AzureEntraTokenSource answers every name with a fresh token

ADMIN_URL = "PAYBILL_DB_ADMIN_URL"
ADMIN_SECRET = "PAYBILL_DB_ADMIN_SECRET"
ADMIN_SECRET_FIELD = "PAYBILL_DB_ADMIN_SECRET_FIELD"
SECRET_STORE = "PAYBILL_DB_SECRET_STORE"
STORE_KINDS = ("env", "aws[:<region>]", "gcp:<project>", "oci:<vault ocid>", "azure-keyvault:<vault url>",
               "azure-entra", "none")


@dataclass(frozen=True)
class Target:
    """One tenant's database (`database`), its isolation model and the server it lives on
    ("cell:<id>" for a pooled tenant, "tenant:<id>" for a bridge or silo tenant's own instance)."""

    database: TenantDatabase
    isolation: str
    server: str

    @property
    def tenant(self) -> str:
        return self.database.tenant

    @property
    def cell(self) -> str | None:
        return self.database.cell

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON): names, the connection limit and the auth mapping's public facts."""
        db = self.database
        auth: dict[str, Any] = {"kind": db.auth.kind}
        if isinstance(db.auth, AzureEntraAuth):
            auth.update(object_id=db.auth.object_id, principal_name=db.auth.principal_name,
                        object_type=db.auth.object_type)
        elif isinstance(db.auth, GcpIamAuth):
            auth.update(service_account_email=db.auth.service_account_email)
        elif isinstance(db.auth, PasswordAuth):
            auth.update(secret_name=db.auth.secret_name, generated_by=db.auth.generated_by, field=db.auth.field)
        return {"tenant": db.tenant, "cell": db.cell, "cloud": db.cloud, "database": db.database,
                "owner_role": db.owner_role, "login_role": db.login_role, "connection_limit": db.connection_limit,
                "auth": auth, "isolation": self.isolation, "server": self.server}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        try:
            auth_data = dict(data["auth"])
            kind = auth_data.pop("kind")
            auth: Auth
            if kind == "aws-iam":
                auth = AwsIamAuth()
            elif kind == "azure-entra":
                auth = AzureEntraAuth(**auth_data)
            elif kind == "gcp-iam":
                auth = GcpIamAuth(**auth_data)
            elif kind == "password":
                auth = PasswordAuth(**auth_data)
            else:
                raise InvalidInput(f"a recorded target has an unknown auth kind {kind!r}")
            database = TenantDatabase(
                tenant=data["tenant"], cell=data["cell"], cloud=data["cloud"], database=data["database"],
                owner_role=data["owner_role"], login_role=data["login_role"],
                connection_limit=data["connection_limit"], auth=auth)
            return cls(database, str(data["isolation"]), str(data["server"]))
        except (KeyError, TypeError) as error:
            raise InvalidInput(f"a recorded target is incomplete ({type(error).__name__}: {error})") from None


def _tenant_or_fail(catalog: Catalog, tenant_id: str) -> Any:
    tenant = catalog.tenants.get(tenant_id)
    if tenant is None:
        names = sorted(catalog.tenants)
        listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") if names else "none"
        raise UsageError(f"unknown tenant '{tenant_id}' (tenants: {listed})")
    return tenant


def target_for(catalog: Catalog, tenant_id: str, outputs: Mapping[str, Any] | None = None) -> Target:
    """The tenant's database as `catalog` describes it (its plan, placement and cloud); `outputs` are
    its stack's outputs, needed on Azure (the identity's object id) and used where given elsewhere."""
    tenant = _tenant_or_fail(catalog, tenant_id)
    plan = catalog.plans[tenant.plan]
    isolation = plan.isolation
    cell = catalog.placements.get(tenant_id)
    if isolation == "pooled" and cell is None:
        why = ("it was offboarded and left its cell" if tenant.state == "offboarded"
               else "run `paybill-iac generate` to place it")
        raise UsageError(f"tenant '{tenant_id}' is pooled but placed on no cell, so it has no database server "
                         f"({why})")
    org = catalog.settings.org
    found = dict(outputs or {})
    auth = _auth(catalog, tenant_id, tenant.cloud, isolation, cell, found)
    try:
        database = tenant_database(org=org, tenant=tenant_id, cell=cell, cloud=tenant.cloud, isolation=isolation,
                                   connection_limit=plan.limits.db_connections, auth=auth)
    except DataPlaneError as error:
        raise _located(error, tenant_id, cell) from None
    return Target(database, isolation, f"cell:{cell}" if isolation == "pooled" else f"tenant:{tenant_id}")


def _output(outputs: Mapping[str, Any], part: str, key: str) -> Any:
    values = outputs.get(part)
    found = values.get(key) if isinstance(values, Mapping) else None
    return None if found in (None, "", "[secret]") else found


def _auth(catalog: Catalog, tenant_id: str, cloud: str, isolation: str, cell: str | None,
          outputs: Mapping[str, Any]) -> Auth:
    org = catalog.settings.org
    names = naming.tenant_names(cloud, org, tenant_id, isolation)
    try:
        if cloud == "aws":
            return AwsIamAuth()
        if cloud == "azure":
            object_id = _output(outputs, "identity", "principal_id")
            if object_id is None:
                raise InvalidInput(
                    "the Microsoft Entra object id of the tenant's identity is needed: give the tenant stack's "
                    "outputs (identity.principal_id; `pulumi stack output --json`), which exist once the stack "
                    "is up")
            name = _output(outputs, "identity", "identity_name") or names["identity"]
            return AzureEntraAuth(object_id=str(object_id), principal_name=str(name))
        if cloud == "gcp":
            email = _output(outputs, "identity", "service_account")
            if email is None:
                project = catalog.settings.accounts.gcp_project
                if project is None:
                    raise InvalidInput("catalog.yaml names no accounts.gcp_project, so the tenant's service account "
                                       "is unknown; give the tenant stack's outputs (identity.service_account)")
                email = f"{names['service_account']}@{project}.{GCP_SA_DOMAIN}"
            return GcpIamAuth(service_account_email=str(email))
        # oci: the password OCI Vault generated into the login's own secret (pooled: the tenant's secret on the
        # cell; silo and bridge: the app secret beside the instance, never the administrator's)
        secret = _output(outputs, "database", "secret_id") or names[OCI_LOGIN_SECRET[isolation]]
        return PasswordAuth(secret_name=str(secret), generated_by="vault", field=OCI_PASSWORD_FIELD)
    except DataPlaneError as error:
        raise _located(error, tenant_id, cell) from None


def _located(error: DataPlaneError, tenant: str, cell: str | None) -> DataPlaneError:
    """The error, naming the tenant and its cell (a model check may have named the tenant only)."""
    if error.cell is None:
        error.cell = cell
    return error.locate(tenant, cell, None)


# --- the admin connection ----------------------------------------------------------------------------


def _server_suffix(server: str) -> str:
    """"cell:aws-euw1-a" -> "__CELL_AWS_EUW1_A" (the per-server variables' suffix)."""
    return "__" + re.sub(r"[^A-Za-z0-9]", "_", server).upper()


@dataclass(frozen=True)
class AdminSettings:
    """The operator's admin connection for one server, as the environment (or the command line) gives
    it. `sources` names the variable each value came from, for messages."""

    url: str | None
    secret: str | None = None
    secret_field: str | None = None
    store: str = "env"
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, target: Target, environ: Mapping[str, str] | None = None, *, url: str | None = None,
                 secret: str | None = None, secret_field: str | None = None,
                 store: str | None = None) -> AdminSettings:
        """Settings for `target`'s server: each value given here, else its per-server variable, else
        the general one."""
        env = os.environ if environ is None else environ
        suffix = _server_suffix(target.server)
        sources: dict[str, str] = {}

        def pick(given: str | None, name: str) -> str | None:
            if given:
                sources[name] = "the command line"
                return given
            for variable in (name + suffix, name):
                value = env.get(variable)
                if value:
                    sources[name] = variable
                    return value
            return None

        return cls(url=pick(url, ADMIN_URL), secret=pick(secret, ADMIN_SECRET),
                   secret_field=pick(secret_field, ADMIN_SECRET_FIELD), store=pick(store, SECRET_STORE) or "env",
                   sources=sources)

    def connection(self, target: Target) -> AdminConnection:
        """The AdminConnection (no password in it: only the secret's name)."""
        db = target.database
        if not self.url:
            variable = ADMIN_URL + _server_suffix(target.server)
            raise InvalidInput(f"no admin connection for server {target.server}: set {variable} (this server) or "
                               f"{ADMIN_URL} to postgresql://<admin>@<host>:<port>/<dbname>",
                               tenant=db.tenant, cell=db.cell)
        secret = self.secret
        if secret is None and self.store == "azure-entra":
            secret = AZURE_TOKEN_SECRET
        try:
            return AdminConnection.from_url(self.url, password_secret=secret, password_field=self.secret_field)
        except DataPlaneError as error:
            where = self.sources.get(ADMIN_URL, ADMIN_URL)
            error.reason = f"{error.reason} (from {where})"
            raise _located(error, db.tenant, db.cell) from None

    def secret_store(self, target: Target) -> SecretStore | None:
        """The store the admin's password (and a password role's) is read from."""
        spec = self.store
        kind, _, rest = spec.partition(":")
        if kind == "env" and not rest:
            return EnvSecretStore()
        if kind == "none" and not rest:
            return None
        if kind == "aws":
            return AwsSecretsManagerStore(region=rest or None)
        if kind == "gcp" and rest:
            return GcpSecretManagerStore(project=rest)
        if kind == "oci" and rest:
            vault, _, query = rest.partition("?")
            options = {key: values[0] for key, values in parse_qs(query).items()}
            return OciVaultStore(vault_id=vault, compartment_id=options.get("compartment"), key_id=options.get("key"))
        if kind == "azure-keyvault" and rest:
            return AzureKeyVaultStore(vault_url=rest)
        if kind == "azure-entra" and not rest:
            return AzureEntraTokenSource()
        where = self.sources.get(SECRET_STORE, SECRET_STORE)
        raise InvalidInput(f"secret store {spec!r} (from {where}) is not one of: {', '.join(STORE_KINDS)}",
                           tenant=target.tenant, cell=target.cell)

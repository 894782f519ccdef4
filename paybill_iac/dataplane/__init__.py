"""The tenant data plane: the PostgreSQL bootstrap that makes pooled and bridge isolation real.

Pooled and bridge tenants share a cell's PostgreSQL server. For each of them the data plane keeps,
idempotently:

    owner role   <org>_<tenant>_<p|b|s>_owner   NOLOGIN; owns the database and its public schema
    database     <org>_<tenant>_<p|b|s>_db      owned by the owner role; REVOKE ALL ... FROM PUBLIC
                                                (PostgreSQL grants CONNECT and TEMPORARY to PUBLIC on
                                                every new database)
    login role   <org>_<tenant>_<p|b|s>_app     member of the owner role, CONNECT on its own database
                                                only, CONNECTION LIMIT = the plan's db_connections;
                                                its sessions there start as the owner role (ALTER
                                                ROLE ... IN DATABASE ... SET role), so every object
                                                the workload creates belongs to the owner role
    schema       public, owned by the owner role, REVOKE ALL ON SCHEMA public FROM PUBLIC

Why `public` owned by the owner role rather than a separate tenant schema: the database already is
the tenant's boundary (CONNECT is revoked from PUBLIC, so no other tenant can even open it), and
every client, ORM and migration tool finds `public` on the default search_path with no per-role
configuration. Owning it outright (PostgreSQL 15+ gives it to pg_database_owner, older versions to
the bootstrap superuser, with CREATE for PUBLIC) makes the layout the same on every version and
cloud, and revoking PUBLIC's rights on it leaves only the owner role, and its members, inside.

The cloud's authentication mapping (one strategy per cloud):

    aws       GRANT rds_iam TO <login>: the workload logs in with an IAM token (rds-db:connect)
    azure     the login role is a Microsoft Entra principal, created with
              pgaadauth_create_principal_with_oid(role, object id, 'service', false, false) and bound
              to the tenant identity's object id (a SECURITY LABEL binds an existing role)
    gcp       the Cloud SQL IAM user (the service account's email without .gserviceaccount.com),
              created by the Cloud SQL API with the tenant stack, is made a member of the login role
              (then a NOLOGIN group) and carries the connection limit and the suspension
    oci       a password role; the password is the one OCI Vault generated for the tenant stack's
              secret (generated_by="vault"), read from the vault and set on the role
    postgres  a password role; the data plane generates the password (secrets.token_urlsafe), puts it
              in the SecretStore first, then sets it on the role

Passwords reach the server only as SCRAM-SHA-256 verifiers computed on the client (so not even the
server's statement log sees one), are never logged, reported or shown in an exception, and a keyed
fingerprint on the role (COMMENT ON ROLE) lets a later run see the role already has the stored one.

Operations (paybill_iac.dataplane.ops): apply, suspend, resume, offboard (NOLOGIN, sessions ended,
optional final dump hook, database kept), drop (retention end: irreversible; the workflows gate it,
a human approval when an agent acts), rotate_password, status (read-only). Each step checks, then
acts only when needed; every operation reports the steps that changed something and those already
in place, with the redacted SQL. `dry_run=True` checks only and lists what would run.

The admin connection (AdminConnection: host, port, dbname, user, password_secret) is
infrastructure, never readable by a tenant identity:

    aws       the RDS master user; its password is the RDS-managed secret in Secrets Manager
              (password_secret=<master_user_secret_arn>, password_field="password")
    azure     the server's Microsoft Entra administrator (the cell's admin managed identity); the
              server refuses passwords, so the "password" is an Entra token (AzureEntraTokenSource);
              dbname must be "postgres" (the pgaadauth functions live only there)
    gcp       the built-in `postgres` user, with a generated password kept in Secret Manager
              (GcpSecretManagerStore), readable only by the operator's service account
    oci       the DB system's administrator; its password is the secret OCI Vault generated
              (OciVaultStore), readable only by the operator's dynamic group
    postgres  any role with CREATEROLE and CREATEDB (or a superuser); password in any store

The admin must be able to terminate the tenant's sessions: superuser or pg_signal_backend (granted
to the clouds' admin roles).

Where it runs: cell servers have private endpoints only, so the data plane runs inside the cell's
network, as the same CLI in a container job (a Kubernetes Job, an ECS task, a Cloud Run job, an OCI
container instance) with the job's workload identity reading the admin secret. Never by opening the
database to the internet, never from a laptop. For example, on Kubernetes:

    apiVersion: batch/v1
    kind: Job
    metadata: {name: paybill-db-apply-acme}
    spec:
      backoffLimit: 2                      # a re-run completes whatever a failed run left
      template:
        spec:
          serviceAccountName: paybill-dataplane   # workload identity that may read the admin secret
          restartPolicy: Never
          containers:
          - name: dataplane
            image: <registry>/paybill-iac:<version>
            args: ["db", "apply", "--tenant", "acme"]
            env:
            - {name: PAYBILL_SECRET_ADMIN, valueFrom: {secretKeyRef: {name: cell-a-admin, key: password}}}

(ECS: `aws ecs run-task --network-configuration awsvpcConfiguration={subnets=[<cell private
subnets>],securityGroups=[<sg allowed to 5432>],assignPublicIp=DISABLED} --overrides ...`; Cloud Run:
a job with Direct VPC egress into the cell's network.)

Errors: paybill_iac.dataplane.errors (DataPlaneError and its tree), each naming the tenant, the cell
and the endpoint host:port.
"""

from __future__ import annotations

from paybill_iac.dataplane.dump import pg_dump_hook
from paybill_iac.dataplane.errors import (
    AuthMappingMissing,
    DataPlaneError,
    DumpFailed,
    InvalidInput,
    LockHeld,
    SecretError,
    SecretMissing,
    SecretStoreUnavailable,
    ServerUnreachable,
    StatementFailed,
)
from paybill_iac.dataplane.model import (
    AdminConnection,
    Auth,
    AwsIamAuth,
    AzureEntraAuth,
    GcpIamAuth,
    PasswordAuth,
    TenantDatabase,
    TenantRoleNames,
    identifier_problem,
    tenant_database,
    tenant_role_names,
)
from paybill_iac.dataplane.ops import (
    DumpHook,
    apply,
    drop,
    new_password,
    offboard,
    resume,
    rotate_password,
    status,
    suspend,
)
from paybill_iac.dataplane.report import DataPlaneReport, LoginStatus, TenantDatabaseStatus
from paybill_iac.dataplane.secretstore import (
    AwsSecretsManagerStore,
    AzureEntraTokenSource,
    AzureKeyVaultStore,
    EnvSecretStore,
    GcpSecretManagerStore,
    InMemorySecretStore,
    OciVaultStore,
    SecretStore,
    read_secret,
)

__all__ = [
    "AdminConnection", "Auth", "AuthMappingMissing", "AwsIamAuth", "AwsSecretsManagerStore", "AzureEntraAuth",
    "AzureEntraTokenSource", "AzureKeyVaultStore", "DataPlaneError", "DataPlaneReport", "DumpFailed", "DumpHook",
    "EnvSecretStore", "GcpIamAuth", "GcpSecretManagerStore", "InMemorySecretStore", "InvalidInput", "LockHeld",
    "LoginStatus", "OciVaultStore", "PasswordAuth", "SecretError", "SecretMissing", "SecretStore",
    "SecretStoreUnavailable", "ServerUnreachable", "StatementFailed", "TenantDatabase", "TenantDatabaseStatus",
    "TenantRoleNames", "apply", "drop", "identifier_problem", "new_password", "offboard", "pg_dump_hook",
    "read_secret", "resume", "rotate_password", "status", "suspend", "tenant_database", "tenant_role_names",
]

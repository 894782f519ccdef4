"""The executor: runs the data plane's steps against a server through the operator's admin sessions.

Every operation is a list of steps; every step reads the catalog first and acts only when its state
is not yet in place, so running an operation twice changes nothing the second time, and a run that
stopped anywhere (a failed statement, a killed job) is completed by the next run. Each statement
runs on its own (autocommit): CREATE/DROP DATABASE cannot run inside a transaction, and no step
relies on another statement of the same run having committed with it.

Operations on one tenant database are serialised with a session advisory lock on the admin
session (a second operation fails fast with LockHeld rather than interleaving).

Nothing here logs, reports or raises a password: statements are logged and reported in their
redacted form, server messages are scrubbed of every secret the statement carried, and psycopg's
exceptions are never chained (their text could quote a statement).
"""

from __future__ import annotations

import contextlib
import logging
import secrets as _random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from paybill_iac.dataplane import sql as q
from paybill_iac.dataplane.errors import (
    AuthMappingMissing,
    DataPlaneError,
    DumpFailed,
    InvalidInput,
    LockHeld,
    SecretError,
    SecretMissing,
    ServerUnreachable,
    StatementFailed,
)
from paybill_iac.dataplane.model import (
    AdminConnection,
    AwsIamAuth,
    AzureEntraAuth,
    GcpIamAuth,
    PasswordAuth,
    TenantDatabase,
)
from paybill_iac.dataplane.report import DataPlaneReport, LoginStatus, TenantDatabaseStatus
from paybill_iac.dataplane.secretstore import SecretStore, read_secret

__all__ = ["DumpHook", "apply", "drop", "new_password", "offboard", "resume", "rotate_password", "status",
           "suspend"]

logger = logging.getLogger("paybill_iac.dataplane")

APPLICATION_NAME = "paybill-iac-dataplane"
PASSWORD_BYTES = 32  # secrets.token_urlsafe(32): 43 characters, 256 bits
TERMINATE_WAIT_MS = 5000

DumpHook = Callable[[str, AdminConnection], None]
"""Called by `offboard` with the tenant database's name and where to reach it (the admin's
settings on that database; the hook reads the password from its own store, e.g. `pg_dump_hook`)."""

Row = tuple[Any, ...]
Conn = psycopg.Connection[Row]

# The attributes the data plane wants on its roles (see sql.ATTRIBUTE_KEYWORDS).
_NEVER = {"rolsuper": False, "rolcreatedb": False, "rolcreaterole": False, "rolreplication": False,
          "rolbypassrls": False}


def new_password() -> str:
    """A fresh password for a password role (256 random bits, URL-safe)."""
    return _random.token_urlsafe(PASSWORD_BYTES)


def _scrub(text: str, hidden: Sequence[str | None]) -> str:
    for secret in hidden:
        if secret:
            text = text.replace(secret, q.REDACTED)
    return text


def _server_message(error: psycopg.Error, hidden: Sequence[str | None]) -> str:
    """The server's primary message (never the LINE/caret excerpt that quotes the statement)."""
    primary = getattr(getattr(error, "diag", None), "message_primary", None)
    text = primary or " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return _scrub(text or type(error).__name__, hidden)


class _Session:
    """One operation on one tenant database: the admin sessions, the steps' record, the lock."""

    def __init__(self, operation: str, target: TenantDatabase, admin: AdminConnection, store: SecretStore | None,
                 *, dry_run: bool = False) -> None:
        self.operation = operation
        self.target = target
        self.admin = admin
        self.store = store
        self.dry_run = dry_run
        self.endpoint = admin.endpoint
        self.changed: list[str] = []
        self.unchanged: list[str] = []
        self.statements: list[str] = []
        self.notes: list[str] = []
        self._admin: Conn | None = None
        self._tenant: Conn | None = None
        self._version: int | None = None
        self._locked: int | None = None

    # --- context ---------------------------------------------------------------------------------------

    def fail(self, kind: type[DataPlaneError], reason: str) -> DataPlaneError:
        return kind(reason, tenant=self.target.tenant, cell=self.target.cell, endpoint=self.endpoint)

    def _admin_password(self) -> str | None:
        name = self.admin.password_secret
        if name is None:
            return None
        if self.store is None:
            raise self.fail(SecretMissing, f"the admin password secret '{name}' is named but no secret store was given")
        failure: tuple[type[DataPlaneError], str] | None = None
        try:
            return read_secret(self.store, name, self.admin.password_field)
        except SecretError as error:
            failure = (type(error), error.reason)
        kind, reason = failure
        raise self.fail(kind, f"cannot read the admin password (secret '{name}'): {reason}")

    def _connect(self, dbname: str) -> Conn:
        password = self._admin_password()
        failure: str | None = None
        try:
            conn: Conn = psycopg.connect(
                host=self.admin.host, port=self.admin.port, dbname=dbname, user=self.admin.user, password=password,
                sslmode=self.admin.sslmode, connect_timeout=self.admin.connect_timeout,
                application_name=APPLICATION_NAME, autocommit=True,
            )
        except psycopg.Error as error:
            failure = _server_message(error, [password])
        finally:
            password = None
        if failure is not None:
            raise self.fail(
                ServerUnreachable,
                f"cannot open a session on database '{dbname}' as '{self.admin.user}': {failure}",
            )
        return conn

    @property
    def admin_conn(self) -> Conn:
        if self._admin is None:
            self._admin = self._connect(self.admin.dbname)
        return self._admin

    def tenant_conn(self) -> Conn:
        if self._tenant is None:
            self._tenant = self._connect(self.target.database)
        return self._tenant

    def own_pids(self) -> list[int]:
        return [conn.info.backend_pid for conn in (self._admin, self._tenant) if conn is not None]

    def close(self) -> None:
        if self._locked is not None and self._admin is not None and not self._admin.closed:
            # released explicitly (closing alone frees it only when the server has seen the session
            # end, which a next operation opened right away may beat)
            with contextlib.suppress(psycopg.Error):
                self._admin.execute(q.advisory_unlock(self._locked).query)
        self._locked = None
        for conn in (self._tenant, self._admin):
            if conn is not None:
                conn.close()
        self._tenant = self._admin = None

    def lock(self) -> None:
        """Serialise operations on this tenant database (a session advisory lock, released in close())."""
        if self.dry_run:
            return
        key = q.lock_key(self.target.database)
        row = self.read(q.try_advisory_lock(key), step="lock")
        if not row or not row[0]:
            raise self.fail(LockHeld, f"another data-plane operation on database '{self.target.database}' is running; "
                                      "retry when it has finished")
        self._locked = key

    @property
    def version(self) -> int:
        if self._version is None:
            row = self.read(q.server_version(), step="server_version")
            self._version = int(row[0]) if row else 0
        return self._version

    # --- statements --------------------------------------------------------------------------------------

    def _execute(self, conn: Conn, step: str, statement: q.Statement) -> list[Row]:
        failure: tuple[str, str | None] | None = None
        rows: list[Row] = []
        try:
            cursor = conn.execute(statement.query)
            rows = cursor.fetchall() if cursor.description is not None else []
        except psycopg.Error as error:
            failure = (_server_message(error, statement.secrets), error.sqlstate)
        if failure is not None:
            message, sqlstate = failure
            text = statement.text()
            raise StatementFailed(
                f"step '{step}' failed: {message} [SQLSTATE {sqlstate or 'unknown'}]; statement: {text}",
                step=step, statement=text, sqlstate=sqlstate, tenant=self.target.tenant, cell=self.target.cell,
                endpoint=self.endpoint,
            )
        return rows

    def read(self, statement: q.Statement, *, step: str, conn: Conn | None = None) -> Row | None:
        """Run a check (read-only, also in a dry run); its first row or None."""
        logger.debug("%s check: %s", step, statement.text())
        rows = self._execute(conn or self.admin_conn, step, statement)
        return rows[0] if rows else None

    def read_all(self, statement: q.Statement, *, step: str, conn: Conn | None = None) -> list[Row]:
        logger.debug("%s check: %s", step, statement.text())
        return self._execute(conn or self.admin_conn, step, statement)

    def act(self, step: str, statement: q.Statement, conn: Callable[[], Conn] | None = None) -> list[Row]:
        """Run an action (recorded in the report; only recorded in a dry run)."""
        text = statement.text()
        self.statements.append(text)
        logger.info("%s %s%s: %s", self.target.tenant, step, " (dry run)" if self.dry_run else "", text)
        if self.dry_run:
            return []
        return self._execute(conn() if conn is not None else self.admin_conn, step, statement)

    def ensure(self, step: str, in_place: bool, *statements: q.Statement,
               conn: Callable[[], Conn] | None = None) -> bool:
        """The check-then-act of one step: act only when not in place. True when it acted."""
        if in_place:
            self.unchanged.append(step)
            return False
        for statement in statements:
            self.act(step, statement, conn)
        self.changed.append(step)
        return True

    # --- reads the steps share ---------------------------------------------------------------------------

    def role(self, name: str) -> dict[str, Any] | None:
        row = self.read(q.role_info(name), step=f"role {name}")
        return dict(zip(q.ROLE_COLUMNS, row, strict=True)) if row else None

    def database(self) -> tuple[str, bool] | None:
        row = self.read(q.database_info(self.target.database), step="database")
        return (str(row[0]), bool(row[1])) if row else None

    def member(self, role: str, member: str) -> bool:
        row = self.read(q.is_member(role, member), step=f"membership {member} in {role}")
        return bool(row and row[0])

    def report(self) -> DataPlaneReport:
        return DataPlaneReport(
            operation=self.operation, tenant=self.target.tenant, cell=self.target.cell, endpoint=self.endpoint,
            database=self.target.database, dry_run=self.dry_run, changed=tuple(self.changed),
            unchanged=tuple(self.unchanged), statements=tuple(self.statements), notes=tuple(self.notes),
        )


@contextmanager
def _session(operation: str, target: TenantDatabase, admin: AdminConnection, store: SecretStore | None,
             *, dry_run: bool = False, lock: bool = True) -> Iterator[_Session]:
    if not isinstance(target, TenantDatabase):
        raise InvalidInput(f"target must be a TenantDatabase, got {type(target).__name__}")
    if not isinstance(admin, AdminConnection):
        raise InvalidInput(f"admin must be an AdminConnection, got {type(admin).__name__}", tenant=target.tenant)
    session = _Session(operation, target, admin, store, dry_run=dry_run)
    try:
        if lock:
            session.lock()
        yield session
    except DataPlaneError as error:
        # errors from below (a secret store) learn where they happened; never chained
        located = error.locate(target.tenant, target.cell, admin.endpoint)
        logger.warning("%s", located)
        raise
    finally:
        session.close()


def _diff(actual: dict[str, Any], wanted: dict[str, bool]) -> dict[str, bool]:
    return {column: value for column, value in wanted.items() if bool(actual[column]) != value}


# --- apply ----------------------------------------------------------------------------------------------


def apply(target: TenantDatabase, admin: AdminConnection, secrets: SecretStore | None = None, *,
          active: bool = True, dry_run: bool = False) -> DataPlaneReport:
    """Bring the tenant's database, roles, grants and authentication mapping to their desired state.

    `active` is whether the tenant may log in (False while the catalog says suspended or
    offboarding: apply then keeps or makes its logins NOLOGIN, so a plan change never resumes a
    suspended tenant). `dry_run` runs the checks only and reports the statements that would run.
    `secrets` is needed when the admin's password is in a store and for password roles."""
    with _session("apply", target, admin, secrets, dry_run=dry_run) as s:
        _owner_role(s)
        _admin_acts_as_owner(s)
        _database(s)
        _login_role(s, active)
        _auth(s, active)
        _default_role(s)
        _schema(s)
        return s.report()


def _owner_role(s: _Session) -> None:
    owner = s.target.owner_role
    info = s.role(owner)
    if info is None:
        s.ensure("owner_role", False, q.create_role(owner, login=False))
        return
    drift = _diff(info, {"rolcanlogin": False, **_NEVER})
    s.ensure("owner_role", not drift, q.alter_role_attributes(owner, drift))


def _admin_acts_as_owner(s: _Session) -> None:
    """A non-superuser admin (RDS, Azure, Cloud SQL, OCI) must be a member of the owner role to
    create a database it owns and to reach that database once PUBLIC lost CONNECT."""
    owner = s.target.owner_role
    grant = q.grant_role_to_current_user(owner, server_version=s.version)
    if s.dry_run and s.role(owner) is None:
        s.ensure("admin_member_of_owner", False, grant)
        return
    row = s.read(q.admin_can_act_as(owner, server_version=s.version), step="admin_member_of_owner")
    s.ensure("admin_member_of_owner", bool(row and row[0]), grant)


def _database(s: _Session) -> None:
    db, owner = s.target.database, s.target.owner_role
    info = s.database()
    if info is None:
        s.ensure("database", False, q.create_database(db, owner))
    else:
        s.ensure("database", info[0] == owner, q.alter_database_owner(db, owner))
    if info is None and s.dry_run:  # only planned: a new database grants PUBLIC CONNECT and TEMPORARY
        s.ensure("database_public_revoked", False, q.revoke_database_from_public(db))
        return
    public = s.read_all(q.database_grants(db, None), step="database_public_revoked")
    s.ensure("database_public_revoked", not public, q.revoke_database_from_public(db))


def _login_wanted(s: _Session, active: bool) -> tuple[dict[str, bool], int | None]:
    """The login role's attributes and connection limit (on GCP a NOLOGIN group without a limit)."""
    if s.target.login_role_logs_in:
        return {"rolcanlogin": active, **_NEVER, "rolinherit": True}, s.target.connection_limit
    return {"rolcanlogin": False, **_NEVER, "rolinherit": True}, None


def _login_role(s: _Session, active: bool) -> None:
    target = s.target
    login, owner, db = target.login_role, target.owner_role, target.database
    wanted, limit = _login_wanted(s, active)
    info = s.role(login)
    if info is None:
        if isinstance(target.auth, AzureEntraAuth):
            # The Entra principal IS the login role: created by Azure's function, bound to the object id.
            _require_azure_functions(s)
            s.ensure("login_role", False,
                     q.azure_create_principal(login, target.auth.object_id, target.auth.object_type))
        else:
            s.ensure("login_role", False, q.create_role(login, login=wanted["rolcanlogin"], connection_limit=limit))
        info = None if s.dry_run else s.role(login)
    else:
        s.ensure("login_role", True)
    if info is None:  # dry run: the role is only planned
        if isinstance(target.auth, AzureEntraAuth):  # Azure's function decides the new role's attributes
            s.ensure("login_attributes", False,
                     q.alter_role_attributes(login, {"rolcanlogin": wanted["rolcanlogin"]}, limit))
        else:  # CREATE ROLE above sets them
            s.ensure("login_attributes", True)
        s.ensure("login_member_of_owner", False, q.grant_role(owner, login))
        s.ensure("login_connect", False, q.grant_connect(db, login))
        return
    drift = _diff(info, wanted)
    limit_drift = limit if limit is not None and info["rolconnlimit"] != limit else None
    s.ensure("login_attributes", not drift and limit_drift is None,
             q.alter_role_attributes(login, drift, limit_drift))
    s.ensure("login_member_of_owner", s.member(owner, login), q.grant_role(owner, login))
    connect = [] if s.database() is None else [row[0] for row in s.read_all(q.database_grants(db, login),
                                                                             step="login_connect")]
    s.ensure("login_connect", "CONNECT" in connect, q.grant_connect(db, login))


def _require_azure_functions(s: _Session) -> None:
    for signature in (q.AZURE_CREATE_SIGNATURE, q.AZURE_LIST_SIGNATURE):
        row = s.read(q.function_exists(signature), step="auth_entra_principal")
        if not (row and row[0]):
            raise s.fail(
                AuthMappingMissing,
                f"the function {signature} is not available in database '{s.admin.dbname}': on Azure Database for "
                "PostgreSQL flexible server it exists only in the 'postgres' database, with Microsoft Entra "
                "authentication enabled; connect the admin (a Microsoft Entra administrator) there",
            )


def _auth(s: _Session, active: bool) -> None:
    target = s.target
    auth = target.auth
    if isinstance(auth, AwsIamAuth):
        _auth_aws(s)
    elif isinstance(auth, AzureEntraAuth):
        _auth_azure(s, auth)
    elif isinstance(auth, GcpIamAuth):
        _auth_gcp(s, auth, active)
    elif isinstance(auth, PasswordAuth):
        _auth_password(s, auth)


def _auth_aws(s: _Session) -> None:
    if s.role(q.RDS_IAM_ROLE) is None:
        raise s.fail(
            AuthMappingMissing,
            f"the role '{q.RDS_IAM_ROLE}' does not exist on this server: IAM database authentication is an Amazon "
            "RDS feature (is the admin connected to the cell's RDS instance?)",
        )
    login = s.target.login_role
    in_place = False if s.dry_run and s.role(login) is None else s.member(q.RDS_IAM_ROLE, login)
    s.ensure("auth_rds_iam", in_place, q.grant_rds_iam(login))


def _auth_azure(s: _Session, auth: AzureEntraAuth) -> None:
    _require_azure_functions(s)
    login = s.target.login_role
    bound: str | None = None
    for row in s.read_all(q.azure_list_principals(), step="auth_entra_principal"):
        if len(row) > 2 and str(row[0]) == login:
            bound = str(row[2])
    if bound is not None and bound.lower() != auth.object_id.lower():
        raise s.fail(
            AuthMappingMissing,
            f"the role '{login}' is bound to Microsoft Entra object '{bound}', not to '{auth.object_id}' "
            f"({auth.principal_name}); a person must check and rebind it (the data plane never rebinds a login)",
        )
    planned = s.dry_run and s.role(login) is None
    s.ensure("auth_entra_principal", bound is not None or planned,
             q.azure_security_label(login, auth.object_id, auth.object_type))


def _auth_gcp(s: _Session, auth: GcpIamAuth, active: bool) -> None:
    iam_user, login = auth.iam_user, s.target.login_role
    info = s.role(iam_user)
    if info is None:
        raise s.fail(
            AuthMappingMissing,
            f"the Cloud SQL IAM user '{iam_user}' does not exist: the Cloud SQL API creates it (the tenant stack's "
            "gcp.sql.User of type CLOUD_IAM_SERVICE_ACCOUNT); deploy the tenant stack, then apply again",
        )
    in_place = False if s.dry_run and s.role(login) is None else s.member(login, iam_user)
    s.ensure("auth_iam_user_member", in_place, q.grant_role(login, iam_user))
    # The IAM user is what logs in: it carries the plan's connection limit and the suspension.
    drift = _diff(info, {"rolcanlogin": active, "rolinherit": True})
    limit = s.target.connection_limit if info["rolconnlimit"] != s.target.connection_limit else None
    s.ensure("auth_iam_user_attributes", not drift and limit is None,
             q.alter_role_attributes(iam_user, drift, limit))


def _verifier(s: _Session, role: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of `password`, computed by libpq on the client."""
    raw = s.admin_conn.pgconn.encrypt_password(password.encode("utf-8"), role.encode("utf-8"), b"scram-sha-256")
    return raw.decode("ascii")


def _password_statements(s: _Session, role: str, password: str) -> tuple[q.Statement, q.Statement]:
    fingerprint = q.FINGERPRINT_MARK + q.password_fingerprint(role, password)
    return q.alter_role_password(role, _verifier(s, role, password)), q.comment_on_role(role, fingerprint)


def _recorded_fingerprint(s: _Session, role: str) -> str | None:
    row = s.read(q.role_comment(role), step="password")
    return str(row[0]) if row and row[0] is not None else None


def _auth_password(s: _Session, auth: PasswordAuth) -> None:
    login = s.target.login_role
    if s.store is None:
        raise s.fail(SecretMissing, f"a secret store is needed for the password of '{login}' "
                                    f"(secret '{auth.secret_name}')")
    role_exists = s.role(login) is not None
    current: str | None = None
    try:
        current = read_secret(s.store, auth.secret_name, auth.field)
    except SecretMissing as error:
        if auth.generated_by == "vault":
            raise s.fail(SecretMissing, f"the password secret '{auth.secret_name}' is generated by the cloud's vault "
                                        f"with the tenant stack and cannot be read: {error.reason}") from None
    if s.dry_run and (current is None or not role_exists):
        placeholder = q.alter_role_password(login, q.REDACTED)
        s.ensure("password", False, placeholder, q.comment_on_role(login, q.FINGERPRINT_MARK + q.REDACTED))
        return
    if current is not None:
        expected = q.FINGERPRINT_MARK + q.password_fingerprint(login, current)
        in_place = role_exists and _recorded_fingerprint(s, login) == expected
        s.ensure("password", in_place, *(() if in_place else _password_statements(s, login, current)))
        return
    # generated_by == "module" and nothing stored yet: store first, then set it, so a run that stops
    # in between finds the secret and sets the role's password from it next time.
    password = new_password()
    try:
        s.store.put(auth.secret_name, password)
        s.ensure("password", False, *_password_statements(s, login, password))
    finally:
        password = ""
    s.notes.append(f"a new password for '{login}' was stored in secret '{auth.secret_name}'")


def _default_role(s: _Session) -> None:
    target = s.target
    wanted = f"role={target.owner_role}"
    for identity in target.login_identities:
        planned = s.dry_run and (s.role(identity) is None or s.database() is None)
        settings: list[str] = []
        if not planned:
            row = s.read(q.default_role_setting(identity, target.database), step="login_default_role")
            settings = list(row[0]) if row and row[0] else []
        s.ensure("login_default_role", not planned and wanted in settings,
                 q.set_default_role(identity, target.database, target.owner_role))


def _schema(s: _Session) -> None:
    owner = s.target.owner_role
    if s.dry_run and s.database() is None:
        s.ensure("schema_public_owner", False, q.alter_schema_owner("public", owner))
        s.ensure("schema_public_revoked", False, q.revoke_schema_from_public("public"))
        return
    conn = s.tenant_conn()
    row = s.read(q.schema_info("public"), step="schema_public", conn=conn)
    if row is None:
        s.notes.append("the database has no 'public' schema (dropped by the tenant): nothing to lock down there")
        return
    s.ensure("schema_public_owner", row[0] == owner, q.alter_schema_owner("public", owner), conn=s.tenant_conn)
    s.ensure("schema_public_revoked", not row[1], q.revoke_schema_from_public("public"), conn=s.tenant_conn)


# --- suspend, resume, offboard ------------------------------------------------------------------------------


def _set_logins(s: _Session, login: bool, step: str) -> None:
    for identity in s.target.login_identities:
        info = s.role(identity)
        if info is None:
            if login:
                raise s.fail(InvalidInput, f"the login role '{identity}' does not exist: run apply first")
            s.unchanged.append(step)
            s.notes.append(f"the login role '{identity}' does not exist")
            continue
        s.ensure(step, bool(info["rolcanlogin"]) == login, q.set_login(identity, login))


def _terminate(s: _Session) -> None:
    """Terminate the tenant's client sessions (its logins anywhere, anyone on its database), except
    the admin's own. One statement per session, so one the admin may not end (a superuser's) is
    reported without keeping the others alive."""
    roles, db = list(s.target.login_identities), s.target.database
    found = s.read_all(q.tenant_sessions(roles, db, s.own_pids()), step="sessions_terminated")
    if not found:
        s.unchanged.append("sessions_terminated")
        return
    wait = TERMINATE_WAIT_MS if s.version >= 140000 else None
    ended, kept = 0, []
    for pid, user in found:
        statement = q.terminate_backend(int(pid), wait)
        if s.dry_run:
            s.act("sessions_terminated", statement)
            continue
        try:
            rows = s.act("sessions_terminated", statement)
        except StatementFailed as error:
            kept.append(f"{pid} ({user}): {error.reason.split('; statement:')[0]}")
            continue
        if rows and rows[0][0]:
            ended += 1
        else:
            kept.append(f"{pid} ({user}): not confirmed gone")
    s.changed.append("sessions_terminated")
    if not s.dry_run:
        s.notes.append(f"{ended} of {len(found)} session(s) terminated")
    if kept:
        s.notes.append("not terminated (the admin needs pg_signal_backend; a superuser's session needs a "
                       "superuser): " + "; ".join(kept))


def suspend(target: TenantDatabase, admin: AdminConnection, secrets: SecretStore | None = None, *,
            dry_run: bool = False) -> DataPlaneReport:
    """NOLOGIN on the tenant's login(s), then terminate its open sessions. Data and grants stay."""
    with _session("suspend", target, admin, secrets, dry_run=dry_run) as s:
        _set_logins(s, False, "login_disabled")
        _terminate(s)
        return s.report()


def resume(target: TenantDatabase, admin: AdminConnection, secrets: SecretStore | None = None, *,
           dry_run: bool = False) -> DataPlaneReport:
    """LOGIN again on the tenant's login(s): reverses `suspend`."""
    with _session("resume", target, admin, secrets, dry_run=dry_run) as s:
        _set_logins(s, True, "login_enabled")
        return s.report()


def offboard(target: TenantDatabase, admin: AdminConnection, secrets: SecretStore | None = None, *,
             dump: DumpHook | None = None, dry_run: bool = False) -> DataPlaneReport:
    """Revoke the tenant's logins (NOLOGIN), terminate its sessions, run the final dump hook when
    one is given, and keep the database (it goes at retention end, with `drop`)."""
    with _session("offboard", target, admin, secrets, dry_run=dry_run) as s:
        _set_logins(s, False, "login_disabled")
        _terminate(s)
        exists = s.database() is not None
        if dump is not None and exists:
            s.notes.append("final dump requested")
            if not s.dry_run:
                failure: str | None = None
                try:
                    dump(target.database, admin.for_database(target.database))
                except DataPlaneError as error:
                    failure = error.reason
                except Exception as error:  # the hook is the caller's code: report it, keep logins revoked
                    failure = f"{type(error).__name__}: {error}"
                if failure is not None:
                    raise s.fail(DumpFailed, f"the final dump of '{target.database}' failed: {failure} "
                                             "(logins stay revoked; the database is kept)")
            s.changed.append("final_dump")
        elif dump is not None:
            s.notes.append(f"no final dump: database '{target.database}' does not exist")
        s.notes.append(f"database '{target.database}' is kept until the retention ends (drop)")
        return s.report()


# --- retention end ------------------------------------------------------------------------------------------


def drop(target: TenantDatabase, admin: AdminConnection, secrets: SecretStore | None = None, *,
         dry_run: bool = False) -> DataPlaneReport:
    """Retention end: disable the logins, terminate the sessions, DROP DATABASE, drop the tenant's
    own roles (login, owner). Irreversible: the workflows gate it (a human approval when an agent
    acts); this function does not ask. Refuses a database owned by another role than the tenant's
    owner role. The Cloud SQL IAM user is left to the tenant stack (the Cloud SQL API owns it)."""
    with _session("drop", target, admin, secrets, dry_run=dry_run) as s:
        info = s.database()
        if info is not None and info[0] != target.owner_role:
            raise s.fail(InvalidInput, f"database '{target.database}' is owned by '{info[0]}', not by the tenant's "
                                       f"owner role '{target.owner_role}': refusing to drop it")
        _set_logins(s, False, "login_disabled")
        _terminate(s)
        if info is not None and not s.dry_run:
            row = s.read(q.admin_can_act_as(target.owner_role, server_version=s.version), step="admin_member_of_owner")
            if not (row and row[0]):
                s.act("admin_member_of_owner",
                      q.grant_role_to_current_user(target.owner_role, server_version=s.version))
        s.ensure("database_dropped", info is None, q.drop_database(target.database))
        for role, step in ((target.login_role, "login_role_dropped"), (target.owner_role, "owner_role_dropped")):
            s.ensure(step, s.role(role) is None, q.drop_role(role))
        if isinstance(target.auth, GcpIamAuth):
            s.notes.append(f"the Cloud SQL IAM user '{target.auth.iam_user}' is kept: the tenant stack's "
                           "gcp.sql.User deletes it")
        if isinstance(target.auth, AzureEntraAuth):
            s.notes.append("Azure: an Entra-bound role can only be dropped by a Microsoft Entra administrator")
        if isinstance(target.auth, PasswordAuth):
            s.notes.append(f"the password secret '{target.auth.secret_name}' is left in the secret store")
        return s.report()


def rotate_password(target: TenantDatabase, admin: AdminConnection, secrets: SecretStore) -> DataPlaneReport:
    """A new generated password for a password role (PasswordAuth generated_by="module"): stored
    first, then set on the role. A vault-generated password rotates in the vault; `apply` then sees
    the fingerprint differ and sets the new one."""
    auth = target.auth
    if not isinstance(auth, PasswordAuth) or auth.generated_by != "module":
        raise InvalidInput("rotate_password needs a password role whose password the module generates",
                           tenant=target.tenant, cell=target.cell)
    with _session("rotate_password", target, admin, secrets) as s:
        if s.role(target.login_role) is None:
            raise s.fail(InvalidInput, f"the login role '{target.login_role}' does not exist: run apply first")
        password = new_password()
        try:
            secrets.put(auth.secret_name, password)
            s.ensure("password", False, *_password_statements(s, target.login_role, password))
        finally:
            password = ""
        s.notes.append(f"a new password for '{target.login_role}' was stored in secret '{auth.secret_name}'")
        return s.report()


# --- status -------------------------------------------------------------------------------------------------


def status(target: TenantDatabase, admin: AdminConnection, secrets: SecretStore | None = None) -> TenantDatabaseStatus:
    """A read-only report. `secrets`, when given, is also used to check that a password role's
    password is the stored one (by fingerprint, never by reading the role's password)."""
    with _session("status", target, admin, secrets, lock=False) as s:
        problems: list[str] = []
        db = s.database()
        owner = db[0] if db else None
        if db is None:
            problems.append(f"database '{target.database}' does not exist")
        elif owner != target.owner_role:
            problems.append(f"database '{target.database}' is owned by '{owner}', not '{target.owner_role}'")
        public = [str(row[0]) for row in s.read_all(q.database_grants(target.database, None), step="status")] \
            if db else []
        if public:
            problems.append(f"PUBLIC holds {', '.join(public)} on the database")
        owner_exists = s.role(target.owner_role) is not None
        if not owner_exists:
            problems.append(f"owner role '{target.owner_role}' does not exist")
        logins: list[LoginStatus] = []
        roles = [target.login_role] + [r for r in target.login_identities if r != target.login_role]
        for role in roles:
            info = s.role(role)
            if info is None:
                logins.append(LoginStatus(role=role, exists=False))
                problems.append(f"role '{role}' does not exist")
                continue
            count = s.read(q.count_sessions([role], None), step="status")
            member_of = s.read_all(q.memberships(role), step="status")
            logins.append(LoginStatus(
                role=role, exists=True, can_login=bool(info["rolcanlogin"]), connection_limit=int(info["rolconnlimit"]),
                open_sessions=int(count[0]) if count else 0, member_of=tuple(str(row[0]) for row in member_of),
            ))
            if role in target.login_identities and int(info["rolconnlimit"]) != target.connection_limit:
                problems.append(f"role '{role}' has connection limit {info['rolconnlimit']}, the plan says "
                                f"{target.connection_limit}")
        total = s.read(q.count_sessions(list(target.login_identities), target.database), step="status")
        auth_text, mapped = _auth_status(s)
        if mapped is False:
            problems.append(f"authentication mapping missing: {auth_text}")
        schema_owner: str | None = None
        schema_open: bool | None = None
        if db is not None:
            try:
                row = s.read(q.schema_info("public"), step="status", conn=s.tenant_conn())
            except DataPlaneError as error:
                problems.append(f"cannot look inside database '{target.database}': {error.reason}")
                row = None
            if row is not None:
                schema_owner, schema_open = str(row[0]), bool(row[1])
                if schema_open:
                    problems.append("PUBLIC holds privileges on schema public")
        return TenantDatabaseStatus(
            tenant=target.tenant, cell=target.cell, endpoint=s.endpoint, cloud=target.cloud,
            database=target.database, database_exists=db is not None, owner=owner, owner_role_exists=owner_exists,
            public_privileges=tuple(public), logins=tuple(logins), open_sessions=int(total[0]) if total else 0,
            auth=auth_text, auth_mapping_present=mapped, schema_public_owner=schema_owner,
            schema_public_open_to_public=schema_open, problems=tuple(problems),
        )


def _auth_status(s: _Session) -> tuple[str, bool | None]:
    target, auth = s.target, s.target.auth
    login = target.login_role
    if isinstance(auth, AwsIamAuth):
        if s.role(q.RDS_IAM_ROLE) is None:
            return "rds_iam membership (no rds_iam role on this server)", False
        return "rds_iam membership", s.role(login) is not None and s.member(q.RDS_IAM_ROLE, login)
    if isinstance(auth, AzureEntraAuth):
        row = s.read(q.function_exists(q.AZURE_LIST_SIGNATURE), step="status")
        text = f"Microsoft Entra principal {auth.principal_name} ({auth.object_id})"
        if not (row and row[0]):
            return text + f": pgaadauth functions not visible from database '{s.admin.dbname}'", None
        for principal in s.read_all(q.azure_list_principals(), step="status"):
            if len(principal) > 2 and str(principal[0]) == login:
                return text, str(principal[2]).lower() == auth.object_id.lower()
        return text, False
    if isinstance(auth, GcpIamAuth):
        text = f"Cloud SQL IAM user {auth.iam_user}"
        return text, s.role(auth.iam_user) is not None and s.role(login) is not None and s.member(login, auth.iam_user)
    if isinstance(auth, PasswordAuth):
        text = f"password in secret '{auth.secret_name}'"
        recorded = _recorded_fingerprint(s, login) if s.role(login) is not None else None
        if recorded is None or not recorded.startswith(q.FINGERPRINT_MARK):
            return text + " (no password set by paybill-iac)", False
        if s.store is None:
            return text + " (set; not compared: no secret store given)", None
        try:
            current = read_secret(s.store, auth.secret_name, auth.field)
        except SecretMissing:
            return text + " (the secret is missing from the store)", False
        return text, recorded == q.FINGERPRINT_MARK + q.password_fingerprint(login, current)
    return "unknown", None

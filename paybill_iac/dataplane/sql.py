"""The data plane's SQL, as pure functions of plain values: no connection, no state.

Every identifier goes through `psycopg.sql.Identifier` and every value through `sql.Literal`;
nothing is formatted into SQL text with Python string formatting. Each builder returns a
`Statement`: the query to run and the text a person reviews, in which secrets (a password verifier)
are replaced by `'***'`. `Statement.text()` renders that review text without a connection
(`as_string(None)`), so a plan can be printed offline.

Two kinds: actions (DDL, GRANT/REVOKE, the clouds' functions) and checks (catalog reads returning
one row). Actions are only ever run after the matching check said the state is not yet in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from psycopg import sql

REDACTED = "***"
RDS_IAM_ROLE = "rds_iam"
AZURE_CREATE_PRINCIPAL = "pgaadauth_create_principal_with_oid"
AZURE_LIST_PRINCIPALS = "pgaadauth_list_principals"
AZURE_LABEL_PROVIDER = "pgaadauth"
FINGERPRINT_MARK = "paybill-iac password fingerprint v1 "


@dataclass(frozen=True)
class Statement:
    """One statement: `query` runs, `shown` is what logs, reports and errors show.

    `secrets` are strings that must never appear in anything shown (they are scrubbed from server
    messages too); repr shows the redacted text only."""

    query: sql.Composed
    shown: sql.Composed
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def text(self) -> str:
        """The reviewable SQL, every secret replaced by '***'."""
        return self.shown.as_string(None)

    def __repr__(self) -> str:
        return f"Statement({self.text()!r})"


def _plain(query: sql.Composed) -> Statement:
    return Statement(query, query)


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


# --- roles ----------------------------------------------------------------------------------------------


def create_role(name: str, *, login: bool, connection_limit: int | None = None) -> Statement:
    """CREATE ROLE with LOGIN/NOLOGIN and, for a login, its connection limit. Every other attribute
    keeps PostgreSQL's default (NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS)."""
    return _role("CREATE", name, {"rolcanlogin": login}, connection_limit)


# The role attributes the data plane sets, and the keyword for each desired value.
ATTRIBUTE_KEYWORDS: dict[str, tuple[str, str]] = {
    # catalog column: (keyword when true, keyword when false)
    "rolcanlogin": ("LOGIN", "NOLOGIN"),
    "rolsuper": ("SUPERUSER", "NOSUPERUSER"),
    "rolcreatedb": ("CREATEDB", "NOCREATEDB"),
    "rolcreaterole": ("CREATEROLE", "NOCREATEROLE"),
    "rolreplication": ("REPLICATION", "NOREPLICATION"),
    "rolbypassrls": ("BYPASSRLS", "NOBYPASSRLS"),
    "rolinherit": ("INHERIT", "NOINHERIT"),
}


def alter_role_attributes(name: str, attributes: dict[str, bool], connection_limit: int | None = None) -> Statement:
    """ALTER ROLE naming only the attributes given (a non-superuser admin may not even mention
    SUPERUSER, REPLICATION or BYPASSRLS, so a clause is emitted only where the role differs)."""
    return _role("ALTER", name, attributes, connection_limit)


def _role(verb: Literal["CREATE", "ALTER"], name: str, attributes: dict[str, bool],
          connection_limit: int | None) -> Statement:
    """`verb` ROLE `name`, the keyword of each attribute's value, and the connection limit when given."""
    keywords = [ATTRIBUTE_KEYWORDS[column][0 if value else 1] for column, value in attributes.items()]
    parts: list[sql.Composable] = [sql.SQL(verb + " ROLE {}").format(_ident(name))]  # verb: one of two literals
    parts.extend(sql.SQL(" " + keyword) for keyword in keywords)  # keywords from the fixed table above
    if connection_limit is not None:
        parts.append(sql.SQL(" CONNECTION LIMIT {}").format(sql.Literal(int(connection_limit))))
    return _plain(sql.Composed(parts))


def set_login(name: str, login: bool) -> Statement:
    return alter_role_attributes(name, {"rolcanlogin": login})


def alter_role_password(name: str, verifier: str) -> Statement:
    """ALTER ROLE ... PASSWORD with a SCRAM-SHA-256 verifier computed on the client, so the plain
    password never reaches the server (nor its statement log). Shown as PASSWORD '***'."""
    query = sql.SQL("ALTER ROLE {} PASSWORD {}").format(_ident(name), sql.Literal(verifier))
    shown = sql.SQL("ALTER ROLE {} PASSWORD {}").format(_ident(name), sql.Literal(REDACTED))
    return Statement(query, shown, (verifier,))


def password_fingerprint(role: str, password: str) -> str:
    """A keyed one-way fingerprint of a (long, random) password, recorded on the role so a later run
    knows the role's password is the stored one without reading either."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), f"paybill-iac:{role}".encode(), 10_000)
    return digest.hex()[:32]


def comment_on_role(name: str, comment: str) -> Statement:
    return _plain(sql.SQL("COMMENT ON ROLE {} IS {}").format(_ident(name), sql.Literal(comment)))


def grant_role(role: str, member: str) -> Statement:
    return _plain(sql.SQL("GRANT {} TO {}").format(_ident(role), _ident(member)))


def grant_role_to_current_user(role: str, *, server_version: int = 150000) -> Statement:
    """Lets a non-superuser admin act as the owner role: CREATE DATABASE ... OWNER needs to be able
    to SET ROLE to it, and reaching the database once PUBLIC lost CONNECT needs its privileges.
    PostgreSQL 16 split membership into ADMIN, INHERIT and SET (a CREATEROLE admin gets only ADMIN
    on the roles it creates), so from 16 on both options are asked for explicitly."""
    if server_version >= 160000:
        return _plain(sql.SQL("GRANT {} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE").format(_ident(role)))
    return _plain(sql.SQL("GRANT {} TO CURRENT_USER").format(_ident(role)))


def set_default_role(member: str, database: str, role: str) -> Statement:
    """Sessions of `member` in `database` start as `role` (the owner), so every object the workload
    creates is owned by the tenant's owner role, whichever login made it."""
    return _plain(sql.SQL("ALTER ROLE {} IN DATABASE {} SET role = {}").format(
        _ident(member), _ident(database), sql.Literal(role)))


def drop_role(name: str) -> Statement:
    return _plain(sql.SQL("DROP ROLE {}").format(_ident(name)))


# --- databases and schemas ------------------------------------------------------------------------------


def create_database(name: str, owner: str) -> Statement:
    """CREATE DATABASE from the pristine template0 (nothing a template1 may have gained since)."""
    return _plain(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING {}").format(
        _ident(name), _ident(owner), sql.Literal("UTF8")))


def alter_database_owner(name: str, owner: str) -> Statement:
    return _plain(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(_ident(name), _ident(owner)))


def revoke_database_from_public(name: str) -> Statement:
    """PostgreSQL grants CONNECT and TEMPORARY on every new database to PUBLIC."""
    return _plain(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(_ident(name)))


def grant_connect(database: str, role: str) -> Statement:
    return _plain(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(_ident(database), _ident(role)))


def drop_database(name: str) -> Statement:
    return _plain(sql.SQL("DROP DATABASE {}").format(_ident(name)))


def alter_schema_owner(schema: str, owner: str) -> Statement:
    return _plain(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(_ident(schema), _ident(owner)))


def revoke_schema_from_public(schema: str) -> Statement:
    return _plain(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(_ident(schema)))


# --- the clouds' authentication mappings ------------------------------------------------------------------


def grant_rds_iam(login: str) -> Statement:
    """AWS RDS: members of `rds_iam` log in with IAM authentication tokens only."""
    return grant_role(RDS_IAM_ROLE, login)


def azure_create_principal(role: str, object_id: str, object_type: str) -> Statement:
    """Azure Database for PostgreSQL flexible server: a role bound to a Microsoft Entra object id.

    Documented signature (Microsoft Learn, "Manage Microsoft Entra roles in Azure Database for
    PostgreSQL flexible server", section "Create a role using Microsoft Entra object identifier";
    MicrosoftDocs/azure-databases-docs articles/postgresql/flexible-server/how-to-manage-azure-ad-users.md):
        pg_catalog.pgaadauth_create_principal_with_oid(roleName text, objectId text, objectType text,
                                                       isAdmin boolean, isMfa boolean) -> text
    objectType is 'user', 'group' or 'service' (applications and managed identities); it exists only
    in the `postgres` database and only a Microsoft Entra administrator may call it. Called here
    unqualified (as the documentation's examples do), never as an admin (isAdmin false), no MFA
    claim required (a managed identity has none).
    """
    return _plain(sql.SQL("SELECT * FROM {}({}, {}, {}, false, false)").format(
        _ident(AZURE_CREATE_PRINCIPAL), sql.Literal(role), sql.Literal(object_id), sql.Literal(object_type)))


def azure_security_label(role: str, object_id: str, object_type: str) -> Statement:
    """Binds an existing role to an Entra object (the documented alternative to the function,
    used when the role already exists without the binding):
        SECURITY LABEL for "pgaadauth" on role "<roleName>" is 'aadauth,oid=<objectId>,type=<objectType>'"""
    label = f"aadauth,oid={object_id},type={object_type}"
    return _plain(sql.SQL("SECURITY LABEL FOR {} ON ROLE {} IS {}").format(
        _ident(AZURE_LABEL_PROVIDER), _ident(role), sql.Literal(label)))


# --- sessions ---------------------------------------------------------------------------------------------


def _tenant_sessions_where(roles: Sequence[str], database: str | None, keep_pids: Sequence[int]) -> sql.Composed:
    """Client sessions of `roles`, or on `database`, other than this one and `keep_pids`.

    backend_type is NULL in rows a non-superuser may not fully see (the clouds' admins), so a row
    counts as a client session when it has a user (background workers have none) and its type is
    'client backend' or hidden."""
    where_db = sql.SQL(" OR a.datname = {}").format(sql.Literal(database)) if database is not None else sql.SQL("")
    return sql.SQL(
        "a.usesysid IS NOT NULL AND (a.backend_type = 'client backend' OR a.backend_type IS NULL) "
        "AND (a.usename::text = ANY({}::text[]){}) AND a.pid <> pg_catalog.pg_backend_pid() "
        "AND a.pid <> ALL({}::int[])"
    ).format(sql.Literal(list(roles)), where_db, sql.Literal([int(pid) for pid in keep_pids]))


def tenant_sessions(roles: Sequence[str], database: str | None, keep_pids: Sequence[int]) -> Statement:
    """The tenant's client sessions: (pid, user name) per row."""
    return _plain(sql.SQL(
        "SELECT a.pid, a.usename::text FROM pg_catalog.pg_stat_activity a WHERE {} ORDER BY a.pid"
    ).format(_tenant_sessions_where(roles, database, keep_pids)))


def count_sessions(roles: Sequence[str], database: str | None) -> Statement:
    """The number of the tenant's client sessions (row: int)."""
    return _plain(sql.SQL("SELECT count(*)::int FROM pg_catalog.pg_stat_activity a WHERE {}").format(
        _tenant_sessions_where(roles, database, ())))


def terminate_backend(pid: int, wait_ms: int | None = 5000) -> Statement:
    """Terminate one session; with `wait_ms` (PostgreSQL 14+) wait until it is gone (row: bool)."""
    if wait_ms is None:
        return _plain(sql.SQL("SELECT pg_catalog.pg_terminate_backend({})").format(sql.Literal(int(pid))))
    return _plain(sql.SQL("SELECT pg_catalog.pg_terminate_backend({}, {})").format(
        sql.Literal(int(pid)), sql.Literal(int(wait_ms))))


# --- checks (catalog reads) -------------------------------------------------------------------------------

ROLE_COLUMNS = ("rolcanlogin", "rolconnlimit", "rolsuper", "rolcreatedb", "rolcreaterole", "rolreplication",
                "rolbypassrls", "rolinherit")


def role_info(name: str) -> Statement:
    """One row of ROLE_COLUMNS, no row when the role does not exist."""
    return _plain(sql.SQL("SELECT {} FROM pg_catalog.pg_roles WHERE rolname = {}").format(
        sql.SQL(", ").join(sql.Identifier(column) for column in ROLE_COLUMNS), sql.Literal(name)))


def role_comment(name: str) -> Statement:
    return _plain(sql.SQL(
        "SELECT pg_catalog.shobj_description(oid, 'pg_authid') FROM pg_catalog.pg_roles WHERE rolname = {}"
    ).format(sql.Literal(name)))


def is_member(role: str, member: str) -> Statement:
    """Whether `member` is a direct member of `role` (row: bool)."""
    return _plain(sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m "
        "JOIN pg_catalog.pg_roles r ON r.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member "
        "WHERE r.rolname = {} AND u.rolname = {})"
    ).format(sql.Literal(role), sql.Literal(member)))


def memberships(role: str) -> Statement:
    """The roles `role` is a direct member of, one name per row."""
    return _plain(sql.SQL(
        "SELECT r.rolname::text FROM pg_catalog.pg_auth_members m "
        "JOIN pg_catalog.pg_roles r ON r.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member "
        "WHERE u.rolname = {} ORDER BY 1"
    ).format(sql.Literal(role)))


def admin_can_act_as(role: str, *, server_version: int = 150000) -> Statement:
    """Whether the current user is a superuser, or may SET ROLE to `role` and holds its privileges
    (row: bool). Before PostgreSQL 16 membership gives both; from 16 on SET and USAGE are separate."""
    check = ("pg_catalog.pg_has_role(current_user, {role}, 'SET') AND pg_catalog.pg_has_role(current_user, {role}, "
             "'USAGE')") if server_version >= 160000 else "pg_catalog.pg_has_role(current_user, {role}, 'MEMBER')"
    return _plain(sql.SQL(
        "SELECT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) OR (" + check + ")"
    ).format(role=sql.Literal(role)))


def database_info(name: str) -> Statement:
    """(owner name, allows connections); no row when the database does not exist."""
    return _plain(sql.SQL(
        "SELECT pg_catalog.pg_get_userbyid(datdba)::text, datallowconn FROM pg_catalog.pg_database WHERE datname = {}"
    ).format(sql.Literal(name)))


def database_grants(name: str, grantee: str | None) -> Statement:
    """The privileges on database `name` granted to `grantee` (None: PUBLIC), one per row, counting
    the defaults a never-granted database has (acldefault: CONNECT and TEMPORARY to PUBLIC)."""
    who = sql.SQL("a.grantee = 0") if grantee is None else sql.SQL(
        "a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = {})").format(sql.Literal(grantee))
    return _plain(sql.SQL(
        "SELECT a.privilege_type FROM pg_catalog.pg_database d, "
        "pg_catalog.aclexplode(COALESCE(d.datacl, pg_catalog.acldefault('d', d.datdba))) a "
        "WHERE d.datname = {} AND {} ORDER BY 1"
    ).format(sql.Literal(name), who))


def default_role_setting(member: str, database: str) -> Statement:
    """The per-database settings of `member` in `database` (row: text[]); no row when none."""
    return _plain(sql.SQL(
        "SELECT s.setconfig::text[] FROM pg_catalog.pg_db_role_setting s "
        "JOIN pg_catalog.pg_roles r ON r.oid = s.setrole JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase "
        "WHERE r.rolname = {} AND d.datname = {}"
    ).format(sql.Literal(member), sql.Literal(database)))


def schema_info(schema: str) -> Statement:
    """(owner name, whether PUBLIC holds any privilege) of `schema` in the current database."""
    return _plain(sql.SQL(
        "SELECT pg_catalog.pg_get_userbyid(n.nspowner)::text, EXISTS (SELECT 1 FROM "
        "pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a WHERE a.grantee = 0) "
        "FROM pg_catalog.pg_namespace n WHERE n.nspname = {}"
    ).format(sql.Literal(schema)))


def function_exists(signature: str) -> Statement:
    """Whether a function with this signature resolves on the search path (row: bool)."""
    return _plain(sql.SQL("SELECT pg_catalog.to_regprocedure({}) IS NOT NULL").format(sql.Literal(signature)))


AZURE_CREATE_SIGNATURE = f"{AZURE_CREATE_PRINCIPAL}(text,text,text,boolean,boolean)"
AZURE_LIST_SIGNATURE = f"{AZURE_LIST_PRINCIPALS}(boolean)"


def azure_list_principals() -> Statement:
    """Every Entra-mapped role. Documented return type: TABLE(rolname name, principalType text,
    objectId text, tenantId text, isMfa integer, isAdmin integer); read by position."""
    return _plain(sql.SQL("SELECT * FROM {}(false)").format(_ident(AZURE_LIST_PRINCIPALS)))


def server_version() -> Statement:
    return _plain(sql.Composed([sql.SQL("SELECT current_setting('server_version_num')::int")]))


def try_advisory_lock(key: int) -> Statement:
    return _plain(sql.SQL("SELECT pg_catalog.pg_try_advisory_lock({})").format(sql.Literal(int(key))))


def advisory_unlock(key: int) -> Statement:
    return _plain(sql.SQL("SELECT pg_catalog.pg_advisory_unlock({})").format(sql.Literal(int(key))))


def lock_key(database: str) -> int:
    """A stable signed 64-bit advisory-lock key for one tenant database."""
    digest = hashlib.sha256(f"paybill-iac dataplane {database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)

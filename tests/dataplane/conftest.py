"""Fixtures for the data-plane tests: a real PostgreSQL server, admin settings for it, and per-test
unique tenant names that are cleaned up afterwards (tests run in parallel under pytest-xdist on one
server, so every database and role a test makes carries the test's own token).

The server: the session's (tests/conftest.py: PAYBILL_TEST_POSTGRES_URL, a superuser URL, else a throwaway
server started with tests/automation/pgserver.py). That helper's pg_hba.conf trusts
every loopback connection (initdb --auth=trust), so passwords are not checked at login here: the
tests that a tenant is refused rely on what PostgreSQL checks under any authentication method, the
CONNECT privilege ("permission denied for database") and the LOGIN attribute ("is not permitted to
log in"). The tenants' passwords are checked separately against the SCRAM verifier the server holds.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
import pytest
from psycopg import sql

from paybill_iac.dataplane import AdminConnection, InMemorySecretStore, PasswordAuth, TenantDatabase

ADMIN_SECRET = "cell-admin-password"


@dataclass(frozen=True)
class Server:
    """Where the test server is, split into the parts the tests need."""

    host: str
    port: int
    user: str
    password: str | None
    dbname: str
    sslmode: str

    def connect(self, dbname: str | None = None, user: str | None = None, password: str | None = None,
                **options: Any) -> psycopg.Connection[Any]:
        """A session as `user` (default: the superuser) on `dbname` (default: the URL's database)."""
        return psycopg.connect(
            host=self.host, port=self.port, dbname=dbname or self.dbname, user=user or self.user,
            password=password if user else self.password, sslmode=self.sslmode, connect_timeout=5,
            autocommit=True, **options,
        )


@pytest.fixture(scope="session")
def server(postgres_server_url: str) -> Server:
    parts = urlsplit(postgres_server_url)
    query = parse_qs(parts.query)
    return Server(
        host=parts.hostname or "127.0.0.1", port=parts.port or 5432, user=unquote(parts.username or "postgres"),
        password=unquote(parts.password) if parts.password else None,
        dbname=unquote(parts.path.lstrip("/")) or "postgres", sslmode=(query.get("sslmode") or ["prefer"])[0],
    )


@pytest.fixture
def store(server: Server) -> InMemorySecretStore:
    """The secret store: the admin's password (when the server has one) and the tenants' passwords."""
    return InMemorySecretStore({ADMIN_SECRET: server.password} if server.password else {})


@pytest.fixture
def admin(server: Server) -> AdminConnection:
    """The operator's admin settings (the superuser; the password, if any, named in the store)."""
    return AdminConnection(
        host=server.host, port=server.port, dbname=server.dbname, user=server.user,
        password_secret=ADMIN_SECRET if server.password else None, sslmode=server.sslmode, connect_timeout=5,
    )


@pytest.fixture
def superuser(server: Server) -> Iterator[psycopg.Connection[Any]]:
    with server.connect() as conn:
        yield conn


@dataclass
class Names:
    """Per-test unique names; everything containing `token` is dropped after the test."""

    token: str
    extra_roles: list[str] = field(default_factory=list)

    def tenant(self, key: str, *, cloud: str = "postgres", cell: str | None = "cell-a", limit: int = 5,
               auth: Any = None) -> TenantDatabase:
        base = f"dp_{self.token}_{key}"
        return TenantDatabase(
            tenant=f"t{self.token}-{key}", cell=cell, cloud=cloud,  # type: ignore[arg-type]
            database=f"{base}_db", owner_role=f"{base}_owner", login_role=f"{base}_app", connection_limit=limit,
            auth=auth if auth is not None else PasswordAuth(secret_name=f"{base}-password"),
        )


def _cleanup(conn: psycopg.Connection[Any], token: str) -> None:
    pattern = f"%{token}%"
    conn.execute(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE (datname LIKE %s OR usename::text LIKE %s) AND pid <> pg_backend_pid()", (pattern, pattern),
    )
    for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,)).fetchall():
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    roles = [row[0] for row in conn.execute("SELECT rolname::text FROM pg_roles WHERE rolname LIKE %s "
                                            "ORDER BY length(rolname) DESC", (pattern,)).fetchall()]
    for name in roles:
        with contextlib.suppress(psycopg.Error):
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    for name in roles:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def names(server: Server) -> Iterator[Names]:
    made = Names(uuid.uuid4().hex[:8])
    yield made
    with server.connect() as conn:
        _cleanup(conn, made.token)


def scram_matches(verifier: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier (pg_authid.rolpassword) was made from `password` (RFC 5802/7677)."""
    method, _, rest = verifier.partition("$")
    if method != "SCRAM-SHA-256":
        return False
    params, keys = rest.split("$")
    iterations, salt = params.split(":")
    stored_key, _ = keys.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(hashlib.sha256(client_key).digest()).decode(), stored_key)


@pytest.fixture
def role_password_is(superuser: psycopg.Connection[Any]) -> Callable[[str, str], bool]:
    def check(role: str, password: str) -> bool:
        row = superuser.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
        return bool(row and row[0] and scram_matches(row[0], password))

    return check

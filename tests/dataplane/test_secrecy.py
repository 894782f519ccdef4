"""Failures are clear and never show a password: every scenario captures the logs, stdout/stderr,
the exception's text, repr and formatted traceback, and looks for the password in all of them."""

from __future__ import annotations

import logging
import socket
import traceback
from typing import Any

import pytest
from psycopg import sql

from paybill_iac.dataplane import (
    AdminConnection,
    DataPlaneError,
    InMemorySecretStore,
    SecretMissing,
    ServerUnreachable,
    StatementFailed,
    apply,
    ops,
    status,
)
from paybill_iac.dataplane.sql import Statement
from tests.dataplane.conftest import Names, Server

pytestmark = pytest.mark.postgres

ADMIN_MARKER = "AdminPw-7f3c9e1b-never-shown"
TENANT_MARKER = "TenantPw-2d8a4c6e-never-shown"


def everything_shown(error: BaseException, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error)), caplog.text, out, err])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="paybill_iac.dataplane")


def test_missing_admin_secret_is_a_clear_error(admin: AdminConnection, names: Names) -> None:
    a = names.tenant("a")
    missing = AdminConnection(host=admin.host, port=admin.port, user=admin.user, dbname=admin.dbname,
                              password_secret="cell-a-admin", sslmode=admin.sslmode)
    with pytest.raises(SecretMissing) as caught:
        apply(a, missing, InMemorySecretStore())
    message = str(caught.value)
    assert isinstance(caught.value, DataPlaneError)
    assert f"tenant '{a.tenant}'" in message and "cell 'cell-a'" in message and admin.endpoint in message
    assert "secret 'cell-a-admin'" in message
    with pytest.raises(SecretMissing, match="no secret store"):
        status(a, missing, None)


def test_unreachable_server_names_where_and_hides_the_password(
        names: Names, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    a = names.tenant("a")
    port = closed_port()
    admin = AdminConnection(host="127.0.0.1", port=port, password_secret="adm", sslmode="disable", connect_timeout=2)
    with pytest.raises(ServerUnreachable) as caught:
        apply(a, admin, InMemorySecretStore({"adm": ADMIN_MARKER}))
    shown = everything_shown(caught.value, caplog, capsys)
    assert ADMIN_MARKER not in shown
    assert f"tenant '{a.tenant}'" in str(caught.value) and "cell 'cell-a'" in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_refused_admin_login_hides_the_password(
        server: Server, admin: AdminConnection, names: Names, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    a = names.tenant("a", cell=None)
    wrong = AdminConnection(host=admin.host, port=admin.port, dbname=admin.dbname, user=f"dp_{names.token}_nobody",
                            password_secret="adm", sslmode=admin.sslmode)
    with pytest.raises(ServerUnreachable, match="does not exist") as caught:
        apply(a, wrong, InMemorySecretStore({"adm": ADMIN_MARKER}))
    assert ADMIN_MARKER not in everything_shown(caught.value, caplog, capsys)
    assert "no cell" in str(caught.value) and admin.endpoint in str(caught.value)


def test_a_failed_password_statement_is_redacted_and_completed_later(
        server: Server, admin: AdminConnection, store: InMemorySecretStore, names: Names,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
        role_password_is: Any) -> None:
    a = names.tenant("a")
    apply(a, admin, store)
    # An admin that may not alter roles (no CREATEROLE), but is a member of the owner role, so every
    # step before the password finds its state in place; the password secret is gone, so a new one
    # is generated, stored, and its ALTER ROLE ... PASSWORD refused by the server.
    weak = f"dp_{names.token}_weak_admin"
    with server.connect() as su:
        su.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(weak)))
        su.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(a.owner_role), sql.Identifier(weak)))
    store.delete(a.auth.secret_name)  # type: ignore[union-attr]
    store.put("weak-admin", ADMIN_MARKER)
    monkeypatch.setattr(ops, "new_password", lambda: TENANT_MARKER)
    weak_admin = AdminConnection(host=admin.host, port=admin.port, dbname=admin.dbname, user=weak,
                                 password_secret="weak-admin", sslmode=admin.sslmode)
    with pytest.raises(StatementFailed) as caught:
        apply(a, weak_admin, store)
    error = caught.value
    shown = everything_shown(error, caplog, capsys)
    for secret in (TENANT_MARKER, ADMIN_MARKER, "SCRAM-SHA-256$"):
        assert secret not in shown
    assert error.step == "password" and error.statement == f"ALTER ROLE \"{a.login_role}\" PASSWORD '***'"
    assert "permission denied" in str(error) and error.sqlstate == "42501"
    assert f"tenant '{a.tenant}'" in str(error) and "cell 'cell-a'" in str(error) and admin.endpoint in str(error)
    assert error.__cause__ is None and error.__context__ is None

    # the new password was stored before the statement: the next run (a capable admin) sets it
    assert store.get(a.auth.secret_name) == TENANT_MARKER  # type: ignore[union-attr]
    report = apply(a, admin, store)
    assert report.changed == ("password",)
    assert role_password_is(a.login_role, TENANT_MARKER)
    assert TENANT_MARKER not in repr(report) and TENANT_MARKER not in str(report.to_dict())
    assert TENANT_MARKER not in caplog.text


def test_a_server_message_quoting_the_statement_is_scrubbed(
        admin: AdminConnection, store: InMemorySecretStore, names: Names, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A syntax error's text quotes the statement (LINE 1: ...): only the redacted form may show."""
    query = sql.SQL("ALTER ROLE {} PASSWORD {} BOGUS").format(sql.Identifier("x"), sql.Literal(TENANT_MARKER))
    shown = sql.SQL("ALTER ROLE {} PASSWORD {} BOGUS").format(sql.Identifier("x"), sql.Literal("***"))
    broken = Statement(query, shown, (TENANT_MARKER,))
    with pytest.raises(StatementFailed) as caught, ops._session("test", names.tenant("a"), admin, store) as session:
        session.act("broken", broken)
    assert caught.value.sqlstate == "42601"  # syntax error
    assert TENANT_MARKER not in everything_shown(caught.value, caplog, capsys)
    assert "PASSWORD '***' BOGUS" in str(caught.value)

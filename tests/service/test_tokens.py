"""Principals and tokens: the token printed once and alone, only its hash kept and compared in constant
time, expiry and revocation, principals never widened by a new token, agents never approvers; the
`token`, `migrate` and `serve` commands (serve's transport checks refuse before anything listens); the
local command line records the OS user; the authorisation table."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from paybill_iac.automation.store import Store
from paybill_iac.automation.store.principals import Principal, Principals
from paybill_iac.errors import UsageError
from paybill_iac.identity import local_actor
from paybill_iac.service.auth import bearer, refusal, selects
from paybill_iac.service.core import redact
from paybill_iac.service.limits import RateLimiter
from tests.cli_invoke import run_cli


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, *args)


def test_token_create_prints_the_token_once_alone_and_keeps_only_its_hash(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "state")
    code, out, err = run(capsys, "token", "create", "--principal", "billing-bot", "--kind", "agent", "--role",
                         "operator", "--tenants", "plan:starter cloud:aws", "--tenants", "acme", "--max-changes", "3",
                         "--expires", "30d", "--state-dir", state)
    assert code == 0, err
    token = out.strip()
    assert out == token + "\n" and token.startswith("pbt_") and len(token) == 64
    assert "shown once" in err and token not in err and "agent:billing-bot" in err
    database = (tmp_path / "state" / "state.db").read_bytes()
    secret = token.split("_", 2)[2]
    assert secret.encode() not in database and token.encode() not in database
    with sqlite3.connect(tmp_path / "state" / "state.db") as conn:
        [(stored,)] = conn.execute("SELECT secret_sha256 FROM paybill_tokens").fetchall()
    import hashlib

    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    code, out, _ = run(capsys, "token", "list", "--json", "--state-dir", state)
    [listed] = [json.loads(line) for line in out.splitlines()]
    assert listed["tenants"] == ["plan:starter", "cloud:aws", "acme"] and listed["max_changes"] == 3
    assert listed["state"] == "valid" and listed["created_by"] == local_actor() and secret not in out
    code, out, _ = run(capsys, "token", "revoke", listed["id"], "--state-dir", state)
    assert code == 0 and "revoked 1" in out
    assert run(capsys, "token", "revoke", listed["id"], "--state-dir", state)[0] == 2
    code, out, _ = run(capsys, "token", "list", "--state-dir", state)
    assert "revoked" in out and out.startswith("ID")


def test_token_create_refuses_what_cannot_be_sound(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = ("--state-dir", str(tmp_path / "state"))
    for args, message in [
        (("--kind", "agent", "--role", "approver", "--tenants", "*"), "an agent cannot have the approver role"),
        (("--kind", "agent", "--role", "admin", "--tenants", "*"), "an agent cannot have the admin role"),
        (("--kind", "agent", "--role", "operator"), "names the tenants it may touch"),
        (("--kind", "agent", "--role", "operator", "--tenants", "plan:"), "not a tenant id"),
        (("--kind", "agent", "--role", "operator", "--tenants", "cloud:mars"), "not a tenant id"),
        (("--kind", "human", "--role", "viewer", "--expires", "soon"), "duration 'soon'"),
    ]:
        code, out, err = run(capsys, "token", "create", "--principal", "p1", *args, *state)
        assert code == 2 and message in err and out == "", (args, err)
    assert run(capsys, "token", "create", "--principal", "p2", "--kind", "agent", "--role", "viewer", "--tenants",
               "acme", *state)[0] == 0
    code, _, err = run(capsys, "token", "create", "--principal", "p2", "--kind", "agent", "--role", "operator",
                       "--tenants", "*", *state)
    assert code == 2 and "never widened" in err


def test_authentication_in_the_store(tmp_path: Path) -> None:
    clock = [1_000_000.0]
    store = Store(f"sqlite:///{tmp_path / 'state.db'}", clock=lambda: clock[0])
    try:
        principals = Principals(store.db)
        token, record = principals.create_token("alice", kind="human", role="approver", expires_at=clock[0] + 60,
                                                 created_by="human:root")
        found = principals.authenticate(token)
        assert found == Principal("alice", "human", "approver", ("*",), 10, clock[0], "human:root", record.id)
        assert found.actor == "human:alice"
        for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), token + "x", token.upper(), "", "pbt_",
                      token.replace(record.id, "0" * 16)):
            assert principals.authenticate(wrong) is None
        clock[0] += 61
        assert principals.authenticate(token) is None
        with pytest.raises(UsageError, match="expired already"):
            principals.create_token("bob", kind="human", role="viewer", expires_at=clock[0] - 1, created_by="x")
    finally:
        store.close()


def test_tokens_are_compared_in_constant_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    from paybill_iac.automation.store import principals as module

    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(module.hmac, "compare_digest", spy)
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        principals = Principals(store.db)
        token, _ = principals.create_token("carol", kind="human", role="viewer", created_by="x")
        principals.authenticate(token)
        principals.authenticate("pbt_0123456789abcdef_" + "y" * 43)  # unknown id: a comparison all the same
        principals.authenticate("garbage")
    finally:
        store.close()
    assert len(compared) == 3


def test_serve_refuses_an_unsafe_transport_before_listening(tmp_path: Path) -> None:
    from paybill_iac.cli_service import serve

    cert = tmp_path / "cert.pem"
    cert.write_text("not used")
    for args, message in [
        (["--bind", "0.0.0.0:8470"], "not loopback"),
        (["--bind", "10.1.2.3:8470"], "not loopback"),
        (["--bind", "[::]:8470"], "not loopback"),
        (["--bind", "127.0.0.1:8470", "--tls-cert", str(cert)], "go together"),
        (["--bind", "nonsense"], "HOST:PORT"),
        (["--approval-ttl", "never"], "approvals always expire"),
    ]:
        result = CliRunner().invoke(serve, ["--catalog", str(tmp_path / "none"), *args])
        assert result.exit_code != 0 and isinstance(result.exception, UsageError | SystemExit), args
        assert message in str(result.exception), (args, result.exception)


def test_the_local_actor_is_the_os_user() -> None:
    assert local_actor("Alice.Smith") == "human:alice.smith"
    assert local_actor("DOMAIN\\bob") == "human:domain-bob"
    assert local_actor("_svc") == "human:svc"
    assert local_actor("").startswith("human:")
    assert local_actor().startswith("human:")


def test_the_authorisation_table() -> None:
    def principal(kind: str, role: str) -> Principal:
        return Principal("p", kind, role, ("*",), 10)

    expected = {
        ("human", "viewer"): {"tenants", "tenant", "journal", "approvals"},
        ("agent", "viewer"): {"tenants", "tenant", "journal", "approvals"},
        ("human", "operator"): {"tenants", "tenant", "journal", "approvals", "preview", "up", "refresh", "onboard",
                                "change-plan", "suspend", "resume", "offboard"},
        ("human", "approver"): {"tenants", "tenant", "journal", "approvals", "approve", "reject"},
    }
    expected[("agent", "operator")] = expected[("human", "operator")]
    expected[("agent", "approver")] = expected[("agent", "viewer")]  # forged: an agent never decides
    expected[("human", "admin")] = expected[("human", "operator")] | {"approve", "reject"}
    expected[("agent", "admin")] = expected[("human", "operator")]
    from paybill_iac.service.auth import OPERATIONS

    for (kind, role), allowed in expected.items():
        assert {op for op in OPERATIONS if refusal(principal(kind, role), op) is None} == allowed, (kind, role)
    assert refusal(principal("human", "root"), "tenants")


def test_selectors_and_helpers() -> None:
    from paybill_iac.catalog import load_catalog

    catalog = load_catalog(Path(__file__).resolve().parents[2] / "stacks" / "catalog")

    def sees(*selectors: str) -> list[str]:
        principal = Principal("p", "agent", "viewer", selectors, 1)
        return [tenant for tenant in sorted(catalog.tenants) if selects(principal, catalog, tenant)]

    assert sees("acme") == ["acme"] and sees() == [] and sees("nobody") == []
    assert sees("cell:azure-weu-a") == ["globex", "stark"]
    assert sees("plan:starter", "cloud:azure") == ["acme", "dunder-mifflin", "globex", "initech", "stark", "tyrell",
                                                   "umbrella", "vandelay"]
    assert not selects(Principal("p", "agent", "viewer", ("plan:growth",), 1), catalog, "hooli", plan="enterprise")
    assert bearer("Bearer abc") == "abc" and bearer("bearer  abc ") == "abc"
    assert bearer(None) is None and bearer("Basic abc") is None and bearer("Bearer") is None
    assert bearer("Bearer " + "x" * 300) is None
    assert redact("cell hosts acme, acme-2 and globex", ["acme", "globex"]) == \
        "cell hosts (another tenant), acme-2 and (another tenant)"


def test_rate_limits_are_token_buckets() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 3, max_keys=2, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.take("a") == 0.0 and limiter.take("b") == 0.0
    limiter.take("c")  # "a" is forgotten beyond max_keys: it starts full again
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]

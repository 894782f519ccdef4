"""The command line's automation commands through the service (PAYBILL_SERVER_URL and PAYBILL_TOKEN):
RemoteAutomation against the real server, as the token's principal."""

from __future__ import annotations

import json

import pytest

from paybill_iac.errors import UsageError
from paybill_iac.service.client import RemoteAutomation, RemoteRefused, remote_from_env
from tests.cli_invoke import run_cli
from tests.service.conftest import Server


def test_remote_automation_runs_as_the_token_s_principal(server: Server) -> None:
    agent = server.token(tenants=("acme", "hooli"))
    approver = server.token(kind="human", role="approver")
    with RemoteAutomation(server.url, agent.token) as remote:
        assert remote.up(tenant="hooli").describe().startswith("up paybill-tenant/hooli")
        with pytest.raises(RemoteRefused) as refused:
            remote.up(tenant="acme")
        assert refused.value.kind == "approval-needed" and refused.value.exit_code == 1
        [pending] = [item for item in remote.review().approvals if item.requested_by == agent.actor]
        with pytest.raises(RemoteRefused) as own:
            remote.approve(pending.id)
        assert own.value.status == 403
        with RemoteAutomation(server.url, approver.token) as human:
            assert human.approve(pending.id).decided_by == approver.actor
        assert remote.up(tenant="acme", approval=pending.id).approval == pending.id
        with pytest.raises(RemoteRefused) as other:
            remote.refresh(tenant="globex")
        assert other.value.status == 404 and other.value.exit_code == 2
        entries = remote.journal(tenant="acme", limit=10)
        assert entries[0].actor == agent.actor and entries[0].result == "succeeded"
        for refused_call in (lambda: remote.destroy(tenant="acme"), lambda: remote.fleet("up"),
                             lambda: remote.clear_review("tenant/acme"), lambda: remote.up(cell="aws-euw1-a"),
                             lambda: remote.change_plan("acme", "growth", data_move=print)):
            with pytest.raises(UsageError):
                refused_call()
    with RemoteAutomation(server.url, "pbt_0123456789abcdef_" + "x" * 43) as stranger:
        with pytest.raises(RemoteRefused) as unknown:
            stranger.journal()
        assert unknown.value.status == 401


def test_the_environment_selects_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYBILL_SERVER_URL", raising=False)
    monkeypatch.delenv("PAYBILL_TOKEN", raising=False)
    assert remote_from_env() is None
    monkeypatch.setenv("PAYBILL_SERVER_URL", "https://paybill.internal")
    with pytest.raises(UsageError, match="go together"):
        remote_from_env()
    monkeypatch.setenv("PAYBILL_TOKEN", "pbt_x")
    remote = remote_from_env()
    assert remote is not None and remote.url == "https://paybill.internal"
    remote.close()
    monkeypatch.setenv("PAYBILL_SERVER_URL", "http://paybill.internal")
    with pytest.raises(UsageError, match="only over https"):
        remote_from_env()


def test_the_command_line_through_the_service(server: Server, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:

    agent = server.token(tenants=("acme", "hooli"))
    approver = server.token(kind="human", role="approver")

    def run(token: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("PAYBILL_SERVER_URL", server.url)
        monkeypatch.setenv("PAYBILL_TOKEN", token)
        return run_cli(capsys, *args)

    code, out, err = run(agent.token, "up", "--tenant", "hooli", "--state-url", "sqlite:////tmp/ignored.db")
    assert code == 0 and out.startswith("up paybill-tenant/hooli"), err
    code, _, err = run(agent.token, "up", "--tenant", "acme")
    assert code == 1 and "approval-needed" in err
    code, out, _ = run(agent.token, "review")
    [line] = [line for line in out.splitlines() if agent.actor in line]
    request = line.split("#", 1)[1].split()[0]
    assert run(agent.token, "review", "--approve", request)[0] == 1  # an agent never approves
    code, out, _ = run(approver.token, "review", "--approve", request)
    assert code == 0 and f"approved request #{request}" in out
    code, out, _ = run(agent.token, "up", "--tenant", "acme", "--approval", request)
    assert code == 0 and f"(approval #{request})" in out
    code, out, _ = run(agent.token, "journal", "--tenant", "acme", "--json")
    assert json.loads(out.splitlines()[0])["actor"] == agent.actor
    code, _, err = run(agent.token, "up", "--tenant", "globex")
    assert code == 2 and "404" in err
    code, _, err = run(agent.token, "destroy", "--tenant", "acme")
    assert code == 2 and "not offered by the service" in err
    assert [(e.operation, e.result) for e in server.journal(agent.actor)][:2] == [("up", "succeeded"),
                                                                                  ("up", "refused")]

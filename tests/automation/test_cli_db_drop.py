"""`paybill-iac db drop`: retention end on the command line, through the journal and the approvals
(runner and data-plane doubles patched in)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.automation.conftest import Clock, Env
from tests.automation.doubles import FakeRunner
from tests.cli_invoke import run_cli

DAY = 86400.0
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    runner = FakeRunner()
    monkeypatch.setattr("paybill_iac.automation.operator._pulumi_runner", lambda: runner)
    made: list[dict[str, Any]] = []

    def direct(**options: Any) -> Any:
        made.append(options)
        return env.data_plane

    monkeypatch.setattr("paybill_iac.automation.DirectDataPlane", direct)
    monkeypatch.delenv("PAYBILL_STATE_URL", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        return run_cli(capsys, *args, "--catalog", str(env.catalog), "--state-dir", str(env.state))

    invoke.made = made  # type: ignore[attr-defined]
    return invoke


def _offboard(env: Env, tenant: str, days_ago: float) -> None:
    """Offboard `tenant` as if it happened `days_ago` days ago (the journal and the retention say so)."""
    auto = env.make(clock=Clock(time.time() - days_ago * DAY), state_url=f"sqlite:///{env.state / 'state.db'}")
    auto.offboard(tenant)
    auto.close()


def test_a_human_drops_the_database_once_the_retention_ended(run: Run, env: Env) -> None:
    _offboard(env, "acme", days_ago=30)
    code, out, err = run("db", "drop", "--tenant", "acme", "--yes", "--admin-url", "postgresql://admin@10.0.0.5/x")
    assert code == 0, err
    assert "drop tenant 'acme' database 'pb_acme_p_db' on 10.0.0.5:5432: changed drop_step" in out
    assert out.splitlines()[0].startswith("up paybill-tenant/acme") and "destroy paybill-tenant/acme" in out
    assert run.made == [{"url": "postgresql://admin@10.0.0.5/x", "secret": None,  # type: ignore[attr-defined]
                         "secret_field": None, "store": None}]
    code, out, _ = run("db", "drop", "--tenant", "acme", "--yes")
    assert code == 0 and "is done already" in out
    code, out, _ = run("journal", "--tenant", "acme")
    assert "destroy" in out.splitlines()[1] and "db-drop" in out.splitlines()[2] and "succeeded" in out.splitlines()[2]


def test_the_drop_waits_for_the_retention_and_asks_first(run: Run, env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    _offboard(env, "acme", days_ago=1)
    code, _, err = run("db", "drop", "--tenant", "acme", "--yes")
    assert code == 2 and "the retention of tenant 'acme' runs until" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out, err = run("db", "drop", "--tenant", "acme")
    assert code == 130 and "for good?" in out and "aborted" in err
    code, _, err = run("db", "drop", "--tenant", "globex", "--yes")
    assert code == 1 and "tenant 'globex' is active: retention end takes an offboarding tenant" in err
    assert env.data_plane.calls[-1][0] == "offboard"  # nothing dropped


def test_an_agent_s_drop_waits_for_a_human_approval(run: Run, env: Env) -> None:
    from paybill_iac.automation import ApprovalNeeded
    from paybill_iac.identity import local_actor

    _offboard(env, "acme", days_ago=30)
    code, _, err = run("db", "drop", "--tenant", "acme", "--yes", "--actor", "agent:bot")
    assert code == 2 and "is not accepted" in err  # the command line acts as its OS user, never a typed name
    state = [("same", "paybill:tenant:Pooled$aws:secretsmanager/secret:Secret", "acme-secret", True)]
    agent = env.make(actor="agent:bot", state_url=f"sqlite:///{env.state / 'state.db'}",
                     runner=FakeRunner(state={"paybill-tenant/acme": state}))
    with pytest.raises(ApprovalNeeded) as refused:
        agent.retention_end("acme")
    assert "agent:bot's destroy of paybill-tenant/acme is refused" in str(refused.value)
    assert "drops database 'pb_acme_p_db'" in str(refused.value)
    assert "`paybill-iac review --approve 1`" in str(refused.value)
    code, out, _ = run("review")
    assert code == 1 and "approve  #1 destroy of paybill-tenant/acme by agent:bot" in out
    assert run("review", "--approve", "1")[0] == 0
    assert agent.store.approvals.get(1).decided_by == local_actor()
    dropped, destroyed = agent.retention_end("acme", approval=1)
    assert dropped.operation == "db-drop" and destroyed.approval == 1
    assert env.data_plane.operations("acme") == ["offboard", "drop"]

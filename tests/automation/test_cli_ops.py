"""The automation commands: output, errors and exit codes (runner double patched in, or no Pulumi CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from paybill_iac.cli import main
from tests.automation.conftest import Env
from tests.automation.doubles import FakeRunner, RecordingDataPlane
from tests.cli_invoke import run_cli

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    runner = FakeRunner(changes={"paybill-tenant/acme": [("delete", "aws:rds/instance:Instance", "acme-db", True)]})
    monkeypatch.setattr("paybill_iac.automation.operator._pulumi_runner", lambda: runner)
    data_plane = RecordingDataPlane()
    monkeypatch.setattr("paybill_iac.automation.dataplane.DirectDataPlane", lambda: data_plane)
    monkeypatch.delenv("PAYBILL_STATE_URL", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        return run_cli(capsys, *args, "--catalog", str(env.catalog), "--state-dir", str(env.state))

    invoke.runner = runner  # type: ignore[attr-defined]
    invoke.data_plane = data_plane  # type: ignore[attr-defined]
    return invoke


def test_up_refresh_and_the_journal(run: Run) -> None:
    code, out, _ = run("up", "--tenant", "globex")
    assert code == 0 and out.startswith("up paybill-tenant/globex: ")
    assert run("refresh", "--cell", "aws-euw1-a")[0] == 0
    code, out, _ = run("journal")
    assert code == 0 and "paybill-tenant/globex" in out and "succeeded" in out and out.startswith("STARTED")
    code, out, _ = run("journal", "--json", "--tenant", "globex")
    assert [json.loads(line)["operation"] for line in out.splitlines()] == ["up"]


def test_usage_errors_exit_2(run: Run) -> None:
    code, _, err = run("up", "--tenant", "nobody")
    assert code == 2 and "unknown tenant 'nobody'" in err
    code, _, err = run("up")
    assert code == 2 and "exactly one stack" in err
    code, _, err = run("up", "--tenant", "acme", "--actor", "root")
    assert code == 2 and "--actor/PAYBILL_ACTOR ('root') is not accepted" in err
    code, _, err = run("lifecycle", "change-plan", "acme", "--plan", "growth", "--data-move", "nope")
    assert code == 2 and "expected module:function" in err


def test_agent_refusal_approval_and_apply(run: Run, env: Env) -> None:
    """An agent (here through the Python API; remotely, through the service) is refused; the person at the
    command line approves, recorded as their OS user; the agent applies exactly that plan."""
    from paybill_iac.automation import ApprovalNeeded
    from paybill_iac.identity import local_actor

    agent = env.make(actor="agent:bot", runner=run.runner)  # type: ignore[attr-defined]
    with pytest.raises(ApprovalNeeded) as refused:
        agent.up(tenant="acme")
    assert "review --approve 1" in str(refused.value) and "deletes the protected resource" in str(refused.value)
    code, out, _ = run("review")
    assert code == 1 and "approve  #1 up of paybill-tenant/acme by agent:bot" in out
    assert run("review", "--approve", "1")[0] == 0
    assert agent.store.approvals.get(1).decided_by == local_actor()
    assert agent.up(tenant="acme", approval=1).approval == 1
    code, out, _ = run("review")
    assert code == 0 and "nothing needs a human" in out


def test_the_journal_records_the_os_user_never_a_typed_name(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from paybill_iac.identity import local_actor

    assert run("up", "--tenant", "globex")[0] == 0
    code, out, _ = run("journal", "--json")
    assert [json.loads(line)["actor"] for line in out.splitlines()] == [local_actor()]
    monkeypatch.setenv("PAYBILL_ACTOR", "agent:someone-else")
    code, _, err = run("up", "--tenant", "globex")
    assert code == 2 and "is not accepted" in err
    monkeypatch.setenv("USER", "root-impostor")  # the OS user is the process's uid, not $USER
    monkeypatch.delenv("PAYBILL_ACTOR")
    assert local_actor() != "human:root-impostor"


def test_lifecycle_commands(run: Run, env: Env) -> None:
    code, out, _ = run("lifecycle", "onboard", "umbrella")
    assert code == 0 and "tenant umbrella is active" in out
    assert "state: active" in env.tenant_file("umbrella").read_text()
    code, out, _ = run("lifecycle", "suspend", "globex")
    assert code == 0 and "suspended" in out
    code, _, err = run("lifecycle", "suspend", "wayne")
    assert code == 1 and "cannot go from offboarding to suspended" in err
    assert run("lifecycle", "resume", "globex")[0] == 0
    code, out, _ = run("lifecycle", "offboard", "wonka")
    assert code == 0 and "wonka is offboarding" in out and "lifecycle retention-end wonka" in out
    code, _, err = run("lifecycle", "retention-end", "wonka", "--yes")
    assert code == 2 and "the retention of tenant 'wonka' runs until" in err
    code, out, _ = run("lifecycle", "cancel-offboarding", "wonka")
    assert code == 0 and "wonka is active" in out and "state: active" in env.tenant_file("wonka").read_text()


def test_change_plan_with_a_hook_from_a_module(run: Run, env: Env, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "svc_hooks.py").write_text("moved = []\ndef move(context):\n    moved.append(context.tenant)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = run("lifecycle", "change-plan", "globex", "--plan", "growth", "--data-move", "svc_hooks:move")
    assert code == 0, err
    assert "globex is on plan growth" in out
    import svc_hooks  # type: ignore[import-not-found]

    assert svc_hooks.moved == ["globex"]


def test_fleet_up_prints_a_table_and_fails_on_failures(run: Run) -> None:
    code, out, err = run("fleet", "up", "--tenant", "globex", "--tenant", "initech", "--concurrency", "2")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["TENANT", "WAVE", "RESULT"]
    assert "2 tenants: 2 succeeded" in out and "[2/2]" in err
    code, _, err = run("fleet", "up", "--tenant", "acme", "--actor", "agent:bot")
    assert code == 2 and "is not accepted" in err


def test_review_lists_and_clears_flags(run: Run, env: Env) -> None:
    from paybill_iac.automation.store import Store

    store = Store(f"sqlite:///{(env.state / 'state.db').resolve()}")
    store.flags.add("paybill-tenant/acme", "crashed during up")
    store.close()
    code, out, _ = run("review")
    assert code == 1 and "review   paybill-tenant/acme: crashed during up" in out
    code, _, err = run("up", "--tenant", "acme")
    assert code == 1 and "needs review" in err
    assert run("review", "--clear", "tenant/acme")[0] == 0
    code, out, _ = run("review", "--json")
    assert code == 0 and json.loads(out)["flags"] == []


def test_without_pulumi_the_commands_say_how_to_install_it(env: Env, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(env.root / "nothing-here"))
    monkeypatch.delenv("PAYBILL_STATE_URL", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["up", "--tenant", "acme", "--catalog", str(env.catalog), "--state-dir", str(env.state)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "needs the Pulumi CLI" in err and "preview` works offline" in err and "Traceback" not in err


def test_the_cli_does_not_load_the_automation_layer_to_start() -> None:
    code = ("import sys, paybill_iac.cli; "
            "print(any(name.startswith(('paybill_iac.automation', 'sqlalchemy', 'pulumi')) for name in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

"""SIGTERM and SIGINT end an operation cleanly: the signal reaches the engine (the `pulumi` child), the
journal entry ends as interrupted with its phase, the lease is released, and the stack is flagged when the
phase could have changed it. Real processes: the operation runs in a subprocess that the test signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from paybill_iac.automation.runner import PulumiRunner, pulumi_children
from tests.automation.conftest import REPO, Env

ENGINE = textwrap.dedent("""
    import pathlib, signal, sys, time
    folder = pathlib.Path(sys.argv[1])
    def cancel(signum, frame):
        (folder / "engine-got-sigint").write_text("cancelling: finishing the steps in flight")
        time.sleep(0.3)
        sys.exit(255)
    signal.signal(signal.SIGINT, cancel)
    (folder / "engine-started").write_text("up")
    time.sleep(60)
""")


@dataclass
class EngineChildRunner:
    """A runner whose up waits for an engine child process, as PulumiRunner waits for `pulumi`: the child
    cancels on SIGINT (what the Pulumi CLI does) and exits non-zero. `interrupt` forwards to it."""

    folder: str
    child: subprocess.Popen[bytes] | None = None

    def run(self, invocation):  # type: ignore[no-untyped-def]
        from paybill_iac.automation.errors import RunFailed
        from paybill_iac.automation.runner import RunResult

        if invocation.operation == "preview":
            (Path(self.folder) / "engine-started").write_text("preview")
            time.sleep(60)
        self.child = subprocess.Popen([sys.executable, "-c", ENGINE, self.folder])
        if self.child.wait() != 0:
            raise RunFailed(f"up of {invocation.stack.key} failed: the engine exited {self.child.returncode}")
        return RunResult()

    def interrupt(self, signum: int) -> bool:
        if self.child is None or self.child.poll() is not None:
            return False
        self.child.send_signal(signal.SIGINT)
        return True

    def outputs(self, invocation):  # type: ignore[no-untyped-def]
        return {}

    def resources(self, invocation):  # type: ignore[no-untyped-def]
        return []

    def unprotect(self, invocation, urns):  # type: ignore[no-untyped-def]
        pass

    def protect(self, invocation, urns):  # type: ignore[no-untyped-def]
        pass


OPERATION = textwrap.dedent("""
    import sys
    from paybill_iac.automation import Automation, OperationInterrupted
    from tests.automation.test_signals import EngineChildRunner
    catalog, state, folder, actor = sys.argv[1:5]
    auto = Automation.open(catalog, state_dir=state, state_url=f"sqlite:///{state}/state.db", actor=actor,
                           runner=EngineChildRunner(folder), lease_ttl=300)
    try:
        auto.up(tenant="acme")
    except OperationInterrupted as stopped:
        print(f"interrupted in {stopped.phase}", flush=True)
        sys.exit(stopped.exit_code)
""")


def _operation(env: Env, actor: str = "human") -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", OPERATION, str(env.catalog), str(env.state), str(env.root), actor],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def _wait_for(path: Path, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_apply_reaches_the_engine_and_ends_the_operation_cleanly(env: Env, signum: int) -> None:
    process = _operation(env)
    _wait_for(env.root / "engine-started")
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, (out, err)
    assert "interrupted in apply" in out
    assert (env.root / "engine-got-sigint").exists()  # the engine was told, and cancelled
    auto = env.make()
    [entry] = auto.journal(tenant="acme")
    assert entry.result == "interrupted" and entry.details["phase"] == "apply"
    assert entry.details["signal"] == signum and signal.Signals(signum).name in (entry.error or "")
    assert auto.store.leases.get("paybill-tenant/acme") is None  # released
    [flag] = auto.review().flags  # at once, not when a lease expires: the stack may be half-updated
    assert flag.stack == "paybill-tenant/acme" and "apply phase" in flag.reason


def test_a_signal_during_an_agent_s_preview_flags_nothing(env: Env) -> None:
    process = _operation(env, actor="agent:bot")
    _wait_for(env.root / "engine-started")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143 and "interrupted in preview" in out, (out, err)
    auto = env.make()
    [entry] = auto.journal(tenant="acme")
    assert (entry.result, entry.details["phase"]) == ("interrupted", "preview")
    assert auto.store.leases.get("paybill-tenant/acme") is None and auto.review().flags == []


def test_pulumi_runner_forwards_sigint_to_its_pulumi_children(tmp_path: Path) -> None:
    script = tmp_path / "pulumi"  # what pulumi.automation starts: a process named pulumi
    script.write_text(f"#!{sys.executable}\n" + ENGINE)
    script.chmod(0o755)
    child = subprocess.Popen([str(script), str(tmp_path)])
    try:
        _wait_for(tmp_path / "engine-started")
        assert pulumi_children() == [child.pid]
        assert PulumiRunner().interrupt(signal.SIGTERM) is True
        assert child.wait(timeout=30) == 255 and (tmp_path / "engine-got-sigint").exists()
        assert PulumiRunner().interrupt(signal.SIGTERM) is False  # nothing left to tell
    finally:
        if child.poll() is None:
            child.kill()

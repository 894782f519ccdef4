"""The Pulumi runner's refresh preview and stack list without the CLI: stand-ins for pulumi.automation's Stack
and LocalWorkspace receive what the runner passes and send the engine's events (the labelled fixture, through
the SDK's own EngineEvent) and stack summaries back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi.automation import StackSummary
from pulumi.automation.events import EngineEvent

from paybill_iac.automation import PulumiRunner, RunFailed, StackRef
from paybill_iac.errors import PulumiCLIMissing
from tests.automation.conftest import Env

EVENTS = json.loads((Path(__file__).parent / "fixtures" / "refresh_preview_events.json").read_text())["events"]


class RefreshingStack:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def preview_refresh(self, on_event: Any = None, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        for event in EVENTS:
            on_event(EngineEvent.from_json(event))
        return type("Preview", (), {"change_summary": {"same": 3, "update": 1, "delete": 1}})()


def test_a_refresh_preview_passes_no_pack_and_reads_each_resource_s_drift(env: Env,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    stack = RefreshingStack()
    monkeypatch.setattr(PulumiRunner, "_stack", staticmethod(lambda invocation: stack))
    invocation = env.make().invocation("preview-refresh", StackRef.tenant("cyberdyne"))
    assert invocation.command_line()[:3] == ["pulumi", "refresh", "--preview-only"]
    result = PulumiRunner().run(invocation)
    [kwargs] = stack.calls
    assert "policy_packs" not in kwargs and kwargs["message"].startswith("paybill-iac preview-refresh")
    drifted = {item.name: (item.op, item.paths) for item in result.refreshed if item.drifted}
    assert drifted == {"cyberdyne-s-db": ("update", ("publiclyAccessible", "tags.owner")),
                       "cyberdyne-s-data": ("delete", ())}
    assert result.summary.counts == {"delete": 1, "same": 3, "update": 1} and result.summary.changed == 2


def test_the_stack_list_names_the_project_s_stacks(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Workspace:
        def __init__(self, work_dir: str, env_vars: dict[str, str]) -> None:
            seen.update(work_dir=work_dir, env_vars=env_vars)

        def list_stacks(self) -> list[StackSummary]:
            return [StackSummary("organization/paybill-tenant/acme", False),
                    StackSummary("organization/paybill-tenant/ghost", False)]

    monkeypatch.setattr("pulumi.automation.LocalWorkspace", Workspace)
    layout = env.make().layout
    assert PulumiRunner().list_stacks(layout, "paybill-tenant") == ["acme", "ghost"]
    assert (Path(seen["work_dir"]) / "Pulumi.yaml").read_text().startswith("name: paybill-tenant")
    assert seen["env_vars"]["PULUMI_BACKEND_URL"] == layout.backend

    def missing(**_: Any) -> Any:
        raise FileNotFoundError("[Errno 2] No such file or directory: 'pulumi'")

    monkeypatch.setattr("pulumi.automation.LocalWorkspace", missing)
    with pytest.raises(PulumiCLIMissing):
        PulumiRunner().list_stacks(layout, "paybill-tenant")


def test_a_drift_check_never_creates_the_stack_it_looks_at(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi.automation import errors
    from pulumi.automation._cmd import CommandResult

    created: list[str] = []

    def select_stack(name: str, **_: Any) -> Any:
        raise errors.StackNotFoundError(CommandResult("", f"error: no stack named '{name}' found", 255))

    monkeypatch.setattr("pulumi.automation.select_stack", select_stack)
    monkeypatch.setattr("pulumi.automation.create_or_select_stack", lambda name, **_: created.append(name))
    auto = env.make(runner=PulumiRunner())
    with pytest.raises(RunFailed, match="paybill-tenant/umbrella has no stack in the backend"):
        auto.check_drift(tenant="umbrella")
    assert created == []
    stored = auto.store.drift.latest()["paybill-tenant/umbrella"]
    assert stored.status == "error" and "no stack in the backend" in (stored.error or "")

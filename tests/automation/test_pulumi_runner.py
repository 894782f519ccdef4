"""PulumiRunner without the CLI: a stand-in for pulumi.automation's Stack receives exactly what the
runner passes (policy packs and configs, plan, tags, message) and sends real engine events back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi.automation import errors as auto_errors
from pulumi.automation._cmd import CommandResult
from pulumi.automation.events import EngineEvent, OpType

from paybill_iac.automation import PulumiRunner, RunFailed, StackLocked, StackRef, TransientFailure
from paybill_iac.automation.runner import _classify
from tests.automation.conftest import Env

DB_URN = "urn:pulumi:acme::paybill-tenant::paybill:tenant:Pooled$aws:rds/instance:Instance::acme-db"


class FakeStack:
    def __init__(self, raise_error: Exception | None = None):
        self.tags: dict[str, str] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.raise_error = raise_error

    def set_tag(self, key: str, value: str) -> None:
        self.tags[key] = value

    def _emit(self, on_event: Any) -> None:
        on_event(EngineEvent.from_json({"sequence": 1, "timestamp": 0, "resourcePreEvent": {"metadata": {
            "op": "delete", "urn": DB_URN, "type": "aws:rds/instance:Instance", "provider": "",
            "old": {"type": "aws:rds/instance:Instance", "urn": DB_URN, "protect": True}}}}))
        on_event(EngineEvent.from_json({"sequence": 2, "timestamp": 0, "policyEvent": {
            "message": "too big", "color": "never", "policyName": "aws-rds-instance-vcpus-within-plan",
            "policyPackName": "plan-limits", "policyPackVersion": "1", "policyPackVersionTag": "1",
            "enforcementLevel": "mandatory", "resourceUrn": DB_URN}}))

    def preview(self, on_event: Any = None, **kwargs: Any) -> Any:
        self.calls.append(("preview", kwargs))
        self._emit(on_event)
        if self.raise_error:
            raise self.raise_error
        return type("Preview", (), {"change_summary": {OpType.DELETE: 1, OpType.SAME: 4}})()

    def up(self, on_event: Any = None, **kwargs: Any) -> Any:
        self.calls.append(("up", kwargs))
        self._emit(on_event)
        summary = type("Summary", (), {"resource_changes": {"delete": 1}})()
        output = type("Output", (), {"value": "pb_acme_db"})()
        return type("Up", (), {"summary": summary, "outputs": {"database": output}})()


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    for pack in ("plan-limits", "tenant-isolation", "agent-guardrails"):
        (tmp_path / "packs" / pack).mkdir(parents=True)
        (tmp_path / "packs" / pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    return tmp_path / "packs"


def test_preview_passes_packs_configs_plan_and_tags_and_reads_events(env: Env, packs: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    stack = FakeStack()
    monkeypatch.setattr(PulumiRunner, "_stack", staticmethod(lambda invocation: stack))
    auto = env.make(actor="agent:bot", policy_dir=packs)
    invocation = auto.invocation("preview", StackRef.tenant("acme"), plan_file=str(env.state / "plan.json"))
    result = PulumiRunner().run(invocation)
    [(operation, kwargs)] = stack.calls
    assert operation == "preview"
    assert kwargs["policy_packs"] == [str(packs / pack) for pack in ("plan-limits", "tenant-isolation",
                                                                      "agent-guardrails")]
    assert kwargs["plan"] == str(env.state / "plan.json") and kwargs["message"].endswith("by agent:bot")
    for path in kwargs["policy_pack_configs"]:  # written per run, from the catalog
        config = json.loads(Path(path).read_text())
        assert all(rule["context"]["actor"] == "agent:bot" for rule in config.values())
    assert stack.tags["paybill-tenant"] == "acme" and stack.tags["paybill-isolation"] == "pooled"
    assert (invocation.work_dir / "Pulumi.yaml").is_file() and (invocation.work_dir / "Pulumi.acme.yaml").is_file()
    [step] = result.summary.steps
    assert (step.op, step.protect, step.name) == ("delete", True, "acme-db")
    assert result.summary.counts == {"delete": 1, "same": 4} and result.summary.changed == 1


def test_up_returns_outputs_and_a_mandatory_violation_is_reported(env: Env, packs: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    stack = FakeStack()
    monkeypatch.setattr(PulumiRunner, "_stack", staticmethod(lambda invocation: stack))
    auto = env.make(policy_dir=packs)
    up = PulumiRunner().run(auto.invocation("up", StackRef.tenant("acme")))
    assert up.outputs == {"database": "pb_acme_db"}
    failing = FakeStack(auto_errors.CommandError(CommandResult("", "error: preview failed", 255)))
    monkeypatch.setattr(PulumiRunner, "_stack", staticmethod(lambda invocation: failing))
    with pytest.raises(RunFailed, match=r"stopped by policy:\n  \[plan-limits\] aws-rds-instance-vcpus-within-plan"):
        PulumiRunner().run(auto.invocation("preview", StackRef.tenant("acme")))


def test_a_missing_pack_stops_the_run(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PulumiRunner, "_stack", staticmethod(lambda invocation: FakeStack()))
    auto = env.make(policy_dir=tmp_path / "no-packs")
    with pytest.raises(RunFailed, match="policy pack.* missing"):
        PulumiRunner().run(auto.invocation("up", StackRef.tenant("acme")))


def _failed(stderr: str, stdout: str = "") -> Exception:
    from pulumi.automation.errors import create_command_error

    return create_command_error(CommandResult(stdout, stderr, 255))


@pytest.mark.parametrize(("error", "expected"), [
    # the backend's lock conflict and its 429 / 5xx, in the CLI's own error lines: retried
    (_failed("the stack is currently locked by 1 lock(s)"), StackLocked),
    (_failed("error: [409] Conflict: Another update is currently in progress."), StackLocked),
    (_failed("error: [503] Service Unavailable: the Pulumi Cloud is unavailable"), TransientFailure),
    (_failed("error: getting stack: [429] Too Many Requests"), TransientFailure),
    (_failed("error: [502] Bad Gateway"), TransientFailure),
    # everything else: not retried
    (_failed("error: InvalidParameterValue: bad size"), RunFailed),
    (_failed("read tcp: i/o timeout"), RunFailed),  # no error line of the CLI's
    (_failed("error: 503 Service Unavailable"), RunFailed),  # not the backend's [status] form
    (_failed("error: update failed", "  aws:s3/bucket:Bucket (pb-503-data):\n    error: creating bucket pb-503-data: "
             "timeout while waiting for state to become 'available'"), RunFailed),
    (_failed("error: update failed", "  aws:rds/instance:Instance (db):\n    error: [503] operation error RDS: "
             "CreateDBInstance, https response error StatusCode: 503"), RunFailed),  # a cloud's 503, indented
    (_failed("error: bucket pb-503-data already exists"), RunFailed),
])
def test_only_the_cli_s_own_error_lines_decide_a_retry(env: Env, error: Exception, expected: type) -> None:
    invocation = env.make().invocation("up", StackRef.tenant("acme"))
    assert type(_classify(error, invocation, [])) is expected


def test_a_failed_up_that_changed_resources_is_partial(env: Env, packs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing(FakeStack):
        def up(self, on_event: Any = None, **kwargs: Any) -> Any:
            on_event(EngineEvent.from_json({"sequence": 1, "timestamp": 0, "resOutputsEvent": {"metadata": {
                "op": "create", "urn": DB_URN, "type": "aws:rds/instance:Instance", "provider": ""}}}))
            raise _failed("error: [503] Service Unavailable")

    monkeypatch.setattr(PulumiRunner, "_stack", staticmethod(lambda invocation: Failing()))
    auto = env.make(policy_dir=packs)
    with pytest.raises(TransientFailure) as failed:
        PulumiRunner().run(auto.invocation("up", StackRef.tenant("acme")))
    assert failed.value.partial == 1

"""A Stack's conditions and lastUpdate as one state; the roll-up; the wave-by-wave rollout against a
cluster double (the operator's status changes scripted per poll)."""

from __future__ import annotations

from typing import Any

import pytest

from paybill_iac.pko.kube import ApplyOutcome
from paybill_iac.pko.rollout import plan_rollout, roll_out
from paybill_iac.pko.status import classify, rollup


def _stack(name: str = "tenant-a", *, generation: int = 2, observed: int = 2,
           conditions: list[dict[str, str]] | None = None, last: dict[str, Any] | None = None, wave: int = 1,
           plan: str = "starter", cloud: str = "aws") -> dict[str, Any]:
    status: dict[str, Any] = {"observedGeneration": observed}
    if conditions is not None:
        status["conditions"] = conditions
    if last is not None:
        status["lastUpdate"] = last
    return {"metadata": {"name": name, "generation": generation,
                         "labels": {"paybill.io/kind": "tenant" if name.startswith("tenant") else "cell",
                                    "paybill.io/tenant": name.removeprefix("tenant-"), "paybill.io/wave": str(wave),
                                    "paybill.io/plan": plan, "paybill.io/cloud": cloud}},
            "status": status}


def _c(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


READY = [_c("Ready", "True", "ProcessingCompleted")]
SUCCEEDED = {"state": "succeeded", "generation": 2, "failures": 0}
FAILED = {"state": "failed", "generation": 2, "failures": 2, "message": "error: update failed\n  details"}


@pytest.mark.parametrize(("stack", "state"), [
    (_stack(conditions=READY, last=SUCCEEDED), "ready"),
    (_stack(), "pending"),                                                         # not seen yet
    (_stack(generation=3, observed=2, conditions=READY, last=SUCCEEDED), "pending"),  # a newer spec not seen
    (_stack(conditions=[_c("Ready", "False", "NotReadyInProgress"),
                        _c("Reconciling", "True", "StackProcessing")]), "reconciling"),
    (_stack(conditions=[_c("Ready", "False"), _c("Reconciling", "True", "PrerequisiteNotSatisfied",
                                                 "cell-a not ready")]), "waiting"),
    (_stack(conditions=[_c("Ready", "False"), _c("Reconciling", "True", "RetryingAfterFailure", "2 failures")],
            last=FAILED), "failing"),
    (_stack(conditions=[_c("Ready", "False", "NotReadyStalled"), _c("Stalled", "True", "SourceUnavailable", "no repo")],
            last=FAILED), "stalled"),
    (_stack(conditions=[_c("Ready", "False")], last=FAILED), "failing"),
    (_stack(conditions=[_c("Ready", "False"), _c("Reconciling", "True", "StackProcessing")],
            last={**FAILED, "generation": 1}), "reconciling"),  # the failure was of the previous spec
])
def test_states(stack: dict[str, Any], state: str) -> None:
    assert classify(stack).state == state


def test_details_and_rollup() -> None:
    stalled = classify(_stack("tenant-b", conditions=[_c("Stalled", "True", "SpecInvalid", "bad  spec\nhere")],
                              last=FAILED, wave=2, plan="growth", cloud="gcp"))
    assert (stalled.reason, stalled.message, stalled.failures) == ("SpecInvalid", "bad spec here", 2)
    assert stalled.failed
    statuses = [classify(_stack(conditions=READY, last=SUCCEEDED)), stalled,
                classify(_stack("cell-x", conditions=READY, wave=0, plan="", cloud="aws"))]
    summary = rollup(statuses)
    assert summary["total"] == 3 and summary["states"] == {"stalled": 1, "ready": 2}
    assert summary["by"]["wave"] == {"0": {"ready": 1}, "1": {"ready": 1}, "2": {"stalled": 1}}
    assert summary["by"]["plan"] == {"-": {"ready": 1}, "growth": {"stalled": 1}, "starter": {"ready": 1}}
    assert summary["by"]["cloud"] == {"aws": {"ready": 2}, "gcp": {"stalled": 1}}
    assert summary["failed"] == ["tenant-b"]


class FakeCluster:
    """Applies succeed (or fail by name); each list() returns the next scripted state per Stack."""

    def __init__(self, scripts: dict[str, list[str]] | None = None, refuse: set[str] | None = None):
        self.applied: list[str] = []
        self.flags: list[tuple[bool, bool]] = []
        self.scripts = scripts or {}
        self.refuse = refuse or set()
        self.polls = 0

    def apply(self, manifest: dict[str, Any], *, force: bool = False, dry_run: bool = False) -> ApplyOutcome:
        name = manifest["metadata"]["name"]
        self.applied.append(name)
        self.flags.append((force, dry_run))
        if name in self.refuse:
            return ApplyOutcome(name, False, error="HTTP 422: invalid")
        return ApplyOutcome(name, True, 1)

    def list(self) -> list[dict[str, Any]]:
        self.polls += 1
        found = []
        for name in self.applied:
            script = self.scripts.get(name, ["ready"])
            state = script[min(self.polls - 1, len(script) - 1)]
            conditions = {"ready": (READY, SUCCEEDED),
                          "running": ([_c("Reconciling", "True", "StackProcessing")], None),
                          "failed": ([_c("Reconciling", "True", "RetryingAfterFailure")], FAILED),
                          "stalled": ([_c("Stalled", "True", "SpecInvalid")], FAILED)}[state]
            found.append(_stack(name, generation=1, observed=1, conditions=conditions[0],
                                last={**conditions[1], "generation": 1} if conditions[1] else None))
        return found


def _names(waves: list[list[dict[str, Any]]]) -> list[list[str]]:
    return [[stack["metadata"]["name"] for stack in wave] for wave in waves]


def test_plan_rollout_cells_first_then_the_fleets_waves(catalog: Any, settings: Any) -> None:
    from paybill_iac.automation.fleet import plan_waves

    planned = plan_rollout(catalog, settings)
    names = _names(planned)
    assert names[0] == [f"cell-{cell}" for cell in sorted(set(catalog.placements.values()))]
    assert names[1:] == [[f"tenant-{tenant}" for tenant in wave] for wave in plan_waves(catalog)]
    for number, wave in enumerate(planned):
        assert all(stack["metadata"]["labels"]["paybill.io/wave"] == str(number) for stack in wave)
    custom = plan_rollout(catalog, settings, selectors=["cloud:aws"], tenants=["acme", "hooli"])
    assert _names(custom)[1:] == [["tenant-acme", "tenant-hooli"]]  # both on aws: one wave, nothing left
    assert _names(custom)[0] == sorted({f"cell-{catalog.placements[t]}" for t in ("acme", "hooli")
                                        if t in catalog.placements})


def _waves() -> list[list[dict[str, Any]]]:
    def stack(name: str) -> dict[str, Any]:
        return {"metadata": {"name": name}}

    return [[stack("cell-a")], [stack("tenant-a"), stack("tenant-b")], [stack("tenant-c")]]


def test_rollout_waits_for_each_wave_and_succeeds() -> None:
    cluster = FakeCluster({"cell-a": ["running", "ready"], "tenant-a": ["running", "running", "ready"]})
    sleeps: list[float] = []
    report = roll_out(cluster, _waves(), poll=5, sleep=sleeps.append, clock=lambda: 0.0)
    assert report.ok and cluster.applied == ["cell-a", "tenant-a", "tenant-b", "tenant-c"]
    assert sleeps and all(value == 5 for value in sleeps)
    assert {name: status.state for wave in report.waves for name, status in wave.statuses.items()} == {
        "cell-a": "ready", "tenant-a": "ready", "tenant-b": "ready", "tenant-c": "ready"}


def test_rollout_halts_when_failures_pass_the_threshold() -> None:
    cluster = FakeCluster({"tenant-a": ["failed"]}, refuse={"tenant-b"})
    messages: list[str] = []
    report = roll_out(cluster, _waves(), max_failures=1, sleep=lambda _s: None, progress=messages.append)
    assert report.failures == ["tenant-a", "tenant-b"] and "halted after wave 1" in report.halted
    assert "tenant-c" not in cluster.applied and report.waves[2].skipped and not report.ok
    assert any("HTTP 422" in message for message in messages)
    tolerant = roll_out(FakeCluster({"tenant-a": ["stalled"]}), _waves(), max_failures=1, sleep=lambda _s: None)
    assert tolerant.failures == ["tenant-a"] and not tolerant.halted and not tolerant.ok


def test_rollout_timeout_counts_as_failure() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    cluster = FakeCluster({"cell-a": ["running"]})
    report = roll_out(cluster, _waves(), timeout=60, poll=15, sleep=sleep, clock=lambda: now[0])
    assert report.waves[0].timed_out == ["cell-a"] and report.halted and cluster.applied == ["cell-a"]


def test_dry_run_and_no_wait_do_not_poll() -> None:
    cluster = FakeCluster()
    report = roll_out(cluster, _waves(), dry_run=True, force=True)
    assert report.ok and cluster.polls == 0 and set(cluster.flags) == {(True, True)}
    cluster = FakeCluster()
    assert roll_out(cluster, _waves(), wait=False).ok and cluster.polls == 0

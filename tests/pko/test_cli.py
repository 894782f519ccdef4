"""`paybill-iac fleet apply|status --engine pko` on the command line, against a cluster double in place of
the Kubernetes client (its requests are tested in test_kube.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from paybill_iac.cli import main
from paybill_iac.pko.kube import ApplyOutcome
from tests.pko.conftest import REPO, SETTINGS


class FakeStackApi:
    stored: dict[str, dict[str, Any]] = {}
    stalled: set[str] = set()

    def __init__(self, namespace: str, client: Any = None, *, context: str | None = None):
        self.namespace = namespace

    def apply(self, manifest: dict[str, Any], *, force: bool = False, dry_run: bool = False) -> ApplyOutcome:
        name = manifest["metadata"]["name"]
        if not dry_run:
            self.stored[name] = manifest
        return ApplyOutcome(name, True, 1)

    def list(self) -> list[dict[str, Any]]:
        found = []
        for name, manifest in self.stored.items():
            if name in self.stalled:
                conditions = [{"type": "Ready", "status": "False"},
                              {"type": "Stalled", "status": "True", "reason": "SourceUnavailable",
                               "message": "no repo"}]
                last = {"state": "failed", "generation": 1, "failures": 3}
            else:
                conditions = [{"type": "Ready", "status": "True", "reason": "ProcessingCompleted"}]
                last = {"state": "succeeded", "generation": 1}
            found.append({**manifest, "metadata": {**manifest["metadata"], "generation": 1},
                          "status": {"observedGeneration": 1, "conditions": conditions, "lastUpdate": last}})
        return found


@pytest.fixture
def fake_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> type[FakeStackApi]:
    monkeypatch.setattr("paybill_iac.pko.kube.StackApi", FakeStackApi)
    FakeStackApi.stored, FakeStackApi.stalled = {}, set()
    settings = tmp_path / "paybill.yaml"
    settings.write_text(yaml.safe_dump(SETTINGS))
    monkeypatch.setenv("PAYBILL_SETTINGS", str(settings))
    monkeypatch.setenv("PAYBILL_CATALOG", str(REPO / "stacks" / "catalog"))
    return FakeStackApi


def test_apply_then_status(fake_cluster: type[FakeStackApi], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "apply", "--engine", "pko", "--poll", "0.1"]) is None
    captured = capsys.readouterr()
    assert "18/18 Stacks applied in namespace paybill-stacks; 0 failed" in captured.out
    assert "wave 0: applying 4 cells" in captured.err
    assert main(["fleet", "status", "--engine", "pko"]) is None
    table = capsys.readouterr().out
    assert "18 Stacks in namespace paybill-stacks: 18 ready" in table and "WAVE" in table and "CLOUD" in table
    fake_cluster.stalled = {"tenant-acme"}
    with pytest.raises(SystemExit) as done:
        main(["fleet", "status", "--engine", "pko", "--json"])
    assert done.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] == ["tenant-acme"] and report["states"] == {"stalled": 1, "ready": 17}
    assert report["by"]["plan"]["starter"]["stalled"] == 1


def test_a_halted_rollout_exits_1(fake_cluster: type[FakeStackApi], capsys: pytest.CaptureFixture[str]) -> None:
    fake_cluster.stored = {"tenant-acme": {"metadata": {"name": "tenant-acme", "labels": {}}}}
    fake_cluster.stalled = {"tenant-acme"}
    with pytest.raises(SystemExit) as done:
        main(["fleet", "apply", "--engine", "pko", "--tenant", "acme", "--tenant", "globex", "--poll", "0.1"])
    assert done.value.code == 1
    captured = capsys.readouterr()
    assert "halted after wave" in captured.out and "failed tenant-acme" in captured.out


def test_dry_run_stores_nothing(fake_cluster: type[FakeStackApi], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "apply", "--engine", "pko", "--dry-run", "--namespace", "elsewhere"]) is None
    assert "(dry run)" in capsys.readouterr().out and not fake_cluster.stored

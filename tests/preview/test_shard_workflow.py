"""The pull-request workflow shards the offline preview when many stacks are affected: `size` counts them,
a matrix of `shard` jobs previews the parts, `offline` merges the parts' reports (or previews unsharded)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.preview.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "preview.yml"


def _jobs() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]


def _step(job: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(step for step in job["steps"] if step.get("id") == step_id)


def test_size_shard_and_merge() -> None:
    jobs = _jobs()
    size, shard, offline = jobs["size"], jobs["shard"], jobs["offline"]
    assert "paybill-iac preview shards" in _step(size, "size")["run"]
    assert size["outputs"]["matrix"] == "${{ steps.size.outputs.matrix }}"
    assert shard["needs"] == "size" and shard["if"] == "needs.size.outputs.count != '1'"
    assert shard["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.size.outputs.matrix) }}"
    part = _step(shard, "part")
    assert '--shard "$SHARD"' in part["run"] and "--format json" in part["run"] and '--actor "$ACTOR"' in part["run"]
    assert part["env"]["ACTOR"] == "${{ needs.size.outputs.actor }}"
    assert any(step.get("uses", "").startswith("actions/upload-artifact@") for step in shard["steps"])
    assert offline["needs"] == ["size", "shard"] and "needs.size.result == 'success'" in offline["if"]
    download = next(step for step in offline["steps"] if step.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["pattern"] == "preview-shard-*"
    run = _step(offline, "preview")["run"]
    assert "paybill-iac preview merge shards/*.json" in run and "--base" in run  # merged, or unsharded when small


def test_the_shards_judge_the_same_actor_as_the_offline_job() -> None:
    """The author step is repeated in `size` (a job cannot reuse another's step): the two must stay the same."""
    jobs = _jobs()
    ours, theirs = _step(jobs["size"], "author"), _step(jobs["offline"], "author")
    assert ours["run"] == theirs["run"] and ours["env"] == theirs["env"]

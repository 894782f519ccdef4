"""Sharded previews: a deterministic split in which a cell travels with the tenants that need its outputs,
and a merge that gives back the unsharded report, comment, SARIF and exit code."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill_iac.errors import UsageError
from paybill_iac.preview import Options, render
from paybill_iac.preview.merge import merge, read
from paybill_iac.preview.shard import Member, Shard, cell_owners, select, slim, slim_report, split
from paybill_iac.preview.shard import preview as preview_shard
from tests.preview.conftest import EXAMPLE, add_tenant_on_a_new_cell, git, preview


@pytest.fixture(autouse=True, scope="module")
def _heap_left_as_found() -> Any:
    """A preview with jobs=1 runs the stacks in this process, and the runner freezes the collector's heap
    once they loaded their modules (paybill_iac.preview.runner): undo it after this module, so the tests that
    run next in this worker find the collector as the process started (tests/catalog/test_parallel_load.py
    checks that nothing is frozen)."""
    import gc

    frozen = gc.get_freeze_count()
    yield
    if frozen == 0:
        gc.unfreeze()


def _same_as_unsharded(merged: dict[str, Any], full: dict[str, Any]) -> None:
    """The merge of slim shard reports renders the unsharded comment, SARIF, table and exit code, and its JSON
    is the unsharded report with slim stacks (the resource lists cut to what the violations name)."""
    aligned = copy.deepcopy(merged)
    aligned["summary"].update(seconds=full["summary"]["seconds"], jobs=full["summary"]["jobs"])
    for fmt in ("markdown", "sarif", "table"):
        assert render(aligned, fmt) == render(full, fmt), fmt
    assert aligned == slim_report(full)
    assert aligned["summary"]["resources"] == full["summary"]["resources"]


def _shards(count: int, catalog: Path = EXAMPLE, **options: Any) -> list[dict[str, Any]]:
    return [preview_shard(Options(catalog=catalog, jobs=1, progress=False, **options), Shard(index, count))
            for index in range(1, count + 1)]


@pytest.mark.parametrize(("text", "expected"), [("1/1", Shard(1, 1)), ("3/8", Shard(3, 8)), (" 2 / 4 ", Shard(2, 4))])
def test_shard_parse(text: str, expected: Shard) -> None:
    assert Shard.parse(text) == expected and str(expected) == f"{expected.index}/{expected.count}"


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "3", "1/257", "-1/2"])
def test_shard_parse_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


KINDS = [("aws", "pooled"), ("aws", "silo"), ("azure", "bridge"), ("gcp", "silo"), ("oci", "pooled")]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(["", "c1", "c2", "c3"])), max_size=300),
       st.integers(min_value=1, max_value=9), st.randoms(use_true_random=False))
def test_split_is_deterministic_and_balanced_per_kind(specs: list[Any], count: int, random: Any) -> None:
    members = [Member(f"t{index:04d}", kind, cell) for index, (kind, cell) in enumerate(specs)]
    placed = split(members, count)
    shuffled = list(members)
    random.shuffle(shuffled)
    assert split(shuffled, count) == placed  # a function of the members, not of their order
    assert set(placed) == {member.tenant for member in members}
    assert all(1 <= shard <= count for shard in placed.values())
    for kind in KINDS:
        sizes = [sum(1 for m in members if m.kind == kind and placed[m.tenant] == shard)
                 for shard in range(1, count + 1)]
        assert max(sizes) - min(sizes) <= 1, (kind, sizes)
    totals = [sum(1 for shard_of in placed.values() if shard_of == shard) for shard in range(1, count + 1)]
    assert max(totals) - min(totals) <= 1, totals
    cells_of = {member.tenant: member.cell for member in members}
    owners = cell_owners(placed, cells_of, ["c1", "c2", "c3", "c-unused"], count)
    for cell, owner in owners.items():
        holders = {placed[t] for t, c in cells_of.items() if c == cell}
        assert not holders or owner in holders  # reported by a shard that runs it anyway


def test_select_a_cell_travels_with_its_tenants(catalog_tasks: Any) -> None:
    from paybill_iac.catalog import load_catalog

    catalog = load_catalog(EXAMPLE)
    count = 3
    reported: list[str] = []
    tenants: list[str] = []
    for index in range(1, count + 1):
        mine, owned = select(catalog, None, Shard(index, count))
        ran = {task.id: task for task in mine.cells}
        for task in mine.tenants:
            if task.cell:
                assert task.cell in ran  # its cell runs in this shard, before it
        for cell, task in ran.items():
            assert task.evaluate == (cell in owned)
        assert [task.id for task in mine.cells] == sorted(ran)
        reported += owned
        tenants += [task.id for task in mine.tenants]
        assert mine.skipped == (catalog_tasks.skipped if index == 1 else {})
    assert sorted(reported) == sorted(task.id for task in catalog_tasks.cells)
    assert sorted(tenants) == sorted(task.id for task in catalog_tasks.tenants)


@pytest.fixture(scope="module")
def catalog_tasks() -> Any:
    from paybill_iac.catalog import load_catalog
    from paybill_iac.preview.tasks import build_tasks

    return build_tasks(load_catalog(EXAMPLE))


def test_merged_shards_are_the_unsharded_preview(example_report: dict[str, Any], tmp_path: Path) -> None:
    shards = _shards(3)
    assert sum(len(shard["tenants"]) for shard in shards) == len(example_report["tenants"])
    paths = []
    for shard in reversed(shards):  # any order
        path = tmp_path / f"shard-{shard['shard']['index']}.json"
        path.write_text(render(shard, "json"))
        paths.append(path)
    merged = merge(read(paths))
    _same_as_unsharded(merged, example_report)
    assert merged["summary"]["jobs"] == 3
    assert sum(len(path.read_bytes()) for path in paths) < len(render(example_report, "json")) / 5  # slim


def test_a_failing_shard_fails_the_merge_with_the_unsharded_exit_code(tmp_path: Path) -> None:
    """An agent's change that brings a cell into use: the same mandatory violation and exit code 1."""
    catalog = tmp_path / "catalog"
    import shutil

    shutil.copytree(EXAMPLE, catalog)
    add_tenant_on_a_new_cell(catalog)
    # The whole catalog: with a --tenant selection the cells run unjudged, for their tenants' outputs.
    full = preview(catalog, actor="agent:bot", jobs=2)
    assert full["summary"]["exit_code"] == 1 and "aws-use1-a" in full["summary"]["stacks_with_mandatory"]
    merged = merge(_shards(2, catalog=catalog, actor="agent:bot"))
    _same_as_unsharded(merged, full)


def test_base_previews_shard_and_merge_too(catalog_repo: Path) -> None:
    catalog = catalog_repo / "stacks" / "catalog"
    for tenant in ("acme", "globex", "hooli"):
        path = catalog / "tenants" / f"{tenant}.yaml"
        path.write_text(path.read_text().replace("name: ", "name: Renamed "))
    add_tenant_on_a_new_cell(catalog)
    cells = catalog / "cells.yaml"
    cells.write_text(cells.read_text().replace("capacity: 30, db_vcpus: 2", "capacity: 30, db_vcpus: 4"))
    git(catalog_repo, "add", "-A")
    full = preview(catalog, base="HEAD")
    # nothing is committed: compare the working tree with HEAD, as the workflow does with the base branch
    assert full["base"]["affected"]["tenants"] >= 4
    merged = merge(_shards(2, catalog=catalog, base="HEAD"))
    _same_as_unsharded(merged, full)


def _shard_report(index: int, count: int, **summary: Any) -> dict[str, Any]:
    base = {"catalog": "stacks/catalog", "actor": "human", "mode": "full", "jobs": 1, "seconds": 1.0}
    return {"version": 1, "tenants": [], "cells": [], "skipped": [], "base": None,
            "summary": {**base, **summary}, "shard": {"index": index, "count": count}, "_path": f"s{index}.json"}


@pytest.mark.parametrize(("reports", "message"), [
    ([_shard_report(1, 3), _shard_report(3, 3)], "missing 2"),
    ([_shard_report(1, 2), _shard_report(1, 2), _shard_report(2, 2)], "given twice 1"),
    ([_shard_report(1, 2), _shard_report(2, 3)], "a shard of 3"),
    ([_shard_report(1, 2), _shard_report(2, 2, actor="agent:x")], "different previews"),
    ([], "every shard"),
])
def test_merge_refuses_incomplete_or_mixed_shards(reports: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        merge(reports)


def test_merge_refuses_a_report_that_is_not_a_shards(tmp_path: Path, example_report: dict[str, Any]) -> None:
    path = tmp_path / "full.json"
    path.write_text(json.dumps(example_report))
    with pytest.raises(UsageError, match="not the JSON report of a sharded preview"):
        read([path])


def test_cli_shard_merge_and_shards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from paybill_iac.cli import main

    tenants = ["--tenant", "acme", "--tenant", "globex"]
    for index in (1, 2):
        with pytest.raises(SystemExit) as done:
            main(["preview", str(EXAMPLE), *tenants, "--shard", f"{index}/2", "--jobs", "1", "--no-progress",
                  "--format", "json", "--output", str(tmp_path / f"s{index}.json")])
        assert done.value.code == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["preview", "merge", str(tmp_path / "s1.json"), str(tmp_path / "s2.json"),
              "--format", "sarif", "--output", str(tmp_path / "merged.sarif"), "--format", "json", "--output", "-"])
    assert done.value.code == 0
    merged = json.loads(capsys.readouterr().out)
    assert [stack["stack"] for stack in merged["tenants"]] == ["acme", "globex"]
    assert json.loads((tmp_path / "merged.sarif").read_text())["version"] == "2.1.0"
    with pytest.raises(SystemExit) as done:
        main(["preview", "merge", str(tmp_path / "s1.json")])
    assert done.value.code == 2 and "missing 2" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["preview", str(EXAMPLE), "--shard", "3/2"])
    assert done.value.code == 2
    capsys.readouterr()
    (tmp_path / "old.json").write_text("{}")
    with pytest.raises(SystemExit) as done:
        main(["preview", str(EXAMPLE), "--shard", "1/2", "--against", str(tmp_path / "old.json")])
    assert done.value.code == 2 and "cannot be combined with --shard" in capsys.readouterr().err
    assert main(["preview", "shards", str(EXAMPLE), "--per-shard", "5", "--max", "3"]) is None
    assert json.loads(capsys.readouterr().out) == {"stacks": 18, "count": 3, "matrix": ["1/3", "2/3", "3/3"]}


def test_slim_keeps_what_the_renderings_read() -> None:
    resource: dict[str, Any] = {"urn": "urn:pulumi:acme::p::aws:s3/bucket:Bucket::data", "type": "aws:s3/bucket:Bucket",
                "name": "data", "inputs": {"bucket": "pb-acme-data"}, "dependencies": []}
    other = dict(resource, urn="urn:pulumi:acme::p::aws:kms/key:Key::key", type="aws:kms/key:Key", name="key")
    stack = {"resources": [resource, other], "outputs": {"bucket": "pb-acme-data"}, "counts": {"x": 2},
             "violations": [{"urn": resource["urn"], "level": "mandatory", "policy": "p", "pack": "k",
                             "message": "m"}, {"urn": "", "level": "advisory", "policy": "q", "pack": "k",
                                               "message": "n"}]}
    kept = slim(stack)
    assert kept["resource_count"] == 2 and kept["outputs"] == {} and kept["counts"] == {"x": 2}
    assert kept["resources"] == [{"urn": resource["urn"], "type": "aws:s3/bucket:Bucket", "name": "data"}]
    assert slim(kept) == kept  # a slim entry stays as it is
    from paybill_iac.preview.render import resource_count, resource_name

    assert resource_count(kept) == resource_count(stack) == 2
    assert resource_name(kept, resource["urn"]) == resource_name(stack, resource["urn"]) \
        == "data (aws:s3/bucket:Bucket)"

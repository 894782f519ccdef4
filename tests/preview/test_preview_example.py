"""`paybill-iac preview` on the bundled example catalog: what is previewed, the four formats, parallel runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from paybill_iac.preview import render
from tests.preview.conftest import EXAMPLE, REPO


def stacks(report: dict[str, Any]) -> list[dict[str, Any]]:
    return report["tenants"] + report["cells"]


def test_every_tenant_with_a_stack_and_every_cell_in_use_is_previewed(example_report: dict[str, Any]) -> None:
    tenants = {path.stem for path in (EXAMPLE / "tenants").glob("*.yaml")}
    offboarded = {t for t in tenants if yaml.safe_load((EXAMPLE / "tenants" / f"{t}.yaml").read_text())["state"]
                  == "offboarded"}
    assert {stack["tenant"] for stack in example_report["tenants"]} == tenants - offboarded
    assert [item["tenant"] for item in example_report["skipped"]] == sorted(offboarded)
    ledger = yaml.safe_load((EXAMPLE / "placements.yaml").read_text())["tenants"]
    cells = {entry["cell"] for entry in ledger.values() if entry.get("cell") and not entry.get("offboarded")}
    assert {stack["stack"] for stack in example_report["cells"]} == cells
    for stack in stacks(example_report):
        assert stack["error"] is None, (stack["stack"], stack["error"])
        assert stack["resources"], stack["stack"]


def test_the_example_catalog_has_no_violation_and_exits_0(example_report: dict[str, Any]) -> None:
    summary = example_report["summary"]
    assert summary["violations"]["mandatory"] == 0, [
        (stack["stack"], v) for stack in stacks(example_report) for v in stack["violations"]]
    assert summary["exit_code"] == 0
    assert summary["offline"] is True and summary["mode"] == "full"
    assert summary["resources"] == sum(len(stack["resources"]) for stack in stacks(example_report))


def test_json_shape_is_the_documented_one(example_report: dict[str, Any]) -> None:
    data = json.loads(render(example_report, "json"))
    assert set(data) >= {"tenants", "cells", "summary"}
    for stack in data["tenants"] + data["cells"]:
        assert set(stack) >= {"tenant", "stack", "cloud", "isolation", "cell", "resources", "violations"}
        for resource in stack["resources"]:
            assert set(resource) >= {"urn", "type", "name", "inputs", "parent", "protect"}
            assert resource["urn"].startswith(f"urn:pulumi:{stack['stack']}::{stack['project']}::")
        assert [r["urn"] for r in stack["resources"]] == sorted(r["urn"] for r in stack["resources"])
    acme = next(stack for stack in data["tenants"] if stack["tenant"] == "acme")
    assert acme["cloud"] == "aws" and acme["isolation"] == "pooled" and acme["cell"] == "aws-euw1-a"
    cell = next(stack for stack in data["cells"] if stack["stack"] == "aws-euw1-a")
    assert cell["tenant"] is None and cell["cell"] == "aws-euw1-a" and "acme" in cell["tenants"]


def test_secret_inputs_are_masked(example_report: dict[str, Any]) -> None:
    acme = next(stack for stack in example_report["tenants"] if stack["tenant"] == "acme")
    versions = [r for r in acme["resources"] if r["type"] == "aws:secretsmanager/secretVersion:SecretVersion"]
    assert versions and all(r["inputs"]["secretString"] == "[secret]" for r in versions)


def test_mock_outputs_look_like_the_clouds(example_report: dict[str, Any]) -> None:
    """Cross-stack references carry provider-shaped ids: ARNs, Azure resource ids, self links, OCIDs."""
    shapes = {"aws": "arn:aws:", "azure": "/subscriptions/", "gcp": "projects/", "oci": "ocid1."}
    for cell in example_report["cells"]:
        assert shapes[cell["cloud"]] in json.dumps(cell["outputs"]), cell["stack"]


def test_a_pool_of_workers_gives_the_same_report(example_report: dict[str, Any],
                                                example_report_parallel: dict[str, Any]) -> None:
    def comparable(report: dict[str, Any]) -> dict[str, Any]:
        copy = json.loads(json.dumps(report))
        for key in ("seconds", "jobs"):
            copy["summary"].pop(key)
        return copy

    assert example_report_parallel["summary"]["jobs"] == 2
    assert comparable(example_report_parallel) == comparable(example_report)


def test_preview_writes_nothing_into_stacks(example_report: dict[str, Any]) -> None:
    """Stack config is generated in memory: the files under stacks/ are `generate`'s alone."""
    from tests.preview.conftest import preview

    def snapshot() -> dict[str, float]:
        return {str(path): path.stat().st_mtime_ns for path in (REPO / "stacks").rglob("*") if path.is_file()}

    before = snapshot()
    report = preview(tenants=["acme", "cyberdyne"])
    assert {stack["stack"] for stack in report["tenants"]} == {"acme", "cyberdyne"}
    assert [stack["stack"] for stack in report["cells"]] == ["aws-euw1-a"]  # acme's cell runs too
    assert snapshot() == before


def test_table_lists_each_stack_with_counts_and_a_summary_line(example_report: dict[str, Any]) -> None:
    text = render(example_report, "table")
    assert "offline, Pulumi mock runtime" in text
    for stack in stacks(example_report):
        assert stack["stack"] in text
    assert "tenant cyberdyne" in text and "rds 3" in text
    last = text.strip().splitlines()[-1]
    assert last.startswith("ok: 14 tenants, 4 cells") and "0 mandatory" in last


def test_markdown_is_a_pull_request_comment(example_report: dict[str, Any]) -> None:
    text = render(example_report, "markdown")
    assert text.startswith("<!-- paybill-iac-preview -->\n### :white_check_mark: paybill-iac preview")
    summary_at = text.index("| Stack |")
    assert text.index("<details>") > summary_at  # summary first, details after
    assert text.count("<details>") == len(stacks(example_report)) == text.count("</details>")
    assert len(text) < 65_536


def test_sarif_is_2_1_0_with_rules_from_the_registry(example_report: dict[str, Any]) -> None:
    from paybill_policies import rules as registered_rules

    document = json.loads(render(example_report, "sarif"))
    assert document["version"] == "2.1.0" and document["$schema"].endswith("sarif-2.1.0.json")
    run = document["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert set(rules) == {rule.id for rule in registered_rules()}
    for rule in rules.values():
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning")
    assert run["results"] == []


def test_policy_check_accepts_the_json(example_report: dict[str, Any], tmp_path: Path) -> None:
    from paybill_iac import policycheck

    file = tmp_path / "preview.json"
    file.write_text(render(example_report, "json"))
    result = policycheck.check(file, EXAMPLE)
    assert result.format == "preview"
    assert len(result.stacks) == len(stacks(example_report))
    assert result.exit_code == 0

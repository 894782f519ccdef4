"""`paybill-iac policy check` over a stack export and a preview file; exit codes 0, 1 and 2."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli_invoke import run_cli
from tests.policy.conftest import CATALOG


def _export(stack: Any) -> dict[str, Any]:
    resources = [{"urn": f"urn:pulumi:{stack.stack}::{stack.project}::pulumi:pulumi:Stack::{stack.project}-"
                         f"{stack.stack}", "type": "pulumi:pulumi:Stack", "custom": False}]
    for item in stack.registered:
        resources.append({"urn": item["urn"], "type": item["type"], "custom": item["custom"], "id": item["id"],
                          "inputs": item["inputs"], "outputs": item["outputs"], "parent": item["parent"],
                          "protect": item["protect"], "provider": item["provider"]})
    return {"version": 3, "deployment": {"manifest": {}, "resources": resources}}


def _preview(*stacks: Any) -> dict[str, Any]:
    def entry(stack: Any) -> dict[str, Any]:
        return {"tenant": stack.stack if stack.project == "paybill-tenant" else None, "stack": stack.stack,
                "project": stack.project, "cloud": stack.cloud, "isolation": stack.isolation,
                "resources": [{key: item[key] for key in ("urn", "type", "name", "inputs", "parent", "protect")}
                              for item in stack.registered]}
    return {"version": 1, "tenants": [entry(stack) for stack in stacks if stack.project == "paybill-tenant"],
            "cells": [entry(stack) for stack in stacks if stack.project == "paybill-cell"]}


@dataclass
class Outcome:
    exit_code: int
    output: str
    """stdout and stderr (which starts with the line naming the project used)"""
    stdout: str


def _main(capsys: Any, *argv: str) -> Outcome:
    """Run the CLI the way the `paybill-iac` entry point does (errors become messages and exit codes)."""
    code, out, err = run_cli(capsys, *argv)
    return Outcome(code, out + err, out)


def _check(tmp_path: Path, capsys: Any, data: Any, *args: str) -> Outcome:
    path = tmp_path / "input.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return _main(capsys, "policy", "check", str(path), "--catalog", str(CATALOG), *args)


def test_a_compliant_stack_export_passes(tmp_path: Path, capsys: Any, example_stacks: dict[str, Any]) -> None:
    result = _check(tmp_path, capsys, _export(example_stacks["cyberdyne"]))
    assert result.exit_code == 0, result.output
    assert "paybill-tenant/cyberdyne" in result.output and "PASS" in result.output


def test_a_preview_file_of_every_cloud_passes_as_json(
    tmp_path: Path, capsys: Any, example_stacks: dict[str, Any]
) -> None:
    chosen = [example_stacks[name] for name in ("acme", "tyrell", "wayne", "umbrella", "oci-fra-a")]
    result = _check(tmp_path, capsys, _preview(*chosen), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["format"] == "preview" and report["summary"]["mandatory"] == 0
    assert sorted(stack["stack"] for stack in report["stacks"]) == ["acme", "oci-fra-a", "tyrell", "umbrella", "wayne"]


def test_a_mandatory_violation_exits_1(tmp_path: Path, capsys: Any, example_stacks: dict[str, Any]) -> None:
    export = _export(example_stacks["cyberdyne"])
    for resource in export["deployment"]["resources"]:
        if resource["type"] == "aws:rds/instance:Instance":
            resource["inputs"]["instanceClass"] = "db.r7g.16xlarge"
            resource["inputs"]["publiclyAccessible"] = True
    result = _check(tmp_path, capsys, export, "--format", "json")
    assert result.exit_code == 1
    found = {(item["policy"], item["level"]) for item in json.loads(result.stdout)["stacks"][0]["violations"]}
    assert found == {("aws-rds-instance-vcpus-within-plan", "mandatory"), ("aws-rds-instance-not-public", "mandatory")}


def test_advisory_levels_from_a_config_file_exit_0(tmp_path: Path, capsys: Any, example_stacks: dict[str, Any]) -> None:
    export = _export(example_stacks["cyberdyne"])
    for resource in export["deployment"]["resources"]:
        if resource["type"] == "aws:rds/instance:Instance":
            resource["inputs"]["publiclyAccessible"] = True
    config = tmp_path / "levels.json"
    config.write_text(json.dumps({"all": "advisory"}))
    result = _check(tmp_path, capsys, export, "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "advisory" in result.output and "aws-rds-instance-not-public" in result.output


def test_the_agent_actor_applies_the_guardrails(tmp_path: Path, capsys: Any, example_stacks: dict[str, Any]) -> None:
    result = _check(tmp_path, capsys, _export(example_stacks["aws-euw1-a"]), "--actor", "agent:claude")
    assert result.exit_code == 1
    assert "aws-cell-stack-unchanged-by-agent" in result.output and "Approval needed" in result.output


@pytest.mark.parametrize(("data", "message"), [
    ("{not json", "not JSON"),
    ({"something": 1}, "neither"),
    ({"version": 2, "deployment": {"resources": []}}, "version 3"),
])
def test_bad_input_exits_2(tmp_path: Path, capsys: Any, data: Any, message: str) -> None:
    result = _check(tmp_path, capsys, data)
    assert result.exit_code == 2
    assert message in result.output


def test_an_unreadable_file_exits_2(tmp_path: Path, capsys: Any) -> None:
    result = _main(capsys, "policy", "check", str(tmp_path / "missing.json"), "--catalog", str(CATALOG))
    assert result.exit_code == 2


def test_an_unknown_tenant_exits_2_naming_it(tmp_path: Path, capsys: Any) -> None:
    export = {"version": 3, "deployment": {"resources": [{
        "urn": "urn:pulumi:nobody::paybill-tenant::aws:s3/bucket:Bucket::x", "type": "aws:s3/bucket:Bucket",
        "inputs": {"bucket": "x"}}]}}
    result = _check(tmp_path, capsys, export)
    assert result.exit_code == 2
    assert "unknown tenant 'nobody'" in result.output


def test_rules_lists_the_registry(capsys: Any) -> None:
    result = _main(capsys, "policy", "rules", "--format", "json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) >= 90

def test_config_writes_each_packs_policy_config_from_the_catalog(tmp_path: Path, capsys: Any) -> None:
    import paybill_policies as policies

    result = _main(capsys, "policy", "config", "aws-euw1-a", "--project", "paybill-cell", "--catalog", str(CATALOG),
                   "--actor", "agent:claude", "--out-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    for pack in policies.PACKS:
        config = json.loads((tmp_path / f"policy-{pack}.json").read_text())
        assert set(config) == {rule.id for rule in policies.rules([pack])}
        context = policies.context_from_config(config[next(iter(config))], "paybill-cell", "aws-euw1-a")
        assert context.known and context.kind == "cell" and context.actor == "agent:claude"


def test_config_of_an_unknown_stack_exits_2(tmp_path: Path, capsys: Any) -> None:
    result = _main(capsys, "policy", "config", "nobody", "--catalog", str(CATALOG), "--out-dir", str(tmp_path))
    assert result.exit_code == 2 and "unknown tenant 'nobody'" in result.output
    assert not list(tmp_path.iterdir())

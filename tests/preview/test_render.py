"""The renderings on a small hand-made report: SARIF locations, markdown with a diff, the size budget."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from paybill_iac.preview import render
from paybill_iac.preview.render import COMMENT_MARKER, id_line, kind_of


def stack(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    file = tmp_path / "tenants" / "acme.yaml"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("# the acme tenant\nid: acme\nname: Acme\n")
    urn = "urn:pulumi:acme::paybill-tenant::paybill:tenant:Silo$aws:s3/bucket:Bucket::acme-bucket"
    data = {
        "tenant": "acme", "stack": "acme", "project": "paybill-tenant", "qualified_stack": "o/paybill-tenant/acme",
        "cloud": "aws", "region": "eu-west-1", "isolation": "silo", "cell": None, "plan": "enterprise",
        "state": "active", "file": str(file),
        "resources": [{"urn": urn, "type": "aws:s3/bucket:Bucket", "name": "acme-bucket", "inputs": {},
                       "parent": "", "protect": True, "retain_on_delete": False, "provider": ""}],
        "counts": {"aws:s3/bucket:Bucket": 1},
        "violations": [{"pack": "tenant-isolation", "policy": "aws-s3-bucket-encrypted-with-cmk",
                        "level": "mandatory", "urn": urn, "message": "the bucket is not encrypted with a CMK."},
                       {"pack": "tenant-isolation", "policy": "aws-kms-key-rotation-enabled", "level": "advisory",
                        "urn": "", "message": "rotate keys."}],
        "outputs": {}, "error": None,
    }
    data.update(extra)
    return data


def report(stacks: list[dict[str, Any]], base: dict[str, Any] | None = None) -> dict[str, Any]:
    mandatory = sum(1 for s in stacks for v in s["violations"] if v["level"] == "mandatory")
    advisory = sum(1 for s in stacks for v in s["violations"] if v["level"] == "advisory")
    return {"version": 1, "tenants": stacks, "cells": [], "skipped": [], "base": base, "summary": {
        "catalog": "cat", "actor": "human", "offline": True, "mode": "base" if base else "full",
        "tenants": len(stacks), "cells": 0, "resources": sum(len(s["resources"]) for s in stacks),
        "violations": {"mandatory": mandatory, "advisory": advisory},
        "stacks_with_mandatory": ["acme"] if mandatory else [], "failed": [], "skipped": 0,
        "exit_code": 1 if mandatory else 0, "jobs": 1, "seconds": 0.1}}


def test_sarif_results_point_at_the_tenant_file_and_its_id_line(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    document = json.loads(render(report([stack(tmp_path)]), "sarif"))
    run = document["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    levels = {}
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": "tenants/acme.yaml", "uriBaseId": "%SRCROOT%"}
        assert location["region"] == {"startLine": 2}
        assert result["partialFingerprints"]["paybillViolation/v1"]
        levels[result["ruleId"]] = result["level"]
    assert levels == {"aws-s3-bucket-encrypted-with-cmk": "error", "aws-kms-key-rotation-enabled": "warning"}
    bucket = next(r for r in run["results"] if r["ruleId"] == "aws-s3-bucket-encrypted-with-cmk")
    assert bucket["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].endswith("::acme-bucket")
    assert "tenant acme" in bucket["message"]["text"] and "acme-bucket" in bucket["message"]["text"]


def test_id_line_finds_flow_and_block_entries(tmp_path: Path) -> None:
    file = tmp_path / "cells.yaml"
    file.write_text("cells:\n  - {id: a, cloud: aws}\n  - {id: ab, cloud: aws}\n  - id: abc\n    cloud: gcp\n")
    assert [id_line(str(file), ident) for ident in ("a", "ab", "abc", "zz")] == [2, 3, 4, 1]


def test_markdown_with_a_base_shows_only_what_changed_and_says_it_is_offline(tmp_path: Path) -> None:
    changed = stack(tmp_path, change="changed", reasons=["tenant file changed"], diff={
        "added": [{"urn": "u1", "type": "aws:kms/key:Key", "name": "acme-key"}], "removed": [],
        "changed": [{"urn": "u2", "type": "aws:rds/instance:Instance", "name": "acme-db",
                     "keys": ["allocatedStorage"]}]})
    quiet = stack(tmp_path, tenant="globex", stack="globex", violations=[], change="unchanged",
                  reasons=["plan 'enterprise' changed"], diff={"added": [], "removed": [], "changed": []})
    base: dict[str, Any] = {
            "ref": "main", "commit": "0123456789abcdef", "changed_files": [], "code_files": [], "base_code": "",
            "base_error": None, "affected": {"tenants": 2, "cells": 0},
            "changes": {"stacks": 1, "resources": {"added": 1, "removed": 0, "changed": 1}},
            "note": "Offline diff: replacements are decided by the engine."}
    text = render(report([changed, quiet], base), "markdown")
    assert text.startswith(COMMENT_MARKER)
    assert ":x: paybill-iac preview: 1 mandatory" in text
    assert "> Offline diff" in text
    assert "tenant acme" in text and "tenant globex" not in text
    assert "+ acme-key (aws:kms/key:Key)" in text and "~ acme-db (aws:rds/instance:Instance): allocatedStorage" in text
    table = render(report([changed, quiet], base), "table")
    assert "Offline diff" in table and "~ acme-db" in table and "changed +1 -0 ~1" in table


def test_markdown_stays_under_the_comment_limit(tmp_path: Path) -> None:
    many = [stack(tmp_path, tenant=f"t{i:05d}", stack=f"t{i:05d}") for i in range(2000)]
    text = render(report(many), "markdown")
    assert len(text) < 65_536
    assert re.search(r"_\d+ more stacks not shown", text)


@pytest.mark.parametrize(("token", "kind"), [
    ("aws:s3/bucket:Bucket", "s3"), ("azure-native:storage:StorageAccount", "storage"),
    ("oci:ObjectStorage/bucket:Bucket", "ObjectStorage"), ("pulumi:providers:aws", "provider"),
    ("paybill:tenant:Silo", "component"), ("pulumi:pulumi:StackReference", "stack-reference"),
    ("random:index/randomPassword:RandomPassword", "random"),
])
def test_kinds(token: str, kind: str) -> None:
    assert kind_of(token) == kind

"""`preview --diff`: property-level changes (old and new value of each input) against a git ref (--base) or a
stored report (--against), in the JSON, the table and the markdown comment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paybill_iac.errors import UsageError
from paybill_iac.preview import render
from paybill_iac.preview.base import diff_resources, property_changes
from tests.preview.conftest import copy_catalog, git, preview


def test_property_changes_walk_mappings_and_compare_the_rest_whole() -> None:
    old = {"sku": {"name": "B1", "tier": "Burstable"}, "tags": {"a": "1"}, "zones": ["1"], "gone": 5}
    new = {"sku": {"name": "D4", "tier": "Burstable"}, "tags": {"a": "1", "b": "2"}, "zones": ["1", "2"]}
    assert property_changes(old, new) == [
        {"key": "gone", "old": 5}, {"key": "sku.name", "old": "B1", "new": "D4"}, {"key": "tags.b", "new": "2"},
        {"key": "zones", "old": ["1"], "new": ["1", "2"]}]
    assert property_changes(old, old) == []


def test_a_changed_resource_carries_its_keys_and_its_changes() -> None:
    before = [{"urn": "u", "type": "t", "name": "n", "inputs": {"size": 1}, "protect": True}]
    after = [{"urn": "u", "type": "t", "name": "n", "inputs": {"size": 2}, "protect": False}]
    [changed] = diff_resources(before, after)["changed"]
    assert changed["keys"] == ["size", "(protect)"]
    assert changed["changes"] == [{"key": "size", "old": 1, "new": 2}, {"key": "(protect)", "old": True, "new": False}]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A catalog copy and the JSON report of tyrell (an Azure silo) before any change."""
    folder = tmp_path_factory.mktemp("against")
    catalog = copy_catalog(folder / "catalog")
    report = folder / "before.json"
    report.write_text(render(preview(catalog, tenants=["tyrell"]), "json"))
    return catalog, report


def smaller_tyrell(catalog: Path) -> None:
    tenant = catalog / "tenants" / "tyrell.yaml"
    tenant.write_text(tenant.read_text() + "overrides: {db_vcpus: 4}\n")


def test_against_a_stored_report_with_diff(stored: tuple[Path, Path], tmp_path: Path) -> None:
    catalog = copy_catalog(tmp_path / "catalog")
    smaller_tyrell(catalog)
    report = preview(catalog, tenants=["tyrell"], against=stored[1], properties=True)
    assert report["summary"]["mode"] == "against" and report["base"]["properties"] is True
    [tyrell] = report["tenants"]
    assert tyrell["change"] == "changed" and tyrell["reasons"] == [f"compared with the stored report {stored[1]}"]
    [server] = [item for item in tyrell["diff"]["changed"] if item["type"] == "azure-native:dbforpostgresql:Server"]
    assert {"key": "sku.name", "old": "Standard_D8ds_v5", "new": "Standard_D4ds_v5"} in server["changes"]
    line = 'sku.name: "Standard_D8ds_v5" -> "Standard_D4ds_v5"'
    assert line in render(report, "table") and line in render(report, "markdown")
    without = render(preview(catalog, tenants=["tyrell"], against=stored[1]), "table")
    assert "~ tyrell-db (azure-native:dbforpostgresql:Server): sku" in without and line not in without


def test_against_an_unchanged_catalog_nothing_changes_and_a_stack_not_previewed_is_not_removed(
        stored: tuple[Path, Path]) -> None:
    report = preview(stored[0], tenants=["acme"], against=stored[1])
    assert [stack["stack"] for stack in report["tenants"]] == ["acme"] and report["tenants"][0]["change"] == "added"
    same = preview(stored[0], tenants=["tyrell"], against=stored[1])
    assert same["tenants"][0]["change"] == "unchanged" and same["base"]["changes"]["stacks"] == 0


def test_a_stack_only_the_stored_report_has_is_removed(stored: tuple[Path, Path], tmp_path: Path) -> None:
    data = json.loads(stored[1].read_text())
    ghost = json.loads(json.dumps(data["tenants"][0]))
    ghost.update(tenant="ghost", stack="ghost")
    data["tenants"].append(ghost)
    file = tmp_path / "with-ghost.json"
    file.write_text(json.dumps(data))
    report = preview(stored[0], tenants=["tyrell"], against=file)
    assert [stack["stack"] for stack in report["tenants"]] == ["tyrell"]  # ghost was not selected
    from paybill_iac.preview.core import compare_with_report

    current = json.loads(stored[1].read_text())  # as a preview of every tenant would give it: no selection
    compare_with_report(current, data, file, None)
    [removed] = [stack for stack in current["tenants"] if stack["stack"] == "ghost"]
    assert removed["change"] == "removed" and removed["resources"] == []
    assert len(removed["diff"]["removed"]) == len(ghost["resources"]) and current["base"]["changes"]["stacks"] == 1


@pytest.mark.parametrize(("options", "message"), [
    ({"properties": True}, "--diff shows what changes against something: add --base GITREF"),
    ({"base": "HEAD", "against": Path("x.json")}, "--base and --against both name what to compare with"),
    ({"against": Path("/nonexistent/before.json")}, "--against /nonexistent/before.json: cannot be read"),
])
def test_usage_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        preview(**options)


def test_a_file_that_is_not_a_full_report_is_refused(tmp_path: Path) -> None:
    not_json, slim = tmp_path / "a.json", tmp_path / "b.json"
    not_json.write_text("{oops")
    slim.write_text(json.dumps({"version": 1, "tenants": [{"resources": [], "resource_count": 3}], "cells": []}))
    with pytest.raises(UsageError, match="not JSON"):
        preview(against=not_json)
    with pytest.raises(UsageError, match="a sharded \\(slim\\) report"):
        preview(against=slim)


def test_base_with_diff_shows_the_old_and_new_values(catalog_repo: Path) -> None:
    catalog = catalog_repo / "stacks" / "catalog"
    smaller_tyrell(catalog)
    git(catalog_repo, "add", ".")
    git(catalog_repo, "commit", "-q", "-m", "tyrell: 4 vCPUs")
    report = preview(catalog, base="HEAD~1", tenants=["tyrell"], properties=True)
    [server] = [item for item in report["tenants"][0]["diff"]["changed"]
                if item["type"] == "azure-native:dbforpostgresql:Server"]
    assert {"key": "sku.name", "old": "Standard_D8ds_v5", "new": "Standard_D4ds_v5"} in server["changes"]
    assert 'sku.name: "Standard_D8ds_v5" -> "Standard_D4ds_v5"' in render(report, "markdown")

"""`preview --base GITREF`: only the affected stacks, and per resource what is added, removed or changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paybill_iac.preview.base import classify, code_scope, diff_resources
from tests.catalog.conftest import offboarded
from tests.preview.conftest import add_tenant_on_a_new_cell, git, preview


def base_preview(repo: Path, ref: str = "HEAD", **options: Any) -> dict[str, Any]:
    return preview(repo / "stacks" / "catalog", base=ref, **options)


def test_no_change_previews_nothing(catalog_repo: Path) -> None:
    report = base_preview(catalog_repo)
    assert report["tenants"] == [] and report["cells"] == []
    assert report["summary"]["exit_code"] == 0
    assert report["base"]["changed_files"] == []
    assert "Offline diff" in report["base"]["note"] and "decided by the engine" in report["base"]["note"]


def test_one_changed_tenant_is_the_only_stack_previewed(catalog_repo: Path) -> None:
    tenant = catalog_repo / "stacks" / "catalog" / "tenants" / "cyberdyne.yaml"
    tenant.write_text(tenant.read_text().replace("db_storage_gb: 256", "db_storage_gb: 200"))
    report = base_preview(catalog_repo)
    assert [stack["tenant"] for stack in report["tenants"]] == ["cyberdyne"]
    assert report["cells"] == []
    stack = report["tenants"][0]
    assert stack["change"] == "changed" and stack["reasons"] == ["tenant file changed"]
    assert stack["diff"]["added"] == [] and stack["diff"]["removed"] == []
    changed = {item["type"]: item["keys"] for item in stack["diff"]["changed"]}
    assert list(changed) == ["aws:rds/instance:Instance"]
    assert "allocatedStorage" in changed["aws:rds/instance:Instance"]
    assert report["base"]["changes"] == {"stacks": 1, "resources": {"added": 0, "removed": 0, "changed": 1}}
    assert report["base"]["changed_files"] == ["stacks/catalog/tenants/cyberdyne.yaml"]
    assert report["summary"]["exit_code"] == 0


def test_markdown_of_a_base_preview_shows_only_the_change(catalog_repo: Path) -> None:
    from paybill_iac.preview import render

    tenant = catalog_repo / "stacks" / "catalog" / "tenants" / "cyberdyne.yaml"
    tenant.write_text(tenant.read_text().replace("db_storage_gb: 256", "db_storage_gb: 200"))
    text = render(base_preview(catalog_repo), "markdown")
    assert "tenant cyberdyne" in text and "tenant acme" not in text and "cell aws-euw1-a" not in text
    assert "~ cyberdyne-db (aws:rds/instance:Instance): allocatedStorage" in text
    assert "decided by the engine" in text


def test_new_and_removed_tenants_and_a_cell_coming_into_use(catalog_repo: Path) -> None:
    catalog = catalog_repo / "stacks" / "catalog"
    add_tenant_on_a_new_cell(catalog)  # untracked: still part of the change
    offboarded(catalog, "soylent")  # its file may go once the offboard workflow ran
    (catalog / "tenants" / "soylent.yaml").unlink()
    report = base_preview(catalog_repo, jobs=2)
    by_id = {stack["stack"]: stack for stack in report["tenants"] + report["cells"]}
    assert set(by_id) == {"initrode", "soylent", "aws-use1-a"}
    assert by_id["initrode"]["change"] == "added" and by_id["initrode"]["reasons"] == ["new tenant"]
    assert len(by_id["initrode"]["diff"]["added"]) == len(by_id["initrode"]["resources"]) > 0
    assert by_id["soylent"]["change"] == "removed" and by_id["soylent"]["resources"] == []
    assert by_id["soylent"]["diff"]["removed"] and by_id["soylent"]["violations"] == []
    assert by_id["aws-use1-a"]["change"] == "added" and by_id["aws-use1-a"]["reasons"] == ["cell comes into use"]


def test_an_agent_change_needing_a_new_cell_fails(catalog_repo: Path) -> None:
    assert base_preview(catalog_repo, actor="agent:renovate")["summary"]["exit_code"] == 0
    add_tenant_on_a_new_cell(catalog_repo / "stacks" / "catalog")
    report = base_preview(catalog_repo, actor="agent:renovate")
    assert report["summary"]["exit_code"] == 1
    assert report["summary"]["stacks_with_mandatory"] == ["aws-use1-a"]


def test_a_plan_change_affects_its_tenants_even_without_resource_changes(catalog_repo: Path) -> None:
    plans = catalog_repo / "stacks" / "catalog" / "plans.yaml"
    plans.write_text(plans.read_text().replace("seats: 250", "seats: 300"))  # growth: hooli, stark, wayne, wonka
    report = base_preview(catalog_repo)
    assert {stack["tenant"] for stack in report["tenants"]} == {"hooli", "stark", "wayne", "wonka"}
    assert all(stack["change"] == "unchanged" and stack["reasons"] == ["plan 'growth' changed"]
               for stack in report["tenants"])


def test_a_committed_change_against_an_older_ref(catalog_repo: Path) -> None:
    tenant = catalog_repo / "stacks" / "catalog" / "tenants" / "oscorp.yaml"
    tenant.write_text(tenant.read_text().replace("state: active", "state: suspended"))
    git(catalog_repo, "commit", "-qam", "suspend oscorp")
    report = base_preview(catalog_repo, ref="HEAD~1")
    assert [stack["tenant"] for stack in report["tenants"]] == ["oscorp"]
    assert report["tenants"][0]["change"] == "changed"


def test_an_unknown_ref_is_a_usage_error(catalog_repo: Path) -> None:
    from paybill_iac.errors import UsageError

    with pytest.raises(UsageError, match="not a commit, branch or tag"):
        base_preview(catalog_repo, ref="no-such-branch")


def test_outside_a_git_repository_is_a_usage_error(tmp_path: Path) -> None:
    from paybill_iac.errors import PaybillError
    from tests.preview.conftest import copy_catalog

    catalog = copy_catalog(tmp_path / "catalog")
    with pytest.raises(PaybillError, match="git repository") as error:
        preview(catalog, base="HEAD")
    assert error.value.exit_code == 2


@pytest.mark.parametrize(("path", "expected"), [
    ("components/paybill_components/aws/blocks.py", ("aws", True)),
    ("components/paybill_components/topology.py", ("all", True)),
    ("paybill_iac/mock_outputs/gcp.py", ("gcp", True)),
    ("paybill_iac/mock_outputs/common.py", ("all", True)),
    ("paybill_iac/model/naming.py", ("all", True)),
    ("paybill_iac/mockrun.py", ("all", True)),
    ("stacks/tenant/__main__.py", ("all", True)),
    ("stacks/tenant/Pulumi.acme.yaml", None),
    ("stacks/cell/Pulumi.yaml", ("all", True)),
    ("policy_packs/paybill_policies/rules/aws.py", ("all", False)),
    ("pyproject.toml", ("all", False)),
    ("paybill_iac/cli.py", None), ("paybill_iac/cli_preview.py", None), ("paybill_iac/preview/render.py", None),
    ("paybill_iac/automation/ops.py", None),
    ("README.md", None), ("docs/preview.md", None), ("tests/preview/test_render.py", None),
    (".github/workflows/preview.yml", None), ("stacks/catalog/tenants/acme.yaml", None),
])
def test_which_code_changes_affect_stacks(path: str, expected: tuple[str, bool] | None) -> None:
    assert classify(path) == expected


def test_code_scope_collects_clouds() -> None:
    scope = code_scope(["components/paybill_components/aws/blocks.py", "paybill_iac/mock_outputs/oci.py",
                        "README.md"])
    assert scope.clouds == {"aws", "oci"} and not scope.all_clouds and scope.builds_resources
    assert scope.affects("aws") and not scope.affects("gcp")
    assert code_scope(["policy_packs/plan-limits/__main__.py"]).affects("gcp")
    assert not code_scope(["policy_packs/plan-limits/__main__.py"]).builds_resources


def test_diff_by_urn() -> None:
    def resource(urn: str, **inputs: Any) -> dict[str, Any]:
        return {"urn": urn, "type": "t:m:R", "name": urn, "inputs": inputs, "parent": "", "protect": False}

    base = [resource("a", x=1), resource("b", x=1, y=2), resource("c")]
    head = [resource("b", x=1, y=3, z=0), resource("c"), resource("d")]
    head[1]["protect"] = True
    diff = diff_resources(base, head)
    assert [item["urn"] for item in diff["added"]] == ["d"]
    assert [item["urn"] for item in diff["removed"]] == ["a"]
    assert {item["urn"]: item["keys"] for item in diff["changed"]} == {"b": ["y", "z"], "c": ["(protect)"]}


def test_base_report_json_round_trips(catalog_repo: Path) -> None:
    from paybill_iac.preview import render

    tenant = catalog_repo / "stacks" / "catalog" / "tenants" / "acme.yaml"
    tenant.write_text(tenant.read_text().replace("seats: 20", "seats: 21"))
    report = base_preview(catalog_repo)
    data = json.loads(render(report, "json"))
    assert [stack["tenant"] for stack in data["tenants"]] == ["acme"]
    assert data["tenants"][0]["change"] == "unchanged" and data["base"]["ref"] == "HEAD"


def test_the_base_of_a_tenant_only_change_is_built_without_reading_the_base_tree(catalog_repo: Path) -> None:
    """The fast path (head catalog with the changed tenants as they were) equals loading the base."""
    from paybill_iac.catalog import load_catalog
    from paybill_iac.preview.base import changed_files, extract, patched_base

    catalog = catalog_repo / "stacks" / "catalog"
    cyberdyne = catalog / "tenants" / "cyberdyne.yaml"
    cyberdyne.write_text(cyberdyne.read_text().replace("db_storage_gb: 256", "db_storage_gb: 200"))
    add_tenant_on_a_new_cell(catalog)
    (catalog / "tenants" / "vandelay.yaml").unlink()  # offboarded: its file may go
    head = load_catalog(catalog)
    commit = git(catalog_repo, "rev-parse", "HEAD").strip()
    changed = changed_files(catalog_repo, commit)
    patched = patched_base(head, catalog_repo, commit, "stacks/catalog/", changed)
    assert patched is not None
    extract(catalog_repo, commit, ["stacks/catalog"], catalog_repo / "base")
    loaded = load_catalog(catalog_repo / "base" / "stacks" / "catalog")
    assert patched.tenants == loaded.tenants
    assert patched.placements == loaded.placements
    assert patched.plans == loaded.plans and patched.cells == loaded.cells and patched.settings == loaded.settings
    # Anything beyond tenant files: the base is loaded in full.
    assert patched_base(head, catalog_repo, commit, "stacks/catalog/", changed + ["stacks/catalog/plans.yaml"]) is None


def test_a_code_change_runs_the_base_with_the_base_trees_code(tmp_path: Path) -> None:
    """markers.py shapes every resource's tags: the base side runs the committed (old) code in a
    subprocess, the head side the working tree's, and the diff shows the tags changing."""
    import shutil

    from tests.preview.conftest import REPO, copy_catalog

    repo = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "Pulumi.*.yaml")
    for folder in ("paybill_iac", "components", "policy_packs", "stacks/tenant", "stacks/cell"):
        shutil.copytree(REPO / folder, repo / folder, ignore=ignore)
    shutil.copy(REPO / "stacks" / "tenant" / "Pulumi.yaml", repo / "stacks" / "tenant" / "Pulumi.yaml")
    copy_catalog(repo / "stacks" / "catalog")
    markers = repo / "paybill_iac" / "model" / "markers.py"
    current = markers.read_text()
    markers.write_text(current.replace('MANAGED_BY_VALUE = "paybill-iac"', 'MANAGED_BY_VALUE = "paybill-old"'))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "old markers")
    markers.write_text(current)
    report = base_preview(repo, tenants=["oscorp"])
    assert report["base"]["code_files"] == ["paybill_iac/model/markers.py"]
    assert report["base"]["base_code"] == "base tree" and report["base"]["base_error"] is None
    stack = report["tenants"][0]
    assert stack["tenant"] == "oscorp" and stack["change"] == "changed"
    assert stack["reasons"] == ["code changed: paybill_iac/model/markers.py"]
    assert stack["diff"]["changed"] and all("freeformTags" in item["keys"] for item in stack["diff"]["changed"])

"""The preview of a pull request made with `paybill-iac lifecycle change-plan ... --plan-only` shows the change
as the workflow it will run once merged, not as a delete plus a create."""

from __future__ import annotations

from pathlib import Path

from paybill_iac.automation import Automation
from paybill_iac.preview.render import to_markdown
from tests.automation.doubles import FakeRunner
from tests.preview.conftest import preview


def test_a_declared_plan_change_is_previewed_as_its_workflow(catalog_repo: Path, tmp_path: Path) -> None:
    catalog = catalog_repo / "stacks" / "catalog"
    with Automation.open(catalog, runner=FakeRunner(), state_dir=tmp_path / "state") as auto:
        auto.declare_change_plan("globex", "growth")  # what `--plan-only` commits in the pull request
    report = preview(catalog, base="HEAD")
    [globex] = [stack for stack in report["tenants"] if stack["tenant"] == "globex"]
    workflow = globex["workflow"]
    assert globex["change"] == "change-plan" and workflow["kind"] == "change-plan"
    assert globex["diff"] == {"added": [], "removed": [], "changed": []}  # not a delete plus a create
    assert workflow["retires"] and all("-p-" in item["name"] or "Pooled" in item["urn"] for item in workflow["retires"])
    assert workflow["provisions"] and workflow["runs"] == "once merged: paybill-iac lifecycle run-declared"
    assert workflow["steps"][0].startswith("provision the bridge shape beside the pooled one")
    assert "an agent needs a human's approval" in workflow["steps"][-1]
    assert globex["reasons"][0].startswith("declared workflow change-plan globex: plan starter -> growth")
    assert report["base"]["changes"]["resources"]["removed"] == 0
    markdown = to_markdown(report)
    assert "change-plan" in markdown and "declared workflow change-plan globex" in markdown
    full = preview(catalog, tenants=["globex"])
    assert full["tenants"][0]["workflow"]["kind"] == "change-plan"  # the full preview says so too

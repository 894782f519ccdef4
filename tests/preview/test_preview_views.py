"""What the preview shows: plan and state columns, a table that fits the terminal, resource counts with the
components, a cell run only for its tenants' outputs left unjudged, mock outputs in each stack's region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paybill_iac import mock_outputs
from paybill_iac.catalog import load_catalog
from paybill_iac.mock_outputs.common import MOCK_AWS_ACCOUNT, Where
from paybill_iac.model.spec import cell_spec, tenant_spec
from paybill_iac.preview import render
from paybill_iac.preview.render import kinds_text
from tests.preview.conftest import EXAMPLE, preview
from tests.preview.test_render import report, stack


def wide_report(tmp_path: Path) -> dict[str, Any]:
    long_id = "a-tenant-with-a-very-long-id"
    return report([stack(tmp_path), stack(tmp_path, tenant=long_id, stack=long_id, violations=[],
                                          plan="enterprise-plus-extra", state="suspended")])


@pytest.mark.parametrize("width", [200, 120, 90, 60])
def test_the_table_fits_the_width_and_never_cuts_an_id(tmp_path: Path, width: int) -> None:
    text = render(wide_report(tmp_path), "table", width)
    lines = text.splitlines()
    end = next(index for index, line in enumerate(lines) if not line or line.startswith("(left out"))
    table = lines[1:end]  # after the title; prose lines (title, violations) are the terminal's to wrap
    assert any(line.startswith("Stack") for line in table) and max(len(line) for line in table) <= width
    assert any("tenant a-tenant-with-a-very-long-id" in line for line in lines)
    assert all(line == line.rstrip() for line in lines)


def test_a_wide_table_has_plan_and_state_columns_and_a_narrow_one_says_what_it_left_out(tmp_path: Path) -> None:
    wide = render(wide_report(tmp_path), "table", 200)
    header = next(line for line in wide.splitlines() if line.startswith("Stack"))
    assert header.split() == ["Stack", "Cloud", "Region", "Isolation", "Cell", "Plan", "State", "Resources", "by",
                              "kind", "Violations"]
    assert "enterprise-plus-extra" in wide and "suspended" in wide and "left out" not in wide
    narrow = render(wide_report(tmp_path), "table", 60)
    assert "left out to fit 60 columns: " in narrow and "Isolation" in narrow.split("left out")[1]
    assert "enterprise-plus-extra" not in narrow


def test_resource_counts_by_kind_include_the_components() -> None:
    entry = {"resources": [{}] * 3, "counts": {"paybill:tenant:Silo": 1, "aws:s3/bucket:Bucket": 2}}
    assert kinds_text(entry) == "3 (component 1, s3 2)"


def test_a_cell_run_for_its_tenants_outputs_is_not_judged() -> None:
    """An agent previewing one pooled tenant: the cell runs (the tenant reads its outputs) but only the
    tenant is judged, so the cell's own agent rule (a cell is shared) does not fail the preview."""
    result = preview(tenants=["acme"], actor="agent:bot")
    assert result["summary"]["exit_code"] == 0, result["summary"]
    [cell] = result["cells"]
    assert cell["stack"] == "aws-euw1-a" and cell["judged"] is False and cell["violations"] == []
    assert "not judged" in render(result, "table") and "not judged" in render(result, "markdown")
    assert "judged" not in result["tenants"][0]


def test_the_preview_cli_with_an_agent_on_one_tenant_exits_0() -> None:
    from paybill_iac.cli import main

    with pytest.raises(SystemExit) as done:
        main(["preview", str(EXAMPLE), "--tenant", "acme", "--actor", "agent:bot", "--jobs", "1",
              "--no-progress", "--format", "json", "--output", "-"])
    assert done.value.code == 0


# --- mock outputs follow the stack's region and account --------------------------------------


def test_aws_arns_carry_the_stacks_region_and_account() -> None:
    where = Where(region="us-east-1", account="210987654321")
    _, key = mock_outputs.new_resource("aws:kms/key:Key", "k", {}, "s", where)
    assert key["arn"].startswith("arn:aws:kms:us-east-1:210987654321:key/")
    caller = mock_outputs.invoke("aws:index/getCallerIdentity:getCallerIdentity", {}, where)
    assert caller["accountId"] == "210987654321"
    _, unplaced = mock_outputs.new_resource("aws:kms/key:Key", "k", {}, "s")
    assert unplaced["arn"].startswith(f"arn:aws:kms:eu-west-1:{MOCK_AWS_ACCOUNT}:key/")


def test_azure_ids_carry_the_stacks_subscription_and_gcp_its_project() -> None:
    subscription = "99999999-9999-4999-8999-999999999999"
    resource_id, _ = mock_outputs.new_resource("azure-native:resources:ResourceGroup", "rg",
                                               {"resourceGroupName": "pb-rg"}, "s", Where("westeurope", subscription))
    assert resource_id == f"/subscriptions/{subscription}/resourceGroups/pb-rg"
    _, bucket = mock_outputs.new_resource("gcp:storage/bucket:Bucket", "b", {"name": "pb-b"}, "s",
                                          Where("europe-west1", "pb-other-project"))
    assert bucket["project"] == "pb-other-project"


def test_the_placement_comes_from_each_stacks_config() -> None:
    catalog = load_catalog(EXAMPLE)
    assert mock_outputs.where_from_config(cell_spec(catalog, "aws-use1-a").to_config()) == Where(
        "us-east-1", "123456789012")
    tyrell = tenant_spec(catalog, "tyrell")
    assert tyrell is not None
    azure = mock_outputs.where_from_config(tyrell.to_config())
    assert azure.region == "westeurope" and azure.account == catalog.settings.accounts.azure_subscription_ids[0]  # type: ignore[index]
    assert azure.directory == catalog.settings.accounts.azure_tenant_id


def test_a_us_east_1_stack_previews_with_us_east_1_arns(example_report: dict[str, Any]) -> None:
    [silo] = [stack for stack in example_report["tenants"] if stack["stack"] == "cyberdyne"]
    assert silo["region"] == "us-east-1"
    text = json.dumps(silo["outputs"]) + json.dumps([resource["inputs"] for resource in silo["resources"]])
    assert "arn:aws:kms:us-east-1:" in text and ":eu-west-1:" not in text


def test_a_size_the_cloud_rounds_is_a_warning_naming_tenant_field_and_values(tmp_path: Path) -> None:
    """Azure storage comes in fixed sizes: 300 GB asked is 256 GB provisioned, and the preview says so."""
    import shutil

    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE, catalog)
    tenant = catalog / "tenants" / "tyrell.yaml"
    tenant.write_text(tenant.read_text() + "overrides: {db_storage_gb: 300}\n")
    result = preview(catalog, tenants=["tyrell"])
    [warning] = result["warnings"]
    assert (warning["kind"], warning["id"], warning["field"]) == ("tenant", "tyrell", "overrides.db_storage_gb")
    assert warning["message"].startswith("300 GB is rounded down to 256 GB: Azure storage comes in fixed sizes")
    assert "Warnings" in render(result, "table") and "300 GB is rounded down" in render(result, "markdown")
    assert result["summary"]["exit_code"] == 0 and "1 warning" in render(result, "table").splitlines()[-1]
    storage = [r for r in result["tenants"][0]["resources"] if r["type"] == "azure-native:dbforpostgresql:Server"]
    assert storage[0]["inputs"]["storage"]["storageSizeGB"] == 256


def test_the_example_catalog_rounds_nothing(example_report: dict[str, Any]) -> None:
    assert example_report["warnings"] == []


def test_an_unknown_tenant_to_preview_suggests_the_one_meant() -> None:
    from paybill_iac.errors import UsageError
    from paybill_iac.preview.tasks import check_selection

    with pytest.raises(UsageError, match=r"unknown tenants 'acmee' \(did you mean 'acme'\?\), 'zzz': the catalog"):
        check_selection(load_catalog(EXAMPLE), ["zzz", "acmee", "acme"])


def test_the_cli_table_width_is_columns_else_the_terminals_else_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from paybill_iac.cli_preview import table_width

    monkeypatch.setenv("COLUMNS", "97")
    assert table_width() == 97
    monkeypatch.delenv("COLUMNS")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert table_width() is None  # a pipe: the renderer's fixed width, the same on every machine

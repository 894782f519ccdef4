"""Errors a newcomer meets: one error for one slip (no cascade), did-you-mean for fields and ids, tenant files in
the wrong folder reported, and the words of messages (articles, plurals)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybill_iac.catalog.load import fields_at
from paybill_iac.model.catalog import Overrides, Tenant
from paybill_iac.model.errors import CatalogError, CatalogIssue
from paybill_iac.model.regions import region_problem
from paybill_iac.model.words import article, did_you_mean, plural

from .conftest import issues_of, one_issue
from .test_rejections import ACME, edit


def test_one_yaml_error_in_plans_yaml_is_one_error(catalog_dir: Path) -> None:
    edit(catalog_dir / "plans.yaml", "  - id: growth", "  - id: growth\n    bogus: [1")
    [issue] = issues_of(catalog_dir)
    assert issue.file.endswith("plans.yaml") and "malformed YAML" in issue.message


def test_one_invalid_plan_is_one_error_not_one_per_tenant_on_it(catalog_dir: Path) -> None:
    edit(catalog_dir / "plans.yaml", "isolation: bridge", "isolation: bridgee")
    [issue] = issues_of(catalog_dir)
    assert (issue.id, issue.field) == ("growth", "plans.1.isolation")
    assert "(did you mean 'bridge'?)" in issue.message


def test_an_unreadable_cells_yaml_does_not_make_every_pin_an_error(catalog_dir: Path) -> None:
    edit(catalog_dir / "cells.yaml", "cells:", "cells: [")
    found = issues_of(catalog_dir)
    assert [issue.file.endswith("cells.yaml") for issue in found] == [True] * len(found)


def test_a_tenant_on_a_plan_that_does_not_exist_still_gets_its_error(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "plan: starter", "plan: startr")
    one_issue(catalog_dir, ACME, "acme", "plan", "unknown plan 'startr' (did you mean 'starter'?)")
    edit(catalog_dir / ACME, "plan: startr", "plan: zzzzzz")
    one_issue(catalog_dir, ACME, "acme", "plan", "unknown plan 'zzzzzz' (plans: enterprise, growth, ")


def test_an_unknown_field_suggests_the_field_meant(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "subscription:", "subscripton:")
    one_issue(catalog_dir, ACME, "acme", "subscripton", "is not a known field (did you mean 'subscription'?)")


def test_an_unknown_nested_field_suggests_from_its_own_model(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "overrides: {db_storage_gb: 10}", "overrides: {db_storage: 10}")
    one_issue(catalog_dir, ACME, "acme", "overrides.db_storage", "(did you mean 'db_storage_gb'?)")
    assert fields_at(Tenant, ("overrides",)) == list(Overrides.model_fields)
    assert fields_at(Tenant, ("name",)) == []


def test_an_unknown_pinned_cell_suggests_the_cell_meant(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "cell: aws-euw1-a", "cell: aws-euw1-b")
    one_issue(catalog_dir, ACME, "acme", "cell", "unknown cell 'aws-euw1-b' (did you mean 'aws-euw1-a'?)")


@pytest.mark.parametrize("place", ["tenant/initrode.yaml", "tenants/eu/initrode.yaml", "initrode.yaml",
                                   "old/tenants/initrode.yml"])
def test_a_tenant_file_outside_tenants_is_reported_not_ignored(catalog_dir: Path, place: str) -> None:
    target = catalog_dir / place
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text((catalog_dir / ACME).read_text().replace("acme", "initrode"))
    [issue] = issues_of(catalog_dir)
    assert issue.file == str(target)
    assert f"tenants/{Path(place).stem}.yaml" in issue.message and "not read" in issue.message


def test_a_misspelt_catalog_file_is_named(catalog_dir: Path) -> None:
    (catalog_dir / "plan.yaml").write_text("plans: []\n")
    [issue] = issues_of(catalog_dir)
    assert "(did you mean 'plans.yaml'?)" in issue.message


def test_hidden_files_and_other_files_are_left_alone(catalog_dir: Path) -> None:
    (catalog_dir / ".yamllint.yaml").write_text("rules: {}\n")
    (catalog_dir / "README.md").write_text("# our catalog\n")
    from paybill_iac.catalog import load_catalog

    assert load_catalog(catalog_dir).tenants


def test_region_messages_use_the_right_article() -> None:
    assert region_problem("aws", "eu-wset-1") == "'eu-wset-1' is not an AWS region (did you mean 'eu-west-1'?)"
    assert (region_problem("gcp", "mars-1") or "").startswith("'mars-1' is not a Google Cloud region")
    assert (region_problem("azure", "mars") or "").startswith("'mars' is not an Azure region")


@pytest.mark.parametrize(("count", "noun", "expected"), [
    (1, "job", "1 job"), (2, "job", "2 jobs"), (0, "error", "0 errors"), (3, "entry", "3 entries"),
    (2, "class", "2 classes"), (1, "policy", "1 policy"), (2, "policy", "2 policies")])
def test_plural(count: int, noun: str, expected: str) -> None:
    assert plural(count, noun) == expected


def test_article_by_sound() -> None:
    assert [article(word) for word in ("AWS region", "OCI region", "Oracle Cloud region", "GCP project", "hour",
                                       "European region", "unknown plan")] == [
        "an AWS region", "an OCI region", "an Oracle Cloud region", "a GCP project", "an hour",
        "a European region", "an unknown plan"]


def test_did_you_mean() -> None:
    assert did_you_mean("acme", ["acme"]) == ""
    assert did_you_mean("Acme", ["acme", "globex"]) == " (did you mean 'acme'?)"
    assert did_you_mean("qqqq", ["acme", "globex"]) == ""


def test_the_error_count_is_one_error_or_n_errors() -> None:
    one = CatalogIssue("f", "tenant", "a", "x", "bad")
    assert str(CatalogError([one])).startswith("the catalog has 1 error:")
    two = CatalogError([one, CatalogIssue("g", "tenant", "b", "x", "bad")])
    assert str(two).startswith("the catalog has 2 errors:")


def test_sizes_the_cloud_rounds_are_warnings_naming_where_the_value_comes_from(catalog_dir: Path) -> None:
    from paybill_iac.catalog import load_catalog
    from paybill_iac.catalog.validate import rounding_warnings

    assert rounding_warnings(load_catalog(catalog_dir)) == []
    edit(catalog_dir / "plans.yaml", "db_storage_gb: 512, db_vcpus: 8, backup_retention_days: 30",
         "db_storage_gb: 1000, db_vcpus: 6, backup_retention_days: 30")
    edit(catalog_dir / "cells.yaml", "{id: oci-fra-a, cloud: oci, region: eu-frankfurt-1, capacity: 30, db_vcpus: 2}",
         "{id: oci-fra-a, cloud: oci, region: eu-frankfurt-1, capacity: 30, db_vcpus: 3}")
    warnings = rounding_warnings(load_catalog(catalog_dir))
    found = {(issue.kind, issue.id, issue.field): issue.message for issue in warnings}
    assert found[("tenant", "tyrell", "db_storage_gb (plan enterprise)")].startswith(
        "1000 GB is rounded down to 512 GB: Azure storage comes in fixed sizes (512 GB, the next size is 1024 GB)")
    assert found[("tenant", "soylent", "db_vcpus (plan enterprise)")].startswith(
        "6 vCPUs is rounded down to 4 vCPUs: Google Cloud databases come with 1, 2, 4, 8")
    assert ("tenant", "soylent", "db_storage_gb (plan enterprise)") not in found  # any size on GCP
    assert found[("cell", "oci-fra-a", "db_vcpus")].startswith("3 vCPUs is rounded down to 2 vCPUs")


def test_validate_prints_the_warnings_and_still_exits_0(catalog_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from paybill_iac.cli import main

    edit(catalog_dir / "tenants" / "tyrell.yaml", "state: active", "state: active\noverrides: {db_storage_gb: 300}")
    main(["validate", str(catalog_dir)])
    out, err = capsys.readouterr()
    assert ": valid: 15 tenants, 4 plans, 5 cells" in out
    assert "warning: " in err and "tenant 'tyrell', field 'overrides.db_storage_gb': 300 GB is rounded down" in err


def test_an_unknown_id_is_named_one_way_everywhere() -> None:
    from paybill_iac.lifecycle_plan.catalog import current_spec
    from paybill_iac.model.words import unknown

    assert unknown("tenant", "acmee", ["acme", "globex"]) == "unknown tenant 'acmee' (did you mean 'acme'?)"
    assert unknown("plan", "zzz", ["growth", "starter"]) == "unknown plan 'zzz' (plans: growth, starter)"
    assert unknown("cell", "x", []) == "unknown cell 'x' (cells: none)"
    from paybill_iac.catalog import load_catalog
    from paybill_iac.errors import UsageError
    from tests.catalog.conftest import EXAMPLE

    with pytest.raises(UsageError, match=r"unknown tenant 'globx' \(did you mean 'globex'\?\)"):
        current_spec(load_catalog(EXAMPLE), "globx")  # `lifecycle plan` names it as every command does

"""Every rejection class of the catalog: the message names the file, the id and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybill_iac.catalog import load_catalog
from paybill_iac.errors import CatalogError

from .conftest import issues_of, one_issue


def write_tenant(catalog_dir: Path, name: str, text: str) -> None:
    (catalog_dir / "tenants" / f"{name}.yaml").write_text(text)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


ACME = "tenants/acme.yaml"


def test_example_catalog_is_valid(catalog_dir: Path) -> None:
    catalog = load_catalog(catalog_dir)
    assert len(catalog.tenants) >= 12
    assert {t.state for t in catalog.tenants.values()} == {"onboarding", "active", "suspended", "offboarding",
                                                           "offboarded"}
    combos = {(t.cloud, catalog.plans[t.plan].isolation) for t in catalog.tenants.values() if t.state != "offboarded"}
    assert combos == {(c, i) for c in ("aws", "azure", "gcp", "oci") for i in ("silo", "pooled", "bridge")}


def test_malformed_yaml(catalog_dir: Path) -> None:
    write_tenant(catalog_dir, "acme", "id: acme\nname: [unclosed\n")
    issue = one_issue(catalog_dir, ACME, "", "", "malformed YAML")
    assert "line" in issue.message


def test_duplicate_keys(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "state: active", "state: active\nstate: suspended")
    one_issue(catalog_dir, ACME, "", "", "duplicate key 'state'", "first at line")


def test_object_constructing_tags(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "name: Acme Corp", "name: !!python/object/apply:os.system ['true']")
    one_issue(catalog_dir, ACME, "", "", "tags that construct objects are not allowed")


def test_alias_bomb(catalog_dir: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    write_tenant(catalog_dir, "acme", bomb)
    one_issue(catalog_dir, ACME, "", "", "anchors and aliases")


def test_oversized_file(catalog_dir: Path) -> None:
    write_tenant(catalog_dir, "acme", "id: acme\n" + "# padding\n" * 40000)
    one_issue(catalog_dir, ACME, "", "", "bytes; catalog files are at most")


def test_yaml_11_surprises_are_refused_with_a_quoting_hint(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "region: eu-west-1", "region: no")
    one_issue(catalog_dir, ACME, "acme", "region", "boolean false", "quote it")


def test_non_string_id(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "id: acme", "id: 0123")
    # 0123 is octal in YAML 1.1: the message shows what YAML made of it and how to fix it
    issue = one_issue(catalog_dir, ACME, "83", "id", "expected text", "quote it")
    assert issue.kind == "tenant"


@pytest.mark.parametrize(
    "bad_id",
    ["Acme", "acme--corp", "-acme", "acme-", "1acme", "a", "acme_corp", "x" * 31, "\u0430cme", "acm\u00e9"],
)
def test_tenant_id_slug_rule(catalog_dir: Path, bad_id: str) -> None:
    edit(catalog_dir / ACME, "id: acme", f'id: "{bad_id}"')
    found = issues_of(catalog_dir)
    matching = [i for i in found if i.file.endswith(ACME) and i.field == "id"]
    assert matching and "is not a valid id" in matching[0].message
    assert "ASCII lowercase" in matching[0].message
    assert matching[0].message.isascii()  # a look-alike is shown escaped, not as a confusable glyph


def test_duplicate_ids_across_files(catalog_dir: Path) -> None:
    (catalog_dir / "tenants" / "acme.yml").write_text((catalog_dir / ACME).read_text())
    issue = one_issue(catalog_dir, "tenants/acme.yml", "acme", "id", "already used")
    assert "acme.yaml" in issue.message


def test_duplicate_plan_ids_differing_in_case_are_refused(catalog_dir: Path) -> None:
    edit(catalog_dir / "plans.yaml", "  - id: growth", "  - id: Starter")
    found = [i for i in issues_of(catalog_dir) if i.kind == "plan" and i.field.endswith(".id")]
    assert found and "Starter" in found[0].message


def test_duplicate_cell_ids(catalog_dir: Path) -> None:
    edit(catalog_dir / "cells.yaml", "{id: aws-use1-a", "{id: aws-euw1-a")
    one_issue(catalog_dir, "cells.yaml", "aws-euw1-a", "id", "already used")


def test_file_name_differs_from_id(catalog_dir: Path) -> None:
    (catalog_dir / ACME).rename(catalog_dir / "tenants" / "acme-corp.yaml")
    one_issue(catalog_dir, "tenants/acme-corp.yaml", "acme", "id", "name the file 'acme.yaml'")


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("plan: starter", "plan: platinum", "plan", ("unknown plan 'platinum'", "starter")),
        ("cloud: aws", "cloud: ibm", "cloud", ("'ibm' is not one of",)),
        ("region: eu-west-1", "region: eu-wset-1", "region", ("not an AWS region", "did you mean 'eu-west-1'")),
        ("cell: aws-euw1-a", "cell: aws-euw9-z", "cell", ("unknown cell 'aws-euw9-z'",)),
        ("state: active", "state: paused", "state", ("'paused' is not one of", "suspended")),
        ("seats: 20", "seats: 26", "subscription.seats", ("26 seats", "plan 'starter' allows (25)")),
        ("seats: 20", "seats: -3", "subscription.seats", ("at least 1",)),
        ("seats: 20", "seats: .inf", "subscription.seats", ("non-finite",)),
        ("seats: 20", "seats: 99999999999", "subscription.seats", ("at most",)),
        ("start: 2026-01-01", "start: 2026-02-30", "subscription.start", ()),
        ("end: 2027-01-01", "end: 2025-01-01", "subscription", ("end 2025-01-01 is not after start",)),
        ("{db_storage_gb: 10}", "{db_storage_gb: 30}", "overrides.db_storage_gb", ("above plan 'starter'", "20")),
        ("{db_storage_gb: 10}", "{db_vcpus: 1.5}", "overrides.db_vcpus", ("whole number",)),
        ("{db_storage_gb: 10}", "{backup_retention_days: 3}", "overrides.backup_retention_days",
         ("below plan 'starter'", "minimum of 7")),
        ("{db_storage_gb: 10}", "{db_storage_gb: 10, color: red}", "overrides.color", ("not a known field",)),
    ],
)
def test_tenant_field_rejections(catalog_dir: Path, old: str, new: str, field: str, words: tuple[str, ...]) -> None:
    edit(catalog_dir / ACME, old, new)
    one_issue(catalog_dir, ACME, "acme", field, *words)


def test_impossible_date_message(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "start: 2026-01-01", "start: 2026-02-30")
    issue = one_issue(catalog_dir, ACME, "acme", "subscription.start")
    assert "2026-02-30" in issue.message


def test_cloud_not_allowed_by_plan(catalog_dir: Path) -> None:
    edit(catalog_dir / "tenants/nakatomi.yaml", "cloud: aws\nregion: eu-central-1", "cloud: gcp\nregion: europe-west3")
    one_issue(catalog_dir, "tenants/nakatomi.yaml", "nakatomi", "cloud", "plan 'sovereign' does not allow gcp")


def test_region_not_allowed_by_plan(catalog_dir: Path) -> None:
    edit(catalog_dir / "tenants/nakatomi.yaml", "region: eu-central-1", "region: us-east-1")
    one_issue(catalog_dir, "tenants/nakatomi.yaml", "nakatomi", "region", "does not allow region 'us-east-1'")


def test_pin_to_cell_in_another_region(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "cell: aws-euw1-a", "cell: aws-use1-a")
    one_issue(catalog_dir, ACME, "acme", "cell", "cell 'aws-use1-a' is in aws us-east-1")


def test_pin_on_a_silo_plan(catalog_dir: Path) -> None:
    edit(catalog_dir / "tenants/cyberdyne.yaml", "state: active", "state: active\ncell: aws-use1-a")
    one_issue(catalog_dir, "tenants/cyberdyne.yaml", "cyberdyne", "cell", "only pooled and bridge")


def test_cell_over_capacity(catalog_dir: Path) -> None:
    edit(catalog_dir / "cells.yaml", "region: eu-west-1, capacity: 50", "region: eu-west-1, capacity: 1")
    found = issues_of(catalog_dir)
    assert any(i.id == "aws-euw1-a" and i.field == "capacity" and "capacity is 1" in i.message for i in found) or any(
        i.field == "cell" and "no room" in i.message for i in found
    ), found


def test_pinned_tenants_over_capacity_name_the_cell(catalog_dir: Path) -> None:
    edit(catalog_dir / "cells.yaml", "region: eu-west-1, capacity: 50", "region: eu-west-1, capacity: 1")
    edit(catalog_dir / "tenants/hooli.yaml", "canary: true", "canary: true\ncell: aws-euw1-a")
    one_issue(catalog_dir, "cells.yaml", "aws-euw1-a", "capacity", "3 tenants", "capacity is 1", "acme, hooli")


def test_no_room_says_which_region_needs_a_cell(catalog_dir: Path) -> None:
    edit(catalog_dir / "tenants/umbrella.yaml", "region: eu-frankfurt-1", "region: uk-london-1")
    one_issue(catalog_dir, "tenants/umbrella.yaml", "umbrella", "cell", "no room", "oci uk-london-1",
              "add a cell for oci uk-london-1")


def test_derived_names_collide(catalog_dir: Path) -> None:
    # A cell named like a silo tenant's shape: both would derive the bucket pb-cyberdyne-s-data.
    cells = catalog_dir / "cells.yaml"
    cells.write_text(cells.read_text() + "  - {id: cyberdyne-s, cloud: aws, region: us-east-1, capacity: 5}\n")
    issue = one_issue(catalog_dir, "tenants/cyberdyne.yaml", "cyberdyne", "id", "already derived by cell 'cyberdyne-s'")
    assert "pb-cyberdyne-s-" in issue.message


def test_unknown_plan_region_in_limits(catalog_dir: Path) -> None:
    edit(catalog_dir / "plans.yaml", "regions: [eu-central-1,", "regions: [mars-north-1,")
    one_issue(catalog_dir, "plans.yaml", "sovereign", "limits.regions.0", "'mars-north-1' is not a region")


def test_unknown_field_in_plan_names_the_plan(catalog_dir: Path) -> None:
    edit(catalog_dir / "plans.yaml", "    name: Growth", "    name: Growth\n    price: 10")
    one_issue(catalog_dir, "plans.yaml", "growth", "plans.1.price", "not a known field")


def test_missing_account_for_cloud_in_use(catalog_dir: Path) -> None:
    edit(catalog_dir / "catalog.yaml", "  gcp_project: pb-tenants-prod\n", "")
    one_issue(catalog_dir, "catalog.yaml", "", "accounts.gcp_project", "is required")


def test_oci_needs_the_tenancy_s_home_region(catalog_dir: Path) -> None:
    edit(catalog_dir / "catalog.yaml", "  oci_home_region: eu-frankfurt-1", "")
    issue = one_issue(catalog_dir, "catalog.yaml", "", "accounts.oci_home_region", "is required", "runs on oci",
                      "home region")
    assert issue.file.endswith("catalog.yaml")


def test_every_error_in_one_run(catalog_dir: Path) -> None:
    edit(catalog_dir / ACME, "plan: starter", "plan: platinum")
    edit(catalog_dir / "tenants/globex.yaml", "region: westeurope", "region: westeurop")
    write_tenant(catalog_dir, "broken", "id: [")
    files = {i.file.rsplit("/", 1)[-1] for i in issues_of(catalog_dir)}
    assert {"acme.yaml", "globex.yaml", "broken.yaml"} <= files


def test_missing_catalog_is_one_clear_issue(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path / "nowhere")
    assert "is not a directory" in str(raised.value)


def test_the_ledger_of_a_large_fleet_is_not_held_to_the_hand_written_files_size(catalog_dir: Path) -> None:
    """placements.yaml is written by generate and grows with the fleet (10,000 tenants: about 840 KB)."""
    from paybill_iac.catalog import yamlio

    ledger = catalog_dir / "placements.yaml"
    text = ledger.read_text() if ledger.exists() else "placements: {}\n"
    ledger.write_text(text + "\n" + "#" * (yamlio.MAX_FILE_BYTES + 1024) + "\n")
    load_catalog(catalog_dir)  # no "at most" refusal for the ledger

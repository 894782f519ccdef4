"""The catalog guards the tenants' data: each hand edit that would move or drop a tenant's data is refused by
validate, generate and preview, naming the workflow that does it; an ordinary edit still passes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from paybill_iac.catalog import ledger, load_catalog
from paybill_iac.errors import CatalogError
from tests.catalog.conftest import offboarded
from tests.cli_invoke import run_cli


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def plan_to_silo(catalog: Path) -> None:
    _edit(catalog / "tenants/acme.yaml", "plan: starter", "plan: enterprise")
    _edit(catalog / "tenants/acme.yaml", "cell: aws-euw1-a\n", "")
    _edit(catalog / "tenants/acme.yaml", "overrides: {db_storage_gb: 10}\n", "")


def file_removed(catalog: Path) -> None:
    (catalog / "tenants/acme.yaml").unlink()


def cloud_changed(catalog: Path) -> None:
    _edit(catalog / "tenants/globex.yaml", "cloud: azure", "cloud: aws")
    _edit(catalog / "tenants/globex.yaml", "region: westeurope", "region: eu-west-1")


def region_changed(catalog: Path) -> None:
    _edit(catalog / "tenants/globex.yaml", "region: westeurope", "region: northeurope")
    cells = catalog / "cells.yaml"
    cells.write_text(cells.read_text() + "  - {id: azure-neu-a, cloud: azure, region: northeurope, capacity: 10}\n")


def cell_removed(catalog: Path) -> None:
    _edit(catalog / "cells.yaml", "{id: oci-fra-a, cloud: oci,", "{id: oci-fra-b, cloud: oci,")


def cell_replaced(catalog: Path) -> None:
    _edit(catalog / "cells.yaml", "{id: gcp-euw1-a, cloud: gcp, region: europe-west1,",
          "{id: gcp-euw1-a, cloud: gcp, region: europe-west4,")


def placement_changed(catalog: Path) -> None:
    cells = catalog / "cells.yaml"
    cells.write_text(cells.read_text() + "  - {id: aws-euw1-b, cloud: aws, region: eu-west-1, capacity: 50}\n")
    _edit(catalog / "tenants/acme.yaml", "cell: aws-euw1-a", "cell: aws-euw1-b")


def offboarded_by_hand(catalog: Path) -> None:
    _edit(catalog / "tenants/tyrell.yaml", "state: active", "state: offboarded")


MOVES: list[tuple[Callable[[Path], None], str, str]] = [
    (plan_to_silo, "acme", "paybill-iac lifecycle change-plan acme --plan enterprise"),
    (file_removed, "acme", "paybill-iac lifecycle offboard acme"),
    (cloud_changed, "globex", "paybill-iac lifecycle move globex --cloud aws"),
    (region_changed, "globex", "paybill-iac lifecycle move globex --region northeurope"),
    (cell_removed, "oci-fra-a", "paybill-iac lifecycle move wonka --cell"),
    (cell_replaced, "gcp-euw1-a", "paybill-iac lifecycle move initech --cell"),
    (placement_changed, "acme", "paybill-iac lifecycle move acme --cell aws-euw1-b"),
    (offboarded_by_hand, "tyrell", "paybill-iac lifecycle offboard tyrell"),
]
IDS = [edit.__name__ for edit, _, _ in MOVES]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code, out, err = run_cli(capsys, *args)
    return code, out + err


@pytest.mark.parametrize(("edit", "owner", "workflow"), MOVES, ids=IDS)
def test_validate_refuses_a_data_moving_edit_naming_its_workflow(catalog_dir: Path, capsys: pytest.CaptureFixture[str],
                                                                edit: Callable[[Path], None], owner: str,
                                                                workflow: str) -> None:
    edit(catalog_dir)
    with pytest.raises(CatalogError) as refused:
        load_catalog(catalog_dir)
    assert any(issue.id == owner and workflow in issue.message for issue in refused.value.issues), refused.value
    code, output = _cli(capsys, "validate", str(catalog_dir))
    assert code == 1 and workflow in output and "Traceback" not in output


@pytest.mark.parametrize(("edit", "owner", "workflow"), MOVES, ids=IDS)
def test_generate_refuses_it_and_writes_nothing(catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                edit: Callable[[Path], None], owner: str, workflow: str) -> None:
    before = (catalog_dir / ledger.LEDGER_FILE).read_bytes()
    edit(catalog_dir)
    code, output = _cli(capsys, "generate", str(catalog_dir), "--out", str(tmp_path / "out"))
    assert code == 1 and workflow in output
    assert not (tmp_path / "out").exists() and (catalog_dir / ledger.LEDGER_FILE).read_bytes() == before


@pytest.mark.parametrize(("edit", "owner", "workflow"), MOVES, ids=IDS)
def test_preview_refuses_it(catalog_dir: Path, capsys: pytest.CaptureFixture[str], edit: Callable[[Path], None],
                            owner: str, workflow: str) -> None:
    edit(catalog_dir)
    code, output = _cli(capsys, "preview", str(catalog_dir), "--jobs", "1", "--no-progress")
    assert code == 2 and workflow in output


def test_an_ordinary_edit_still_passes_validate_generate_and_preview(catalog_dir: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _edit(catalog_dir / "tenants/acme.yaml", "seats: 20", "seats: 22")
    _edit(catalog_dir / "tenants/globex.yaml", "plan: starter", "plan: starter")  # unchanged
    _edit(catalog_dir / "tenants/hooli.yaml", "name: Hooli", "name: Hooli XYZ")
    assert _cli(capsys, "validate", str(catalog_dir))[0] == 0
    assert _cli(capsys, "generate", str(catalog_dir), "--out", str(tmp_path / "out"))[0] == 0
    code, output = _cli(capsys, "preview", str(catalog_dir), "--tenant", "acme", "--jobs", "1", "--no-progress")
    assert code == 0, output


def test_a_plan_change_within_an_isolation_model_is_ordinary(catalog_dir: Path) -> None:
    plan = ("  - {id: starter-plus, isolation: pooled, clouds: [aws], limits: {db_storage_gb: 20, db_vcpus: 2, "
            "backup_retention_days: 7, seats: 50}}\n")
    _edit(catalog_dir / "plans.yaml", "plans:\n", "plans:\n" + plan)
    _edit(catalog_dir / "tenants/acme.yaml", "plan: starter", "plan: starter-plus")
    assert load_catalog(catalog_dir).tenants["acme"].plan == "starter-plus"


def test_an_offboarded_tenant_s_file_may_go_and_a_new_tenant_is_recorded_by_generate(catalog_dir: Path,
                                                                                   tmp_path: Path) -> None:
    (catalog_dir / "tenants/vandelay.yaml").unlink()  # offboarded already
    load_catalog(catalog_dir)
    offboarded(catalog_dir, "acme")
    file_removed(catalog_dir)
    catalog = load_catalog(catalog_dir)
    new = (catalog_dir / "tenants/globex.yaml").read_text().replace("id: globex", "id: initrode")
    (catalog_dir / "tenants/initrode.yaml").write_text(new)
    assert "initrode" not in ledger.read(catalog_dir).entries
    from paybill_iac.generate import generate

    generate(load_catalog(catalog_dir), tmp_path / "out")
    entry = ledger.read(catalog_dir).entries["initrode"]
    assert (entry.location.isolation, entry.location.cell) == ("pooled", "azure-weu-a")
    assert "acme" not in catalog.tenants


def test_a_cell_that_is_removed_once_its_tenants_left_is_fine(catalog_dir: Path) -> None:
    offboarded(catalog_dir, "umbrella", "wonka")
    for tenant in ("umbrella", "wonka"):
        (catalog_dir / f"tenants/{tenant}.yaml").unlink()
    cell_removed(catalog_dir)
    assert "oci-fra-a" not in load_catalog(catalog_dir).cells


def test_the_ledger_of_the_earlier_form_is_read_and_completed_by_generate(catalog_dir: Path, tmp_path: Path) -> None:
    (catalog_dir / ledger.LEDGER_FILE).write_text("placements:\n  acme: \"aws-euw1-a\"\n  globex: \"azure-weu-a\"\n")
    assert load_catalog(catalog_dir).placements["globex"] == "azure-weu-a"
    from paybill_iac.generate import generate

    generate(load_catalog(catalog_dir), tmp_path / "out")
    entries = ledger.read(catalog_dir).entries
    assert entries["globex"].location == ledger.Location("pooled", "azure", "westeurope", "azure-weu-a")
    assert entries["tyrell"].location.isolation == "silo"
    plan_to_silo(catalog_dir)
    with pytest.raises(CatalogError, match="lifecycle change-plan acme"):
        load_catalog(catalog_dir)


def test_a_malformed_ledger_is_an_issue(catalog_dir: Path) -> None:
    (catalog_dir / ledger.LEDGER_FILE).write_text("tenants:\n  acme: {isolation: 3}\n")
    with pytest.raises(CatalogError, match="entry 'acme', field 'isolation'"):
        load_catalog(catalog_dir)


if sys.platform == "win32":  # pragma: no cover
    pytest.skip("POSIX only", allow_module_level=True)

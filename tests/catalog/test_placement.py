"""Placement is deterministic, within capacity, and sticky: adding or removing a tenant never moves
another one."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks.synthetic import write_catalog
from paybill_iac.catalog import load_catalog
from paybill_iac.generate import generate
from tests.catalog.conftest import offboarded

from .conftest import one_issue


def placed_after_generate(catalog_dir: Path, out: Path) -> dict[str, str]:
    catalog = load_catalog(catalog_dir)
    generate(catalog, out)
    return dict(catalog.placements)


def test_pinned_cell_is_honoured(catalog_dir: Path) -> None:
    assert load_catalog(catalog_dir).placements["acme"] == "aws-euw1-a"


def test_placement_is_deterministic(tmp_path: Path) -> None:
    first = write_catalog(tmp_path / "one", 300)
    second = write_catalog(tmp_path / "two", 300)
    assert load_catalog(first).placements == load_catalog(second).placements


def test_new_tenants_fill_the_cell_with_most_room(tmp_path: Path) -> None:
    catalog_dir = write_catalog(tmp_path / "catalog", 40)
    cells = (catalog_dir / "cells.yaml").read_text()
    (catalog_dir / "cells.yaml").write_text(
        cells + "  - {id: aws-cell-big, cloud: aws, region: eu-west-1, capacity: 1000}\n")
    placements = load_catalog(catalog_dir).placements
    aws = {tenant: cell for tenant, cell in placements.items() if cell.startswith("aws-")}
    assert aws and set(aws.values()) == {"aws-cell-big"}


def test_adding_and_removing_tenants_moves_nobody(tmp_path: Path) -> None:
    catalog_dir = write_catalog(tmp_path / "catalog", 200)
    regions = (("aws", "eu-west-1"), ("azure", "westeurope"), ("gcp", "europe-west1"), ("oci", "eu-frankfurt-1"))
    extra = "".join(f"  - {{id: {cloud}-cell-x{n}, cloud: {cloud}, region: {region}, capacity: 20}}\n"
                    for cloud, region in regions for n in range(3))
    cells = catalog_dir / "cells.yaml"
    cells.write_text(cells.read_text().replace("capacity: 500", "capacity: 20") + extra)
    before = placed_after_generate(catalog_dir, tmp_path / "out")
    assert len(set(before.values())) > 4  # several cells per region are in use

    # Remove a few tenants, then add new ones: nobody else moves.
    template = (catalog_dir / "tenants" / "t00000.yaml").read_text()
    removed = sorted(before)[::17]
    offboarded(catalog_dir, *removed)  # as the offboard workflow leaves them: their files may go
    for tenant in removed:
        (catalog_dir / "tenants" / f"{tenant}.yaml").unlink()
    for number in range(10):
        (catalog_dir / "tenants" / f"a{number:03d}.yaml").write_text(template.replace("t00000", f"a{number:03d}"))
    after = placed_after_generate(catalog_dir, tmp_path / "out")
    for tenant, cell in before.items():
        if tenant not in removed:
            assert after[tenant] == cell, tenant
    assert all(f"a{number:03d}" in after for number in range(10))


def test_a_cell_that_stops_accepting_keeps_its_tenants(catalog_dir: Path, tmp_path: Path) -> None:
    before = placed_after_generate(catalog_dir, tmp_path / "out")
    cells = catalog_dir / "cells.yaml"
    cells.write_text(cells.read_text().replace("region: westeurope, capacity: 40", "region: westeurope, capacity: 40, "
                                                                                   "accepting: false"))
    assert load_catalog(catalog_dir).placements["globex"] == before["globex"] == "azure-weu-a"


def test_a_new_tenant_needs_an_accepting_cell(catalog_dir: Path, tmp_path: Path) -> None:
    placed_after_generate(catalog_dir, tmp_path / "out")
    cells = catalog_dir / "cells.yaml"
    cells.write_text(cells.read_text().replace("region: westeurope, capacity: 40", "region: westeurope, capacity: 40, "
                                                                                   "accepting: false"))
    shutil.copy(catalog_dir / "tenants" / "globex.yaml", catalog_dir / "tenants" / "initrode.yaml")
    path = catalog_dir / "tenants" / "initrode.yaml"
    path.write_text(path.read_text().replace("id: globex", "id: initrode"))
    one_issue(catalog_dir, "tenants/initrode.yaml", "initrode", "cell", "no room", "azure-weu-a",
              "add a cell for azure westeurope")

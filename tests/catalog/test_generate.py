"""Stack generation: complete, deterministic, minimal writes, explicit about orphans."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from paybill_iac.catalog import load_catalog
from paybill_iac.generate import generate
from tests.catalog.conftest import offboarded

REPO = Path(__file__).resolve().parents[2]


def test_one_stack_per_tenant_with_a_stack_and_per_cell_in_use(catalog_dir: Path, tmp_path: Path) -> None:
    catalog = load_catalog(catalog_dir)
    generate(catalog, tmp_path / "out")
    tenants = {p.name for p in (tmp_path / "out" / "tenant").glob("Pulumi.*.yaml")}
    cells = {p.name for p in (tmp_path / "out" / "cell").glob("Pulumi.*.yaml")}
    expected = {f"Pulumi.{t.id}.yaml" for t in catalog.tenants.values() if t.state != "offboarded"}
    assert tenants == expected and "Pulumi.vandelay.yaml" not in tenants  # offboarded: no stack
    assert cells == {f"Pulumi.{cell}.yaml" for cell in set(catalog.placements.values())}
    assert "Pulumi.aws-use1-a.yaml" not in cells  # no tenant there


def test_stack_config_holds_what_the_program_needs(catalog_dir: Path, tmp_path: Path) -> None:
    generate(load_catalog(catalog_dir), tmp_path / "out")
    config = yaml.safe_load((tmp_path / "out" / "tenant" / "Pulumi.hooli.yaml").read_text())["config"]
    assert config["aws:region"] == "eu-west-1"
    assert config["paybill:tenant"] == "hooli" and config["paybill:plan"] == "growth"
    assert config["paybill:isolation"] == "bridge" and config["paybill:cell"] == "aws-euw1-a"
    assert config["paybill:cellStack"] == "organization/paybill-cell/aws-euw1-a"
    assert config["paybill:database"]["vcpus"] == 4 and config["paybill:database"]["storage_gb"] == 128
    assert config["paybill:names"]["bucket"] == "pb-hooli-b-data"  # b: the bridge shape
    gcp = yaml.safe_load((tmp_path / "out" / "tenant" / "Pulumi.soylent.yaml").read_text())["config"]
    assert gcp["gcp:region"] == "europe-west1" and gcp["gcp:project"] == "pb-tenants-prod"
    assert gcp["paybill:state"] == "suspended"
    azure = yaml.safe_load((tmp_path / "out" / "cell" / "Pulumi.azure-weu-a.yaml").read_text())["config"]
    assert azure["azure-native:location"] == "westeurope" and azure["paybill:cell"] == "azure-weu-a"
    oci = yaml.safe_load((tmp_path / "out" / "tenant" / "Pulumi.oscorp.yaml").read_text())["config"]
    assert oci["oci:region"] == "eu-frankfurt-1"
    wayne = yaml.safe_load((tmp_path / "out" / "tenant" / "Pulumi.wayne.yaml").read_text())["config"]
    assert wayne["paybill:state"] == "offboarding"


def test_generation_is_byte_for_byte_deterministic(catalog_dir: Path, tmp_path: Path) -> None:
    generate(load_catalog(catalog_dir), tmp_path / "a")
    shutil.copy(catalog_dir / "placements.yaml", tmp_path / "placements-a.yaml")
    generate(load_catalog(catalog_dir), tmp_path / "b")
    for path in (tmp_path / "a").rglob("*.yaml"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
    assert (catalog_dir / "placements.yaml").read_bytes() == (tmp_path / "placements-a.yaml").read_bytes()


def test_unchanged_files_are_not_rewritten(catalog_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(load_catalog(catalog_dir), out)
    stamps = {path: path.stat().st_mtime_ns for path in out.rglob("*.yaml")}
    result = generate(load_catalog(catalog_dir), out)
    assert result.written == [] and len(result.unchanged) == len(stamps) + 1  # + placements.yaml
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*.yaml")} == stamps


def test_a_change_rewrites_only_what_it_touches(catalog_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(load_catalog(catalog_dir), out)
    path = catalog_dir / "tenants" / "tyrell.yaml"
    path.write_text(path.read_text().replace("state: active", "state: suspended"))
    result = generate(load_catalog(catalog_dir), out)
    assert result.written == [out / "tenant" / "Pulumi.tyrell.yaml"]
    # Seats are the catalog's business (checked against the plan), not the stack program's: no rewrite.
    path.write_text(path.read_text().replace("seats: 900", "seats: 950"))
    assert generate(load_catalog(catalog_dir), out).written == []


def test_orphans_are_reported_and_removed_only_when_asked(catalog_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(load_catalog(catalog_dir), out)
    offboarded(catalog_dir, "tyrell")  # its file may go once the offboard workflow ran
    (catalog_dir / "tenants" / "tyrell.yaml").unlink()
    orphan = out / "tenant" / "Pulumi.tyrell.yaml"
    result = generate(load_catalog(catalog_dir), out)
    assert result.orphaned == [orphan] and orphan.exists()
    result = generate(load_catalog(catalog_dir), out, prune=True)
    assert result.removed == [orphan] and not orphan.exists()


def test_check_writes_nothing_and_lists_what_is_stale(catalog_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(load_catalog(catalog_dir), out)
    target = out / "tenant" / "Pulumi.acme.yaml"
    target.write_text(target.read_text().replace('"eu-west-1"', '"eu-west-2"', 1))  # a hand edit
    before = target.read_bytes()
    result = generate(load_catalog(catalog_dir), out, check=True)
    assert result.stale == [target] and target.read_bytes() == before


def test_no_secret_in_generated_files(catalog_dir: Path, tmp_path: Path) -> None:
    generate(load_catalog(catalog_dir), tmp_path / "out")
    for path in (tmp_path / "out").rglob("*.yaml"):
        text = path.read_text().lower()
        assert "password" not in text and "secure:" not in text and "private_key" not in text


def test_committed_stack_files_are_up_to_date() -> None:
    """The CI guard against hand edits: the repository's generated files match the catalog."""
    result = generate(load_catalog(REPO / "stacks" / "catalog"), REPO / "stacks", check=True)
    assert result.stale == [], "run `paybill-iac generate`; stale: " + ", ".join(map(str, result.stale))

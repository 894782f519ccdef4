"""`paybill-iac describe tenant` and `paybill-iac list`: the resolved views, on the example catalog and on a
state database written by the real store (SQLite), read without creating or changing anything."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from paybill_iac.catalog import load_catalog
from paybill_iac.cli_describe import describe_tenant, list_rows, read_deployed, render_rows, render_tenant
from paybill_iac.errors import UsageError
from paybill_iac.model.spec import tenant_spec
from paybill_iac.project import Project
from tests.cli_invoke import run_cli

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "stacks" / "catalog"


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog(EXAMPLE)


def project(tmp_path: Path, url: str | None = None) -> Project:
    return Project(root=None, catalog=EXAMPLE, stacks=REPO / "stacks", state_dir=tmp_path / "state", state_url=url)


def limits(view: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    return {row["field"]: (row["value"], row["source"]) for row in view["limits"]}


def test_each_limit_says_where_it_comes_from(catalog: Any) -> None:
    view = describe_tenant(catalog, "acme")
    assert limits(view)["db_storage_gb"] == (10, "tenant override")  # acme's file: overrides {db_storage_gb: 10}
    assert limits(view)["db_vcpus"] == (2, "plan default")
    assert limits(view)["seats"] == (20, "tenant subscription")
    assert limits(view)["db_connections"] == (20, "plan")  # plans.yaml sets it for starter
    assert limits(view)["regions"][1] == "catalog default"
    sovereign = describe_tenant(catalog, "nakatomi")
    assert limits(sovereign)["regions"] == (["eu-central-1", "eu-west-1", "germanywestcentral", "westeurope"], "plan")


def test_placement_names_and_stack_come_from_the_spec(catalog: Any) -> None:
    view = describe_tenant(catalog, "acme")
    assert view["placement"]["cell"] == "aws-euw1-a" and view["placement"]["why"].startswith("pinned")
    spec = tenant_spec(catalog, "acme")
    assert spec is not None and view["names"] == dict(spec.names)
    assert view["stack"] == {"project": "paybill-tenant", "stack": "acme",
                             "qualified": "organization/paybill-tenant/acme",
                             "cell_stack": "organization/paybill-cell/aws-euw1-a"}
    assert describe_tenant(catalog, "hooli")["placement"]["why"].startswith("kept where the placement ledger")
    silo = describe_tenant(catalog, "tyrell")
    assert silo["placement"]["cell"] is None and silo["database"]["instance_class"] == "Standard_D8ds_v5"
    assert silo["lifecycle"] == {"state": "active", "has_stack": True, "canary": False,
                                 "next": ["offboarding", "suspended"]}


def test_an_offboarded_tenant_has_no_stack(catalog: Any) -> None:
    view = describe_tenant(catalog, "vandelay")
    assert view["stack"] is None and view["names"] == {} and view["lifecycle"]["next"] == []


def test_a_rounded_database_size_is_shown(tmp_path: Path) -> None:
    copy = tmp_path / "catalog"
    shutil.copytree(EXAMPLE, copy)
    tenant = copy / "tenants" / "tyrell.yaml"
    tenant.write_text(tenant.read_text() + "overrides: {db_storage_gb: 300}\n")
    view = describe_tenant(load_catalog(copy), "tyrell")
    assert view["database"]["storage_gb"] == 256
    [rounding] = view["database"]["roundings"]
    assert (rounding["field"], rounding["asked"], rounding["given"]) == ("db_storage_gb", 300, 256)
    assert "300 -> 256: Azure storage comes in fixed sizes" in render_tenant(view)


def test_an_unknown_tenant_is_a_usage_error_with_the_closest_id(catalog: Any) -> None:
    with pytest.raises(UsageError, match=r"unknown tenant 'acmee' .*\(did you mean 'acme'\?\)") as raised:
        describe_tenant(catalog, "acmee")
    assert raised.value.exit_code == 2


def test_without_a_state_database_describe_says_so_and_creates_none(tmp_path: Path) -> None:
    found = read_deployed(project(tmp_path), "acme")
    assert found["available"] is False and "no state database" in found["why"]
    assert not (tmp_path / "state").exists()


def test_the_last_deployment_and_the_journal_come_from_the_state_database(tmp_path: Path) -> None:
    from paybill_iac.automation.store import Store

    database = tmp_path / "state" / "state.db"
    database.parent.mkdir()
    url = f"sqlite:///{database}"
    store = Store(url)
    try:
        for number, (operation, result) in enumerate([("up", "succeeded"), ("preview", "failed"), ("up", None)]):
            store.journal.start(op_id=f"op{number}", actor="human:ann", stack="paybill-tenant/acme", tenant="acme",
                                operation=operation, owner="test")
            if result is not None:
                store.journal.end(op_id=f"op{number}", result=result, state="active" if result == "succeeded" else None)
        store.journal.start(op_id="other", actor="human:ann", stack="paybill-tenant/globex", tenant="globex",
                            operation="up", owner="test")
    finally:
        store.close()
    before = (database.stat().st_mtime_ns, database.read_bytes())
    found = read_deployed(project(tmp_path, url), "acme")
    assert found["available"] is True and found["state"] == "active"
    assert found["last_operation"]["op_id"] == "op2" and found["last_operation"]["result"] is None
    assert found["operations"] == {"succeeded": 1, "failed": 1, "running or crashed": 1}
    assert [row["operation"] for row in found["recent"]] == ["up", "preview", "up"]
    assert (database.stat().st_mtime_ns, database.read_bytes()) == before  # opened read-only
    text = render_tenant(describe_tenant(load_catalog(EXAMPLE), "acme", found))
    assert "deployed   state active; last operation up by human:ann" in text and "1 failed" in text


def test_list_tenants_filters_by_plan_cloud_and_state(catalog: Any) -> None:
    rows = list_rows(catalog, "tenants", cloud="aws", state="active")
    assert [row["tenant"] for row in rows] == ["acme", "cyberdyne", "dunder-mifflin", "hooli", "nakatomi"]
    assert {row["plan"] for row in list_rows(catalog, "tenants", plan="growth")} == {"growth"}
    with pytest.raises(UsageError, match=r"--plan 'grwoth' .*did you mean 'growth'"):
        list_rows(catalog, "tenants", plan="grwoth")


def test_list_cells_shows_how_full_each_is(catalog: Any) -> None:
    rows = {row["cell"]: row for row in list_rows(catalog, "cells")}
    placed = [tenant for tenant, cell in catalog.placements.items() if cell == "aws-euw1-a"]
    assert rows["aws-euw1-a"]["tenants"] == len(placed) and rows["aws-euw1-a"]["capacity"] == 50
    assert rows["aws-euw1-a"]["seats"] == sum(catalog.tenants[t].subscription.seats for t in placed)
    assert rows["aws-use1-a"]["tenants"] == 0
    assert f"{len(placed)}/50 (6%)" in render_rows("cells", list(rows.values()))
    assert [row["cell"] for row in list_rows(catalog, "cells", cloud="oci")] == ["oci-fra-a"]


def test_list_plans_counts_their_tenants(catalog: Any) -> None:
    rows = {row["plan"]: row for row in list_rows(catalog, "plans")}
    assert sum(row["tenants"] for row in rows.values()) == len(catalog.tenants)
    assert [row["plan"] for row in list_rows(catalog, "plans", cloud="gcp")] == ["enterprise", "growth", "starter"]


def test_the_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYBILL_STATE_DIR", str(tmp_path / "state"))

    def run(*args: str) -> tuple[int, str, str]:
        return run_cli(capsys, *args)

    code, out, _ = run("describe", "tenant", "acme", "--catalog", str(EXAMPLE), "--format", "json")
    assert code == 0 and json.loads(out)["placement"]["cell"] == "aws-euw1-a"
    code, _, err = run("describe", "tenant", "acmee", "--catalog", str(EXAMPLE))
    assert code == 2 and "did you mean 'acme'" in err and "Traceback" not in err
    code, out, _ = run("list", "cells", "--catalog", str(EXAMPLE))
    assert code == 0 and out.splitlines()[0].split()[:3] == ["CELL", "CLOUD", "REGION"]
    assert not (tmp_path / "state").exists()


def test_describe_cell_shows_its_fill_database_names_and_stack(catalog: Any) -> None:
    from paybill_iac.cli_describe import describe_cell, render_cell
    from paybill_iac.model.spec import cell_spec

    view = describe_cell(catalog, "aws-euw1-a")
    placed = sorted(tenant for tenant, cell in catalog.placements.items() if cell == "aws-euw1-a")
    assert [row["tenant"] for row in view["tenants"]] == placed and view["capacity"] == 50
    assert view["names"] == dict(cell_spec(catalog, "aws-euw1-a").names)
    assert view["database"]["instance_class"] == "db.m7g.xlarge" and view["database"]["roundings"] == []
    assert view["stack"]["qualified"] == "organization/paybill-cell/aws-euw1-a" and view["stack"]["has_stack"]
    assert describe_cell(catalog, "aws-use1-a")["stack"]["has_stack"] is False  # hosts no tenant
    assert f"fill       {len(placed)}/50 tenants" in render_cell(view)
    with pytest.raises(UsageError, match=r"unknown cell 'aws-euw1-b' .*did you mean 'aws-euw1-a'"):
        describe_cell(catalog, "aws-euw1-b")


def test_a_cells_journal_is_read_by_its_stack(tmp_path: Path) -> None:
    from paybill_iac.automation.store import Store

    database = tmp_path / "state" / "state.db"
    database.parent.mkdir()
    store = Store(f"sqlite:///{database}")
    try:
        store.journal.start(op_id="c1", actor="human:ann", stack="paybill-cell/aws-euw1-a", tenant=None,
                            operation="up", owner="test")
        store.journal.end(op_id="c1", result="succeeded")
    finally:
        store.close()
    found = read_deployed(project(tmp_path, f"sqlite:///{database}"), "aws-euw1-a", cell=True)
    assert found["stack"] == "paybill-cell/aws-euw1-a" and found["operations"] == {"succeeded": 1}

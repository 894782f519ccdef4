"""Large catalogs are read and generated in forked workers: the same catalog, issues and files as in
one process. The thresholds are lowered so the example catalog takes the parallel path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from paybill_iac import generate as generate_module
from paybill_iac import parallel
from paybill_iac.catalog import load as catalog_load
from paybill_iac.catalog import load_catalog
from paybill_iac.errors import CatalogError, CatalogIssue
from paybill_iac.generate import generate
from paybill_iac.model.catalog import Catalog


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fork for any input, on any machine. Earlier tests may have left threads behind (the CLI starts
    none); each test loads serially first, so the workers import nothing another thread could hold.
    This process starts its share late, so that the worker takes the first chunks (or all of the few
    the example has): what a worker sends back is what these tests compare."""
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)
    original = parallel.map_chunks

    def worker_first(func: Any, items: Any, *, here: bool = False, meanwhile: Any = None) -> Any:
        def late() -> None:
            time.sleep(0.1)
            if meanwhile is not None:
                meanwhile()

        return original(func, items, here=here, meanwhile=late)

    for module in (catalog_load, generate_module):
        monkeypatch.setattr(module, "map_chunks", worker_first)
    yield


def serial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "workers", lambda: 1)


def outcome(path: Path) -> Catalog | list[CatalogIssue]:
    try:
        return load_catalog(path)
    except CatalogError as error:
        return error.issues


def both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    with monkeypatch.context() as patch:
        serial(patch)
        one = outcome(path)
    return one, outcome(path)


def test_a_valid_catalog_loads_the_same(catalog_dir: Path, forking: None, monkeypatch: pytest.MonkeyPatch) -> None:
    one, forked = both_ways(catalog_dir, monkeypatch)
    assert isinstance(one, Catalog) and isinstance(forked, Catalog)
    assert list(forked.tenants.items()) == list(one.tenants.items())  # same models, same order
    assert forked.files == one.files and forked.placements == one.placements
    assert (forked.plans, forked.cells, forked.settings) == (one.plans, one.cells, one.settings)


def test_every_issue_is_reported_the_same(catalog_dir: Path, forking: None, monkeypatch: pytest.MonkeyPatch) -> None:
    tenants = catalog_dir / "tenants"
    (tenants / "acme.yaml").write_text("id: acme\nname: [unclosed\n")
    (tenants / "tyrell.yml").write_text((tenants / "tyrell.yaml").read_text())  # the id a second time
    (tenants / "hooli.yaml").write_text((tenants / "hooli.yaml").read_text().replace("id: hooli", "id: hooly"))
    (tenants / "empty.yaml").write_text("")
    (tenants / "list.yaml").write_text("- a\n")
    (tenants / "stark.yaml").write_text((tenants / "stark.yaml").read_text().replace("region: ", "region: x"))
    (tenants / "folder.yaml").mkdir()
    one, forked = both_ways(catalog_dir, monkeypatch)
    assert isinstance(one, list) and len(one) >= 7
    assert forked == one


def test_a_name_collision_is_reported_the_same(
    catalog_dir: Path, forking: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cell named after a bridge tenant's shape derives that tenant's names (pb-hooli-b-...).
    cells = catalog_dir / "cells.yaml"
    cells.write_text(cells.read_text().replace("cells:\n", "cells:\n  - {id: hooli-b, cloud: aws, region: eu-west-1, "
                                                           "capacity: 5}\n", 1))
    one, forked = both_ways(catalog_dir, monkeypatch)
    assert isinstance(one, list) and forked == one
    assert [(issue.id, "already derived by cell 'hooli-b'" in issue.message) for issue in one] == [("hooli", True)]


def test_generation_is_the_same(catalog_dir: Path, tmp_path: Path, forking: None,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        serial(patch)
        expected = generate(load_catalog(catalog_dir), tmp_path / "one")
    ledger = (catalog_dir / "placements.yaml").read_bytes()
    (catalog_dir / "placements.yaml").unlink()
    result = generate(load_catalog(catalog_dir), tmp_path / "forked")
    assert (catalog_dir / "placements.yaml").read_bytes() == ledger
    files = sorted(path.relative_to(tmp_path / "one") for path in (tmp_path / "one").rglob("*.yaml"))
    assert files == sorted(path.relative_to(tmp_path / "forked") for path in (tmp_path / "forked").rglob("*.yaml"))
    for file in files:
        assert (tmp_path / "forked" / file).read_bytes() == (tmp_path / "one" / file).read_bytes()
    stacks = [str(path).replace("forked", "one") for path in result.written if path.name != "placements.yaml"]
    assert stacks == list(map(str, expected.written))  # the example's ledger was current: not in them
    # a second run: nothing to write, every file named in order; an orphan is found by name
    (tmp_path / "forked" / "tenant" / "Pulumi.gone.yaml").write_text("")
    again = generate(load_catalog(catalog_dir), tmp_path / "forked", check=True)
    assert again.written == [] and again.unchanged == result.written
    assert again.orphaned == [tmp_path / "forked" / "tenant" / "Pulumi.gone.yaml"]


def pids(items: Sequence[int]) -> list[tuple[int, int]]:
    return [(os.getpid(), item) for item in items]


def fails_in_a_worker(items: Sequence[int]) -> list[int]:
    if os.getpid() != PARENT:
        raise ValueError("no")
    return list(items)


PARENT = os.getpid()


@pytest.mark.parametrize("here", [True, False])
def test_chunks_come_back_in_order_and_other_work_is_done_meanwhile(forking: None, here: bool) -> None:
    done = []
    results = parallel.map_chunks(pids, range(1000), here=here, meanwhile=lambda: done.append(True))
    assert [item for _, item in results] == list(range(1000)) and done == [True]
    if not here:
        assert os.getpid() not in {pid for pid, _ in results}


def test_a_failure_in_a_worker_or_here_is_raised_here(forking: None) -> None:
    global PARENT
    PARENT = os.getpid()
    with pytest.raises(ValueError, match="no"):  # workers take every chunk without `here`
        parallel.map_chunks(fails_in_a_worker, list(range(10)))
    with pytest.raises(ValueError, match="not here"):  # this process's own work fails: the workers are reaped
        parallel.map_chunks(pids, list(range(10)), here=True, meanwhile=fails_meanwhile)


def fails_meanwhile() -> None:
    raise ValueError("not here")


def test_the_example_catalog_loads_the_same_from_a_copy(tmp_path: Path, forking: None) -> None:
    """The files map names each tenant's file under the catalog path given, as the serial path does."""
    target = tmp_path / "copy"
    shutil.copytree(Path(__file__).resolve().parents[2] / "stacks" / "catalog", target)
    catalog = load_catalog(target)
    assert all(path == target / "tenants" / f"{key.split(':', 1)[1]}.yaml" for key, path in catalog.files.items())


def test_equal_name_hashes_alone_report_nothing(catalog_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The collision check's shortcut is a set of hashes; when two are equal, the names decide."""
    from paybill_iac.catalog import validate

    monkeypatch.setattr(validate, "slot_hashes", lambda cloud, role, values: bytes(8 * len(values)))
    assert isinstance(load_catalog(catalog_dir), Catalog)


def test_generate_reads_the_ledger_again_when_it_changed_after_loading(catalog_dir: Path, tmp_path: Path) -> None:
    """generate reuses the ledger load_catalog parsed only while the file is the same one."""
    catalog = load_catalog(catalog_dir)
    ledger_file = catalog_dir / "placements.yaml"
    # as a workflow would, between the two: an entry for a tenant whose file is gone (its data kept)
    gone = '  aaa-gone: {cloud: "aws", isolation: "silo", offboarded: true, region: "eu-west-1"}\n'
    ledger_file.write_text(ledger_file.read_text().replace("tenants:\n", "tenants:\n" + gone, 1))
    generate(catalog, tmp_path / "out")
    assert "aaa-gone:" in ledger_file.read_text()


def test_the_collector_is_paused_only_inside_and_what_a_caller_froze_stays_frozen() -> None:
    # In a process of its own: the collector's switch is one per process, and a thread another test left
    # running in this worker (a server, a catalog reload) may hold it off at any moment.
    body = textwrap.dedent("""
        import gc
        from paybill_iac import parallel
        assert gc.isenabled()
        with parallel.gc_paused():
            assert not gc.isenabled()
            made = [[] for _ in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() == 0 and made
        gc.freeze()
        frozen = gc.get_freeze_count()
        with parallel.gc_paused():
            more = [[] for _ in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() == frozen and more
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", body], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from paybill_iac.catalog import load_catalog
from paybill_iac.errors import CatalogError, CatalogIssue

EXAMPLE = Path(__file__).resolve().parents[2] / "stacks" / "catalog"


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A private copy of the example catalog to break."""
    target = tmp_path / "catalog"
    shutil.copytree(EXAMPLE, target)
    return target


def issues_of(path: Path) -> list[CatalogIssue]:
    with pytest.raises(CatalogError) as raised:
        load_catalog(path)
    return raised.value.issues


def one_issue(path: Path, file_suffix: str, ident: str, field: str, *words: str) -> CatalogIssue:
    """The issue about (file, id, field); its message holds every one of `words`."""
    found = issues_of(path)
    matching = [i for i in found if i.file.endswith(file_suffix) and i.id == ident and i.field == field]
    assert matching, f"no issue for {file_suffix} {ident!r} {field!r} in:\n" + "\n".join(map(str, found))
    message = matching[0].message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return matching[0]


def offboarded(catalog_dir: Path, *tenants: str) -> None:
    """What the offboard workflow records in the ledger once it finished: the tenants' files may then go."""
    from dataclasses import replace

    from paybill_iac.catalog import ledger

    found = ledger.read(catalog_dir)
    for tenant in tenants:
        ledger.update(catalog_dir, tenant, location=replace(found.entries[tenant].location, offboarded=True))

"""Changing a tenant file from a workflow: top-level fields (`state:`, `plan:`, `cloud:`, `region:`, `cell:`)
edited in place, keeping the file's comments and layout, validated before anything is written; and the
ledger (paybill_iac.catalog.ledger) written with it, since a workflow is what moves a tenant's data.

`propose` applies the edit to an overlay of the catalog (a temporary folder of links to the real
files, with the edited tenant file in it, and the ledger declaring the workflow's move when one is
given) and loads it with every check the catalog has, the data guards included, so a bad edit is
refused without touching the real catalog. `commit` then writes, in this order, so that a crash
between two writes leaves a catalog the guards accept and the workflow can carry on from: the ledger
declaring the move, the tenant file, the ledger settled (the declared move is where the data lives
now) when the workflow moved the data. It re-validates the real catalog and restores the previous
bytes if that fails (someone else changed the catalog in between).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from paybill_iac.catalog import ledger, load_catalog
from paybill_iac.catalog.ledger import Declared, Location
from paybill_iac.errors import CatalogError, UsageError
from paybill_iac.files import atomic_write
from paybill_iac.model.catalog import Catalog

EDITABLE = ("state", "plan", "cloud", "region", "cell")
REMOVABLE = ("cell",)
"""Fields an edit may add when the file lacks them, or remove (a value of None)."""
_PLAIN = re.compile(r"^[a-z0-9][a-z0-9-]*$")

Changes = Mapping[str, str | None]


def edit_text(text: str, changes: Changes, file: str = "tenant file") -> str:
    """`text` with each top-level `key: value` line of `changes` given its new value (None: the line goes);
    comments after the value and everything else stay as they were. A removable field the file lacks is
    added at its end."""
    for key, value in changes.items():
        if key not in EDITABLE:
            raise UsageError(f"workflows edit only {', '.join(EDITABLE)}, not '{key}'")
        if value is not None and not _PLAIN.fullmatch(value):
            raise UsageError(f"'{value}' is not a valid {key}")
        if value is None and key not in REMOVABLE:
            raise UsageError(f"the '{key}:' line of a tenant file cannot be removed")
        pattern = re.compile(rf"^(?P<head>{re.escape(key)}[ \t]*:[ \t]*)(?P<value>[^#\n]*?)(?P<tail>[ \t]*(#[^\n]*)?)$",
                             re.MULTILINE)
        found = pattern.findall(text)
        if not found and key in REMOVABLE:
            if value is not None:
                text = text + ("" if text.endswith("\n") or not text else "\n") + f"{key}: {value}\n"
            continue
        if len(found) != 1:
            raise UsageError(f"{file}: expected one top-level '{key}:' line to edit, found {len(found)}; "
                             "edit the file by hand")
        if value is None:
            text = re.sub(rf"^{re.escape(key)}[ \t]*:[^\n]*\n?", "", text, count=1, flags=re.MULTILINE)
            continue
        replacement = value

        def substitute(match: re.Match[str], new: str = replacement) -> str:
            return f"{match['head']}{new}{match['tail']}"

        text = pattern.sub(substitute, text, count=1)
    return text


def propose(catalog_dir: Path, tenant_id: str, changes: Changes, *,
            declare: Declared | None = None) -> tuple[Catalog, str]:
    """The catalog as it would be after the edit (with `declare` in its ledger), and the tenant file's new
    text. Writes nothing."""
    catalog_dir = Path(catalog_dir)
    path = catalog_dir / "tenants" / f"{tenant_id}.yaml"
    if not path.is_file():
        raise UsageError(f"no tenant '{tenant_id}': {path} does not exist")
    new_text = edit_text(path.read_text(encoding="utf-8"), changes, str(path))
    overlay = Path(tempfile.mkdtemp(prefix="paybill-catalog-"))
    try:
        _link_tree(catalog_dir, overlay)
        target = overlay / "tenants" / path.name
        target.unlink()
        target.write_text(new_text, encoding="utf-8")
        if declare is not None:
            (overlay / ledger.LEDGER_FILE).unlink(missing_ok=True)
            found = ledger.read(catalog_dir)
            ledger.write(overlay, found)
            ledger.update(overlay, tenant_id, declared=declare)
        try:
            catalog = load_catalog(overlay)
        except CatalogError as error:
            issues = [issue.__class__(issue.file.replace(str(overlay), str(catalog_dir)), issue.kind, issue.id,
                                      issue.field, issue.message) for issue in error.issues]
            raise CatalogError(issues) from None
    finally:
        shutil.rmtree(overlay, ignore_errors=True)
    catalog.root = catalog_dir
    catalog.files = {key: Path(str(value).replace(str(overlay), str(catalog_dir)))
                     for key, value in catalog.files.items()}
    return catalog, new_text


def commit(catalog_dir: Path, tenant_id: str, changes: Changes, *, declare: Declared | None = None,
           settle: bool = False, location: Location | None = None) -> Catalog:
    """Apply the edit to the real catalog: the ledger declaring `declare` first, the tenant file, then (settle)
    the ledger recording the move as done (at `location`, default: the declared one). Validated first,
    written atomically, re-validated after (the previous files are restored when that fails)."""
    catalog_dir = Path(catalog_dir)
    _, new_text = propose(catalog_dir, tenant_id, changes, declare=declare)
    path = catalog_dir / "tenants" / f"{tenant_id}.yaml"
    ledger_path = catalog_dir / ledger.LEDGER_FILE
    previous = path.read_bytes()
    previous_ledger = ledger_path.read_bytes() if ledger_path.is_file() else None
    try:
        if declare is not None:
            ledger.update(catalog_dir, tenant_id, declared=declare)
        atomic_write(path, new_text.encode("utf-8"))
        if settle or location is not None:
            ledger.update(catalog_dir, tenant_id, location=location, settle=settle)
        return load_catalog(catalog_dir)
    except BaseException:
        atomic_write(path, previous)
        if previous_ledger is not None:
            atomic_write(ledger_path, previous_ledger)
        raise


def _link_tree(source: Path, target: Path) -> None:
    for entry in source.iterdir():
        if entry.is_dir():
            (target / entry.name).mkdir()
            _link_tree(entry, target / entry.name)
        else:
            (target / entry.name).symlink_to(entry.resolve())

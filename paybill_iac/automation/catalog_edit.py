"""Changing a tenant file from a workflow: one top-level field (`state:`, `plan:`) edited in place,
keeping the file's comments and layout, validated before anything is written.

`propose` applies the edit to an overlay of the catalog (a temporary folder of links to the real
files, with the edited tenant file in it) and loads it with every check the catalog has, so a bad
edit is refused without touching the real catalog. `commit` then writes the file atomically and
re-validates the real catalog, restoring the previous bytes if that fails (someone else changed the
catalog in between).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from paybill_iac.catalog import load_catalog
from paybill_iac.errors import CatalogError, UsageError
from paybill_iac.files import atomic_write
from paybill_iac.model.catalog import Catalog

EDITABLE = ("state", "plan")
_PLAIN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def edit_text(text: str, changes: Mapping[str, str], file: str = "tenant file") -> str:
    """`text` with each top-level `key: value` line of `changes` given its new value; comments after
    the value and everything else stay as they were."""
    for key, value in changes.items():
        if key not in EDITABLE:
            raise UsageError(f"workflows edit only {', '.join(EDITABLE)}, not '{key}'")
        if not _PLAIN.fullmatch(value):
            raise UsageError(f"'{value}' is not a valid {key}")
        pattern = re.compile(rf"^(?P<head>{re.escape(key)}[ \t]*:[ \t]*)(?P<value>[^#\n]*?)(?P<tail>[ \t]*(#[^\n]*)?)$",
                             re.MULTILINE)
        found = pattern.findall(text)
        if len(found) != 1:
            raise UsageError(f"{file}: expected one top-level '{key}:' line to edit, found {len(found)}; "
                             "edit the file by hand")
        replacement = value

        def substitute(match: re.Match[str], new: str = replacement) -> str:
            return f"{match['head']}{new}{match['tail']}"

        text = pattern.sub(substitute, text, count=1)
    return text


def propose(catalog_dir: Path, tenant_id: str, changes: Mapping[str, str]) -> tuple[Catalog, str]:
    """The catalog as it would be after the edit, and the tenant file's new text. Writes nothing."""
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


def commit(catalog_dir: Path, tenant_id: str, changes: Mapping[str, str]) -> Catalog:
    """Apply the edit to the real catalog (validated first, written atomically, re-validated after;
    the previous file is restored when the re-validation fails). Returns the loaded catalog."""
    catalog_dir = Path(catalog_dir)
    _, new_text = propose(catalog_dir, tenant_id, changes)
    path = catalog_dir / "tenants" / f"{tenant_id}.yaml"
    previous = path.read_bytes()
    atomic_write(path, new_text.encode("utf-8"))
    try:
        return load_catalog(catalog_dir)
    except BaseException:
        atomic_write(path, previous)
        raise


def _link_tree(source: Path, target: Path) -> None:
    for entry in source.iterdir():
        if entry.is_dir():
            (target / entry.name).mkdir()
            _link_tree(entry, target / entry.name)
        else:
            (target / entry.name).symlink_to(entry.resolve())

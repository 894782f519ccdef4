"""Reading the catalog: strict YAML files into models, every problem collected in one run.

    <catalog>/catalog.yaml          org prefix, Pulumi organisation, cloud accounts
    <catalog>/plans.yaml            plans: isolation, allowed clouds, limits
    <catalog>/cells.yaml            cells: pooled capacity per cloud region
    <catalog>/tenants/<id>.yaml     one tenant per file, named after its id
    <catalog>/placements.yaml       written by `paybill-iac generate`: where pooled and bridge
                                    tenants were placed (a lock file: commit it)

`load_catalog(path)` returns a valid `Catalog` or raises CatalogError listing every problem with its
file, id and field. Nothing here imports pulumi.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from paybill_iac.catalog import guard
from paybill_iac.catalog import place as placement
from paybill_iac.catalog import validate as validation
from paybill_iac.catalog.ledger import Ledger
from paybill_iac.catalog.yamlio import YamlProblem, load_file
from paybill_iac.model import naming
from paybill_iac.model.catalog import Catalog, Cell, Plan, Settings, Tenant, _describe
from paybill_iac.model.errors import CatalogError, CatalogIssue
from paybill_iac.model.words import did_you_mean
from paybill_iac.parallel import gc_paused, map_chunks

# --- reading ------------------------------------------------------------------------------------


def _pydantic_message(error: dict[str, Any]) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "string_type":
        hint = ""
        if isinstance(value, bool):
            hint = " (YAML reads unquoted yes/no/on/off/true/false as booleans: quote it)"
        elif isinstance(value, int):
            hint = " (YAML reads unquoted digits as a number, and 0123 as octal: quote it)"
        elif isinstance(value, (dt.date, dt.datetime)):
            hint = " (YAML reads unquoted dates as dates: quote it)"
        return f"expected text, got {_describe(value)}{hint}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"expected a whole number, got {_describe(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_describe(value)}"
    if kind in ("date_type", "date_parsing", "date_from_datetime_inexact"):
        return f"expected a date like 2026-01-31, got {_describe(value)}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        hint = did_you_mean(value, re.findall(r"'([^']*)'", expected)) if isinstance(value, str) else ""
        return f"{_describe(value)} is not one of {expected}{hint}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {"greater_than_equal": "at least", "less_than_equal": "at most", "greater_than": "above",
                 "less_than": "below"}[kind]
        limit = next(iter(ctx.values()), "")
        return f"must be {bound} {limit}, got {_describe(value)}"
    if kind in ("string_too_short", "string_too_long", "too_short", "too_long"):
        return error["msg"].lower()
    if kind == "string_pattern_mismatch":
        return f"{_describe(value)} does not have the expected form ({ctx.get('pattern', '')})"
    if kind in ("list_type", "dict_type", "model_type", "model_attributes_type"):
        return f"expected {'a list' if kind == 'list_type' else 'a mapping'}, got {_describe(value)}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "date_from_datetime_parsing" or kind.startswith("date"):
        return f"not a real date: {value!r}"
    return str(error["msg"])


def _issues_from_validation(
    error: ValidationError, file: str, kind: str, ident: str, prefix: tuple[Any, ...] = (),
    model: type[BaseModel] | None = None,
) -> list[CatalogIssue]:
    issues = []
    for item in error.errors():
        location = prefix + tuple(item["loc"])
        path = ".".join(str(part) for part in location if not str(part).startswith("function-"))
        message = _pydantic_message(dict(item))
        if item["type"] == "extra_forbidden" and model is not None:  # a typo of a field: say which
            message += did_you_mean(str(item["loc"][-1]), fields_at(model, tuple(item["loc"][:-1])))
        issues.append(CatalogIssue(file, kind, ident, path, message))
    return issues


def fields_at(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at `location` inside `model` ([] when it is not a model):
    fields_at(Tenant, ("overrides",)) lists Overrides' fields."""
    for part in location:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        inner = [kind for kind in (field.annotation, *get_args(field.annotation))
                 if isinstance(kind, type) and issubclass(kind, BaseModel)]
        if not inner:
            return []
        model = inner[0]
    return list(model.model_fields)


def _ident(data: Any) -> str:
    """A printable id from raw data, for messages about a file that failed validation."""
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return data["id"].encode("ascii", "backslashreplace").decode()[:64]
    if isinstance(data, dict) and "id" in data:
        return repr(data["id"])
    return ""


class _Reader:
    """Accumulates issues while reading the catalog's files."""

    def __init__(self, root: Path):
        self.root = root
        self.issues: list[CatalogIssue] = []
        self.failed: dict[str, set[str]] = {}  # kind -> ids of entries that failed to load (reported)
        self.unreadable: set[str] = set()  # kinds whose whole file failed, or an entry without a usable id

    def unread(self) -> validation.Unread:
        """The plans and cells whose failure is reported already (see validation.Unread)."""
        return validation.Unread(
            plans=frozenset(self.failed.get("plan", ())), cells=frozenset(self.failed.get("cell", ())),
            every_plan="plan" in self.unreadable, every_cell="cell" in self.unreadable)

    @staticmethod
    def rel(path: Path) -> str:
        """A file as the user named it: under the catalog path they gave."""
        return str(path)

    def read(self, path: Path, kind: str) -> Any:
        try:
            return load_file(path)
        except YamlProblem as problem:
            self.issues.append(CatalogIssue(self.rel(path), kind, "", "", str(problem)))
        except OSError as error:
            self.issues.append(CatalogIssue(self.rel(path), kind, "", "", f"cannot be read: {error.strerror}"))
        return None

    def model(self, cls: type[Any], data: Any, file: str, kind: str, prefix: tuple[Any, ...] = ()) -> Any:
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            self.issues.extend(_issues_from_validation(error, file, kind, _ident(data), prefix, cls))
            if isinstance(data, dict) and isinstance(data.get("id"), str):
                self.failed.setdefault(kind, set()).add(data["id"])
            else:
                self.unreadable.add(kind)
            return None

    def listing(self, path: Path, key: str, kind: str, cls: type[Any]) -> list[Any]:
        """Entries of a file holding `key: [ ... ]`."""
        if not path.is_file():
            self.issues.append(CatalogIssue(self.rel(path), kind, "", "", "file is missing"))
            self.unreadable.add(kind)
            return []
        data = self.read(path, kind)
        if data is None:
            if path.stat().st_size == 0:
                self.issues.append(CatalogIssue(self.rel(path), kind, "", "", f"file is empty; expected '{key}:'"))
            self.unreadable.add(kind)
            return []
        if not isinstance(data, dict) or set(data) != {key} or not isinstance(data[key], list):
            self.issues.append(CatalogIssue(self.rel(path), kind, "", "", f"expected one key '{key}:' holding a list"))
            self.unreadable.add(kind)
            return []
        found = []
        for index, entry in enumerate(data[key]):
            model = self.model(cls, entry, self.rel(path), kind, (key, index))
            if model is not None:
                found.append(model)
        return found


def _duplicates(items: Iterable[Any], file_of: Any, kind: str) -> tuple[dict[str, Any], list[CatalogIssue]]:
    """Index items by id; report ids given twice, also when they differ only in case."""
    seen: dict[str, Any] = {}
    issues = []
    for item in items:
        key = item.id.casefold()
        if key in seen:
            first = seen[key]
            issues.append(CatalogIssue(file_of(item), kind, item.id, "id",
                                       f"is already used by the {kind} in {file_of(first)}"))
        else:
            seen[key] = item
    return {item.id: item for item in seen.values()}, issues


def _read_tenant(reader: _Reader, path: Path, data: Any) -> Tenant | None:
    rel = reader.rel(path)
    if data is None:
        reader.issues.append(CatalogIssue(rel, "tenant", path.stem, "", "file is empty"))
        return None
    if not isinstance(data, dict):
        reader.issues.append(CatalogIssue(rel, "tenant", "", "", "expected a mapping of tenant fields"))
        return None
    tenant: Tenant | None = reader.model(Tenant, data, rel, "tenant")
    if tenant is not None and path.stem != tenant.id:
        reader.issues.append(CatalogIssue(rel, "tenant", tenant.id, "id",
                                          f"does not match the file name: name the file '{tenant.id}.yaml'"))
        return None
    return tenant


def _tenant_file_names(folder: Path) -> tuple[list[str], list[str]]:
    """The names of the tenant files in `folder`: `*.yaml` sorted, then `*.yml` sorted (what
    sorted(folder.glob(...)) gives, without making and sorting 10,000 Path objects); and the names of its
    subfolders (for stray_files: the one scan of a folder of 10,000 files serves both)."""
    try:
        with os.scandir(folder) as entries:
            found = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    except PermissionError:  # as glob: an unreadable folder has no files
        return [], []
    names = [name for name, _ in found]  # a folder named like a file is read, and fails, as one
    return sorted(name for name in names if name.endswith(".yaml")) + sorted(
        name for name in names if name.endswith(".yml")), sorted(name for name, is_dir in found if is_dir)


CATALOG_FILES = ("catalog.yaml", "plans.yaml", "cells.yaml", "placements.yaml")
YAML_SUFFIXES = (".yaml", ".yml")


def stray_files(root: Path, tenant_subfolders: Sequence[str] = ()) -> list[CatalogIssue]:
    """YAML files under the catalog that it never reads: a tenant file in `tenant/` or any folder but
    `tenants/`, in a folder inside `tenants/` (`tenant_subfolders`: the names of those, from the scan that
    listed the tenant files; tenants/ itself is not listed again), or beside catalog.yaml. Each would be
    silently ignored (a tenant that is never deployed), so each is an issue naming where it belongs. Hidden
    entries are skipped."""
    issues = []
    tenants = root / "tenants"
    starts = [root, *(tenants / name for name in tenant_subfolders if not name.startswith("."))]
    for start in starts:
        for folder, subfolders, files in os.walk(start):
            here = Path(folder)
            subfolders[:] = sorted(name for name in subfolders if not name.startswith(".")
                                   and not (here == root and name == "tenants"))
            issues += _strays(root, here, files)
    return issues


def _strays(root: Path, here: Path, files: list[str]) -> list[CatalogIssue]:
    issues = []
    at_root = here == root
    for name in sorted(files):
        if name.startswith(".") or not name.endswith(YAML_SUFFIXES) or (at_root and name in CATALOG_FILES):
            continue
        path = here / name
        target = root / "tenants" / (Path(name).stem + ".yaml")
        if at_root:
            known = did_you_mean(name, CATALOG_FILES)
            where = f"is not a catalog file and is not read{known}: the catalog reads {', '.join(CATALOG_FILES)}"
            where += " and tenants/<id>.yaml" + ("" if known else f"; a tenant file belongs at {target}")
        else:
            where = f"is not read: tenant files live directly in {root / 'tenants'}; move it to {target}"
        issues.append(CatalogIssue(str(path), "catalog", "", "", where))
    return issues


@dataclass(frozen=True)
class _TenantJob:
    """What the tenant readers share; forked workers inherit it (nothing of it is pickled)."""

    folder: Path  # <catalog>/tenants
    catalog: Catalog  # settings, plans and cells, without tenants: for the checks of one tenant
    org: str | None  # the org prefix; None when catalog.yaml is invalid (no names are derived then)
    parent: int  # the loading process
    unread: validation.Unread = validation.NOTHING_UNREAD  # plans and cells that failed to load (reported)


# Set by load_catalog for the duration of one call.
_JOB: _TenantJob | None = None

# One tenant file, read: (the file (its Path in the loading process; its name from a worker: a Path
# pickles slowly), the tenant or None when it is invalid, the issues of the file alone, the issues
# against plans and cells, its validation.slot_hashes for the name-collision check). A worker sends
# the tenant's model: it unpickles faster than the parent could validate the tenant's data again.
_Read = tuple[Path | str, Any, list[CatalogIssue], list[CatalogIssue], bytes | None]


def _read_tenants(names: Sequence[str]) -> list[_Read]:
    """Read, validate and check tenant files, and derive their names: everything about a tenant that
    needs no other tenant, done where the file was parsed (in forked workers for large catalogs)."""
    job = _JOB
    assert job is not None
    reader = _Reader(job.catalog.root)
    ship = os.getpid() != job.parent
    results: list[_Read] = []
    for name in names:
        path = job.folder / name
        data = reader.read(path, "tenant")
        tenant = None if reader.issues else _read_tenant(reader, path, data)
        if tenant is None:
            results.append((name, None, reader.issues, [], None))
            reader.issues = []
            continue
        checks = validation.check_tenant(job.catalog, tenant, reader.rel(path), job.unread)
        results.append((name if ship else path, tenant, [], checks, _names(job, tenant)))
    return results


def _names(job: _TenantJob, tenant: Tenant) -> bytes | None:
    """The tenant's part of the name-collision check (None when the check will not run, or when it
    should derive the names again, and fail as it would)."""
    plan = job.catalog.plans.get(tenant.plan)
    if job.org is None or plan is None:
        return None
    try:
        names = naming.tenant_names(tenant.cloud, job.org, tenant.id, plan.isolation)
    except Exception:  # noqa: BLE001 - the collision check derives them again and fails as it would
        return None
    return validation.slot_hashes(tenant.cloud, "tenant", tuple(names.values()))


def _generations(catalog: Catalog, ledger: Ledger) -> None:
    """The generation of each tenant's names, as the ledger records it (for the specs that read it)."""
    generations = getattr(catalog, "generations", None)
    if isinstance(generations, dict):
        generations.update(ledger.generations())


def load_catalog(path: str | os.PathLike[str], *, check_placements: bool = True) -> Catalog:
    """Load, validate and place the catalog at `path`; raise CatalogError with every problem found, the
    edits that would move or drop a tenant's data included (guard.py, against the ledger)."""
    with gc_paused():
        return _load_catalog(Path(path), check_placements)


def _load_catalog(root: Path, check_placements: bool) -> Catalog:
    global _JOB
    if not root.is_dir():
        raise CatalogError([CatalogIssue(str(root), "catalog", "", "", "is not a directory")])
    reader = _Reader(root)
    settings_path = root / "catalog.yaml"
    settings = None
    if settings_path.is_file():
        data = reader.read(settings_path, "catalog")
        if data is not None:
            settings = reader.model(Settings, data, reader.rel(settings_path), "catalog")
    else:
        reader.issues.append(CatalogIssue(reader.rel(settings_path), "catalog", "", "", "file is missing"))

    plans_path, cells_path = root / "plans.yaml", root / "cells.yaml"
    plans, issues = _duplicates(reader.listing(plans_path, "plans", "plan", Plan),
                                lambda _: reader.rel(plans_path), "plan")
    reader.issues += issues
    cells, issues = _duplicates(reader.listing(cells_path, "cells", "cell", Cell),
                                lambda _: reader.rel(cells_path), "cell")
    reader.issues += issues
    catalog = Catalog(root, settings or Settings(org="xx"), plans, cells, {})

    tenants_dir = root / "tenants"
    names, tenant_subfolders = _tenant_file_names(tenants_dir) if tenants_dir.is_dir() else ([], [])
    if not tenants_dir.is_dir():
        reader.issues.append(CatalogIssue(reader.rel(tenants_dir), "catalog", "", "", "folder is missing"))
    reader.issues += stray_files(root, tenant_subfolders)
    ledgers: list[Ledger] = []

    def read_ledger() -> None:  # while the workers read tenant files, before this process joins them
        if check_placements:
            ledgers.append(placement.read_ledger(root, reader))

    _JOB = _TenantJob(tenants_dir, catalog, settings.org if settings else None, os.getpid(), reader.unread())
    try:
        read = map_chunks(_read_tenants, names, here=True, meanwhile=read_ledger)
    finally:
        _JOB = None
    known_names: dict[str, bytes] = {}
    for file, tenant, issues, checks, tenant_names in read:
        if tenant is None:
            if issues:
                reader.issues += issues
            continue
        path = tenants_dir / file if isinstance(file, str) else file
        key = f"tenant:{tenant.id}"
        first = catalog.files.get(key)
        if first is not None:
            reader.issues.append(CatalogIssue(reader.rel(path), "tenant", tenant.id, "id",
                                              f"is already used by the tenant in {reader.rel(first)}"))
            continue
        catalog.tenants[tenant.id] = tenant
        catalog.files[key] = path
        if checks:
            reader.issues += checks
        if tenant_names is not None:
            known_names[tenant.id] = tenant_names

    reader.issues += validation.cross_check(catalog, reader.rel, settings is not None, tenants_checked=True)
    ledger = ledgers[0] if ledgers else Ledger()
    if not reader.issues and check_placements:
        reader.issues += guard.check(catalog, ledger, reader.rel)
    if not reader.issues:
        _generations(catalog, ledger)
        placed, issues = placement.place(catalog, placement.sticky_cells(catalog, ledger), reader.rel)
        catalog.placements = placed
        reader.issues += issues
    if not reader.issues and settings is not None:
        reader.issues += validation.name_collisions(catalog, reader.rel, known_names)
    if reader.issues:
        raise CatalogError(reader.issues)
    return catalog

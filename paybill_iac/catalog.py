"""The tenant catalog: its file layout, schema, loading and every check, collecting all errors at once.

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
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from paybill_iac import naming
from paybill_iac.errors import CatalogError, CatalogIssue
from paybill_iac.parallel import map_chunks
from paybill_iac.yamlio import YamlProblem, load_file

Cloud = Literal["aws", "azure", "gcp", "oci"]
Isolation = Literal["pooled", "bridge", "silo"]
State = Literal["onboarding", "active", "suspended", "offboarding", "offboarded"]

STATES: tuple[str, ...] = ("onboarding", "active", "suspended", "offboarding", "offboarded")
SHARED_ISOLATIONS = ("pooled", "bridge")  # placed on a cell
DEDICATED_DB_ISOLATIONS = ("silo", "bridge")  # own database instance

MAX_TENANTS_PER_CELL = 10_000
MAX_SEATS = 10_000_000


def _slug(value: str) -> str:
    problem = naming.id_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _org(value: str) -> str:
    problem = naming.org_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a date like 2026-01-31, got {_describe(value)}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a real date (expected YYYY-MM-DD)") from None


Slug = Annotated[str, Field(strict=True), AfterValidator(_slug)]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
Text = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
StrictInt = Annotated[int, Field(strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Accounts(_Model):
    """Account-level settings per cloud that stacks need (none of them secret)."""

    gcp_project: Annotated[str, Field(strict=True, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")] | None = None
    """Google Cloud project that holds the tenants' resources."""
    oci_parent_compartment_id: (
        Annotated[str, Field(strict=True, pattern=r"^ocid1\.(tenancy|compartment)\.")] | None
    ) = None
    """OCID of the compartment (or tenancy) under which tenant and cell compartments are created."""
    oci_tenancy_id: Annotated[str, Field(strict=True, pattern=r"^ocid1\.tenancy\.")] | None = None
    """OCID of the tenancy: OCI keeps dynamic groups there (defaults to the parent when it is the tenancy)."""

    def for_cloud(self, cloud: str) -> dict[str, str]:
        if cloud == "gcp" and self.gcp_project:
            return {"project": self.gcp_project}
        if cloud == "oci" and self.oci_parent_compartment_id:
            tenancy = self.oci_tenancy_id or (
                self.oci_parent_compartment_id if self.oci_parent_compartment_id.startswith("ocid1.tenancy.") else None)
            account = {"parent_compartment_id": self.oci_parent_compartment_id}
            return account | ({"tenancy_id": tenancy} if tenancy else {})
        return {}


class Settings(_Model):
    """catalog.yaml"""

    org: Annotated[str, Field(strict=True), AfterValidator(_org)]
    """Organisation prefix used in every physical name."""
    pulumi_org: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")] = "organization"
    """Pulumi organisation of the stacks ("organization" for the self-managed backends)."""
    accounts: Accounts = Accounts()
    """Cloud accounts: GCP project, OCI parent compartment."""


class Limits(_Model):
    """What a plan allows. Sizes are ceilings; backup retention is a floor."""

    db_storage_gb: Annotated[int, Field(strict=True, ge=1, le=65536)]
    """Database storage per tenant, in GB (the default size and the ceiling)."""
    db_vcpus: Annotated[int, Field(strict=True, ge=1, le=64)]
    """Database vCPUs per tenant (the default and the ceiling)."""
    backup_retention_days: Annotated[int, Field(strict=True, ge=1, le=35)]
    """Backups are kept at least this many days."""
    seats: Annotated[int, Field(strict=True, ge=1, le=MAX_SEATS)]
    """Most seats a subscription on this plan may have."""
    regions: list[Annotated[str, Field(strict=True)]] | None = None
    """Optional allow-list of regions (any cloud's region names)."""


class Plan(_Model):
    """One entry of plans.yaml."""

    id: Slug
    name: Text | None = None
    description: Annotated[str, Field(strict=True, max_length=1000)] | None = None
    isolation: Isolation
    clouds: Annotated[list[Cloud], Field(min_length=1)]
    limits: Limits

    @field_validator("clouds")
    @classmethod
    def _unique_clouds(cls, value: list[str]) -> list[str]:
        duplicates = sorted({cloud for cloud in value if value.count(cloud) > 1})
        if duplicates:
            raise ValueError(f"lists {', '.join(duplicates)} more than once")
        return value


class Cell(_Model):
    """One entry of cells.yaml: a shared capacity unit for pooled and bridge tenants."""

    id: Slug
    cloud: Cloud
    region: Annotated[str, Field(strict=True)]
    capacity: Annotated[int, Field(strict=True, ge=1, le=MAX_TENANTS_PER_CELL)]
    """Most tenants (pooled and bridge) the cell hosts."""
    accepting: Annotated[bool, Field(strict=True)] = True
    """False to stop placing new tenants here (draining); tenants already placed stay."""
    db_vcpus: Annotated[int, Field(strict=True, ge=1, le=64)] = 4
    """vCPUs of the cell's shared database server."""
    db_storage_gb: Annotated[int, Field(strict=True, ge=10, le=65536)] = 256
    """Storage of the cell's shared database server, in GB."""
    backup_retention_days: Annotated[int, Field(strict=True, ge=1, le=35)] = 14
    """Backups of the shared server are kept this many days."""


class Subscription(_Model):
    seats: Annotated[int, Field(strict=True, ge=1, le=MAX_SEATS)]
    start: IsoDate
    end: IsoDate | None = None
    """None: open-ended."""

    @model_validator(mode="after")
    def _end_after_start(self) -> Subscription:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class Overrides(_Model):
    """Per-tenant sizes; each within its plan's limits."""

    db_storage_gb: Annotated[int, Field(strict=True, ge=1, le=65536)] | None = None
    db_vcpus: Annotated[int, Field(strict=True, ge=1, le=64)] | None = None
    backup_retention_days: Annotated[int, Field(strict=True, ge=1, le=35)] | None = None


class Tenant(_Model):
    """tenants/<id>.yaml"""

    id: Slug
    name: Text
    plan: Slug
    cloud: Cloud
    region: Annotated[str, Field(strict=True)]
    state: State
    subscription: Subscription
    overrides: Overrides = Overrides()
    cell: Slug | None = None
    """Pin to this cell (pooled and bridge only)."""
    canary: Annotated[bool, Field(strict=True)] = False
    """Fleet operations run canary tenants in their first wave."""


@dataclass
class Catalog:
    """A loaded and validated catalog. `placements` maps every placed tenant to its cell."""

    root: Path
    settings: Settings
    plans: dict[str, Plan]
    cells: dict[str, Cell]
    tenants: dict[str, Tenant]
    placements: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # "tenant:<id>" / "plan:<id>" / "cell:<id>" -> file

    def tenant_file(self, tenant_id: str) -> Path:
        return self.root / "tenants" / f"{tenant_id}.yaml"

    def plan_of(self, tenant: Tenant) -> Plan:
        return self.plans[tenant.plan]


# --- reading ------------------------------------------------------------------------------------


_TYPE_NAMES = {bool: "a boolean", int: "a number", float: "a number", dt.date: "a date", dt.datetime: "a timestamp",
               list: "a list", dict: "a mapping", type(None): "nothing (null)"}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"the non-finite number {value}"
    if isinstance(value, str):
        return f"'{value}'"
    return f"{_TYPE_NAMES.get(type(value), type(value).__name__)} ({value!r})" if not isinstance(
        value, (list, dict)) else _TYPE_NAMES[type(value)]


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
        return f"{_describe(value)} is not one of {ctx.get('expected', '')}"
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
    error: ValidationError, file: str, kind: str, ident: str, prefix: tuple[Any, ...] = ()
) -> list[CatalogIssue]:
    issues = []
    for item in error.errors():
        location = prefix + tuple(item["loc"])
        path = ".".join(str(part) for part in location if not str(part).startswith("function-"))
        issues.append(CatalogIssue(file, kind, ident, path, _pydantic_message(dict(item))))
    return issues


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

    def model(self, cls: type[_Model], data: Any, file: str, kind: str, prefix: tuple[Any, ...] = ()) -> Any:
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            self.issues.extend(_issues_from_validation(error, file, kind, _ident(data), prefix))
            return None

    def listing(self, path: Path, key: str, kind: str, cls: type[_Model]) -> list[Any]:
        """Entries of a file holding `key: [ ... ]`."""
        if not path.is_file():
            self.issues.append(CatalogIssue(self.rel(path), kind, "", "", "file is missing"))
            return []
        data = self.read(path, kind)
        if data is None:
            if path.stat().st_size == 0:
                self.issues.append(CatalogIssue(self.rel(path), kind, "", "", f"file is empty; expected '{key}:'"))
            return []
        if not isinstance(data, dict) or set(data) != {key} or not isinstance(data[key], list):
            self.issues.append(CatalogIssue(self.rel(path), kind, "", "", f"expected one key '{key}:' holding a list"))
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


def _parse_files(paths: Sequence[Path]) -> list[tuple[Path, Any, list[CatalogIssue]]]:
    """Parse files to plain data (in worker processes for large catalogs: plain data pickles cheaply,
    models do not)."""
    results = []
    for path in paths:
        reader = _Reader(path.parent.parent)
        data = reader.read(path, "tenant")
        results.append((path, data, reader.issues))
    return results


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


def load_catalog(path: str | os.PathLike[str], *, check_placements: bool = True) -> Catalog:
    """Load, validate and place the catalog at `path`; raise CatalogError with every problem found."""
    from paybill_iac import placement, validation

    root = Path(path)
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

    tenants_dir = root / "tenants"
    paths = sorted(tenants_dir.glob("*.yaml")) + sorted(tenants_dir.glob("*.yml")) if tenants_dir.is_dir() else []
    if not tenants_dir.is_dir():
        reader.issues.append(CatalogIssue(reader.rel(tenants_dir), "catalog", "", "", "folder is missing"))
    tenant_files: dict[str, str] = {}
    tenant_list = []
    for tenant_path, data, issues in map_chunks(_parse_files, paths):
        if issues:
            reader.issues += issues
            continue
        tenant = _read_tenant(reader, tenant_path, data)
        if tenant is None:
            continue
        rel = reader.rel(tenant_path)
        first = tenant_files.get(tenant.id)
        if first is not None:
            reader.issues.append(
                CatalogIssue(rel, "tenant", tenant.id, "id", f"is already used by the tenant in {first}"))
            continue
        tenant_files[tenant.id] = rel
        tenant_list.append(tenant)
    tenants = {tenant.id: tenant for tenant in tenant_list}

    catalog = Catalog(root, settings or Settings(org="xx"), plans, cells, tenants)
    catalog.files = {f"tenant:{key}": Path(value) for key, value in tenant_files.items()}
    reader.issues += validation.cross_check(catalog, reader.rel, settings is not None)
    ledger = placement.read_ledger(root, reader) if check_placements else {}
    if not reader.issues:
        placed, issues = placement.place(catalog, ledger, reader.rel)
        catalog.placements = placed
        reader.issues += issues
    if not reader.issues and settings is not None:
        reader.issues += validation.name_collisions(catalog, reader.rel)
    if reader.issues:
        raise CatalogError(reader.issues)
    return catalog

"""The ledger of where each tenant's data lives: `placements.yaml`, beside the catalog, committed with it.

One entry per tenant that ever had a stack: its isolation model, cloud, region, cell (pooled and
bridge) and the generation of the names the cloud never frees, and whether it was offboarded. It is
written only by `paybill-iac generate`, for tenants it has not seen before, and by the lifecycle
workflows, which move data: a hand edit of the catalog never moves an entry (catalog/guard.py refuses
the edits that would). A workflow declared in a pull request (`paybill-iac lifecycle change-plan|
offboard|move ... --plan-only`) is written into its tenant's entry as `declared:` until it ran:

    tenants:
      acme: {cell: aws-euw1-a, cloud: aws, isolation: pooled, region: eu-west-1}
      globex: {cell: azure-weu-a, cloud: azure, isolation: pooled, region: westeurope,
               declared: {workflow: change-plan, from_plan: starter, plan: growth, isolation: bridge, ...}}
      vandelay: {cloud: aws, isolation: silo, offboarded: true, region: us-east-1}
    cells:
      aws-use1-a: {generation: 1}      # its stack was destroyed once: built again under new names

The file's earlier form (`placements: {tenant: cell}`) is still read: its entries know only their
cell until the next `generate` records the rest.
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from paybill_iac.catalog import yamlio
from paybill_iac.model.catalog import Catalog

LEDGER_FILE = "placements.yaml"
HEADER = (
    "# Where each tenant's data lives. Written by `paybill-iac generate` for new tenants and by the lifecycle\n"
    "# workflows (paybill-iac lifecycle ...): commit it with the catalog, never edit it by hand. A tenant's\n"
    "# isolation, cloud, region and cell change only through a workflow that moves its data.\n"
)
WORKFLOWS = ("change-plan", "move", "offboard")


class LedgerProblem(ValueError):
    """The ledger file cannot be read (a message naming the entry and the field)."""


@dataclass(frozen=True)
class Location:
    """Where a tenant's data lives. None: not recorded yet (a ledger of the earlier form)."""

    isolation: str | None = None
    cloud: str | None = None
    region: str | None = None
    cell: str | None = None
    generation: int = 0
    offboarded: bool = False

    def describe(self) -> str:
        where = " ".join(value for value in (self.cloud, self.region) if value)
        parts = [self.isolation or "", where, f"cell {self.cell}" if self.cell else ""]
        return ", ".join(part for part in parts if part) or "unrecorded"

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in ("cell", "cloud", "generation", "isolation", "offboarded", "region"):
            value = getattr(self, name)
            if value not in (None, 0, False):
                found[name] = value
        return found


@dataclass(frozen=True)
class Declared:
    """A workflow declared in a pull request, to run once it is merged: what it moves the tenant to."""

    workflow: str
    to: Location
    from_plan: str | None = None
    plan: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"workflow": self.workflow, **self.to.as_dict()}
        for name in ("from_plan", "plan"):
            if getattr(self, name) is not None:
                found[name] = getattr(self, name)
        return found

    def describe(self, tenant: str) -> str:
        if self.workflow == "change-plan":
            return f"change-plan {tenant}: plan {self.from_plan} -> {self.plan} ({self.to.describe()})"
        if self.workflow == "offboard":
            return f"offboard {tenant}"
        return f"move {tenant} to {self.to.describe()}"


@dataclass(frozen=True)
class Entry:
    location: Location
    declared: Declared | None = None

    def as_dict(self) -> dict[str, Any]:
        found = self.location.as_dict()
        if self.declared is not None:
            found["declared"] = self.declared.as_dict()
        return found


@dataclass
class Ledger:
    entries: dict[str, Entry] = field(default_factory=dict)
    cells: dict[str, int] = field(default_factory=dict)
    """cell -> the generation its next stack is built under (`cells:`; a destroyed cell left names the cloud
    never frees, so the cell built again takes new ones)."""

    def placements(self) -> dict[str, str]:
        """tenant -> the cell placement keeps it on: a declared move's cell, else the recorded one."""
        found = {}
        for tenant, entry in self.entries.items():
            if entry.location.offboarded:
                continue
            cell = entry.declared.to.cell if entry.declared is not None else entry.location.cell
            if cell:
                found[tenant] = cell
        return found

    def generations(self) -> dict[str, int]:
        """tenant -> the generation of its names the cloud never frees (Catalog.generations; 0s left out): a
        declared workflow's (the catalog it leads to builds the new shape under them), else the recorded one.
        A plan change between isolation models takes the next one, so a shape built again (silo -> bridge ->
        silo) never meets what the earlier one left in the cloud."""
        found = {cell: generation for cell, generation in self.cells.items() if generation}
        for tenant, entry in self.entries.items():
            generation = entry.declared.to.generation if entry.declared is not None else entry.location.generation
            if generation:
                found[tenant] = generation
        return found

    def declared(self) -> dict[str, Declared]:
        return {tenant: entry.declared for tenant, entry in sorted(self.entries.items()) if entry.declared}


def parse(data: Any) -> Ledger:
    """A ledger from the file's data (either form); LedgerProblem on anything else."""
    if data is None:
        return Ledger()
    if not isinstance(data, dict) or not set(data) <= {"placements", "tenants", "cells"}:
        raise LedgerProblem("expected 'tenants:' mapping tenant ids to where their data lives")
    ledger = Ledger()
    old = data.get("placements") or {}
    if not isinstance(old, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in old.items()):
        raise LedgerProblem("expected 'placements:' mapping tenant ids to cell ids")
    for tenant, cell in old.items():
        ledger.entries[tenant] = Entry(Location(cell=cell))
    cells = data.get("cells") or {}
    if not isinstance(cells, dict):
        raise LedgerProblem("expected 'cells:' mapping cell ids to {generation: N}")
    for cell, value in cells.items():
        generation = value.get("generation") if isinstance(value, dict) and set(value) == {"generation"} else None
        if not isinstance(cell, str) or type(generation) is not int or generation < 1:
            raise LedgerProblem(f"cell '{cell}': expected {{generation: N}} with N a whole number of at least 1")
        ledger.cells[cell] = generation
    tenants = data.get("tenants") or {}
    if not isinstance(tenants, dict):
        raise LedgerProblem("expected 'tenants:' mapping tenant ids to where their data lives")
    for tenant, value in tenants.items():
        if not isinstance(tenant, str) or not isinstance(value, dict):
            raise LedgerProblem(f"entry '{tenant}': expected a mapping (isolation, cloud, region, cell...)")
        if "declared" not in value:
            ledger.entries[tenant] = Entry(_location(tenant, value))
            continue
        declared = value["declared"]
        ledger.entries[tenant] = Entry(_location(tenant, {k: v for k, v in value.items() if k != "declared"}),
                                       _declared(tenant, declared) if declared is not None else None)
    return ledger


_LOCATION_TYPES = {item.name: {"generation": int, "offboarded": bool}.get(item.name, str) for item in fields(Location)}


def _location(tenant: str, values: Mapping[str, Any]) -> Location:
    if not values.keys() <= _LOCATION_TYPES.keys():
        unknown = sorted(set(values) - _LOCATION_TYPES.keys())
        raise LedgerProblem(f"entry '{tenant}': unknown field(s) {', '.join(unknown)}")
    for name, value in values.items():
        wanted = _LOCATION_TYPES[name]
        if type(value) is not wanted:
            raise LedgerProblem(f"entry '{tenant}', field '{name}': expected {wanted.__name__}, got {value!r}")
    return Location(**values)


def declared_from(values: Any, tenant: str = "") -> Declared:
    """A Declared from its `as_dict()` form (LedgerProblem when it is not one)."""
    return _declared(tenant, values)


def _declared(tenant: str, values: Any) -> Declared:
    if not isinstance(values, dict) or values.get("workflow") not in WORKFLOWS:
        raise LedgerProblem(f"entry '{tenant}', field 'declared': expected a mapping whose workflow is one of "
                            f"{', '.join(WORKFLOWS)}")
    extra = {name: values[name] for name in ("from_plan", "plan") if name in values}
    rest = {key: value for key, value in values.items() if key not in ("workflow", "from_plan", "plan")}
    return Declared(values["workflow"], _location(tenant, rest), **extra)


def read(root: Path) -> Ledger:
    """The ledger beside the catalog at `root` (empty when there is none yet)."""
    path = Path(root) / LEDGER_FILE
    if not path.is_file():
        return Ledger()
    try:
        source = yamlio.read_text(path, max_bytes=yamlio.MAX_LEDGER_BYTES)
        data = _written_form(source)
        return parse(yamlio.load_text(source) if data is None else data)
    except yamlio.YamlProblem as problem:
        raise LedgerProblem(str(problem)) from None


# The form `text` writes, read without the YAML loader (which takes a quarter of a second for 10,000 entries,
# on every load of the catalog): each line's flow mapping is one JSON value once its field names are quoted.
# Only text whose JSON reading is certainly what YAML reads is taken here; anything else (a hand edit, the
# earlier form, a value JSON and YAML read differently) goes to the YAML loader, as before.
_FIELD_NAMES = ("cell", "cloud", "declared", "from_plan", "generation", "isolation", "offboarded", "plan", "region",
                "workflow")
_ENTRY_KEYS = re.compile(r"(?:  [a-z][a-z0-9-]*\n)*")  # plain words, two spaces in (not yamlio.NOT_TEXT)


class _NotWrittenForm(ValueError):
    """The text is not in the form `text` writes: read it with the YAML loader."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _NotWrittenForm  # a repeated field: the YAML loader names it
    return found


def _refuse(_: str) -> Any:
    raise _NotWrittenForm  # a fraction, an exponent, NaN or Infinity: YAML 1.1 does not read them alike


# The decoder's scanner itself: one JSON value from a position, (value, where it ended); StopIteration if none.
_scan_value = json.scanner.make_scanner(  # typeshed types the argument as a scanner; the decoder is what it takes
    json.JSONDecoder(object_pairs_hook=_unique, parse_float=_refuse, parse_constant=_refuse))  # type: ignore[arg-type]


def _written_form(source: str) -> dict[str, Any] | None:
    """The ledger's data when `source` is in the form `text` writes (comment lines, `tenants:` and one
    `  tenant: {field: value, ...}` line each, then `cells:` and one `  cell: {generation: N}` line each when
    any), else None."""
    if not source.isascii() or "\\u" in source:
        return None  # \u escapes: JSON joins surrogate pairs, YAML does not
    start = 0
    while source.startswith("#", start):
        start = source.find("\n", start) + 1
        if start == 0:
            return None
    rest = source[start:]
    if rest.startswith("tenants: {}\n"):
        tenant_lines, rest = "", rest[len("tenants: {}\n"):]
    elif rest.startswith("tenants:\n"):
        rest = rest[len("tenants:\n"):]
        end = rest.find("\ncells:\n") + 1  # a line `cells:`: tenants' lines start with two spaces
        tenant_lines, rest = (rest, "") if end == 0 else (rest[:end], rest[end:])
    else:
        return None
    data: dict[str, Any] = {"tenants": _lines(tenant_lines) if tenant_lines else {}}
    if rest:
        if not rest.startswith("cells:\n") or rest == "cells:\n":
            return None
        data["cells"] = _lines(rest[len("cells:\n"):])
    return None if None in data.values() else data


def _lines(text: str) -> dict[str, Any] | None:
    """The mapping of `  key: {...}` lines, or None when they are not in the written form."""
    # A field name inside a string is quoted too: that ends the string early, which JSON then refuses.
    for name in _FIELD_NAMES:
        text = text.replace(f"{{{name}: ", f'{{"{name}": ').replace(f", {name}: ", f', "{name}": ')
    lines = text.split("\n")
    if lines.pop() != "":
        return None
    entries = [line.partition(": ") for line in lines]
    keys = [key for key, _, _ in entries]
    if not _ENTRY_KEYS.fullmatch("\n".join(keys) + "\n" if keys else "") or not yamlio.NOT_TEXT.isdisjoint(
            key[2:] for key in keys):
        return None
    found = {}
    try:
        for key, _, value in entries:
            found[key[2:]], end = _scan_value(value, 0)
            if end != len(value):
                return None  # more after the value
    except (StopIteration, ValueError):  # not JSON (or _NotWrittenForm)
        return None
    if len(found) != len(entries):
        return None  # a key given twice: the YAML loader names it
    return found


def text(ledger: Ledger) -> str:
    """The file's text: one line per tenant, sorted (diffs in pull requests stay one line per tenant)."""
    lines = [HEADER, "tenants:\n" if ledger.entries else "tenants: {}\n"]
    for tenant, entry in sorted(ledger.entries.items()):
        lines.append(f"  {yamlio.key(tenant)}: {_flow(entry.as_dict())}\n")
    if ledger.cells:
        lines.append("cells:\n")
        lines += [f"  {yamlio.key(cell)}: {{generation: {generation}}}\n"
                  for cell, generation in sorted(ledger.cells.items())]
    return "".join(lines)


def _flow(data: Mapping[str, Any]) -> str:
    """A flow mapping, keys sorted but `declared` last."""
    keys = sorted(data)
    if "declared" in data:
        keys.remove("declared")
        keys.append("declared")
    return "{" + ", ".join(f"{key}: {_flow(data[key]) if isinstance(data[key], dict) else yamlio.scalar(data[key])}"
                           for key in keys) + "}"


def write(root: Path, ledger: Ledger) -> bool:
    """Write the ledger atomically; False when the file already says exactly that."""
    path = Path(root) / LEDGER_FILE
    data = text(ledger).encode()
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    from paybill_iac.files import atomic_write  # here: tempfile and shutil only for a write

    atomic_write(path, data)
    return True


def update(root: Path, tenant: str, *, location: Location | None = None, declared: Declared | None = None,
           settle: bool = False) -> Ledger:
    """A workflow's write: the tenant's entry given `location` and/or `declared` (settle=True: the declared
    move ran, so it becomes the location and the declaration goes). Returns the ledger as written."""
    ledger = read(root)
    entry = ledger.entries.get(tenant, Entry(Location()))
    if settle and entry.declared is not None:
        entry = Entry(location or entry.declared.to)
    elif location is not None:
        entry = Entry(location, None if settle else entry.declared)
    if declared is not None:
        entry = replace(entry, declared=declared)
    ledger.entries[tenant] = entry
    write(root, ledger)
    return ledger


def cell_destroyed(root: Path, cell: str, generation: int) -> Ledger:
    """Record that the stack of `cell`, built under `generation`, was destroyed: the cell built again takes the
    next generation of the names the cloud never frees. Returns the ledger as written."""
    ledger = read(root)
    ledger.cells[cell] = max(ledger.cells.get(cell, 0), generation) + 1
    write(root, ledger)
    return ledger


def plan_change_to(location: Location, isolation: str) -> Location:
    """Where a plan change to `isolation` takes data that lives at `location`: the new model, its cell not placed
    yet, and the next generation of the names the cloud never frees when the model changes (the old shape is
    built beside the new one until it is retired, and what it leaves in the cloud keeps its names)."""
    moves = location.isolation is not None and location.isolation != isolation
    return replace(location, isolation=isolation, cell=None, generation=location.generation + (1 if moves else 0))


def location_of(catalog: Catalog, tenant_id: str, generation: int = 0) -> Location:
    """Where the catalog (as loaded and placed) puts a tenant's data."""
    tenant = catalog.tenants[tenant_id]
    plan = catalog.plans[tenant.plan]
    return Location(isolation=plan.isolation, cloud=tenant.cloud, region=tenant.region,
                    cell=catalog.placements.get(tenant_id), generation=generation,
                    offboarded=tenant.state == "offboarded")


def with_new_tenants(ledger: Ledger, catalog: Catalog) -> Ledger:
    """`ledger` with an entry for each tenant it does not know yet (what `generate` records), the entries of
    its earlier form completed from the catalog, and those of tenants still onboarding (no data yet) following
    their file. Any other entry it knows is never changed here."""
    entries = dict(ledger.entries)
    for tenant_id in sorted(catalog.tenants):
        known = entries.get(tenant_id)
        if known is None:
            entries[tenant_id] = Entry(location_of(catalog, tenant_id))
        elif catalog.tenants[tenant_id].state == "onboarding" and known.declared is None:  # nothing deployed yet
            entries[tenant_id] = Entry(location_of(catalog, tenant_id, known.location.generation))
        elif known.location.isolation is None:
            found = location_of(catalog, tenant_id, known.location.generation)
            entries[tenant_id] = Entry(replace(found, cell=known.location.cell or found.cell), known.declared)
    return Ledger(entries, dict(ledger.cells))

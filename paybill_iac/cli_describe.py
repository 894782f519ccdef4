"""`paybill-iac describe tenant ID` and `paybill-iac list tenants|cells|plans`: the resolved views.

`describe tenant` shows one tenant as its stack will be built: the plan, the overrides and the effective
limits with where each value comes from (plan default, tenant override, catalog default), the database the
cloud provisions (with any rounding), the placement and why, the physical names, the stack, the lifecycle
state and what it may become, and, when a state database exists, what was last deployed and a journal
summary (read without creating or migrating anything). `list` prints tenants, cells (with how full
each is) or plans, filtered. Both build plain dicts (`describe_tenant`, `list_rows`) that the table and
JSON formats render; only click is imported at module level (cli.py's rule).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from paybill_iac.cli_project import project_options

if TYPE_CHECKING:
    from paybill_iac.model.catalog import Catalog, Plan, Tenant
    from paybill_iac.project import Project

FORMATS = ("table", "json")
SIZE_FIELDS = ("db_vcpus", "db_storage_gb", "backup_retention_days")
JOURNAL_SHOWN = 5  # the newest operations a describe lists


# --- describe -----------------------------------------------------------------------------------------


def find_tenant(catalog: Catalog, tenant_id: str) -> Tenant:
    """The tenant, or a UsageError (exit 2) with the closest id."""
    from paybill_iac.errors import UsageError
    from paybill_iac.model.words import unknown

    if tenant_id not in catalog.tenants:
        raise UsageError(f"{unknown('tenant', tenant_id, catalog.tenants)}, in the catalog at {catalog.root}")
    return catalog.tenants[tenant_id]


def effective_limits(plan: Plan, tenant: Tenant) -> list[dict[str, Any]]:
    """Each limit the tenant's stack is built with: its value, where it comes from, and the plan's bound."""
    rows = []
    for key in SIZE_FIELDS:
        override = getattr(tenant.overrides, key)
        bound = getattr(plan.limits, key)
        rows.append({"field": key, "value": bound if override is None else override,
                     "source": "plan default" if override is None else "tenant override",
                     "plan": bound, "bound": "floor" if key == "backup_retention_days" else "ceiling"})
    rows.append({"field": "seats", "value": tenant.subscription.seats, "source": "tenant subscription",
                 "plan": plan.limits.seats, "bound": "ceiling"})
    explicit = plan.limits.model_fields_set
    rows.append({"field": "db_connections", "value": plan.limits.db_connections,
                 "source": "plan" if "db_connections" in explicit else "catalog default",
                 "plan": plan.limits.db_connections, "bound": "ceiling"})
    rows.append({"field": "regions", "value": plan.limits.regions or "any of the plan's clouds",
                 "source": "plan" if plan.limits.regions is not None else "catalog default",
                 "plan": plan.limits.regions, "bound": "allow-list"})
    return rows


def placement_reason(catalog: Catalog, tenant: Tenant, cell: str | None) -> str:
    """Why the tenant is where it is (paybill_iac.catalog.place's rules, in words)."""
    from paybill_iac.catalog import place
    from paybill_iac.catalog.ledger import LedgerProblem
    from paybill_iac.model.catalog import SHARED_ISOLATIONS

    isolation = catalog.plans[tenant.plan].isolation
    if isolation not in SHARED_ISOLATIONS:
        return f"{isolation}: its own network and database in {tenant.cloud} {tenant.region}, on no cell"
    if cell is None:
        return f"no cell: state {tenant.state}, the tenant has no stack"
    if tenant.cell is not None:
        return f"pinned: its file says cell: {tenant.cell}"
    try:
        recorded = place.current_ledger(catalog.root).placements().get(tenant.id)
    except LedgerProblem:
        recorded = None
    if recorded == cell:
        return f"kept where the placement ledger ({place.LEDGER_FILE}) recorded it: a placed tenant never moves"
    return (f"new: the accepting {tenant.cloud} {tenant.region} cell with the most free room (recorded in "
            f"{place.LEDGER_FILE} by the next `paybill-iac generate`)")


def describe_tenant(catalog: Catalog, tenant_id: str, deployed: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything about one tenant's stack, as plain data (the table and the JSON render this)."""
    from paybill_iac.model import lifecycle, sizing
    from paybill_iac.model.spec import cell_stack_name, tenant_spec

    tenant = find_tenant(catalog, tenant_id)
    plan = catalog.plans[tenant.plan]
    spec = tenant_spec(catalog, tenant_id)
    cell = catalog.placements.get(tenant_id)
    database: dict[str, Any] | None = None
    if spec is not None and spec.database is not None:
        asked = {row["field"]: row["value"] for row in effective_limits(plan, tenant) if row["field"] in SIZE_FIELDS}
        database = {**spec.database.as_config(), "roundings": [
            {"field": rounding.field, "asked": rounding.asked, "given": rounding.given, "why": rounding.why}
            for rounding in sizing.roundings(tenant.cloud, asked["db_vcpus"], asked["db_storage_gb"],
                                             asked["backup_retention_days"], spec.database)]}
    elif cell is not None:
        database = {"shared": f"its own database on cell {cell}'s server"}
    pulumi_org = catalog.settings.pulumi_org
    return {
        "tenant": tenant.id, "name": tenant.name,
        "file": str(catalog.files.get(f"tenant:{tenant.id}", catalog.tenant_file(tenant.id))),
        "plan": {"id": plan.id, "name": plan.name, "isolation": plan.isolation, "clouds": list(plan.clouds)},
        "overrides": tenant.overrides.model_dump(exclude_none=True),
        "limits": effective_limits(plan, tenant),
        "database": database,
        "placement": {"cloud": tenant.cloud, "region": tenant.region, "cell": cell,
                      "why": placement_reason(catalog, tenant, cell)},
        "names": dict(spec.names) if spec is not None else {},
        "stack": None if spec is None else {
            "project": spec.project, "stack": spec.stack, "qualified": f"{pulumi_org}/{spec.project}/{spec.stack}",
            "cell_stack": cell_stack_name(pulumi_org, cell) if cell else None},
        "lifecycle": {"state": tenant.state, "has_stack": spec is not None, "canary": tenant.canary,
                      "next": sorted(lifecycle.TRANSITIONS[tenant.state])},
        "subscription": tenant.subscription.model_dump(mode="json"),
        "deployed": deployed,
    }


def read_deployed(project: Project | None, tenant_id: str, *, cell: bool = False) -> dict[str, Any]:
    """What the state database says of the tenant's stack (`cell`: of the cell `tenant_id`'s): the lifecycle
    state last deployed (tenants), the last operation and a summary of its journal. Never creates a
    database: without one it says why there is nothing to read; a SQLite file is opened read-only."""
    from paybill_iac.automation.invocation import StackRef

    if project is None:
        return {"available": False, "why": "no project: no state database to read"}
    missing = project.missing_database()
    if missing is not None:
        return {"available": False, "why": missing}
    stack = (StackRef.cell(tenant_id) if cell else StackRef.tenant(tenant_id)).key
    try:
        return {"available": True, "stack": stack,
                **_journal_summary(project.database_url(), stack, "" if cell else tenant_id)}
    except Exception as error:  # noqa: BLE001 - an unreadable database is shown, not a crash of describe
        return {"available": False, "why": f"the state database cannot be read: {type(error).__name__}: {error}"}


def _journal_summary(url: str, stack: str, tenant_id: str) -> dict[str, Any]:
    from types import SimpleNamespace

    from sqlalchemy import create_engine

    from paybill_iac.automation.store import reads

    if url.startswith("sqlite:///"):  # read-only: no file, journal or schema is created or changed
        url = f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    engine = create_engine(url)
    try:
        db: Any = SimpleNamespace(engine=engine, dialect=engine.dialect.name)
        last, state = reads.deployed(db, stack, tenant_id)
        counts = reads.rows(db, "SELECT e.result AS result, COUNT(*) AS operations FROM paybill_journal s "
                                "LEFT JOIN paybill_journal e ON e.op_id = s.op_id AND e.event = 'end' "
                                "WHERE s.event = 'start' AND s.stack = :stack GROUP BY e.result", stack=stack)
        recent = reads.rows(db, "SELECT s.at AS started_at, s.actor AS actor, s.operation AS operation, "
                                "e.result AS result FROM paybill_journal s LEFT JOIN paybill_journal e "
                                "ON e.op_id = s.op_id AND e.event = 'end' WHERE s.event = 'start' AND "
                                "s.stack = :stack ORDER BY s.at DESC, s.id DESC LIMIT :limit",
                         stack=stack, limit=JOURNAL_SHOWN)
    finally:
        engine.dispose()
    return {"state": state, "last_operation": last,
            "operations": {str(row["result"] or "running or crashed"): int(row["operations"]) for row in counts},
            "recent": recent}


def describe_cell(catalog: Catalog, cell_id: str, deployed: dict[str, Any] | None = None) -> dict[str, Any]:
    """One cell: where it is, how full (tenants placed of its capacity, their seats), its shared database (and
    any rounding), its physical names and stack, whether it has one (a cell hosting no tenant has none)."""
    from paybill_iac.errors import UsageError
    from paybill_iac.model import sizing
    from paybill_iac.model.spec import cell_spec
    from paybill_iac.model.words import unknown

    if cell_id not in catalog.cells:
        raise UsageError(f"{unknown('cell', cell_id, catalog.cells)}, in the catalog at {catalog.root}")
    cell = catalog.cells[cell_id]
    spec = cell_spec(catalog, cell_id)
    placed = sorted(tenant for tenant, where in catalog.placements.items() if where == cell_id)
    tenants = [{"tenant": tenant_id, "plan": catalog.tenants[tenant_id].plan, "state": catalog.tenants[tenant_id].state,
                "seats": catalog.tenants[tenant_id].subscription.seats} for tenant_id in placed]
    return {
        "cell": cell.id, "file": str(catalog.root / "cells.yaml"), "cloud": cell.cloud, "region": cell.region,
        "capacity": cell.capacity, "accepting": cell.accepting, "tenants": tenants,
        "fill": round(len(tenants) / cell.capacity, 3), "seats": sum(row["seats"] for row in tenants),
        "database": {**spec.database.as_config(), "roundings": [
            {"field": rounding.field, "asked": rounding.asked, "given": rounding.given, "why": rounding.why}
            for rounding in sizing.roundings(cell.cloud, cell.db_vcpus, cell.db_storage_gb,
                                             cell.backup_retention_days, spec.database)]},
        "names": dict(spec.names),
        "stack": {"project": spec.project, "stack": spec.stack, "has_stack": bool(tenants),
                  "qualified": f"{catalog.settings.pulumi_org}/{spec.project}/{spec.stack}"},
        "deployed": deployed,
    }


def render_cell(view: dict[str, Any]) -> str:
    """The describe view of a cell for people."""
    tenants = view["tenants"]
    lines = [f"cell {view['cell']}   {view['file']}",
             f"where      {view['cloud']} {view['region']}" + ("" if view["accepting"] else " (draining: accepts no "
                                                                                           "new tenant)"),
             f"fill       {len(tenants)}/{view['capacity']} tenants ({view['fill']:.0%}), {view['seats']} seats"]
    lines += [f"  {row['tenant']:<30} {row['plan']:<14} {row['state']:<12} {row['seats']} seats" for row in tenants]
    lines += ["", _database_line(view["database"])]
    lines += [f"  ! {row['field']}: {row['asked']} -> {row['given']}: {row['why']}"
              for row in view["database"]["roundings"]]
    stack = view["stack"]
    lines += ["", f"stack      {stack['qualified']}" + ("" if stack["has_stack"] else " (none: it hosts no tenant)"),
              "", "physical names:"]
    width = max(len(key) for key in view["names"])
    lines += [f"  {key:<{width}}  {name}" for key, name in sorted(view["names"].items())]
    lines += [""] + _deployed_lines(view["deployed"])
    return "\n".join(lines) + "\n"


def _database_line(database: dict[str, Any]) -> str:
    return (f"database   {database['instance_class']}: {database['vcpus']} vCPUs, "
            + (f"{database['storage_gb']} GB, " if database.get("storage_gb") else "")
            + f"backups kept {database['backup_retention_days']} days, engine {database['engine_version']}")


def _when(epoch: Any) -> str:
    import datetime as dt

    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(float(epoch), tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def render_tenant(view: dict[str, Any]) -> str:
    """The describe view for people."""
    plan = view["plan"]
    lines = [f"tenant {view['tenant']} ({view['name']})   {view['file']}",
             f"plan       {plan['id']}" + (f" ({plan['name']})" if plan["name"] else "")
             + f": {plan['isolation']}, clouds {', '.join(plan['clouds'])}",
             f"state      {view['lifecycle']['state']}" + ("" if view["lifecycle"]["has_stack"] else " (no stack)")
             + f"; may become: {', '.join(view['lifecycle']['next']) or 'nothing (final)'}"
             + ("; canary" if view["lifecycle"]["canary"] else ""),
             "", "limits (value, where it comes from):"]
    def shown(value: Any) -> str:
        return ", ".join(value) if isinstance(value, list) else str(value)

    width = max(len(row["field"]) for row in view["limits"])
    value_width = max(len(shown(row["value"])) for row in view["limits"])
    for row in view["limits"]:
        bound = "" if row["plan"] is None or row["source"] not in ("tenant override", "tenant subscription") else (
            f"  (plan {row['bound']}: {shown(row['plan'])})")
        lines.append(f"  {row['field']:<{width}}  {shown(row['value']):<{value_width}}  {row['source']}{bound}")
    database = view["database"]
    if database and "instance_class" in database:
        lines += ["", _database_line(database)]
        lines += [f"  ! {row['field']}: {row['asked']} -> {row['given']}: {row['why']}"
                  for row in database["roundings"]]
    elif database:
        lines += ["", f"database   {database['shared']}"]
    placement = view["placement"]
    lines += ["", f"placement  {placement['cloud']} {placement['region']}"
                  + (f", cell {placement['cell']}" if placement["cell"] else "") + f": {placement['why']}"]
    stack = view["stack"]
    if stack:
        reads = f" (reads {stack['cell_stack']})" if stack["cell_stack"] else ""
        lines.append(f"stack      {stack['qualified']}{reads}")
    if view["names"]:
        lines += ["", "physical names:"]
        width = max(len(key) for key in view["names"])
        lines += [f"  {key:<{width}}  {name}" for key, name in sorted(view["names"].items())]
    lines += [""] + _deployed_lines(view["deployed"])
    return "\n".join(lines) + "\n"


def _deployed_lines(deployed: dict[str, Any] | None) -> list[str]:
    """What the state database says (read_deployed), in words."""
    if deployed is None or not deployed.get("available"):
        return [f"deployed   unknown: {(deployed or {}).get('why', 'not read')}"]
    last = deployed["last_operation"]
    state = f"state {deployed['state'] or 'never deployed'}; " if "state" in deployed and deployed["stack"].startswith(
        "paybill-tenant/") else ""
    lines = [f"deployed   {state}" + (
        f"last operation {last['operation']} by {last['actor']} at {_when(last['started_at'])}: "
        f"{last['result'] or 'running or crashed'}" if last else "no operation in the journal")]
    if deployed["operations"]:
        lines.append("journal    " + ", ".join(f"{count} {result}" for result, count in
                                               sorted(deployed["operations"].items())))
    for row in deployed["recent"]:
        lines.append(f"  {_when(row['started_at'])}  {row['operation']:<12} {row['actor']:<20} "
                     f"{row['result'] or 'running or crashed'}")
    return lines


# --- list ---------------------------------------------------------------------------------------------


def list_rows(catalog: Catalog, what: str, *, plan: str | None = None, cloud: str | None = None,
              state: str | None = None) -> list[dict[str, Any]]:
    """The rows of `list tenants|cells|plans`, filtered (a filter that names nothing known is a UsageError)."""
    _check_filters(catalog, plan, cloud, state)
    rows: list[dict[str, Any]] = []
    if what == "tenants":
        for tenant in sorted(catalog.tenants.values(), key=lambda item: item.id):
            if (plan and tenant.plan != plan) or (cloud and tenant.cloud != cloud) or (state and tenant.state != state):
                continue
            rows.append({"tenant": tenant.id, "name": tenant.name, "plan": tenant.plan,
                         "isolation": catalog.plans[tenant.plan].isolation, "cloud": tenant.cloud,
                         "region": tenant.region, "cell": catalog.placements.get(tenant.id), "state": tenant.state,
                         "seats": tenant.subscription.seats})
        return rows
    if what == "cells":
        placed: dict[str, list[str]] = {}
        for tenant_id, cell_id in catalog.placements.items():
            placed.setdefault(cell_id, []).append(tenant_id)
        for cell in sorted(catalog.cells.values(), key=lambda item: item.id):
            tenants = [catalog.tenants[tenant_id] for tenant_id in sorted(placed.get(cell.id, []))]
            if (cloud and cell.cloud != cloud) or (plan and not any(t.plan == plan for t in tenants)) or (
                    state and not any(t.state == state for t in tenants)):
                continue
            rows.append({"cell": cell.id, "cloud": cell.cloud, "region": cell.region,
                         "tenants": len(tenants), "capacity": cell.capacity,
                         "fill": round(len(tenants) / cell.capacity, 3), "accepting": cell.accepting,
                         "seats": sum(t.subscription.seats for t in tenants),
                         "database": f"{cell.db_vcpus} vCPUs, {cell.db_storage_gb} GB"})
        return rows
    counts: dict[str, int] = {}
    for tenant in catalog.tenants.values():
        counts[tenant.plan] = counts.get(tenant.plan, 0) + 1
    for item in sorted(catalog.plans.values(), key=lambda found: found.id):
        if (plan and item.id != plan) or (cloud and cloud not in item.clouds):
            continue
        limits = item.limits
        rows.append({"plan": item.id, "name": item.name, "isolation": item.isolation, "clouds": list(item.clouds),
                     "tenants": counts.get(item.id, 0), "db_vcpus": limits.db_vcpus,
                     "db_storage_gb": limits.db_storage_gb, "backup_retention_days": limits.backup_retention_days,
                     "seats": limits.seats, "regions": limits.regions})
    return rows


def _check_filters(catalog: Catalog, plan: str | None, cloud: str | None, state: str | None) -> None:
    from paybill_iac.errors import UsageError
    from paybill_iac.model.catalog import STATES
    from paybill_iac.model.spec import CLOUDS
    from paybill_iac.model.words import did_you_mean

    for option, value, known in (("--plan", plan, list(catalog.plans)), ("--cloud", cloud, list(CLOUDS)),
                                 ("--state", state, list(STATES))):
        if value is not None and value not in known:
            raise UsageError(f"{option} {value!r} names nothing in the catalog{did_you_mean(value, known)}; "
                             f"known: {', '.join(sorted(known)) or 'none'}")


COLUMNS = {
    "tenants": ("tenant", "plan", "isolation", "cloud", "region", "cell", "state", "seats"),
    "cells": ("cell", "cloud", "region", "tenants", "capacity", "fill", "accepting", "seats", "database"),
    "plans": ("plan", "isolation", "clouds", "tenants", "db_vcpus", "db_storage_gb", "backup_retention_days",
              "seats", "regions"),
}


def render_rows(what: str, rows: Sequence[dict[str, Any]]) -> str:
    """A plain table: one row per item, columns COLUMNS[what]; the fill of a cell as tenants/capacity (%)."""
    def cell_text(row: dict[str, Any], column: str) -> str:
        value = row[column]
        if column == "fill":
            return f"{row['tenants']}/{row['capacity']} ({value:.0%})"
        if isinstance(value, list):
            return ",".join(value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        return "-" if value is None else str(value)

    columns = [column for column in COLUMNS[what] if column != "capacity"]
    table = [[column.upper() for column in columns]] + [[cell_text(row, column) for column in columns] for row in rows]
    widths = [max(len(line[index]) for line in table) for index in range(len(columns))]
    text = "\n".join("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
                     for line in table)
    from paybill_iac.model.words import plural

    noun = {"tenants": "tenant", "cells": "cell", "plans": "plan"}[what]
    return f"{text}\n{plural(len(rows), noun)}\n"


# --- commands -----------------------------------------------------------------------------------------


def _catalog(project: Project) -> Catalog:
    from paybill_iac.catalog import load_catalog

    return load_catalog(project.catalog)


@click.group()
def describe() -> None:
    """One item of the catalog as it will be built, with where each value comes from."""


@describe.command("tenant")
@click.argument("tenant_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@project_options(state=True, backend=False, inject="project")
def describe_tenant_command(tenant_id: str, fmt: str, project: Project) -> None:
    """A tenant: plan, overrides and effective limits (and their source), database, placement and why,
    physical names, stack, lifecycle, and what was last deployed (from the state database, when one
    exists; it is never created). Exit 2 for an unknown tenant."""
    catalog = _catalog(project)
    find_tenant(catalog, tenant_id)
    view = describe_tenant(catalog, tenant_id, read_deployed(project, tenant_id))
    click.echo(json.dumps(view, indent=2, default=str) if fmt == "json" else render_tenant(view), nl=fmt != "table")


@describe.command("cell")
@click.argument("cell_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@project_options(state=True, backend=False, inject="project")
def describe_cell_command(cell_id: str, fmt: str, project: Project) -> None:
    """A cell: where, how full (its tenants, their plans, states and seats), its shared database, physical
    names, stack, and its last operations from the state database (never created). Exit 2 for an unknown
    cell."""
    catalog = _catalog(project)
    view = describe_cell(catalog, cell_id)
    view["deployed"] = read_deployed(project, cell_id, cell=True)
    click.echo(json.dumps(view, indent=2, default=str) if fmt == "json" else render_cell(view), nl=fmt != "table")


@click.command("list")
@click.argument("what", type=click.Choice(tuple(COLUMNS)))
@click.option("--plan", default=None, metavar="PLAN", help="Only tenants on this plan (cells: hosting one; plans: it).")
@click.option("--cloud", default=None, metavar="CLOUD", help="Only this cloud (aws, azure, gcp, oci).")
@click.option("--state", default=None, metavar="STATE",
              help="Only tenants in this lifecycle state (cells: hosting one).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@project_options(inject="project")
def list_command(what: str, plan: str | None, cloud: str | None, state: str | None, fmt: str,
                 project: Project) -> None:
    """The catalog's tenants, cells (with how full each is: tenants placed of its capacity, and their seats)
    or plans, filtered by plan, cloud and lifecycle state."""
    rows = list_rows(_catalog(project), what, plan=plan, cloud=cloud, state=state)
    click.echo(json.dumps(rows, indent=2, default=str) if fmt == "json" else render_rows(what, rows), nl=fmt != "table")


def register(cli: click.Group) -> None:
    cli.add_command(describe)
    cli.add_command(list_command)


__all__ = ["describe_cell", "describe_tenant", "list_rows", "read_deployed", "register", "render_rows", "render_tenant"]

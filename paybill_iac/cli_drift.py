"""`paybill-iac drift` and `paybill-iac fleet check`: drift per tenant (paybill_iac.automation.drift) and the fleet's
invariants (paybill_iac.automation.fleet_check). Only click and the standard library at import.

    drift --tenant ID | --cell ID    check that stack now (a refresh preview: nothing is written to the state)
    drift --fleet                    check every tenant with a stack, through the fleet runner, then the cells
                                     in use; `--engine pko` (or `drift: {engine: pko}`): on the operator, one
                                     check Stack per tenant (paybill_iac.pko.drift), a status without
                                     per-resource detail, no cells
    drift                            no check: the stored reports, `stale` past the schedule, `not_checked`
    fleet check                      stacks without a tenant, tenants without a stack, two shapes outside a
                                     plan change, cells fuller than the catalog says, retention ends passed

The schedule and the hook for newly seen drift are the `drift:` section of paybill.yaml (`schedule_hours`,
default 24; `hook: module:function`). Exit codes: 0 in sync / clean, 1 drift, a failed check or a finding,
2 usage.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from paybill_iac import cli_ops

if TYPE_CHECKING:
    from paybill_iac.project import Project

FORMATS = ("table", "json", "markdown")


def _iso(epoch: float | None) -> str:
    return "-" if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _settings(project: Project) -> Any:
    from paybill_iac.automation.drift import DriftSettings, load_drift_settings

    return load_drift_settings(project.file) if project.file is not None else DriftSettings()


def _local(auto: Any) -> Any:
    from paybill_iac.automation import Automation
    from paybill_iac.errors import UsageError

    if not isinstance(auto, Automation):
        raise UsageError("drift checks run where the state database is, not through the service: unset "
                         "PAYBILL_SERVER_URL to run them here")
    return auto


@click.command("drift")
@click.option("--tenant", default=None, help="Check this tenant's stack now.")
@click.option("--cell", default=None, help="Check this cell's stack now.")
@click.option("--fleet", "whole_fleet", is_flag=True,
              help="Check every tenant with a stack, through the fleet runner, then the cells in use.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--concurrency", default=4, show_default=True, type=int, help="Tenants at once (--fleet).")
@click.option("--engine", type=click.Choice(["local", "pko"]), default=None,
              help="--fleet: local worker processes, or pko, a check Stack per tenant on the Pulumi Kubernetes "
                   "Operator (status only, no per-resource detail). Default: the drift: section's engine, local.")
@click.option("--namespace", default=None, metavar="NS", help="--engine pko: the Stacks' namespace.")
@click.option("--context", "kube_context", default=None, help="--engine pko: the kubeconfig context.")
@cli_ops._common
def drift(tenant: str | None, cell: str | None, whole_fleet: bool, fmt: str, concurrency: int, engine: str | None,
          namespace: str | None, kube_context: str | None, project: Project, actor: str) -> None:
    """Drift: what the cloud holds that a stack's state does not (a refresh preview; nothing is written).

    Without --tenant, --cell or --fleet: the stored reports of every tenant, against the schedule. Exit 1 when
    something drifted or a check failed."""
    from paybill_iac.automation.drift import check_fleet, fleet_statuses, load_hook, rollup, stored_report
    from paybill_iac.errors import PaybillError, PulumiCLIMissing, UsageError

    if sum(1 for given in (tenant, cell, whole_fleet) if given) > 1:
        raise UsageError("give one of --tenant ID, --cell ID and --fleet")
    if engine == "pko" and not whole_fleet:
        raise UsageError("--engine pko checks the fleet (--fleet); --tenant and --cell check here, with "
                         "per-resource detail")
    settings = _settings(project)
    hook = load_hook(settings.hook, f"{project.file}: drift.hook") if settings.hook else None
    runner = None
    if whole_fleet and (engine or settings.engine) == "pko":
        from paybill_iac.cli_pko import fleet_engine

        runner = fleet_engine(project, namespace, kube_context, actor)
    with cli_ops._automation(project, actor) as opened:
        auto = _local(opened)
        reports = []
        if tenant or cell:
            stack = auto.stack_ref(tenant, cell)
            try:
                reports.append(auto.check_drift(tenant=tenant, cell=cell, hook=hook).report)
            except PulumiCLIMissing:
                raise
            except PaybillError:  # busy, flagged, the engine failed: stored as an `error` report, shown as such
                reports.append(stored_report(auto.store.drift.latest(with_report=True, stacks=[stack.key])[stack.key]))
            entries = None
        else:
            if whole_fleet:
                progress, finish = cli_ops._progress("drift")
                try:
                    check_fleet(auto, concurrency=concurrency, hook=hook, progress=progress, runner=runner)
                finally:
                    finish()
            entries = fleet_statuses(auto.store, auto.reload(), auto.store.clock(), settings.schedule_seconds)
            shown = [entry.stack for entry in entries if entry.status in ("drifted", "error")]
            shown += [f"paybill-cell/{cell}" for cell in sorted(set(auto.catalog.placements.values()))]
            latest = {key: item for key, item in auto.store.drift.latest(with_report=True, stacks=shown).items()
                      if item.status in ("drifted", "error")}  # a cell's newest check, when it found something
            reports = [stored_report(item) for _, item in sorted(latest.items())]
    summary = rollup(entries) if entries is not None else None
    _show(fmt, reports, entries, summary, settings)
    failing = [report for report in reports if report.status in ("drifted", "error")]
    if failing or (entries and any(entry.status in ("drifted", "error") for entry in entries)):
        sys.exit(1)


def _show(fmt: str, reports: list[Any], entries: list[Any] | None, summary: dict[str, Any] | None,
          settings: Any) -> None:
    if fmt == "json":
        click.echo(json.dumps({"schedule_hours": settings.schedule_hours,
                               "reports": [report.as_dict() for report in reports],
                               "tenants": [vars(entry) for entry in entries] if entries is not None else None,
                               "rollup": summary}, indent=2, sort_keys=True))
        return
    markdown = fmt == "markdown"
    if entries is not None:
        _rows(markdown, [("TENANT", "PLAN", "CLOUD", "CELL", "STATUS", "CHECKED", "DRIFTED")] + [
            (entry.tenant, entry.plan or "-", entry.cloud or "-", entry.cell or "-", entry.status,
             _iso(entry.checked_at), str(entry.drifted)) for entry in entries])
    for report in reports:
        click.echo("")
        where = ", ".join(value for value in (report.plan, report.cloud, report.cell) if value)
        click.echo(f"{'### ' if markdown else ''}{report.stack} ({where}): {report.status}, checked "
                   f"{_iso(report.checked_at)}" + (f": {report.error.splitlines()[0]}" if report.error else ""))
        if report.note:
            click.echo(f"{'> ' if markdown else '  '}{report.note}")
        if report.resources:
            _rows(markdown, [("OP", "TYPE", "RESOURCE", "CHANGED", "DATA", "PROTECTED", "FIRST SEEN", "BREAKS")] + [
                (item.op + (" (new)" if item.new else ""), item.type, item.urn.rsplit("::", 1)[-1],
                 ", ".join(item.paths) or "-", "yes" if item.holds_data else "no", "yes" if item.protected else "no",
                 _iso(item.first_seen), ", ".join(item.rules) or "-") for item in report.resources])
    if summary is not None:
        click.echo("")
        counts = ", ".join(f"{count} {status}" for status, count in summary["status"].items() if count)
        click.echo(f"{summary['tenants']} tenant(s): {counts or 'none'} "
                   f"(schedule: every {settings.schedule_hours:g} h)")
        for group in ("plan", "cloud", "cell"):
            parts = []
            for name, counts_of in summary[f"by_{group}"].items():
                shown = ", ".join(f"{count} {status}" for status, count in counts_of.items() if count)
                parts.append(f"{name}: {shown}")
            click.echo(f"  by {group}: " + "; ".join(parts))


def _rows(markdown: bool, rows: Sequence[tuple[str, ...]]) -> None:
    if markdown:
        click.echo("| " + " | ".join(rows[0]) + " |")
        click.echo("|" + "---|" * len(rows[0]))
        for row in rows[1:]:
            click.echo("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        return
    cli_ops._table(rows)


@click.command("check")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
@cli_ops._common
def fleet_check(fmt: str, project: Project, actor: str) -> None:
    """The fleet's invariants: stacks without a tenant, tenants without a stack, a tenant with two shapes outside a
    plan change, a cell fuller in reality than in the catalog, retention ends that passed. Exit 1 on findings."""
    from paybill_iac.automation import fleet_check as checks

    with cli_ops._automation(project, actor) as opened:
        found = checks.findings(checks.gather(_local(opened)))
    if fmt == "json":
        click.echo(json.dumps(checks.as_dict(found), indent=2, sort_keys=True))
    else:
        if found:
            cli_ops._table([("CHECK", "SUBJECT", "FINDING")] + [(item.check, item.subject, item.message)
                                                               for item in found])
        click.echo(f"{len(found)} finding(s)" if found else "the fleet is consistent: no finding")
    if found:
        sys.exit(1)


def register(group: click.Group) -> None:
    """Add `drift`, and `check` to the `fleet` group (paybill_iac.cli_ops registers it first)."""
    group.add_command(drift)
    fleet = group.commands.get("fleet")
    if isinstance(fleet, click.Group):
        fleet.add_command(fleet_check)

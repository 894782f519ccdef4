"""`paybill-iac fleet manifests|apply|status`: the fleet on the Pulumi Kubernetes Operator
(paybill_iac.pko). Attached to the `fleet` group of paybill_iac.cli_ops by `register`; only click and
the standard library are imported here, the Kubernetes client only by `apply` and `status`.

Exit codes as everywhere: 0 done; 1 a stale manifest (`--check`), a Stack that failed, stalled or did
not settle, a halted rollout; 2 usage (bad settings, no cluster, no client).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from paybill_iac.cli_project import current_project, project_options

if TYPE_CHECKING:
    from paybill_iac.project import Project

LISTED = 50

_catalog = project_options(inject="project")
_settings = click.option("--settings", "settings_file", default=None, envvar="PAYBILL_SETTINGS",
                         type=click.Path(dir_okay=False, path_type=Path),
                         help="The project file whose `pko:` section holds the operator settings "
                              "[default: the project's paybill.yaml].")
_namespace = click.option("--namespace", default=None, metavar="NS",
                          help="The Stacks' namespace [default: pko.namespace of the settings].")
_engine = click.option("--engine", type=click.Choice(["pko"]), default="pko", show_default=True,
                       help="The engine: pko, the Pulumi Kubernetes Operator (v2).")
_context = click.option("--context", default=None, help="The kubeconfig context [default: the current one].")


def _load(project: Project, settings_file: Path | None) -> tuple[Any, Any]:
    from paybill_iac.catalog import load_catalog
    from paybill_iac.pko.settings import load_settings

    return load_catalog(project.catalog), load_settings(settings_file or project.file)


@click.command("manifests")
@_catalog
@_settings
@_namespace
@click.option("--out", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the Stack files (cells/, tenants/, kustomization.yaml): what Argo CD or Flux applies "
                   "[default: pko/ in the project's stacks folder].")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing the files that are stale.")
@click.option("--prune", is_flag=True, help="Remove Stack files of tenants and cells that left the catalog.")
def manifests(project: Project, settings_file: Path | None, namespace: str | None, out: Path | None, check: bool,
              prune: bool) -> None:
    """Write one operator Stack resource per cell in use and per tenant with a stack (deterministic YAML)."""
    from paybill_iac.pko.manifests import write_manifests

    loaded, settings = _load(project, settings_file)
    out = out if out is not None else project.stacks / "pko"
    result = write_manifests(loaded, settings, out, namespace=namespace, check=check, prune=prune)
    if check:
        if result.stale:
            click.echo(f"{len(result.stale)} Stack files are stale; run `paybill-iac fleet manifests`:", err=True)
            for path in result.written[:LISTED]:
                click.echo(f"  would write  {path}", err=True)
            for path in result.orphaned:
                click.echo(f"  orphaned     {path} (no tenant or cell; remove with --prune)", err=True)
            sys.exit(1)
        click.echo(f"{len(result.unchanged)} Stack files are up to date")
        return
    for path in result.written[:LISTED]:
        click.echo(f"wrote    {path}")
    if len(result.written) > LISTED:
        click.echo(f"wrote    ... and {len(result.written) - LISTED} more")
    for path in result.removed:
        click.echo(f"removed  {path}")
    for path in result.orphaned:
        if path not in result.removed:
            click.echo(f"orphaned {path}: no tenant or cell behind it; `--prune` removes it", err=True)
    click.echo(f"{len(result.written)} written, {len(result.unchanged)} unchanged, {len(result.removed)} removed, "
               f"{len(result.orphaned) - len(result.removed)} orphaned")


@click.command("apply")
@_engine
@_catalog
@_settings
@_namespace
@_context
@click.option("--wave", "waves", multiple=True, metavar="SELECTOR",
              help="A wave, in order: comma-separated canary, plan:<id>, cloud:<cloud>, isolation:<model>, tenant "
                   "ids or rest. Default: canary tenants, then one wave per plan. Cells go first (wave 0).")
@click.option("--tenant", "tenants", multiple=True, help="Only these tenants (and their cells).")
@click.option("--max-failures", default=0, show_default=True, type=click.IntRange(min=0),
              help="Halt before the next wave once more Stacks than this failed.")
@click.option("--timeout", default=240.0, show_default=True, type=click.FloatRange(min=0),
              help="Minutes to wait for a wave's Stacks to settle; those still running then count as failed.")
@click.option("--poll", default=15.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between reads of the Stacks' status.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait for each wave to settle before the next (--no-wait applies every wave at once).")
@click.option("--dry-run", is_flag=True, help="Server-side dry run: the API server validates, nothing is stored.")
@click.option("--force-conflicts", is_flag=True, help="Take over fields another field manager owns.")
@click.option("--concurrency", default=16, show_default=True, type=click.IntRange(min=1, max=64),
              help="Apply requests at once.")
def apply(engine: str, project: Project, settings_file: Path | None, namespace: str | None, context: str | None,
          waves: tuple[str, ...], tenants: tuple[str, ...], max_failures: int, timeout: float, poll: float,
          wait: bool, dry_run: bool, force_conflicts: bool, concurrency: int) -> None:
    """Server-side apply the fleet's Stacks (field manager paybill-iac), wave by wave, halting past
    --max-failures; each wave waits for its Stacks' conditions (Ready, Reconciling, Stalled)."""
    from paybill_iac.pko.kube import StackApi
    from paybill_iac.pko.rollout import plan_rollout, roll_out

    loaded, settings = _load(project, settings_file)
    target = namespace or settings.namespace
    planned = plan_rollout(loaded, settings, target, list(waves) or None, list(tenants) or None)
    cluster = StackApi(target, context=context)
    report = roll_out(cluster, planned, max_failures=max_failures, wait=wait, timeout=timeout * 60, poll=poll,
                      concurrency=concurrency, force=force_conflicts, dry_run=dry_run,
                      progress=lambda message: click.echo(message, err=True))
    applied = sum(1 for wave in report.waves for outcome in wave.applied if outcome.ok)
    total = sum(len(wave.names) for wave in report.waves)
    skipped = sum(len(wave.names) for wave in report.waves if wave.skipped)
    click.echo(f"{applied}/{total} Stacks applied in namespace {target}"
               + (" (dry run)" if dry_run else "") + f"; {len(report.failures)} failed"
               + (f"; {skipped} skipped" if skipped else "") + (f"; {report.halted}" if report.halted else ""))
    for name in report.failures[:LISTED]:
        click.echo(f"  failed {name}")
    if not report.ok:
        sys.exit(1)


@click.command("status")
@_engine
@_settings
@_namespace
@_context
@click.option("--json", "as_json", is_flag=True, help="JSON (every Stack and the roll-up) instead of tables.")
def status(engine: str, settings_file: Path | None, namespace: str | None, context: str | None,
           as_json: bool) -> None:
    """Roll up the fleet's Stacks by wave, plan and cloud. Exit 1 when one failed or stalled."""
    from paybill_iac.pko.kube import StackApi
    from paybill_iac.pko.settings import SETTINGS_FILE, load_settings, settings_path
    from paybill_iac.pko.status import STATES, classify, deployments, rollup

    target = namespace
    if target is None:
        settings_file = settings_file or current_project().file
        target = load_settings(settings_file).namespace if settings_path(settings_file).is_file() else None
    if target is None:
        raise click.UsageError(f"give --namespace (or a {SETTINGS_FILE} with pko.namespace)")
    statuses = deployments(classify(stack) for stack in StackApi(target, context=context).list())
    summary = rollup(statuses)
    if as_json:
        click.echo(json.dumps({"namespace": target, **summary, "stacks": [item.as_dict() for item in statuses]},
                              indent=2, sort_keys=True))
    else:
        columns = [state for state in STATES if summary["states"].get(state)]
        for dimension in ("wave", "plan", "cloud"):
            rows = [(dimension.upper(), *(state.upper() for state in columns))]
            for value, counts in summary["by"][dimension].items():
                rows.append((value, *(str(counts.get(state, 0)) for state in columns)))
            widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
            for row in rows:
                click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
            click.echo("")
        for item in statuses:
            if item.failed:
                click.echo(f"{item.state} {item.name}: {item.reason or item.last_update} {item.message}".rstrip())
        states = ", ".join(f"{count} {state}" for state, count in summary["states"].items()) or "none"
        click.echo(f"{summary['total']} Stacks in namespace {target}: {states}")
    if summary["failed"]:
        sys.exit(1)


def fleet_engine(project: Project, namespace: str | None, context: str | None, actor: str) -> Any:
    """`fleet up --engine pko`: the operator as the fleet's engine (paybill_iac.pko.engine), its settings from
    the project file's `pko:` section, the cluster from the kubeconfig."""
    from paybill_iac.pko.engine import PkoFleetRunner
    from paybill_iac.pko.kube import StackApi

    loaded, settings = _load(project, None)
    target = namespace or settings.namespace
    return PkoFleetRunner(StackApi(target, context=context), loaded, settings, target, actor=actor,
                          say=lambda message: click.echo(message, err=True))


def register(cli: click.Group) -> None:
    """Attach `manifests`, `apply` and `status` to the `fleet` group (paybill_iac.cli_ops registers it first)."""
    fleet = cli.commands.get("fleet")
    if not isinstance(fleet, click.Group):
        fleet = click.Group("fleet", help="Run an operation over many tenants, in waves.")
        cli.add_command(fleet)
    for command in (manifests, apply, status):
        fleet.add_command(command)

"""`paybill-iac preview`: the offline per-tenant preview with policy verdicts (imports only click here)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from paybill_iac.cli_project import project_options
from paybill_iac.cli_reports import FORMATS, report_targets, write_reports
from paybill_iac.cli_shard import PreviewCommand  # `preview merge|shards` (sharded previews); imports only click


def table_width() -> int | None:
    """The table's width on stdout: $COLUMNS when set, else the terminal's when stdout is one, else None (the
    renderer's TABLE_WIDTH: a pipe or a file gets the same table on every machine)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


@click.command(cls=PreviewCommand)
@project_options(positional=True)
@click.option("--tenant", "tenants", multiple=True, metavar="ID",
              help="Preview only this tenant (repeatable; its cell runs too). Default: every tenant.")
@click.option("--base", metavar="GITREF",
              help="Compare with the catalog and code at this git ref; preview only the affected stacks and "
                   "show per resource what is added, removed or changed.")
@click.option("--against", metavar="REPORT.json", type=click.Path(dir_okay=False, path_type=Path),
              help="Compare with a report an earlier `preview --format json` wrote (e.g. the last run on the main "
                   "branch) instead of a git ref: per resource what is added, removed or changed.")
@click.option("--diff", "properties", is_flag=True,
              help="Show each changed input's old and new value (with --base or --against).")
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS),
              help="table (default), json, markdown (a pull-request comment) or sarif (code scanning). "
                   "Repeat with --output to write several reports from one run.")
@click.option("--output", "outputs", multiple=True, metavar="FILE",
              help="Write the report here instead of stdout ('-' for stdout); pairs with --format in order.")
@click.option("--actor", default="human", show_default=True, metavar="ACTOR",
              help="Who deploys: human, or agent:<name> (the agent guardrails then apply).")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Worker processes (default: every core). 1 runs in this process.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal and $CI is unset).")
@click.option("--shard", metavar="I/N", default=None,
              help="Preview only part I of N (deterministic; a cell runs with the tenants that need it); "
                   "`paybill-iac preview merge` joins the parts' JSON reports.")
def preview(catalog: Path, tenants: tuple[str, ...], base: str | None, against: Path | None, properties: bool,
            formats: tuple[str, ...],
            outputs: tuple[str, ...], actor: str, jobs: int | None, progress: bool | None,
            shard: str | None) -> None:
    """Preview every tenant's stack offline and check it with the policy packs.

    Runs the real stack programs of stacks/ under the Pulumi mock runtime with the config the catalog
    generates (nothing is written into stacks/), then the plan-limits, tenant-isolation and
    agent-guardrails packs. No cloud credentials and no Pulumi CLI needed.

    Exit 0 when no mandatory policy is violated, 1 when one is (or a stack fails to run), 2 on a usage
    or catalog error.
    """
    from paybill_iac.preview import Options, exit_code, render, run_preview

    targets = report_targets(formats, outputs)
    options = Options(catalog=catalog, tenants=list(tenants) or None, base=base, actor=actor, jobs=jobs,
                      progress=progress, against=against, properties=properties)
    if shard is not None:  # one part of a sharded preview (paybill_iac.preview.shard)
        from paybill_iac.cli_shard import render_shard, run_shard

        report = run_shard(options, shard)
    else:
        report = run_preview(options)

    def text(fmt: str, on_stdout: bool) -> str:
        if shard is not None:
            return render_shard(report, fmt)
        return str(render(report, fmt, table_width() if on_stdout else None))

    write_reports(report, targets, text)
    sys.exit(exit_code(report))

"""`paybill-iac preview merge FILE...` and `paybill-iac preview shards`: the commands of sharded previews
(paybill_iac.preview.shard, merge), reached through `paybill-iac preview`, which stays a command with an
optional CATALOG argument (a click group would read `merge` as a catalog folder). Only click here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from paybill_iac.cli_project import project_options
from paybill_iac.cli_reports import FORMATS, report_targets, write_reports

SUBCOMMANDS_HELP = ("Sharded previews: `--shard I/N` runs one of N parts; `paybill-iac preview merge FILE...` "
                    "merges their JSON reports; `paybill-iac preview shards` says how many parts a preview is "
                    "worth (a CI matrix). A catalog folder named merge or shards: write ./merge.")


class PreviewCommand(click.Command):
    """`preview`, whose first word may instead name one of `SUBCOMMANDS`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in SUBCOMMANDS:
            ctx.meta["paybill.preview.subcommand"] = (args[0], args[1:])
            return []
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        found = ctx.meta.pop("paybill.preview.subcommand", None)
        if found is None:
            return super().invoke(ctx)
        name, rest = found
        command = SUBCOMMANDS[name]
        with command.make_context(f"{ctx.info_name} {name}", rest, parent=ctx) as sub:
            return command.invoke(sub)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        with formatter.section("Sharding"):
            formatter.write_text(SUBCOMMANDS_HELP)


@click.command("merge")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS),
              help="table (default), json, markdown or sarif; repeat with --output for several reports.")
@click.option("--output", "outputs", multiple=True, metavar="FILE",
              help="Write the report here instead of stdout ('-' for stdout); pairs with --format in order.")
def merge(files: tuple[Path, ...], formats: tuple[str, ...], outputs: tuple[str, ...]) -> None:
    """Merge the JSON reports of every shard of a preview (`preview --shard I/N --format json`) into the
    report, comment, SARIF and exit code of the unsharded preview.

    Exit 0 when no mandatory policy is violated, 1 when one is (or a stack failed to run), 2 when a shard is
    missing, repeated or of another preview.
    """
    from paybill_iac.preview import exit_code, render
    from paybill_iac.preview.merge import merge as merge_reports
    from paybill_iac.preview.merge import read

    targets = report_targets(formats, outputs)
    report = merge_reports(read(list(files)))
    write_reports(report, targets, lambda fmt, _: str(render(report, fmt)))
    sys.exit(exit_code(report))


@click.command("shards")
@project_options(positional=True)
@click.option("--tenant", "tenants", multiple=True, metavar="ID", help="Only this tenant (repeatable).")
@click.option("--base", metavar="GITREF", help="Count only the stacks a change affects, compared with GITREF.")
@click.option("--max", "max_shards", default=8, show_default=True, type=click.IntRange(1, 256),
              envvar="PAYBILL_PREVIEW_MAX_SHARDS", help="At most this many shards ($PAYBILL_PREVIEW_MAX_SHARDS).")
@click.option("--per-shard", default=400, show_default=True, type=click.IntRange(min=1),
              envvar="PAYBILL_PREVIEW_STACKS_PER_SHARD",
              help="One shard per this many stacks ($PAYBILL_PREVIEW_STACKS_PER_SHARD).")
def shards(catalog: Path, tenants: tuple[str, ...], base: str | None, max_shards: int, per_shard: int) -> None:
    """Print, as JSON, how many shards a preview is worth: {"stacks": S, "count": N, "matrix": ["1/N", ...]}."""
    from paybill_iac.preview.report import Options
    from paybill_iac.preview.shard import plan

    found = plan(Options(catalog=catalog, tenants=list(tenants) or None, base=base), max_shards=max_shards,
                 per_shard=per_shard)
    click.echo(json.dumps(found))


SUBCOMMANDS: dict[str, click.Command] = {"merge": merge, "shards": shards}
def render_shard(report: dict[str, Any], fmt: str) -> str:
    """A shard's report: JSON without indentation (for `preview merge`: a third of the time to write, a
    quarter smaller; 10,000 tenants' resources are hundreds of MB), the other formats as ever."""
    if fmt == "json":
        return json.dumps(report, separators=(",", ":"), default=str) + "\n"
    from paybill_iac.preview import render

    return str(render(report, fmt))


def run_shard(options: Any, shard: str) -> dict[str, Any]:
    """`preview --shard I/N`: the shard's report (paybill_iac.preview.shard)."""
    from paybill_iac.errors import UsageError
    from paybill_iac.preview.shard import Shard, preview

    if options.against is not None:  # a shard holds only its part of a report: comparing it would be half a diff
        raise UsageError("--against compares a whole preview report and cannot be combined with --shard: compare "
                         "against a git ref with --base (shards support it), or run --against on an unsharded preview")
    return preview(options, Shard.parse(shard))

"""The `paybill-iac` command.

Exit codes: 0 success, 1 the catalog (or a policy, or an operation) said no, 2 usage error.
Every failure is printed as a sentence on stderr; no traceback reaches a user. Commands import what
they need when they run, so `validate`, `generate` and `schema` never load pulumi or a cloud SDK, and
the commands of other modules are imported only when one of them may be wanted (`paybill-iac
validate --help` starts in about the time Python and click take).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

DEFAULT_CATALOG = "stacks/catalog"
DEFAULT_OUT = "stacks"

catalog_argument = click.argument("catalog", default=DEFAULT_CATALOG, required=False,
                                  type=click.Path(file_okay=False, path_type=Path))


class _Commands(click.Group):
    """The commands defined here, and those other modules register (`_register_others`), which are
    imported the first time a command not defined here is looked up, or all of them are listed."""

    _others_registered = False

    def _register_others(self) -> None:
        if not self._others_registered:
            self._others_registered = True
            _register_others(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._register_others()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._register_others()
        return super().list_commands(ctx)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="paybill-iac")
def cli() -> None:
    """Multi-tenant SaaS infrastructure from a catalog of plans and tenants, on Pulumi."""


@cli.command()
@catalog_argument
def validate(catalog: Path) -> None:
    """Check the catalog; list every problem with its file, id and field.

    Exit 0 when valid, 1 when not.
    """
    from paybill_iac.catalog import load_catalog

    loaded = load_catalog(catalog)
    placed = len(loaded.placements)
    click.echo(
        f"{catalog}: valid: {len(loaded.tenants)} tenants, {len(loaded.plans)} plans, "
        f"{len(loaded.cells)} cells ({placed} tenants placed on cells)"
    )


@cli.command()
@catalog_argument
@click.option("--out", default=DEFAULT_OUT, show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding the tenant/ and cell/ Pulumi projects.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing the files that are stale.")
@click.option("--prune", is_flag=True, help="Remove stack files of tenants and cells that left the catalog.")
def generate(catalog: Path, out: Path, check: bool, prune: bool) -> None:
    """Write one Pulumi stack config per tenant and per cell in use."""
    from paybill_iac.catalog import load_catalog
    from paybill_iac.generate import generate as run_generate

    loaded = load_catalog(catalog)
    result = run_generate(loaded, out, check=check, prune=prune)
    if check:
        if result.stale:
            click.echo(f"{len(result.stale)} generated files are stale; run `paybill-iac generate`:", err=True)
            _list("  would write ", result.written, err=True)
            for path in result.orphaned:
                click.echo(f"  orphaned     {path} (no tenant or cell; remove with --prune)", err=True)
            sys.exit(1)
        click.echo(f"{len(result.unchanged)} generated files are up to date")
        return
    _list("wrote   ", result.written)
    _list("removed ", result.removed)
    for path in result.orphaned:
        if path not in result.removed:
            click.echo(f"orphaned {path}: no tenant or cell behind it; `--prune` removes it", err=True)
    click.echo(f"{len(result.written)} written, {len(result.unchanged)} unchanged, "
               f"{len(result.removed)} removed, {len(result.orphaned) - len(result.removed)} orphaned")


LISTED = 50  # a first generation writes thousands of files: list this many, then count the rest


def _list(verb: str, paths: list[Path], err: bool = False) -> None:
    for path in paths[:LISTED]:
        click.echo(f"{verb} {path}", err=err)
    if len(paths) > LISTED:
        click.echo(f"{verb} ... and {len(paths) - LISTED} more", err=err)


@cli.command()
@click.argument("kind", required=False, type=click.Choice(["catalog", "plans", "cells", "tenant"]))
def schema(kind: str | None) -> None:
    """Print the JSON Schema of catalog files (all kinds, or one), for editors."""
    import json

    from paybill_iac.schema import schemas

    documents = schemas()
    click.echo(json.dumps(documents[kind] if kind else documents, indent=2, sort_keys=True))


def _register_others(cli: click.Group) -> None:
    """Called by `cli` when it needs them (see _Commands)."""
    # commands registered by other modules (each imports only click at module level)
    cli.add_command(__import__("paybill_iac.cli_preview", fromlist=["preview"]).preview)
    cli.add_command(__import__("paybill_iac.cli_policy", fromlist=["policy"]).policy)
    __import__("paybill_iac.cli_ops", fromlist=["register"]).register(cli)
    cli.add_command(__import__("paybill_iac.cli_db", fromlist=["db"]).db)
    __import__("paybill_iac.cli_service", fromlist=["register"]).register(cli)
    # `fleet manifests|apply|status` (the Pulumi Kubernetes Operator), attached to cli_ops' `fleet` group
    __import__("paybill_iac.cli_pko", fromlist=["register"]).register(cli)
    # end of registered commands


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning every error into a message and an exit code."""
    try:
        return _main(argv)
    finally:
        if argv is None:  # the process's own command line: the process ends when this returns
            # Spare the interpreter's last garbage collection, at exit, a walk over every object the
            # command made (a loaded catalog of 10,000 tenants: 100,000 of them, 50 ms or more).
            import gc

            gc.freeze()


def _main(argv: list[str] | None) -> Any:
    try:
        return cli.main(args=argv, prog_name="paybill-iac", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the last line of defence against tracebacks
        from paybill_iac.errors import PaybillError  # here: `--help` and a command that succeeds never need it

        if isinstance(error, PaybillError):
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)
        click.echo(f"internal error: {type(error).__name__}: {error}. Please report it with the command you ran; "
                   "set PAYBILL_DEBUG=1 to see the traceback.", err=True)
        import os

        if os.environ.get("PAYBILL_DEBUG"):
            raise
        sys.exit(70)


if __name__ == "__main__":
    main()

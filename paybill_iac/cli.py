"""The `paybill-iac` command.

Exit codes: 0 success, 1 the catalog (or a policy, or an operation) said no, 2 usage error.
Every failure is printed as a sentence on stderr; no traceback reaches a user. Commands import what
they need when they run, so `validate`, `generate` and `schema` never load pulumi or a cloud SDK, and
the commands of other modules are imported only when one of them may be wanted (`paybill-iac
validate --help` starts in about the time Python and click take).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from paybill_iac.cli_project import change_directory, project_options

if TYPE_CHECKING:
    from paybill_iac.project import Project

catalog_argument = project_options(positional=True)
"""[CATALOG] or --catalog DIR, then PAYBILL_CATALOG, then the project's (paybill_iac.cli_project)."""


class _Commands(click.Group):
    """The commands defined here, and those of other modules (LAZY_COMMANDS), each imported the first time its
    command is looked up (click's lazy group: `paybill-iac up` imports the operations, not the service), all of
    them when the commands are listed (`paybill-iac --help`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()

    def _load(self, name: str) -> None:
        """Register the command `name` of LAZY_COMMANDS: each of its modules' `register(cli)`, or the module's
        command of that name. Registering again is harmless, so a module shared by two commands (a group that
        several fill) is registered for each."""
        if name in self._loaded:
            return
        self._loaded.add(name)
        for module_name in LAZY_COMMANDS[name]:
            module = importlib.import_module(module_name)
            register = getattr(module, "register", None)
            if register is not None:
                register(self)
            else:
                self.add_command(getattr(module, name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name in LAZY_COMMANDS:
            self._load(name)
        return super().list_commands(ctx)


def _help_width() -> int:
    """The width click gives help text (the terminal's, at most 100 columns), found as shutil would without
    importing it (and bz2, lzma...): a few milliseconds of `paybill-iac validate --help`."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns, HELP_MAX_WIDTH) - 2, 50)


HELP_MAX_WIDTH = 100


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": HELP_MAX_WIDTH, "terminal_width": _help_width()})
@click.version_option(package_name="paybill-iac")
@click.option("-C", "directory", default=None, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Run as if started in DIR, a project folder (paybill.yaml in it or above), like git -C.")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None) -> None:
    """Multi-tenant SaaS infrastructure from a catalog of plans and tenants, on Pulumi.

    Paths come from the project root: the nearest paybill.yaml at or above the working directory (or
    -C DIR). Shell completion: eval "$(_PAYBILL_IAC_COMPLETE=bash_source paybill-iac)" (zsh_source,
    fish_source for the other shells).
    """
    change_directory(ctx, directory)


@cli.command()
@catalog_argument
def validate(catalog: Path) -> None:
    """Check the catalog; list every problem with its file, id and field, and warn of each database size
    the cloud provisions differently from what the catalog asks.

    Exit 0 when valid (warnings or not), 1 when not.
    """
    from paybill_iac.catalog import load_catalog
    from paybill_iac.catalog.validate import rounding_warnings
    from paybill_iac.model.words import plural

    _skip_teardown()
    loaded = load_catalog(catalog)
    placed = len(loaded.placements)
    click.echo(
        f"{catalog}: valid: {plural(len(loaded.tenants), 'tenant')}, {plural(len(loaded.plans), 'plan')}, "
        f"{plural(len(loaded.cells), 'cell')} ({plural(placed, 'tenant')} placed on cells)"
    )
    for warning in rounding_warnings(loaded):
        click.echo(f"warning: {warning}", err=True)


@cli.command()
@project_options(positional=True, inject="project")
@click.option("--out", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding the tenant/ and cell/ Pulumi projects [default: the project's stacks folder "
                   "(paybill.yaml's stacks, else stacks)].")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing the files that are stale.")
@click.option("--prune", is_flag=True, help="Remove stack files of tenants and cells that left the catalog.")
def generate(project: Project, out: Path | None, check: bool, prune: bool) -> None:
    """Write one Pulumi stack config per tenant and per cell in use."""
    from paybill_iac.catalog import load_catalog
    from paybill_iac.generate import generate as run_generate

    _skip_teardown()
    loaded = load_catalog(project.catalog)
    out = out if out is not None else project.stacks
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


# The commands of other modules: name -> the modules that register it, in order (each module imports only
# click at module level; its `register(cli)` adds its commands, or else its attribute of that name is the
# command). A new command is one line here.
LAZY_COMMANDS: dict[str, tuple[str, ...]] = {
    "preview": ("paybill_iac.cli_preview",),
    "policy": ("paybill_iac.cli_policy",),
    "up": ("paybill_iac.cli_ops",),
    "refresh": ("paybill_iac.cli_ops",),
    "destroy": ("paybill_iac.cli_ops",),
    "lifecycle": ("paybill_iac.cli_ops",),
    "journal": ("paybill_iac.cli_ops",),
    "review": ("paybill_iac.cli_ops",),
    # cli_ops' group; `fleet manifests|apply|status` (the Pulumi Kubernetes Operator) and `fleet check` join it
    "fleet": ("paybill_iac.cli_ops", "paybill_iac.cli_pko", "paybill_iac.cli_drift"),
    "db": ("paybill_iac.cli_db",),
    "serve": ("paybill_iac.cli_service",),
    "token": ("paybill_iac.cli_service",),
    "migrate": ("paybill_iac.cli_service",),
    # `describe tenant ID`, `list tenants|cells|plans`: resolved views of the catalog
    "describe": ("paybill_iac.cli_describe",),
    "list": ("paybill_iac.cli_describe",),
    "drift": ("paybill_iac.cli_drift",),
    # preflight: the Pulumi CLI, backend, credentials, packs and state database, each with its fix
    "doctor": ("paybill_iac.cli_doctor",),
}


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning every error into a message and an exit code."""
    code: Any = 0
    try:
        return _main(argv)
    except SystemExit as done:
        code = done.code
        raise
    finally:
        if argv is None:  # the process's own command line: the process ends when this returns
            # Spare the interpreter's last garbage collection, at exit, a walk over every object the
            # command made (a loaded catalog of 10,000 tenants: 100,000 of them, 50 ms or more).
            import gc

            gc.freeze()
            if _without_teardown:
                _exit_now(code)


# Set by the catalog commands (validate, generate), whose process then ends without the interpreter's
# teardown, which frees every object of every module one by one (40 ms of CPU after loading 10,000 tenants)
# only for the process to end: they hold no resource that needs it (no thread, no connection, no handler
# to flush; the files they write are closed, and synced where it matters, before they return).
_without_teardown = False


def _skip_teardown() -> None:
    global _without_teardown
    _without_teardown = True


def _exit_now(code: Any) -> NoReturn:
    """End the process with the exit status sys.exit(code) gives, once stdout and stderr are flushed."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        sys.stderr.write(f"{code}\n")
        status = 1
    for stream in (sys.stdout, sys.stderr):
        # a reader that went away, a closed stream: nothing left to flush to
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    os._exit(status)


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
        if isinstance(error, OSError) and error.filename is not None:  # a path the user named or chose
            from paybill_iac.errors import path_problem

            click.echo(f"error: {path_problem(error)}", err=True)
            sys.exit(2)
        click.echo(f"internal error: {type(error).__name__}: {error}. Please report it with the command you ran; "
                   "set PAYBILL_DEBUG=1 to see the traceback.", err=True)
        import os

        if os.environ.get("PAYBILL_DEBUG"):
            raise
        sys.exit(70)


if __name__ == "__main__":
    main()

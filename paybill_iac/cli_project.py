"""The one way every command names its catalog and its state: `project_options`.

Each command that reads a catalog takes it as `--catalog DIR` (and, where the catalog is the command's
subject, as a positional CATALOG too), then PAYBILL_CATALOG, then the project's (paybill.yaml, found
from the working directory or `paybill-iac -C DIR`; paybill_iac.project). Commands that keep state add
--state-url, --state-dir and --backend the same way. The command's body receives absolute paths, or
the whole `Project`, and the project used is named on stderr in one line (stdout stays a clean
report). Only click and the standard library at import.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from paybill_iac.project import Project

DIRECTORY_KEY = "paybill.directory"
ANNOUNCED_KEY = "paybill.announced"


def change_directory(ctx: click.Context, directory: Path | None) -> None:
    """`-C DIR`: run as if started in DIR (like git and make: paths typed later are relative to DIR), which
    must be inside a project. The working directory comes back when the command ends."""
    if directory is None:
        return
    from paybill_iac.errors import UsageError

    if not directory.is_dir():
        raise UsageError(f"-C {directory}: no such folder ({directory.resolve()})")
    previous = Path.cwd()
    os.chdir(directory)
    ctx.call_on_close(lambda: os.chdir(previous))
    ctx.meta[DIRECTORY_KEY] = directory


def current_project(*, catalog: Path | None = None, state_dir: Path | None = None, state_url: str | None = None,
                    backend_url: str | None = None, announce: bool = True) -> Project:
    """The project of the running command (see paybill_iac.project.resolve), named once on stderr."""
    from paybill_iac import project

    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    directory = Path.cwd() if meta.get(DIRECTORY_KEY) is not None else None
    found = project.resolve(directory=directory, catalog=catalog, state_dir=state_dir, state_url=state_url,
                            backend_url=backend_url or None)
    if announce and not meta.get(ANNOUNCED_KEY):
        click.echo(f"paybill-iac: {found.describe()}", err=True)
        meta[ANNOUNCED_KEY] = True
    return found


def project_options(*, positional: bool = False, catalog: bool = True, state: bool = False, backend: bool = True,
                    inject: str = "catalog") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the catalog options (`positional`: also as an optional CATALOG argument) and, with `state`,
    --state-url, --state-dir and (with `backend`) --backend; the body gets `inject`: the catalog's absolute
    path under that name, or the whole Project when inject == "project"."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def body(*args: Any, **kwargs: Any) -> Any:
            typed = _one_catalog(kwargs.pop("catalog_argument", None), kwargs.pop("catalog_option", None))
            given = {"state_dir": kwargs.pop("state_dir", None), "state_url": kwargs.pop("state_url", None),
                     "backend_url": kwargs.pop("backend_url", None)} if state else {}
            found = current_project(catalog=typed, **given)
            kwargs[inject] = found if inject == "project" else found.catalog
            return function(*args, **kwargs)

        options: list[Callable[[Any], Any]] = []
        if catalog:
            options.append(click.option(
                "--catalog", "catalog_option", default=None, metavar="DIR",
                type=click.Path(file_okay=False, path_type=Path),
                help="The catalog folder [default: $PAYBILL_CATALOG, else the project's (paybill.yaml), "
                     "else stacks/catalog]."))
        if state:
            options.append(
                click.option("--state-url", envvar="PAYBILL_STATE_URL", default=None,
                             help="Database for leases and the journal (sqlite:///file or postgresql+psycopg://...) "
                                  "[default: paybill.yaml's state.url, else a SQLite file in the state folder]."))
            options.append(
                click.option("--state-dir", envvar="PAYBILL_STATE_DIR", default=None, metavar="DIR",
                             type=click.Path(file_okay=False, path_type=Path),
                             help="Work dirs, saved plans, the default database and file backend "
                                  "[default: paybill.yaml's state.dir, else <project root>/.paybill]."))
        if state and backend:
            options.append(
                click.option("--backend", "backend_url", default=None, envvar="PAYBILL_BACKEND_URL",
                             help="Pulumi backend URL [default: paybill.yaml's backend, else file:// under the "
                                  "state folder]."))
        if positional:
            options.append(click.argument("catalog_argument", metavar="[CATALOG]", required=False,
                                          type=click.Path(file_okay=False, path_type=Path)))
        for option in reversed(options):
            body = option(body)
        return body

    return decorate


def _one_catalog(argument: Path | None, option: Path | None) -> Path | None:
    if argument is not None and option is not None and argument != option:
        from paybill_iac.errors import UsageError

        raise UsageError(f"two catalogs given: {argument} and --catalog {option}; name it once")
    return argument if argument is not None else option

"""`paybill-iac db apply|suspend|resume|status|drop --tenant ID`: the tenant data plane
(paybill_iac.dataplane) on the command line. Only click and the standard library are imported here;
psycopg and the data plane load when a command runs.

apply, suspend, resume and status act directly on the tenant's database, as the catalog describes it,
through the operator's admin connection (PAYBILL_DB_*, see paybill_iac.dataplane.targets); they are
what a container job inside the cell's network runs. drop is retention end: it goes through the
automation layer (journal, lease, an agent's approval) like `paybill-iac lifecycle ...`.

Exit codes: 0 done (status: healthy), 1 the server or the data plane said no (status: problems
found), 2 usage or configuration (unknown tenant, no admin connection, psycopg missing).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from paybill_iac.cli_ops import _common
from paybill_iac.cli_project import project_options

if TYPE_CHECKING:
    from paybill_iac.project import Project

HELP = """The tenant data plane: each tenant's PostgreSQL database, its owner and login roles, its
grants and the cloud's login mapping, on its server (a pooled tenant's cell, a bridge or silo
tenant's own instance). Every command is idempotent: a second apply changes nothing, and a run that
failed half-way is completed by the next one.

Cell servers have private endpoints only: run these commands inside the cell's network, as a
container job (a Kubernetes Job, an ECS task, a Cloud Run job, an OCI container instance) whose
workload identity may read the admin secret; never from a laptop, never by opening the database to
the internet.

The admin connection comes from the environment (or the options below). Each variable may also be
given for one server, which wins: PAYBILL_DB_ADMIN_URL__CELL_AWS_EUW1_A (a cell's server) or
PAYBILL_DB_ADMIN_URL__TENANT_HOOLI (a bridge or silo tenant's instance).

\b
  PAYBILL_DB_ADMIN_URL           postgresql://<admin>@<host>:<port>/<dbname>?sslmode=require
                                 (no password in it: such a URL is refused)
  PAYBILL_DB_ADMIN_SECRET        the secret holding the admin's password (unset: PGPASSWORD
                                 or ~/.pgpass)
  PAYBILL_DB_ADMIN_SECRET_FIELD  its JSON field (the RDS-managed master secret: password)
  PAYBILL_DB_SECRET_STORE        env (PAYBILL_SECRET_<NAME> variables; the default),
                                 aws[:<region>], gcp:<project>, oci:<vault ocid>,
                                 azure-keyvault:<vault url>, azure-entra (the admin's Entra
                                 token), none

No password is ever printed: reports show their SQL with secrets as ***.

\b
Examples:
  PAYBILL_DB_ADMIN_URL=postgresql://postgres@10.0.0.5/postgres PAYBILL_DB_ADMIN_SECRET=admin \\
  PAYBILL_SECRET_ADMIN=... paybill-iac db apply --tenant acme
  paybill-iac db apply --tenant acme --dry-run          the SQL that would run
  paybill-iac db status --tenant acme --format json
  paybill-iac db suspend --tenant acme
  paybill-iac db apply --tenant globex --outputs globex.json   (Azure: the identity's object id)
"""


@click.group(help=HELP)
def db() -> None:
    pass


def _options(dry_run: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--tenant", "tenant_id", required=True, metavar="ID", help="The tenant."),
            click.option("--outputs", "outputs_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
                         envvar="PAYBILL_DB_OUTPUTS",
                         help="The tenant stack's outputs as JSON (`pulumi stack output --json`): needed on Azure "
                              "(the identity's object id), used where given elsewhere."),
            click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table",
                         show_default=True, help="How to print the report."),
            *_admin_options(),
        ]
        if dry_run:
            options.append(click.option("--dry-run", is_flag=True,
                                        help="Check only; print the SQL that would run. Changes nothing."))
        for option in reversed(options):
            command = option(command)
        return project_options()(command)

    return decorate


def _admin_options() -> list[Any]:
    return [
        click.option("--admin-url", default=None, metavar="URL",
                     help="The admin connection (default: PAYBILL_DB_ADMIN_URL[__CELL_<ID>|__TENANT_<ID>])."),
        click.option("--admin-secret", default=None, metavar="NAME",
                     help="The secret holding the admin's password (default: PAYBILL_DB_ADMIN_SECRET...)."),
        click.option("--admin-secret-field", default=None, metavar="FIELD",
                     help="Its JSON field (default: PAYBILL_DB_ADMIN_SECRET_FIELD...)."),
        click.option("--secret-store", default=None, metavar="SPEC",
                     help="Where secrets are read (default: PAYBILL_DB_SECRET_STORE, else env)."),
    ]


def _with_admin_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_admin_options()):
        command = option(command)
    return command


def _dataplane() -> Any:
    import logging

    from paybill_iac.errors import UsageError

    try:
        import paybill_iac.dataplane as dataplane
    except ImportError as error:
        raise UsageError(f"the data plane needs psycopg: pip install 'paybill-iac[postgres]' ({error})") from None
    # The command prints the report and every error itself: without a handler of its own, Python would
    # print the data plane's warnings a second time.
    logger = logging.getLogger("paybill_iac.dataplane")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return dataplane


def _read_outputs(path: Path | None) -> dict[str, Any] | None:
    from paybill_iac.errors import UsageError

    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"--outputs {path}: cannot read it as JSON ({type(error).__name__}: {error})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--outputs {path}: expected a JSON object (`pulumi stack output --json`)")
    return data


def _prepare(tenant_id: str, catalog: Path, outputs_file: Path | None, admin: dict[str, str | None]) -> Any:
    """(dataplane module, target, tenant state, AdminConnection, SecretStore) for the tenant."""
    dataplane = _dataplane()
    from paybill_iac.catalog import load_catalog
    from paybill_iac.dataplane.targets import AdminSettings, target_for

    loaded = load_catalog(catalog)
    target = target_for(loaded, tenant_id, _read_outputs(outputs_file))
    settings = AdminSettings.from_env(target, url=admin["admin_url"], secret=admin["admin_secret"],
                                      secret_field=admin["admin_secret_field"], store=admin["secret_store"])
    return dataplane, target, loaded.tenants[tenant_id].state, settings.connection(target), \
        settings.secret_store(target)


def _operation(name: str, help_text: str) -> Callable[..., Any]:
    @_options(dry_run=True)
    def body(tenant_id: str, catalog: Path, outputs_file: Path | None, output_format: str, dry_run: bool,
             **admin: str | None) -> None:
        from paybill_iac.errors import UsageError

        dataplane, target, state, connection, store = _prepare(tenant_id, catalog, outputs_file, admin)
        if state == "offboarded":
            raise UsageError(f"tenant '{tenant_id}' is offboarded: its database is kept until its retention ends "
                             f"(`paybill-iac db drop --tenant {tenant_id}` then)")
        if name == "resume" and state != "active":
            raise UsageError(f"tenant '{tenant_id}' is {state} in the catalog: its logins stay off (resume the tenant "
                             f"with `paybill-iac lifecycle resume {tenant_id}`, which resumes its database too)")
        options: dict[str, Any] = {"dry_run": dry_run}
        if name == "apply":
            options["active"] = state == "active"
        report = getattr(dataplane, name)(target.database, connection, store, **options)
        _print_report(report, output_format)

    return db.command(name, help=help_text)(body)


apply = _operation("apply", "Bring the tenant's database, roles, grants and login mapping to what the catalog says "
                            "(connection limit: the plan's db_connections; logins on only while the tenant is "
                            "active). Running it twice changes nothing.")
suspend = _operation("suspend", "Turn the tenant's logins off (NOLOGIN) and end its open sessions. Data and grants "
                                "stay.")
resume = _operation("resume", "Turn the tenant's logins on again (only while the catalog says it is active).")


@db.command("status", help="A read-only look at the tenant's database: owner, PUBLIC's privileges, the login's "
                           "state and connection limit, open sessions, the login mapping. Exit 1 when a problem is "
                           "found.")
@_options(dry_run=False)
def status(tenant_id: str, catalog: Path, outputs_file: Path | None, output_format: str,
           **admin: str | None) -> None:
    dataplane, target, _, connection, store = _prepare(tenant_id, catalog, outputs_file, admin)
    found = dataplane.status(target.database, connection, store)
    if output_format == "json":
        click.echo(json.dumps(found.to_dict(), indent=2, sort_keys=True))
    else:
        _print_status(found)
    if not found.healthy:
        raise SystemExit(1)


def _print_report(report: Any, output_format: str) -> None:
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        return
    click.echo(report.summary())
    rows = [(step, "would change" if report.dry_run else "changed") for step in report.changed]
    rows += [(step, "in place") for step in report.unchanged]
    if rows:
        _table([("STEP", "RESULT"), *rows])
    for note in report.notes:
        click.echo(f"note: {note}")
    if report.dry_run and report.statements:
        click.echo("SQL that would run:")
        for statement in report.statements:
            click.echo(f"  {statement}")


def _print_status(found: Any) -> None:
    from paybill_iac.model.words import plural

    where = f"cell '{found.cell}'" if found.cell else "no cell"
    verdict = "healthy" if found.healthy else plural(len(found.problems), 'problem')
    click.echo(f"tenant '{found.tenant}' ({where}) database '{found.database}' on {found.endpoint}: {verdict}")
    rows = [("database", f"exists, owned by {found.owner}" if found.database_exists else "does not exist"),
            ("PUBLIC", ", ".join(found.public_privileges) or "no privileges on the database")]
    if found.schema_public_owner is not None:
        opened = "open to PUBLIC" if found.schema_public_open_to_public else "closed to PUBLIC"
        rows.append(("schema public", f"owned by {found.schema_public_owner}, {opened}"))
    mapped = {True: "in place", False: "missing", None: "not checked"}[found.auth_mapping_present]
    rows.append(("auth", f"{found.auth}: {mapped}"))
    for login in found.logins:
        text = ("does not exist" if not login.exists else
                f"{'LOGIN' if login.can_login else 'NOLOGIN'}, connection limit {login.connection_limit}, "
                f"{plural(login.open_sessions, 'open session')}")
        rows.append((f"role {login.role}", text))
    rows.append(("open sessions", str(found.open_sessions)))
    rows += [("problem", problem) for problem in found.problems]
    _table(rows)


def _table(rows: list[tuple[str, str]]) -> None:
    width = max(len(first) for first, _ in rows)
    for first, second in rows:
        click.echo(f"{first.ljust(width)}  {second}")


@db.command("drop", help="Retention end, once an offboarding's retention ended: the stack's guards released, the "
                         "buckets OCI deletes only empty emptied, a pooled tenant's database and roles dropped, the "
                         "stack destroyed, the tenant offboarded. Irreversible: it asks first (--yes does not), and "
                         "an agent's run waits for a human approval (`paybill-iac review --approve ID`, then again "
                         "with --approval ID). Each step is journaled (up, empty-buckets, db-drop, destroy).")
@click.option("--tenant", "tenant_id", required=True, metavar="ID", help="The offboarding tenant.")
@click.option("--approval", type=int, default=None, help="Carry on with the drop a human approved.")
@click.option("--yes", is_flag=True, help="Do not ask for a confirmation.")
@_with_admin_options
@_common
def drop(tenant_id: str, approval: int | None, yes: bool, project: Project, actor: str, admin_url: str | None,
         admin_secret: str | None, admin_secret_field: str | None, secret_store: str | None) -> None:
    if not yes:
        click.confirm(f"Delete everything tenant '{tenant_id}' kept since its offboarding, its database included, "
                      "for good?", abort=True)
    _dataplane()
    from paybill_iac.automation import Automation, DirectDataPlane

    with Automation.open(project.catalog, actor=actor, state_url=project.state_url, state_dir=project.state_dir,
                         backend_url=project.backend_url, stacks_dir=project.stacks,
                         data_plane=DirectDataPlane(url=admin_url, secret=admin_secret,
                                                    secret_field=admin_secret_field, store=secret_store),
                         notify=lambda message: click.echo(f"note: {message}", err=True)) as auto:
        results = auto.retention_end(tenant_id, approval=approval)
    if not results:
        click.echo(f"the retention end of tenant '{tenant_id}' is done already")
    for result in results:
        if result.report is not None:
            _print_report(result.report, "table")
        else:
            click.echo(result.describe())

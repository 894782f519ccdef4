"""`paybill-iac serve`, `token create|list|revoke`, `migrate`: the control-plane service and what it needs
(principals and their tokens, a migrated state database). Only click and the standard library at module
level; uvicorn, the mcp SDK and the automation layer load when a command runs.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from paybill_iac.cli_project import project_options

if TYPE_CHECKING:
    from paybill_iac.project import Project
DEFAULT_BIND = "127.0.0.1:8470"
_DURATION = re.compile(r"^([1-9][0-9]{0,6})([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float | None:
    """`90m`, `12h`, `30d`, `2w` -> seconds; `never` -> None."""
    from paybill_iac.errors import UsageError

    if text == "never":
        return None
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise UsageError(f"duration '{text}': a number and a unit (s, m, h, d, w), e.g. 30d, or 'never'")
    return float(int(match.group(1)) * _UNITS[match.group(2)])


def parse_bind(bind: str) -> tuple[str, int]:
    from paybill_iac.errors import UsageError

    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--bind '{bind}': HOST:PORT, e.g. 127.0.0.1:8470")
    return host, int(port)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _state_options(command: Any) -> Any:
    """--state-url and --state-dir (paybill_iac.cli_project), handed to the command as its `project`."""
    return project_options(catalog=False, state=True, backend=False, inject="project")(command)


def _store(project: Project, what: str) -> Any:
    from paybill_iac.automation.store import Store

    return Store(project.database_url(what))


@click.command()
@project_options(state=True, inject="project")
@click.option("--bind", default=DEFAULT_BIND, show_default=True, metavar="HOST:PORT",
              help="Where to listen. Anything but loopback needs --tls-cert/--tls-key or --behind-tls-proxy.")
@click.option("--write-tools", is_flag=True,
              help="MCP: also register the write tools (up, refresh, lifecycle); default: read tools only.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="TLS certificate (PEM) to serve HTTPS.")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="TLS private key (PEM).")
@click.option("--behind-tls-proxy", is_flag=True,
              help="State that a TLS-terminating proxy fronts this server (allows a non-loopback bind without "
                   "--tls-cert).")
@click.option("--rate-limit", default=50.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Requests per second per token (sustained).")
@click.option("--burst", default=100, show_default=True, type=click.IntRange(min=1),
              help="Requests per token at once.")
@click.option("--max-body", default=64 * 1024, show_default=True, type=click.IntRange(min=1024, max=16 * 2**20),
              help="Largest request body, in bytes.")
@click.option("--approval-ttl", default="24h", show_default=True,
              help="How long an approval request may wait for its decision and use (e.g. 24h, 7d).")
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="Log every request.")
def serve(project: Project, bind: str, write_tools: bool,
          tls_cert: Path | None, tls_key: Path | None, behind_tls_proxy: bool, rate_limit: float, burst: int,
          max_body: int, approval_ttl: str, access_log: bool) -> None:
    """Run the control-plane service: REST for services, MCP at /mcp for AI agents, both with bearer tokens.

    It alone holds the Pulumi backend and cloud credentials (its environment) and runs every operation
    through the same Operator, leases, journal, gates and policy packs as the CLI, as the token's
    principal. GET /healthz is the only path without a token.
    """
    from paybill_iac.errors import UsageError

    host, port = parse_bind(bind)
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if not is_loopback(host) and tls_cert is None and not behind_tls_proxy:
        raise UsageError(f"--bind {bind} is not loopback: serve HTTPS (--tls-cert FILE --tls-key FILE), or state "
                         "that a TLS proxy fronts this server (--behind-tls-proxy); tokens never cross a network "
                         "in clear text")
    ttl = parse_duration(approval_ttl)
    if ttl is None:
        raise UsageError("--approval-ttl: approvals always expire; give a duration such as 24h")

    import uvicorn

    # Operations are CPU-bound Python in worker threads; hand the GIL back to the event loop (which answers the
    # reads) every millisecond instead of every five, so a running operation does not stall every read.
    sys.setswitchinterval(0.001)

    from paybill_iac.catalog import load_catalog
    from paybill_iac.service.app import asgi
    from paybill_iac.service.core import Service, ServiceConfig

    catalog = project.catalog
    loaded = load_catalog(catalog)  # refuse to start on an invalid catalog
    scheme = "https" if tls_cert else "http"
    shown_host = f"[{host}]" if ":" in host else host
    config = ServiceConfig(catalog_dir=catalog, state_url=project.database_url("serve"),
                           state_dir=project.require_state_dir("serve"), backend_url=project.backend_url,
                           write_tools=write_tools, rate=rate_limit, burst=burst, max_body=max_body,
                           approval_ttl=ttl, public_url=f"{scheme}://{shown_host}:{port}")
    service = Service(config)
    try:
        click.echo(f"paybill-iac serve: {scheme}://{shown_host}:{port} (REST /v1, MCP /mcp with "
                   f"{'read and write' if write_tools else 'read-only'} tools); catalog {catalog} "
                   f"({len(loaded.tenants)} tenants); state {service.store.db.safe_url}", err=True)
        uvicorn.run(asgi(service, bind_host=host), host=host, port=port, ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                    log_level="info", access_log=access_log, server_header=False, limit_concurrency=512,
                    timeout_keep_alive=10, h11_max_incomplete_event_size=16 * 1024, lifespan="on")
    finally:
        service.close()


@click.group()
def token() -> None:
    """Principals' bearer tokens for the service: create (printed once), list, revoke."""


@token.command("create")
@click.option("--principal", "name", required=True, help="Who the token is for (lowercase, digits, . _ -).")
@click.option("--kind", required=True, type=click.Choice(["human", "agent"]), help="A person or an AI agent.")
@click.option("--role", required=True, type=click.Choice(["viewer", "operator", "approver", "admin"]),
              help="viewer: reads; operator: reads and operations; approver: reads and approvals (humans); "
                   "admin: all (humans).")
@click.option("--tenants", "tenants", multiple=True, metavar="SELECTOR",
              help="Tenants it may touch: an id, plan:ID, cloud:ID, cell:ID or '*' (repeatable, or several "
                   "separated by spaces or commas). Humans default to '*'; agents must name them.")
@click.option("--max-changes", default=10, show_default=True, type=int,
              help="The principal's change budget: most resources one operation changes without a human approval.")
@click.option("--expires", default="90d", show_default=True, help="Lifetime (30d, 12h, 2w) or 'never'.")
@_state_options
def token_create(name: str, kind: str, role: str, tenants: tuple[str, ...], max_changes: int, expires: str,
                 project: Project) -> None:
    """Create a token and print it once, alone on stdout (the database keeps only its hash)."""
    from paybill_iac.automation.store.principals import Principals
    from paybill_iac.identity import local_actor

    lifetime = parse_duration(expires)
    selectors = [part for value in tenants for part in re.split(r"[,\s]+", value) if part]
    store = _store(project, "token create")
    try:
        principals = Principals(store.db)
        expires_at = None if lifetime is None else store.clock() + lifetime
        secret, record = principals.create_token(name, kind=kind, role=role, tenants=selectors,
                                                 max_changes=max_changes, expires_at=expires_at,
                                                 created_by=local_actor())
    finally:
        store.close()
    principal = record.principal
    click.echo(secret)
    click.echo(f"token {record.id} for {principal.actor}: {principal.role} of {' '.join(principal.tenants)}, "
               f"change budget {principal.max_changes}, "
               f"{'never expires' if record.expires_at is None else 'expires ' + _iso(record.expires_at)}. "
               "It is shown once: the database keeps only its hash.", err=True)


@token.command("list")
@click.option("--principal", "name", default=None, help="Only this principal's tokens.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@_state_options
def token_list(name: str | None, as_json: bool, project: Project) -> None:
    """Every token (never a secret): its principal, role, tenants, budget, expiry and state. Reads only:
    without a state database yet it says so and lists none (it never creates one)."""
    from paybill_iac.automation.store.principals import Principals

    missing = project.missing_database()
    if missing is not None:
        click.echo(f"token list: {missing}", err=True)
        return
    store = _store(project, "token list")
    try:
        found = Principals(store.db).tokens(name)
        now = store.clock()
    finally:
        store.close()
    rows = [("ID", "PRINCIPAL", "KIND", "ROLE", "TENANTS", "BUDGET", "CREATED", "EXPIRES", "STATE")]
    for record in found:
        principal = record.principal
        if as_json:
            click.echo(json.dumps({"id": record.id, **principal.as_dict(), "created_at": record.created_at,
                                   "created_by": record.created_by, "expires_at": record.expires_at,
                                   "revoked_at": record.revoked_at, "revoked_by": record.revoked_by,
                                   "state": record.state(now)}, sort_keys=True))
            continue
        rows.append((record.id, principal.name, principal.kind, principal.role, ",".join(principal.tenants),
                     str(principal.max_changes), _iso(record.created_at),
                     _iso(record.expires_at) if record.expires_at else "never", record.state(now)))
    if not as_json:
        widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
        for row in rows:
            click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@token.command("revoke")
@click.argument("token_id", required=False, metavar="ID")
@click.option("--principal", "name", default=None, help="Revoke every token of this principal instead.")
@_state_options
def token_revoke(token_id: str | None, name: str | None, project: Project) -> None:
    """Revoke a token (by its id, as `token list` shows it) or every token of a principal."""
    from paybill_iac.automation.store.principals import Principals
    from paybill_iac.errors import UsageError
    from paybill_iac.identity import local_actor
    from paybill_iac.model.words import plural

    store = _store(project, "token revoke")
    try:
        revoked = Principals(store.db).revoke(token_id=token_id, principal=name, by=local_actor())
    finally:
        store.close()
    if not revoked:
        raise UsageError(f"no valid token {'#' + token_id if token_id else 'of principal ' + str(name)} to revoke")
    click.echo(f"revoked {plural(revoked, 'token')}; the server refuses them from its next request")


@click.command()
@_state_options
@click.option("--service-role", default=None, metavar="ROLE",
              help="PostgreSQL: give this role (the one `serve` connects as) exactly what the service needs: "
                   "INSERT and SELECT on the journal and nothing else there.")
def migrate(project: Project, service_role: str | None) -> None:
    """Bring the state database's schema to this version's (Alembic migrations), as its owner."""
    from sqlalchemy import create_engine

    from paybill_iac.automation.store.migrate import grant_service_role, head, revision, upgrade
    from paybill_iac.errors import UsageError

    url = project.database_url("migrate")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            before = revision(conn)
            upgrade(conn)
            statements = grant_service_role(conn, service_role) if service_role else []
    except UsageError:
        raise
    except Exception as error:  # noqa: BLE001 - a database refusal is a sentence, never a traceback
        from paybill_iac.errors import OperationError

        raise OperationError(f"migrating the state database failed: {str(getattr(error, 'orig', error)).strip()}") \
            from None
    finally:
        engine.dispose()
    click.echo(f"state database at revision {head()} (was {before or 'empty'})")
    if statements:
        click.echo(f"granted {service_role}: {len(statements)} statements (journal: SELECT, INSERT only)")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def register(group: click.Group) -> None:
    """Add `serve`, `token` and `migrate` to the `paybill-iac` group."""
    for command in (serve, token, migrate):
        group.add_command(command)

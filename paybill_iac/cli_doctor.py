"""`paybill-iac doctor`: is this machine ready to run the project's stacks? Each check says ok, warn or fail,
and what to do. Exit 0 with no fail, 1 otherwise. Only click at import; the checks read the project, the
environment and PATH, and never create anything (the state database is opened only when it exists).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paybill_iac.cli_project import project_options

if TYPE_CHECKING:
    from paybill_iac.project import Project

INSTALL = "https://www.pulumi.com/docs/install/"

# Where each provider's SDK finds credentials (the providers' installation & configuration pages on the
# Pulumi registry): any environment variable of a group, or a file the SDK reads.
CREDENTIALS: dict[str, tuple[tuple[tuple[str, ...], ...], tuple[str, ...], str]] = {
    "aws": ((("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), ("AWS_PROFILE",), ("AWS_WEB_IDENTITY_TOKEN_FILE",)),
            ("~/.aws/credentials", "~/.aws/config"),
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run `aws configure` "
            "(https://www.pulumi.com/registry/packages/aws/installation-configuration/)"),
    "azure": ((("ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_TENANT_ID"), ("ARM_USE_OIDC", "ARM_CLIENT_ID"),
               ("ARM_USE_MSI",)),
              ("~/.azure/azureProfile.json",),
              "set ARM_CLIENT_ID, ARM_CLIENT_SECRET and ARM_TENANT_ID (or ARM_USE_OIDC / ARM_USE_MSI), or run `az "
              "login` (https://www.pulumi.com/registry/packages/azure-native/installation-configuration/)"),
    "gcp": ((("GOOGLE_CREDENTIALS",), ("GOOGLE_APPLICATION_CREDENTIALS",)),
            ("~/.config/gcloud/application_default_credentials.json",),
            "set GOOGLE_APPLICATION_CREDENTIALS to a key file, or run `gcloud auth application-default login` "
            "(https://www.pulumi.com/registry/packages/gcp/installation-configuration/)"),
    "oci": ((("TF_VAR_tenancy_ocid", "TF_VAR_user_ocid", "TF_VAR_fingerprint"),),
            ("~/.oci/config",),
            "set TF_VAR_tenancy_ocid, TF_VAR_user_ocid, TF_VAR_fingerprint and TF_VAR_private_key_path, or "
            "write ~/.oci/config (https://www.pulumi.com/registry/packages/oci/installation-configuration/)"),
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def pulumi_cli(env: dict[str, str]) -> Check:
    try:
        done = subprocess.run(["pulumi", "version"], capture_output=True, text=True, timeout=30, env=env)
    except FileNotFoundError:
        return Check("pulumi CLI", "fail", "not on PATH",
                     f"install it ({INSTALL}, e.g. `curl -fsSL https://get.pulumi.com | sh`); preview works without")
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check("pulumi CLI", "fail", f"`pulumi version` did not run: {error}", f"reinstall it ({INSTALL})")
    if done.returncode != 0:
        return Check("pulumi CLI", "fail", f"`pulumi version` failed: {done.stderr.strip()[:200]}",
                     f"reinstall it ({INSTALL})")
    return Check("pulumi CLI", "ok", done.stdout.strip() or "(no version printed)")


def backend(project: Project, env: dict[str, str], cli_ok: bool) -> Check:
    url = project.backend_url or (f"file://{project.state_dir / 'backend'}" if project.state_dir else "")
    if not url:
        return Check("backend", "warn", "no project and no --backend: no backend to check",
                     "run from a project (paybill.yaml) or give --backend URL")
    if url.startswith("file://"):
        folder = Path(url.removeprefix("file://")).expanduser()
        existing = next((path for path in (folder, *folder.parents) if path.exists()), folder)
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            return Check("backend", "fail", f"{url}: {existing} is not a writable folder",
                         f"make {existing} writable, or set `backend:` in paybill.yaml / --backend")
        return Check("backend", "ok", f"{url} (file backend, writable)")
    if not cli_ok:
        return Check("backend", "warn", f"{url}: not checked without the Pulumi CLI", f"install it ({INSTALL})")
    done = subprocess.run(["pulumi", "whoami", "--non-interactive"], capture_output=True, text=True, timeout=60,
                          env={**env, "PULUMI_BACKEND_URL": url})
    if done.returncode != 0:
        return Check("backend", "fail", f"{url}: `pulumi whoami` failed: {done.stderr.strip()[:200]}",
                     "log in (`pulumi login URL`, or PULUMI_ACCESS_TOKEN for Pulumi Cloud)")
    return Check("backend", "ok", f"{url} as {done.stdout.strip()}")


def credentials(cloud: str, env: dict[str, str], home: Path) -> Check:
    groups, files, fix = CREDENTIALS[cloud]
    for group in groups:
        if all(env.get(name) for name in group):
            return Check(f"{cloud} credentials", "ok", f"from the environment ({', '.join(group)})")
    for name in files:
        path = home / name.removeprefix("~/")
        if path.is_file():
            return Check(f"{cloud} credentials", "ok", f"from {path}")
    return Check(f"{cloud} credentials", "fail", "none found in the environment or the SDK's files", fix)


def clouds_in_use(project: Project) -> tuple[list[str], Check | None]:
    from paybill_iac.catalog import load_catalog
    from paybill_iac.errors import PaybillError

    try:
        catalog = load_catalog(project.catalog)
    except PaybillError as error:
        return [], Check("catalog", "fail", f"{project.catalog}: {str(error).splitlines()[0]}",
                         "run `paybill-iac validate` and fix what it lists")
    used = {tenant.cloud for tenant in catalog.tenants.values()}  # a cell is deployed only with a tenant on it
    return sorted(used), Check("catalog", "ok", f"{project.catalog}: {len(catalog.tenants)} tenants on "
                                                f"{', '.join(sorted(used)) or 'no cloud'}")


def policy_packs() -> Check:
    try:
        from paybill_policies import PACKS, rules

        counts = {pack: sum(1 for rule in rules() if rule.pack == pack) for pack in PACKS}
    except Exception as error:  # noqa: BLE001 - a pack that does not import is what this check reports
        return Check("policy packs", "fail", f"the rules do not load: {type(error).__name__}: {error}",
                     "reinstall paybill-iac (`pip install -e .`) and check policy_packs/")
    empty = [pack for pack, count in counts.items() if count == 0]
    if empty:
        return Check("policy packs", "fail", f"no rules in {', '.join(empty)}", "check policy_packs/")
    return Check("policy packs", "ok", ", ".join(f"{pack} ({count} rules)" for pack, count in counts.items()))


def state_database(project: Project) -> Check:
    missing = project.missing_database()
    if missing is not None:
        return Check("state database", "warn", missing, "created on the first operation (or `paybill-iac migrate`)")
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from paybill_iac.automation.store.migrate import head, revision

    url = project.database_url()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            current = revision(conn)
    except (SQLAlchemyError, ImportError) as error:
        return Check("state database", "fail", f"{url}: not reachable: {error}", "check the URL, network and driver")
    finally:
        engine.dispose()
    if current != head():
        return Check("state database", "fail", f"schema at {current}, this version needs {head()}",
                     "run `paybill-iac migrate` as the database's owner")
    return Check("state database", "ok", f"reachable, schema at the head ({current})")


def run_checks(project: Project, env: dict[str, str], home: Path) -> list[Check]:
    checks = [pulumi_cli(env)]
    checks.append(backend(project, env, checks[0].status == "ok"))
    clouds, catalog = clouds_in_use(project)
    if catalog is not None:
        checks.append(catalog)
    checks += [credentials(cloud, env, home) for cloud in clouds if cloud in CREDENTIALS]
    checks += [policy_packs(), state_database(project)]
    return checks


@click.command()
@project_options(state=True, inject="project")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def doctor(project: Project, fmt: str) -> None:
    """Check what running the project's stacks needs: the Pulumi CLI and its version, the backend, the
    credentials of each cloud the catalog uses, the policy packs, the state database and its schema. Each
    check is ok, warn or fail, with the fix. Exit 0 with no fail, 1 otherwise."""
    checks = run_checks(project, dict(os.environ), Path.home())
    if fmt == "json":
        click.echo(json.dumps([asdict(check) for check in checks], indent=2))
    else:
        width = max(len(check.name) for check in checks)
        for check in checks:
            click.echo(f"{check.status.upper():4}  {check.name.ljust(width)}  {check.detail}"
                       + (f"\n      {' ' * width}  fix: {check.fix}" if check.fix and check.status != "ok" else ""))
    if any(check.status == "fail" for check in checks):
        sys.exit(1)

"""`paybill-iac policy ...`: the CrossGuard policy packs from the command line.

Only click and the standard library at import: the rule library loads when a command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paybill_iac.cli_project import project_options


@click.group()
def policy() -> None:
    """CrossGuard policy packs (plan-limits, tenant-isolation, agent-guardrails)."""


@policy.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@project_options(inject="catalog_dir")
@click.option("--actor", default="human", show_default=True,
              help="Who deploys: human, or agent:<name> (the agent guardrails apply to agents).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--pack", "packs", multiple=True, type=click.Choice(["plan-limits", "tenant-isolation",
                                                                  "agent-guardrails"]),
              help="Only this pack (repeatable); all three by default.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              help="A policy-pack config file setting enforcement levels ({\"all\": \"advisory\", "
                   "\"<rule-id>\": \"disabled\"}).")
def check(file: Path, catalog_dir: Path, actor: str, fmt: str, packs: tuple[str, ...], config: Path | None) -> None:
    """Evaluate the packs offline over FILE: a `pulumi stack export` (version 3) or the JSON
    `paybill-iac preview` writes.

    The tenant is the stack name in the resource URNs; its plan comes from the catalog. Exit 0 with no
    mandatory violation, 1 with any, 2 on bad input (unreadable file, unknown tenant).
    """
    import json

    from paybill_iac import policycheck

    result = policycheck.check(file, catalog_dir, actor, list(packs) or None, policycheck.load_enforcement(config))
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2, sort_keys=True))
    else:
        click.echo(policycheck.table(result))
    sys.exit(result.exit_code)


@policy.command("config")
@click.argument("stack")
@click.option("--project", default="paybill-tenant", show_default=True,
              type=click.Choice(["paybill-tenant", "paybill-cell"]), help="A tenant's stack, or a cell's.")
@project_options(inject="catalog_dir")
@click.option("--actor", default="human", show_default=True,
              help="Who deploys: human, or agent:<name> (the agent guardrails apply to agents).")
@click.option("--out-dir", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where to write policy-<pack>.json, one file per pack.")
def config(stack: str, project: str, catalog_dir: Path, actor: str, out_dir: Path) -> None:
    """Write the policy config of STACK for each pack, for
    `pulumi preview --policy-pack policy_packs/<pack> --policy-pack-config policy-<pack>.json`.

    The packs read no catalog: without this config a stack is unknown to them (only the rules that need
    no context run, and `<cloud>-stack-known-to-catalog` refuses it). The automation layer writes the
    same config for every run it makes.
    """
    import json

    from paybill_policies import PACKS, ContextError, policy_config

    from paybill_iac.catalog import load_catalog
    from paybill_iac.errors import CatalogError, UsageError
    from paybill_iac.policy_context import context_from_catalog
    from paybill_iac.policycheck import ACTOR

    if not ACTOR.match(actor):
        raise UsageError(f"actor '{actor}' is not 'human' or 'agent:<name>'")
    try:
        context = context_from_catalog(load_catalog(catalog_dir), project, stack, actor)
    except CatalogError as error:
        raise UsageError(f"the catalog cannot be used: {error}") from None
    except ContextError as error:
        raise UsageError(str(error)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    for pack in PACKS:
        path = out_dir / f"policy-{pack}.json"
        path.write_text(json.dumps(policy_config(context, pack), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        click.echo(f"wrote {path}")


@policy.command("build")
@click.option("--out", "out_dir", default="dist/policy-packs", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where to write one folder per pack.")
@click.option("--pack", "packs", multiple=True, type=click.Choice(["plan-limits", "tenant-isolation",
                                                                  "agent-guardrails"]),
              help="Only this pack (repeatable); all three by default.")
def build(out_dir: Path, packs: tuple[str, ...]) -> None:
    """Build publishable packs: each folder holds its PulumiPolicy.yaml, __main__.py, requirements.txt and the
    rule library's wheel at the pack's version, and nothing outside it. Publish one with
    `pulumi policy publish OUT/<pack>`.
    """
    from paybill_policies import PACKS
    from paybill_policies.build import build_pack, build_wheel

    wheel = build_wheel(out_dir / ".wheels")
    for pack in packs or PACKS:
        click.echo(f"wrote {build_pack(pack, out_dir, wheel)}")


@policy.command("rules")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
def list_rules(fmt: str) -> None:
    """Every rule of the three packs (the reference in the README)."""
    if fmt == "markdown":
        from paybill_policies.docs import markdown

        click.echo(markdown(), nl=False)
        return
    import json

    from paybill_policies import rules

    click.echo(json.dumps([{
        "id": rule.id, "pack": rule.pack, "cloud": rule.cloud, "types": list(rule.types), "kind": rule.kind,
        "description": rule.description, "severity": rule.severity, "enforcement": rule.enforcement,
        "remediation": rule.remediation, "remediates": rule.remediate is not None, "approval": rule.approval,
    } for rule in rules()], indent=2))

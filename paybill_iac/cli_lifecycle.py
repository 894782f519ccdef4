"""`paybill-iac lifecycle plan TENANT --to STATE | --plan PLAN`: the offline lifecycle plan.

Runs the tenant's stack program before and after each step of the transition under the mock runtime
(no Pulumi CLI, no cloud account) and shows what the engine would do with each resource (create,
update, replace, delete, delete but keep) and what would refuse it, then whether the lifecycle's
invariants hold (paybill_iac.lifecycle_plan). Only click is imported at module level.

Exit codes: 0 every step goes through and every invariant holds, 1 not, 2 usage (unknown tenant,
plan or transition, an invalid catalog).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paybill_iac.cli_project import project_options

STATES = ("active", "suspended", "offboarding", "offboarded")


@click.command("plan")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--to", "to_state", type=click.Choice(STATES), default=None,
              help="The state the tenant goes to (offboarded: retention end).")
@click.option("--plan", "to_plan", default=None, metavar="PLAN", help="The plan the tenant changes to.")
@project_options()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=None,
              help="Write the plan to FILE (`-`: stdout).")
def plan(tenant_id: str, to_state: str | None, to_plan: str | None, catalog: Path, fmt: str,
         output: Path | None) -> None:
    """Show offline what the engine would do when TENANT changes state or plan, and whether the
    lifecycle's invariants hold (no guarded data lost, kept data closed under its dependencies, a
    final backup, nothing left at retention end, no name collision, no key deleted too early)."""
    from paybill_iac.errors import UsageError

    if (to_state is None) == (to_plan is None):
        raise UsageError("give exactly one of --to STATE and --plan PLAN")
    from paybill_iac.catalog import load_catalog
    from paybill_iac.errors import TransitionError
    from paybill_iac.lifecycle_plan.catalog import transition_to_plan, transition_to_state
    from paybill_iac.lifecycle_plan.render import to_json, to_table
    from paybill_iac.lifecycle_plan.run import StackRunner, plan_transition

    loaded = load_catalog(catalog)
    try:
        found = (transition_to_state(loaded, tenant_id, to_state) if to_state is not None
                 else transition_to_plan(loaded, tenant_id, str(to_plan)))
    except TransitionError as error:
        raise UsageError(str(error)) from None
    runner = StackRunner()  # the stack programs' bodies (paybill_components.stack.build_tenant, build_cell)
    for qualified, spec in sorted(found.cells.items()):
        runner.add_cell(spec, qualified)
    result = plan_transition(found.transition, runner)
    text = to_json(result) if fmt == "json" else to_table(result)
    if output is None or str(output) == "-":
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{'ok' if result.ok else 'FAIL'}: {found.transition.name} of tenant {tenant_id}: wrote {output}")
    if not result.ok:
        sys.exit(1)

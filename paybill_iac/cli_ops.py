"""`paybill-iac up|refresh|destroy`, `lifecycle ...`, `fleet ...`, `journal`, `review`: the automation
layer (paybill_iac.automation) on the command line. Only click and the standard library are imported
here; the automation package loads when a command runs.

Who acts is the OS user running the command (`human:<user>` in the journal and approvals), never a typed
name: `--actor` and PAYBILL_ACTOR are refused. With PAYBILL_SERVER_URL and PAYBILL_TOKEN set, the commands
go through the control-plane service as the token's principal (paybill_iac.service.client) instead.

Exit codes as everywhere: 0 done, 1 an operation, a gate, a lease or the catalog said no, 2 usage
(including a missing Pulumi CLI).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from paybill_iac.cli_project import project_options

if TYPE_CHECKING:
    from paybill_iac.automation import Automation
    from paybill_iac.project import Project


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    """--catalog, --state-url, --state-dir, --backend on every automation command, resolved into `project`
    (paybill_iac.cli_project), and `actor`: the OS user."""
    command = click.option("--actor", default=None, envvar="PAYBILL_ACTOR", hidden=True, callback=_os_actor,
                           help="Refused: the journal records the OS user; agents act through the service.")(command)
    return project_options(state=True, inject="project")(command)


def _os_actor(_ctx: click.Context, _param: click.Parameter, typed: str | None) -> str:
    """Who runs the command: `human:<OS user>`. A typed name is refused, never trusted."""
    from paybill_iac.errors import UsageError
    from paybill_iac.identity import local_actor

    if typed is not None:
        raise UsageError(f"--actor/PAYBILL_ACTOR ('{typed}') is not accepted: the journal records who runs the "
                         f"command, the OS user ({local_actor()}); an agent acts through the service with its own "
                         "token (PAYBILL_SERVER_URL, PAYBILL_TOKEN)")
    return local_actor()


def missing_database(project: Project) -> str | None:
    """Project.missing_database, unless the command goes through the service (whose database it is)."""
    from paybill_iac.service.client import remote_from_env

    return None if remote_from_env() is not None else project.missing_database()


@contextmanager
def _automation(project: Project, actor: str) -> Iterator[Automation]:
    """The Automation of one command (through the service when PAYBILL_SERVER_URL and PAYBILL_TOKEN are set);
    SIGINT or SIGTERM during an operation ends the command with 128 + the signal once the operation was
    journaled as interrupted and its lease released."""
    from paybill_iac.service.client import remote_from_env

    remote = remote_from_env()
    if remote is not None:
        with remote:
            yield remote  # type: ignore[misc]
        return
    from paybill_iac.automation import Automation, OperationInterrupted

    auto = Automation.open(project.catalog, actor=actor, state_url=project.state_url, state_dir=project.state_dir,
                           backend_url=project.backend_url, stacks_dir=project.stacks,
                           notify=lambda message: click.echo(f"note: {message}", err=True))
    try:
        yield auto
    except OperationInterrupted as stopped:
        click.echo(f"interrupted: {stopped}; the journal says so and the lease is released"
                   + ("; the stack is flagged for review (`paybill-iac review`)" if stopped.phase not in
                      ("preview", "gate", "start") else ""), err=True)
        sys.exit(stopped.exit_code)
    finally:
        auto.close()


def _hook(spec: str | None, option: str) -> Callable[..., Any] | None:
    """`module:function` -> the function (a service's data-move, cut-over or snapshot hook)."""
    from paybill_iac.errors import UsageError

    if spec is None:
        return None
    module, _, name = spec.partition(":")
    if not module or not name:
        raise UsageError(f"{option} '{spec}': expected module:function")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise UsageError(f"{option} '{spec}': cannot load it ({error})") from None
    if not callable(found):
        raise UsageError(f"{option} '{spec}' is not callable")
    return found  # type: ignore[no-any-return]


def _print_result(result: Any) -> None:
    click.echo(f"{result.operation} {result.stack}: {result.summary.describe()}"
               + (f" (after {result.attempts} attempts)" if result.attempts > 1 else "")
               + (f" (approval #{result.approval})" if result.approval else ""))


def _stack_command(operation: str, approval: bool) -> Callable[..., Any]:
    def body(tenant: str | None, cell: str | None, approval: int | None = None, **common: Any) -> None:
        with _automation(**common) as auto:
            run = getattr(auto, operation)
            result = run(tenant=tenant, cell=cell, **({"approval": approval} if approval is not None else {}))
            for item in result.report or () if operation == "refresh" else ():  # the drift it adopted
                click.echo(f"adopted {item.op} {item.type} {item.urn.rsplit('::', 1)[-1]}: "
                           f"{', '.join(item.paths) or 'gone from the cloud'}")
            _print_result(result)

    body = click.option("--cell", default=None, help="The cell's stack.")(body)
    body = click.option("--tenant", default=None, help="The tenant's stack.")(body)
    if approval:
        body = click.option("--approval", type=int, default=None,
                            help="Apply the change a human approved (request id from the refusal).")(body)
    return _common(body)


up = click.command("up", help="Deploy a tenant's or a cell's stack as the catalog describes it, with every "
                              "policy pack attached. An agent's up is previewed and gated first.")(
    _stack_command("up", approval=True))
refresh = click.command("refresh", help="Adopt a stack's drift into its state, on purpose: the drift is previewed "
                                        "and journaled with its diff first (`paybill-iac drift` only shows it). An "
                                        "agent's refresh is gated like an up.")(
    _stack_command("refresh", approval=True))
destroy = click.command("destroy", help="Destroy a stack: a tenant only while offboarding, a cell only when no "
                                        "tenant remains on it.")(_stack_command("destroy", approval=True))


@click.group()
def lifecycle() -> None:
    """Tenant lifecycle workflows; each updates the catalog when it completes."""


def _lifecycle(name: str, help_text: str, extra: list[Any]) -> Callable[..., Any]:
    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        command = click.argument("tenant_id", metavar="ID")(function)
        command = click.option("--approval", type=int, default=None,
                               help="Carry on with the change a human approved.")(command)
        for option in extra:
            command = option(command)
        return lifecycle.command(name, help=help_text)(_common(command))

    return decorate


def _print_results(results: list[Any], done: str) -> None:
    for result in results:
        _print_result(result)
    click.echo(done)


PLAN_ONLY_HELP = ("Touch no stack: edit the catalog, declare the workflow in the ledger (placements.yaml) and "
                  "regenerate the stack files, for a pull request; the workflow runs once it is merged "
                  "(paybill-iac lifecycle run-declared).")


def _print_declared(declared: Any, tenant_id: str) -> None:
    click.echo(f"declared: {declared.describe(tenant_id)}")
    click.echo(f"commit tenants/{tenant_id}.yaml, placements.yaml and the regenerated stack files in a pull "
               "request: its preview shows this workflow, and `paybill-iac lifecycle run-declared` runs it once "
               "the pull request is merged")


@_lifecycle("onboard", "Place, generate, bring up the cell if new and the tenant; set it active.", [])
def onboard(tenant_id: str, approval: int | None, **common: Any) -> None:
    with _automation(**common) as auto:
        _print_results(auto.onboard(tenant_id, approval=approval), f"tenant {tenant_id} is active")


@_lifecycle("change-plan", "Move a tenant to another plan (pooled, bridge and silo included); resumable.", [
    click.option("--plan", "plan", required=True, help="The new plan."),
    click.option("--data-move", default=None, metavar="MODULE:FUNCTION",
                 help="The service's data-move hook, called with a MoveContext after the new shape exists."),
    click.option("--cut-over", default=None, metavar="MODULE:FUNCTION",
                 help="The service's cut-over hook, called before the catalog switches plan."),
    click.option("--plan-only", is_flag=True, help=PLAN_ONLY_HELP),
])
def change_plan(tenant_id: str, plan: str, data_move: str | None, cut_over: str | None, approval: int | None,
                plan_only: bool, **common: Any) -> None:
    move, cut = _hook(data_move, "--data-move"), _hook(cut_over, "--cut-over")
    with _automation(**common) as auto:
        if plan_only:
            _print_declared(auto.declare_change_plan(tenant_id, plan), tenant_id)
            return
        results = auto.change_plan(tenant_id, plan, data_move=move, cut_over=cut, approval=approval)
        _print_results(results, f"tenant {tenant_id} is on plan {plan}")


@_lifecycle("move", "Move a pooled tenant to another cell, region or cloud, its data with it; resumable.", [
    click.option("--cell", default=None, help="The cell to move to (default: placed in its new region)."),
    click.option("--region", default=None, help="The region to move to."),
    click.option("--cloud", default=None, help="The cloud to move to (with --region)."),
    click.option("--data-move", default=None, metavar="MODULE:FUNCTION",
                 help="The service's data-move hook, called with a MoveContext once the new database exists."),
    click.option("--cut-over", default=None, metavar="MODULE:FUNCTION",
                 help="The service's cut-over hook, called before the catalog switches location."),
    click.option("--plan-only", is_flag=True, help=PLAN_ONLY_HELP),
])
def move(tenant_id: str, cell: str | None, region: str | None, cloud: str | None, data_move: str | None,
         cut_over: str | None, approval: int | None, plan_only: bool, **common: Any) -> None:
    moving, cut = _hook(data_move, "--data-move"), _hook(cut_over, "--cut-over")
    with _automation(**common) as auto:
        if plan_only:
            _print_declared(auto.declare_move(tenant_id, cell=cell, region=region, cloud=cloud), tenant_id)
            return
        results = auto.move(tenant_id, cell=cell, region=region, cloud=cloud, data_move=moving, cut_over=cut,
                            approval=approval)
        _print_results(results, f"tenant {tenant_id} moved")


@lifecycle.command("run-declared")
@click.option("--tenant", "tenants", multiple=True, help="Only these tenants (repeatable).")
@click.option("--data-move", default=None, metavar="MODULE:FUNCTION", help="The data-move hook (change-plan, move).")
@click.option("--cut-over", default=None, metavar="MODULE:FUNCTION", help="The cut-over hook (change-plan, move).")
@click.option("--snapshot", default=None, metavar="MODULE:FUNCTION", help="The snapshot hook (offboard).")
@_common
def run_declared(tenants: tuple[str, ...], data_move: str | None, cut_over: str | None, snapshot: str | None,
                 **common: Any) -> None:
    """Run the workflows the ledger declares (pull requests made with --plan-only, once merged). Exit 1 when one
    did not finish (run it again: each carries on from where it stopped)."""
    hooks = {"data_move": _hook(data_move, "--data-move"), "cut_over": _hook(cut_over, "--cut-over"),
             "snapshot": _hook(snapshot, "--snapshot")}
    with _automation(**common) as auto:
        done = auto.run_declared(tenants=list(tenants) or None, **hooks)
    for item in done:
        for result in item.results:
            _print_result(result)
        click.echo(f"{item.workflow} {item.tenant}: " + (f"failed: {item.error}" if item.error else "done"))
    if not done:
        click.echo("no declared workflow")
    if any(item.error for item in done):
        sys.exit(1)


@_lifecycle("suspend", "Suspend a tenant: its identity is granted nothing; all data stays.", [])
def suspend(tenant_id: str, approval: int | None, **common: Any) -> None:
    with _automation(**common) as auto:
        _print_results(auto.suspend(tenant_id, approval=approval), f"tenant {tenant_id} is suspended")


@_lifecycle("resume", "Resume a suspended tenant.", [])
def resume(tenant_id: str, approval: int | None, **common: Any) -> None:
    with _automation(**common) as auto:
        _print_results(auto.resume(tenant_id, approval=approval), f"tenant {tenant_id} is active")


@_lifecycle("offboard", "Offboard a tenant: its access removed, logins off, a final backup (its id journaled); "
                        "the stack and everything its data needs stay until retention end (lifecycle retention-end).", [
    click.option("--snapshot", default=None, metavar="MODULE:FUNCTION",
                 help="The service's snapshot hook, called once the final backup is taken."),
    click.option("--plan-only", is_flag=True, help=PLAN_ONLY_HELP),
])
def offboard(tenant_id: str, snapshot: str | None, approval: int | None, plan_only: bool, **common: Any) -> None:
    from paybill_iac.model.words import plural

    hook = _hook(snapshot, "--snapshot")
    with _automation(**common) as auto:
        if plan_only:
            _print_declared(auto.declare_offboard(tenant_id), tenant_id)
            return
        results = auto.offboard(tenant_id, snapshot=hook, approval=approval)
        retained = auto.store.retained.find(tenant_id)
        until = max((item.retain_until for item in retained), default=None)
        _print_results(results, f"tenant {tenant_id} is offboarding; its stack ({plural(len(retained), 'resource')}) "
                       "is kept" + (f" until {_iso(until)}" if until else "")
                       + f", then `paybill-iac lifecycle retention-end {tenant_id}`")


@_lifecycle("cancel-offboarding", "An offboarding tenant back to active before its retention ended: its access and "
                                  "logins back; its final backup leaves the stack (kept in the cloud).", [])
def cancel_offboarding(tenant_id: str, approval: int | None, **common: Any) -> None:
    with _automation(**common) as auto:
        _print_results(auto.cancel_offboarding(tenant_id, approval=approval), f"tenant {tenant_id} is active")


@_lifecycle("retention-end", "Once an offboarding's retention ended: the stack's guards released, the buckets OCI "
                             "deletes only empty emptied, a pooled tenant's database dropped (the data plane's admin "
                             "connection from PAYBILL_DB_*), the stack destroyed, the tenant offboarded. "
                             "Irreversible: it asks first; an agent's run waits for one human approval.", [
    click.option("--yes", is_flag=True, help="Do not ask for a confirmation."),
])
def retention_end(tenant_id: str, approval: int | None, yes: bool, **common: Any) -> None:
    if not yes:
        click.confirm(f"Delete everything tenant '{tenant_id}' kept since its offboarding, for good?", abort=True)
    with _automation(**common) as auto:
        results = auto.retention_end(tenant_id, approval=approval)
        _print_results(results, f"tenant {tenant_id} is offboarded" if results
                       else f"the retention end of tenant {tenant_id} is done already")


@click.group()
def fleet() -> None:
    """Run an operation over many tenants, in waves, on worker processes here or the Kubernetes operator;
    every run is recorded and resumes at its wave (`fleet runs`, `--resume RUN_ID`)."""


def _fleet_command(operation: str) -> Callable[..., Any]:
    @click.option("--wave", "waves", multiple=True, metavar="SELECTOR",
                  help="A wave, in order: comma-separated canary, plan:<id>, cloud:<cloud>, isolation:<model>, "
                       "tenant ids or rest. Default: canary tenants, then one wave per plan.")
    @click.option("--tenant", "tenants", multiple=True, help="Only these tenants (repeatable).")
    @click.option("--concurrency", default=4, show_default=True, type=int, help="Tenants at once.")
    @click.option("--max-failures", default=0, show_default=True, type=int,
                  help="Halt when more tenants than this failed.")
    @click.option("--resume", metavar="RUN_ID", default=None,
                  help="Take over an unfinished run whose coordinator stopped (`fleet runs` lists them): its waves "
                       "as planned, only the tenants without an outcome; earlier failures still count.")
    @click.option("--new", "start_new", is_flag=True,
                  help="Start a new run although a run of the same waves and tenants is unfinished.")
    @click.option("--engine", type=click.Choice(["local", "pko"]), default="local", show_default=True,
                  help="local: worker processes here; pko: the Pulumi Kubernetes Operator (up only; settings from "
                       "the project file's pko: section, --namespace, --context).")
    @click.option("--namespace", default=None, metavar="NS", help="--engine pko: the Stacks' namespace.")
    @click.option("--context", "kube_context", default=None, help="--engine pko: the kubeconfig context.")
    def body(waves: tuple[str, ...], tenants: tuple[str, ...], concurrency: int, max_failures: int,
             resume: str | None, start_new: bool, engine: str, namespace: str | None, kube_context: str | None,
             **common: Any) -> None:
        with _automation(**common) as auto:
            runner = None
            if engine == "pko":
                from paybill_iac.cli_pko import fleet_engine

                runner = fleet_engine(common["project"], namespace, kube_context, common["actor"])
            progress, finish = _progress(operation)
            try:
                report = auto.fleet(operation, waves=list(waves) or None, tenants=list(tenants) or None,
                                    concurrency=concurrency, max_failures=max_failures, progress=progress,
                                    runner=runner, resume=resume, new=start_new)
            finally:
                finish()
        _fleet_table(report)
        if not report.ok:
            sys.exit(1)

    return fleet.command(operation, help=f"`{operation}` every tenant with a stack, wave by wave.")(_common(body))


fleet_up = _fleet_command("up")
fleet_refresh = _fleet_command("refresh")
fleet_preview = _fleet_command("preview")


def _progress(operation: str) -> tuple[Callable[..., None], Callable[[], None]]:
    """A rich progress bar on a terminal; one line per tenant otherwise (both on stderr)."""
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn(f"fleet {operation}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("{task.description}"), console=Console(stderr=True))
        task = bar.add_task("", total=None)
        bar.start()

        def advance(outcome: Any, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{outcome.tenant}: {outcome.result}")

        return advance, bar.stop

    def line(outcome: Any, done: int, total: int) -> None:
        click.echo(f"[{done}/{total}] wave {outcome.wave} {outcome.tenant}: {outcome.result}", err=True)

    return line, lambda: None


def _fleet_table(report: Any) -> None:
    from paybill_iac.model.words import plural

    rows = [("TENANT", "WAVE", "RESULT", "SECONDS", "DETAIL")]
    for outcome in sorted(report.outcomes, key=lambda item: (item.wave, item.tenant)):
        detail = outcome.summary if outcome.result == "succeeded" else (outcome.error.splitlines() or [""])[0]
        if outcome.approval:
            detail = f"needs approval #{outcome.approval}: {detail}"
        rows.append((outcome.tenant, str(outcome.wave), outcome.result, f"{outcome.seconds:.1f}", clip(detail)))
    _table(rows)
    counts = ", ".join(f"{count} {result}" for result, count in report.counts().items())
    click.echo(f"{len(report.outcomes)} tenants: {counts}" + (f"; {report.halted}" if report.halted else ""))
    click.echo(f"fleet run {report.run_id}" + (f" (resumed: {plural(report.resumed, 'outcome')} kept from before)"
                                                 if report.resumed else ""))


@fleet.command("runs")
@_common
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="The newest this many.")
def fleet_runs(limit: int, **common: Any) -> None:
    """The fleet's runs, newest first: status, outcomes so far, and the coordinator holding a running one."""
    with _automation(**common) as auto:
        runs = auto.store.fleet_runs
        rows = [("RUN", "OPERATION", "STATUS", "STARTED", "ACTOR", "OUTCOMES", "DETAIL")]
        for run in runs.find(limit):
            done = len(runs.outcomes(run.id))
            total = sum(len(wave) for wave in run.waves)
            detail = run.halted or (f"held by {run.owner} until {_iso(run.claimed_until)}; `--resume {run.id}` "
                                    "once it stopped" if run.status == "running" else "")
            rows.append((run.id, run.operation, run.status, _iso(run.started_at), run.actor, f"{done}/{total}",
                         clip(detail)))
    _table(rows)


def clip(text: str, width: int = 100) -> str:
    """`text` cut to about `width` characters for a table's last column, never inside a link (a cut
    install or documentation URL is no use)."""
    if len(text) <= width:
        return text
    link = text.rfind("http", 0, width)
    if link != -1 and " " not in text[link:width]:
        end = text.find(" ", link)
        width = len(text) if end == -1 else end
    return text[:width] + ("…" if width < len(text) else "")


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])


def _iso(epoch: float | None) -> str:
    return "" if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@click.command()
@click.option("--tenant", default=None, help="Only this tenant's operations.")
@click.option("--stack", default=None, help="Only this stack (tenant/<id> or cell/<id>).")
@click.option("--limit", default=50, show_default=True, type=int, help="Newest operations shown (0: all).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@_common
def journal(tenant: str | None, stack: str | None, limit: int, as_json: bool, **common: Any) -> None:
    """The operations journal: who did what to which stack, when, and how it ended. Reads only: without a
    state database yet it says so and shows nothing (it never creates one)."""
    missing = missing_database(common["project"])
    if missing is not None:
        click.echo(f"journal: {missing}", err=True)
        entries: list[Any] = []
    else:
        with _automation(**common) as auto:
            try:
                entries = auto.journal(tenant=tenant, stack=stack, limit=limit or None)
            except ValueError as error:
                raise click.UsageError(str(error)) from None
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry.as_dict(), sort_keys=True))
        return
    rows = [("STARTED", "ACTOR", "STACK", "OPERATION", "RESULT", "DETAIL")]
    for entry in entries:
        detail = entry.error.splitlines()[0] if entry.error else _summary(entry.change_summary)
        rows.append((_iso(entry.started_at), entry.actor, entry.stack, entry.operation,
                     entry.result or "(running or crashed)", clip(detail)))
    _table(rows)


def _summary(data: dict[str, Any] | None) -> str:
    counts = (data or {}).get("counts") or {}
    shown = {op: count for op, count in counts.items() if op not in ("same", "read", "refresh")}
    return ", ".join(f"{count} {op}" for op, count in shown.items()) or ("no changes" if data else "")


@click.command()
@click.option("--clear", "clear", default=None, metavar="STACK",
              help="Clear a stack's review flags after checking it (humans only).")
@click.option("--approve", "approve", default=None, type=int, metavar="ID",
              help="Approve an agent's reviewed change (humans only).")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@_common
def review(clear: str | None, approve: int | None, as_json: bool, **common: Any) -> None:
    """What needs a human: stacks flagged after a crash, agent changes waiting for approval, retained
    data whose retention ended. Exit 1 when something is waiting. Without a state database yet nothing is
    waiting (none is created)."""
    from paybill_iac.model.words import plural

    missing = missing_database(common["project"])
    if missing is not None:
        if clear is not None or approve is not None:
            raise click.UsageError(f"nothing to {'clear' if clear is not None else 'approve'}: {missing}")
        click.echo(f"review: {missing}", err=True)
        click.echo(json.dumps({"flags": [], "approvals": [], "retention_ended": [], "stopped_workflows": []},
                              indent=2, sort_keys=True) if as_json else "nothing needs a human")
        return
    with _automation(**common) as auto:
        if clear is not None:
            cleared = auto.clear_review(clear)
            click.echo(f"cleared {plural(cleared, 'review flag')} of {clear}")
            return
        if approve is not None:
            approval = auto.approve(approve)
            click.echo(f"approved request #{approval.id}: {approval.operation} of {approval.stack} by "
                       f"{approval.requested_by}; it applies once, exactly as previewed")
            return
        found = auto.review()
    if as_json:
        click.echo(json.dumps({"flags": [flag.as_dict() for flag in found.flags],
                               "approvals": [approval.as_dict() for approval in found.approvals],
                               "retention_ended": [vars(item) for item in found.retention_ended],
                               "stopped_workflows": [vars(item) for item in found.stopped]},
                              indent=2, sort_keys=True))
    else:
        for flag in found.flags:
            click.echo(f"review   {flag.stack}: {flag.reason} (flagged {_iso(flag.flagged_at)}); "
                       f"clear with `paybill-iac review --clear {flag.stack}`")
        for approval in found.approvals:
            click.echo(f"approve  #{approval.id} {approval.operation} of {approval.stack} by {approval.requested_by}: "
                       f"{'; '.join(approval.reasons)}; approve with `paybill-iac review --approve {approval.id}`")
        for workflow in found.stopped:
            click.echo(f"resume   {workflow.kind} workflow {workflow.id} of tenant {workflow.tenant} stopped half-way "
                       f"(steps done: {', '.join(workflow.steps)}): it keeps the tenant from any other change; run "
                       f"`paybill-iac lifecycle {workflow.kind} {workflow.tenant} ...` again, with the same arguments")
        for item in found.retention_ended:
            click.echo(f"retained {item.tenant}: {item.type} {item.urn.rsplit('::', 1)[-1]} — retention ended "
                       f"{_iso(item.retain_until)}; delete it in the cloud when the tenant's data may go")
        if found.empty and not found.stopped:
            click.echo("nothing needs a human")
    if not found.empty or found.stopped:
        sys.exit(1)


def register(group: click.Group) -> None:
    """Add the automation commands to the `paybill-iac` group."""
    for command in (up, refresh, destroy, lifecycle, fleet, journal, review):
        group.add_command(command)


# --- `lifecycle plan`: the offline lifecycle plan (paybill_iac.cli_lifecycle; only click at import) ----
lifecycle.add_command(__import__("paybill_iac.cli_lifecycle", fromlist=["plan"]).plan)


"""A data-moving change through a pull request: `lifecycle change-plan|move|offboard ... --plan-only` edits the
catalog and declares the workflow in the ledger, touching no stack; the catalog then validates and generates,
nothing but that workflow deploys the tenant, and `lifecycle run-declared` runs it once merged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from paybill_iac.automation import WorkflowBusy
from paybill_iac.catalog import ledger, load_catalog
from paybill_iac.errors import UsageError
from paybill_iac.generate import generate
from tests.automation.conftest import Env
from tests.automation.lifecycle_double import TYPES, LifecycleRunner
from tests.cli_invoke import run_cli

MOVES: list[dict[str, Any]] = []


def record_move(context: Any) -> None:
    """A data-move hook a command line can name (tests.automation.test_declared:record_move)."""
    MOVES.append({"old": context.old_outputs, "new": context.new_outputs})


def _deployed(env: Env, *stacks: tuple[str, str]) -> tuple[LifecycleRunner, Any]:
    runner = LifecycleRunner(str(env.root / "engine.json"))
    human = env.make(runner=runner)
    for kind, name in stacks:
        human.up(**{kind: name})
    return runner, human


def _plan(env: Env, tenant: str) -> str:
    return str(yaml.safe_load(env.tenant_file(tenant).read_text())["plan"])


def test_a_declared_change_plan_deploys_nothing_until_it_runs_as_its_workflow(env: Env) -> None:
    runner, human = _deployed(env, ("cell", "azure-weu-a"), ("tenant", "globex"))
    before = runner.read()["stacks"]
    declared = human.declare_change_plan("globex", "growth")
    assert declared.describe("globex") == "change-plan globex: plan starter -> growth (bridge, azure westeurope, " \
                                          "cell azure-weu-a)"
    assert _plan(env, "globex") == "growth" and runner.read()["stacks"] == before  # no stack touched
    entry = ledger.read(env.catalog).entries["globex"]
    assert entry.location.isolation == "pooled" and entry.declared == declared
    assert load_catalog(env.catalog).tenants["globex"].plan == "growth"  # the pull request validates
    assert generate(load_catalog(env.catalog), env.stacks, check=True).stale == []  # and its stack files are current
    with pytest.raises(WorkflowBusy, match="declared workflow, change-plan globex"):
        human.up(tenant="globex")  # the routine deploy of the merged branch: refused, the workflow does it
    report = env.make(runner=runner).fleet("up", tenants=["globex", "acme"], concurrency=1)
    assert {outcome.tenant: outcome.result for outcome in report.outcomes}["globex"] == "busy"
    with pytest.raises(UsageError, match="already has a declared move"):
        human.declare_change_plan("globex", "enterprise")

    [done] = human.run_declared(data_move=record_move)
    assert (done.tenant, done.workflow, done.error) == ("globex", "change-plan", "")
    entry = ledger.read(env.catalog).entries["globex"]
    assert (entry.location.isolation, entry.location.cell, entry.declared) == ("bridge", "azure-weu-a", None)
    assert [(item["stack"], item["type"]) for item in runner.read()["lost"]] == [
        ("paybill-tenant/globex", TYPES["azure"]["secret"])]  # the old pooled database, deleted at the retire
    assert entry.location.generation == 1  # the bridge shape's names the cloud never frees: a new generation
    assert MOVES[-1]["old"]["isolation"] == "pooled" and MOVES[-1]["new"]["isolation"] == "bridge"
    assert human.run_declared() == [] and human.up(tenant="globex").summary.changed == 0


def test_a_declared_move_and_offboard_run_on_merge(env: Env) -> None:
    cells = env.catalog / "cells.yaml"
    cells.write_text(cells.read_text() + "  - {id: aws-euw1-b, cloud: aws, region: eu-west-1, capacity: 50}\n")
    runner, human = _deployed(env, ("cell", "aws-euw1-a"), ("tenant", "acme"), ("tenant", "dunder-mifflin"))
    human.declare_move("acme", cell="aws-euw1-b")
    human.declare_offboard("dunder-mifflin")
    assert yaml.safe_load(env.tenant_file("acme").read_text())["cell"] == "aws-euw1-b"
    assert yaml.safe_load(env.tenant_file("dunder-mifflin").read_text())["state"] == "offboarding"
    load_catalog(env.catalog)
    done = {item.tenant: item for item in human.run_declared(data_move=record_move)}
    assert {tenant: item.error for tenant, item in done.items()} == {"acme": "", "dunder-mifflin": ""}
    entries = ledger.read(env.catalog).entries
    assert (entries["acme"].location.cell, entries["acme"].declared) == ("aws-euw1-b", None)
    # offboarding keeps the data where it is until retention end: the declaration is settled, nothing moved
    assert not entries["dunder-mifflin"].location.offboarded and entries["dunder-mifflin"].declared is None
    assert yaml.safe_load(env.tenant_file("dunder-mifflin").read_text())["state"] == "offboarding"
    assert runner.read()["stacks"]["paybill-tenant/dunder-mifflin"]["resources"]  # the stack stays


def test_a_silo_tenant_is_not_moved(env: Env) -> None:
    with pytest.raises(UsageError, match="moves pooled tenants only"):
        env.make().declare_move("cyberdyne", region="eu-central-1")


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, *args)


def test_plan_only_on_the_command_line(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--catalog", str(env.catalog), "--state-dir", str(env.state)]
    code, out, _ = _cli(capsys, "lifecycle", "change-plan", "globex", "--plan", "growth", "--plan-only", *common)
    assert code == 0 and "declared: change-plan globex: plan starter -> growth" in out and "run-declared" in out
    assert _plan(env, "globex") == "growth"
    code, _, err = _cli(capsys, "up", "--tenant", "globex", *common)
    assert code == 1 and "declared workflow" in err
    code, out, _ = _cli(capsys, "lifecycle", "offboard", "acme", "--plan-only", *common)
    assert code == 0 and "declared: offboard acme" in out
    code, out, _ = _cli(capsys, "validate", str(env.catalog))
    assert code == 0, out


def test_run_declared_reports_a_workflow_that_did_not_finish(env: Env, capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
    runner, human = _deployed(env, ("cell", "azure-weu-a"), ("tenant", "globex"))
    human.declare_change_plan("globex", "growth")
    [failed] = human.run_declared()  # no data-move hook: it refuses to start, nothing changed
    assert failed.error and "data-move hook" in failed.error
    assert ledger.read(env.catalog).entries["globex"].declared is not None

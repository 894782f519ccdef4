"""The bundled example catalog: the offboarding of every example tenant keeps every resource its data
needs (and nothing of its access path), a plan change of an example tenant completes, and
`paybill-iac lifecycle plan` says so in a table and in JSON."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from paybill_iac.catalog import load_catalog
from paybill_iac.model.spec import tenant_spec

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "stacks" / "catalog"


@cache
def catalog() -> Any:
    return load_catalog(CATALOG)


@cache
def _runner() -> Any:
    from paybill_iac.lifecycle_plan.run import StackRunner

    return StackRunner()


def _plan(found: Any) -> Any:
    from paybill_iac.lifecycle_plan.run import plan_transition

    runner = _runner()
    for qualified, spec in sorted(found.cells.items()):
        runner.add_cell(spec, qualified)
    return plan_transition(found.transition, runner)


def _offboardable() -> list[str]:
    """The example tenants with a stack that are not offboarding already (every cloud and model)."""
    found = []
    for tenant_id in sorted(catalog().tenants):
        spec = tenant_spec(catalog(), tenant_id)
        if spec is not None and spec.state != "offboarding":
            found.append(tenant_id)
    return found


@pytest.mark.parametrize("tenant_id", _offboardable())
def test_offboarding_every_example_tenant_keeps_what_its_data_needs(tenant_id: str) -> None:
    from paybill_iac.lifecycle_plan.catalog import transition_to_state

    result = _plan(transition_to_state(catalog(), tenant_id, "offboarding"))
    assert result.ok, result.problems
    after = result.steps[-1].after
    assert not any(resource.access_path for resource in after.resources.values())
    assert all(resource.retain_on_delete for resource in after.resources.values())


def test_the_offboarding_example_tenant_ends_its_retention_or_comes_back() -> None:
    from paybill_iac.lifecycle_plan.catalog import transition_to_state

    (tenant_id,) = [t for t in catalog().tenants if catalog().tenants[t].state == "offboarding"]
    for state in ("offboarded", "active"):
        result = _plan(transition_to_state(catalog(), tenant_id, state))
        assert result.ok, (state, result.problems)


@pytest.mark.parametrize(("tenant_id", "plan"), [("hooli", "enterprise"), ("stark", "starter"),
                                                 ("wonka", "enterprise"), ("initech", "growth"),
                                                 ("tyrell", "sovereign")])
def test_example_plan_changes_complete(tenant_id: str, plan: str) -> None:
    from paybill_iac.lifecycle_plan.catalog import transition_to_plan

    found = transition_to_plan(catalog(), tenant_id, plan)
    result = _plan(found)
    assert result.ok, result.problems
    old, new = found.transition.start, found.transition.target
    assert old is not None and new is not None
    if old.isolation != new.isolation:
        assert new.generation == old.generation + 1 and len(result.steps) == 3
    else:
        assert len(result.steps) == 1 and set(result.steps[0].counts()) <= {"update"}


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def _cli(*args: str) -> Done:
    """`paybill-iac lifecycle plan ARGS` in this process (the provider SDKs are loaded already)."""
    from paybill_iac.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["lifecycle", "plan", *args, "--catalog", str(CATALOG)])
        except SystemExit as done:
            code = int(done.code or 0)
    return Done(code, out.getvalue(), err.getvalue())


def test_the_command_plans_a_plan_change_as_json_and_a_retention_end_as_a_table() -> None:
    done = _cli("hooli", "--plan", "enterprise", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["transition"] == "change-plan" and report["ok"] is True
    assert [step["label"].split(":")[0] for step in report["steps"]] == ["provision", "lift", "retire"]
    retire = report["steps"][-1]
    assert {change["action"] for change in retire["changes"]} == {"delete", "delete-but-keep"}
    assert all(verdict["holds"] for verdict in report["invariants"].values())
    assert "Offline" in report["note"]
    table = _cli("wayne", "--to", "offboarded")
    assert table.returncode == 0, table.stderr
    assert "step destroy (destroy)" in table.stdout and "invariants:" in table.stdout


def test_the_command_refuses_what_cannot_happen() -> None:
    assert _cli("acme", "--to", "offboarded").returncode == 2  # active cannot skip offboarding
    assert _cli("vandelay", "--to", "active").returncode == 2  # offboarded: no stack
    assert _cli("acme").returncode == 2  # neither --to nor --plan
    refused = _cli("acme", "--plan", "growth")  # its override is below what a dedicated instance needs
    assert refused.returncode == 2 and "cannot move to plan 'growth'" in refused.stderr

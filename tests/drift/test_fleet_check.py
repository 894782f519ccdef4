"""`fleet check`: each invariant from plain facts (no backend), then gathered from the catalog, the ledger, the state
database (real SQLite and PostgreSQL) and the engine double's backend (its stack list and each stack's state)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paybill_iac.automation.fleet_check import FleetFacts, RetainedItem, findings, gather
from paybill_iac.automation.invocation import StackRef, build_invocation
from paybill_iac.automation.policy import policy_configs
from tests.automation.conftest import Env
from tests.automation.engine_double import StatefulRunner

NOW = 1_800_000_000.0
SILO = "urn:pulumi:t1::paybill-tenant::paybill:tenant:Silo::t1"
POOLED = "urn:pulumi:t1::paybill-tenant::paybill:tenant:Pooled::t1"


def _facts(**changes: Any) -> FleetFacts:
    """A consistent fleet of two pooled tenants on one cell and one silo tenant; `changes` break it."""
    values: dict[str, Any] = {
        "tenant_states": {"t1": "active", "t2": "suspended", "t3": "active", "gone": "offboarded"},
        "cells": {"c1": 2}, "placements": {"t1": "c1", "t2": "c1"}, "recorded": {"t1": "c1", "t2": "c1"},
        "backend": {"paybill-tenant": {"t1", "t2", "t3"}, "paybill-cell": {"c1"}},
        "shapes": {"t1": [POOLED], "t2": [POOLED], "t3": [SILO.replace("t1", "t3")]}, "now": NOW}
    values.update(changes)
    return FleetFacts(**values)


def _checks(facts: FleetFacts) -> list[tuple[str, str]]:
    return [(item.check, item.subject) for item in findings(facts)]


def test_a_consistent_fleet_has_no_finding() -> None:
    assert findings(_facts()) == []


@pytest.mark.parametrize(("changes", "expected"), [
    ({"backend": {"paybill-tenant": {"t1", "t2", "t3", "ghost", "gone"}, "paybill-cell": {"c1", "c9"}}},
     [("stack-without-tenant", "paybill-tenant/ghost"), ("stack-without-tenant", "paybill-tenant/gone"),
      ("stack-without-tenant", "paybill-cell/c9")]),
    ({"backend": {"paybill-tenant": {"t1", "t3"}, "paybill-cell": set()}},
     [("tenant-without-stack", "t2"), ("tenant-without-stack", "c1")]),
    ({"tenant_states": {"t1": "active", "t2": "suspended", "t3": "active", "t4": "onboarding"}}, []),
    ({"shapes": {"t1": [POOLED, SILO]}}, [("two-shapes", "t1")]),
    ({"shapes": {"t1": [POOLED, SILO]}, "moving": {"t1"}}, []),
    ({"recorded": {"t1": "c1", "t2": "c1", "t3": "c1"}}, [("cell-fuller-than-catalog", "c1")]),
    ({"recorded": {"t1": "c1", "t2": "c1", "gone": "c1"}}, []),  # no stack left: not in the cell in reality
    ({"recorded": {"t1": "c1", "t2": "c1", "t3": "c1"}, "moving": {"t3"}, "cells": {"c1": 3}}, []),  # a move
    ({"retained": [RetainedItem("gone", "urn:x::db", "aws:rds/instance:Instance", NOW - 1)]},
     [("retention-ended", "gone")]),
    ({"retained": [RetainedItem("gone", "urn:x::db", "aws:rds/instance:Instance", NOW + 86400)]}, []),
    ({"retained": [RetainedItem("gone", "urn:x::db", "aws:rds/instance:Instance", NOW - 1)],
      "retention_done": {"gone"}}, []),
])
def test_each_invariant(changes: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert _checks(_facts(**changes)) == expected


def test_a_cell_fuller_than_its_capacity_says_so() -> None:
    [found] = findings(_facts(cells={"c1": 1}))
    assert found.check == "cell-fuller-than-catalog" and "over its capacity of 1" in found.message


def _deploy_all(env: Env, runner: StatefulRunner, db_url: str) -> Any:
    human = env.make(runner=runner, state_url=db_url)
    catalog = human.catalog
    for cell in sorted(set(catalog.placements.values())):
        human.up(cell=cell)
    for tenant_id, tenant in sorted(catalog.tenants.items()):
        if tenant.state in ("active", "suspended", "offboarding"):
            human.up(tenant=tenant_id)
    return human


def test_gathered_from_the_backend_and_the_state_database(env: Env, db_url: str, tmp_path: Path) -> None:
    runner = StatefulRunner(str(tmp_path / "engine.json"))
    human = _deploy_all(env, runner, db_url)
    assert findings(gather(human)) == []
    catalog = human.catalog
    config = human.stack_config(StackRef.tenant("acme"))
    ghost = build_invocation("up", StackRef.tenant("ghost"), config, layout=human.layout,
                             policy_configs=policy_configs(catalog, StackRef.tenant("acme"), "human"), actor="human")
    runner.run(ghost)  # a stack left behind by a tenant the catalog no longer has
    state = json.loads(Path(runner.path).read_text())
    stark = state["stacks"]["paybill-tenant/stark"]["resources"]
    stark["urn:pulumi:stark::paybill-tenant::paybill:tenant:Silo::stark"] = {"type": "paybill:tenant:Silo",
                                                                              "inputs": {}}
    del state["stacks"]["paybill-tenant/hooli"]  # a tenant whose stack is gone
    Path(runner.path).write_text(json.dumps(state))
    human.store.retained.record("vandelay", "paybill-tenant/vandelay",
                                [("urn:x::vandelay-db", "aws:rds/instance:Instance")],
                                retain_until=human.store.clock() - 60)
    found = findings(gather(human))
    assert [(item.check, item.subject) for item in found] == [
        ("stack-without-tenant", "paybill-tenant/ghost"), ("tenant-without-stack", "hooli"),
        ("two-shapes", "stark"), ("retention-ended", "vandelay")]
    assert "Bridge, Silo" in found[2].message

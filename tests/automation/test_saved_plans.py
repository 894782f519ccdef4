"""Saved update plans live in the state database: an agent's plan saved by a preview on one host is applied,
once a human approved it, by an up on another host (its own work dirs), and no host keeps a plan file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paybill_iac.automation import RetryPolicy
from paybill_iac.automation.errors import ApprovalNeeded
from paybill_iac.automation.store.fleet_runs import sha256_text
from paybill_iac.errors import GateRefused
from tests.automation.conftest import Env
from tests.automation.doubles import FakeRunner

DB = "aws:rds/instance:Instance"


def _host(env: Env, state_dir: Path, db_url: str, actor: str, runner: FakeRunner) -> Any:
    """An Automation as one host opens it: its own state folder (work dirs), the shared database."""
    from paybill_iac.automation import Automation

    auto = Automation.open(env.catalog, actor=actor, runner=runner, state_dir=state_dir, state_url=db_url,
                           data_plane=env.data_plane, retry=RetryPolicy(attempts=1), lease_ttl=30.0,
                           sleep=env.sleeps.append, notify=env.notes.append)
    env.opened.append(auto)
    return auto


def test_a_plan_saved_on_one_host_is_applied_on_another(env: Env, db_url: str, tmp_path: Path) -> None:
    first = FakeRunner(changes={"paybill-tenant/acme": [("delete", DB, "acme-db", True)]})
    host_a = _host(env, tmp_path / "host-a", db_url, "agent:billing-bot", first)
    with pytest.raises(ApprovalNeeded) as refused:
        host_a.up(tenant="acme")
    request = refused.value.approval_id
    [saved_text] = first.plans_saved
    approval = host_a.store.approvals.get(request)
    stored = host_a.store.plans.load("paybill-tenant/acme", approval.plan_path)
    assert stored is not None and stored.content == saved_text and stored.created_by == "agent:billing-bot"
    assert approval.plan_sha256 == stored.sha256 == sha256_text(saved_text)
    assert not Path(first.calls[0].plan_file or "").exists()  # the preview's plan file is gone with its call
    assert not list((tmp_path / "host-a").rglob("plans"))  # and no plans folder on the host

    _host(env, tmp_path / "approver", db_url, "human", FakeRunner()).approve(request)
    second = FakeRunner()
    host_b = _host(env, tmp_path / "host-b", db_url, "agent:billing-bot", second)
    result = host_b.up(tenant="acme", approval=request)
    assert result.approval == request
    [up] = second.calls  # no preview on host B: the reviewed plan itself
    assert up.operation == "up" and second.plans_applied == [saved_text]
    assert up.work_dir.is_relative_to(tmp_path / "host-b") and not Path(up.plan_file or "").exists()
    with pytest.raises(GateRefused, match="already used"):
        host_a.up(tenant="acme", approval=request)


def test_an_approval_whose_saved_plan_is_gone_applies_nothing(env: Env, tmp_path: Path) -> None:
    from sqlalchemy import delete

    from paybill_iac.automation.store.fleet_runs import saved_plans_table

    runner = FakeRunner(changes={"paybill-tenant/acme": [("delete", DB, "acme-db", True)]})
    agent = _host(env, tmp_path / "a", env.url, "agent:billing-bot", runner)
    with pytest.raises(ApprovalNeeded) as refused:
        agent.up(tenant="acme")
    _host(env, tmp_path / "h", env.url, "human", FakeRunner()).approve(refused.value.approval_id)
    with agent.store.db.transaction() as conn:
        conn.execute(delete(saved_plans_table))
    runner.calls.clear()
    with pytest.raises(GateRefused, match="missing or changed since it was reviewed; nothing was applied"):
        agent.up(tenant="acme", approval=refused.value.approval_id)
    assert runner.calls == []

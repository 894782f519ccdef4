"""The engine's contract: policy config round trip, enforcement levels, unknown values, remediation,
the context from the catalog, and the generated rule reference."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from paybill_policies import engine

from tests.policy.conftest import CATALOG, REPO


def test_the_readme_rule_reference_is_generated_from_the_registry() -> None:
    from paybill_policies.docs import markdown, readme_section

    committed = readme_section((REPO / "README.md").read_text(encoding="utf-8"))
    assert committed == markdown(), "run: .venv/bin/python -m paybill_policies.docs --readme README.md"


def test_rule_ids_are_kebab_case_scoped_by_cloud_and_documented() -> None:
    for rule in engine.rules():
        assert rule.id.startswith(f"{rule.cloud}-") and rule.id == rule.id.lower() and " " not in rule.id
        assert rule.description and rule.remediation and rule.severity in engine.SEVERITIES
        if rule.pack == "tenant-isolation" and rule.severity in ("high", "critical"):
            assert rule.enforcement == "mandatory", rule.id
        if rule.pack == "agent-guardrails":
            assert rule.agent_only and rule.approval, rule.id


def test_policy_config_round_trips_through_json_with_floats(catalog: Any) -> None:
    context = engine.context_from_catalog(catalog, "paybill-tenant", "nakatomi", actor="agent:x")
    config = engine.policy_config(context, pack="plan-limits")
    assert set(config) == {rule.id for rule in engine.rules(["plan-limits"])}
    wire = json.loads(json.dumps(config).replace(': 4,', ': 4.0,'))  # the engine sends numbers as floats
    entry = wire["aws-rds-instance-vcpus-within-plan"]
    back = engine.context_from_config(entry, "paybill-tenant", "nakatomi")
    assert back.limits == context.limits and back.actor == "agent:x" and back.plan == "sovereign"
    assert back.limits is not None and back.limits.regions == ("eu-central-1", "eu-west-1", "germanywestcentral",
                                                               "westeurope")
    # only the cross-tenant rule of the stack's cloud carries the other tenants' names
    isolation = engine.policy_config(context, pack="tenant-isolation")
    assert isolation["aws-resource-no-foreign-tenant-reference"]["context"]["foreign_names"]
    assert not isolation["aws-rds-instance-not-public"]["context"]["foreign_names"]


def test_a_config_for_another_stack_lends_it_nothing(catalog: Any) -> None:
    context = engine.context_from_catalog(catalog, "paybill-tenant", "tyrell")
    entry = engine.policy_config(context)["aws-rds-instance-vcpus-within-plan"]
    assert not engine.context_from_config(entry, "paybill-tenant", "acme").known


def test_without_a_context_the_pack_falls_back_to_the_catalog(tmp_path: Path) -> None:
    context = engine.context_from_config({"catalog": str(CATALOG), "actor": "agent:y", "maxResources": 5.0},
                                         "paybill-cell", "aws-euw1-a")
    assert context.kind == "cell" and context.actor == "agent:y" and context.max_resources == 5
    assert not engine.context_from_config({"catalog": str(tmp_path)}, "paybill-tenant", "nobody").known


def test_unknown_tenants_and_projects_are_context_errors(catalog: Any) -> None:
    with pytest.raises(LookupError, match="unknown tenant 'nobody'"):
        engine.context_from_catalog(catalog, "paybill-tenant", "nobody")
    with pytest.raises(LookupError, match="unknown cell"):
        engine.context_from_catalog(catalog, "paybill-cell", "nowhere")
    with pytest.raises(LookupError, match="unknown project"):
        engine.context_from_catalog(catalog, "other", "acme")


def _public_rds(example_stacks: dict[str, Any]) -> list[Any]:
    resources = list(example_stacks["cyberdyne"].resources)
    index = next(i for i, item in enumerate(resources) if item.type == "aws:rds/instance:Instance")
    resources[index] = dataclasses.replace(resources[index], inputs={**resources[index].inputs,
                                                                     "publiclyAccessible": True})
    return resources


def test_enforcement_for_all_and_per_rule(example_stacks: dict[str, Any], catalog: Any) -> None:
    context = engine.context_from_catalog(catalog, "paybill-tenant", "cyberdyne")
    resources = _public_rds(example_stacks)
    assert [v.level for v in engine.evaluate(resources, context)] == ["mandatory"]
    assert [v.level for v in engine.evaluate(resources, context, enforcement={"all": "advisory"})] == ["advisory"]
    levels = {"all": "advisory", "aws-rds-instance-not-public": {"enforcementLevel": "mandatory"}}
    assert [v.level for v in engine.evaluate(resources, context, enforcement=levels)] == ["mandatory"]
    assert engine.evaluate(resources, context, enforcement={"aws-rds-instance-not-public": "disabled"}) == []
    assert engine.evaluate(resources, context, packs=("plan-limits",)) == []
    with pytest.raises(ValueError, match="not one of"):
        engine.evaluate(resources, context, enforcement={"all": "loud"})


def test_unknown_values_leave_a_rule_undecided(example_stacks: dict[str, Any], catalog: Any) -> None:
    context = engine.context_from_catalog(catalog, "paybill-tenant", "cyberdyne")
    resources = list(example_stacks["cyberdyne"].resources)
    index = next(i for i, item in enumerate(resources) if item.type == "aws:rds/instance:Instance")
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    resources[index] = dataclasses.replace(resources[index], inputs={**resources[index].inputs,
                                                                     "instanceClass": unknown})
    report = engine.check(resources, context)
    assert report.violations == []
    assert [item.policy for item in report.undecided] == ["aws-rds-instance-vcpus-within-plan"]


def test_remediation_adds_missing_markers_and_protection(catalog: Any) -> None:
    context = engine.context_from_catalog(catalog, "paybill-tenant", "cyberdyne")
    bare = engine.ResourceView("urn:pulumi:cyberdyne::paybill-tenant::aws:rds/instance:Instance::db",
                               "aws:rds/instance:Instance", "db", {"tags": {"team": "x"}})
    fixed = engine.remediate(bare, context)
    assert fixed.inputs["tags"] == {"team": "x", **context.markers}
    assert fixed.inputs["deletionProtection"] is True
    assert engine.evaluate([fixed], context, packs=("tenant-isolation",)) != []  # the rest stays a human's job


def test_the_stack_comes_from_the_urn() -> None:
    urn = "urn:pulumi:acme::paybill-tenant::paybill:tenant:Pooled$aws:s3/bucketObjectv2:BucketObjectv2::acme-slice"
    assert engine.parse_urn(urn) == ("acme", "paybill-tenant", "aws:s3/bucketObjectv2:BucketObjectv2", "acme-slice")
    with pytest.raises(ValueError):
        engine.parse_urn("arn:aws:s3:::x")

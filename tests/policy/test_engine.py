"""The engine's contract: policy config round trip, enforcement levels, unknown values, remediation,
the context from the catalog, and the generated rule reference."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import paybill_policies as policies
import pytest

from paybill_iac.policy_context import context_from_catalog
from tests.policy.conftest import CATALOG, REPO


def test_the_readme_rule_reference_is_generated_from_the_registry() -> None:
    from paybill_policies.docs import markdown, readme_section

    committed = readme_section((REPO / "README.md").read_text(encoding="utf-8"))
    assert committed == markdown(), "run: .venv/bin/python -m paybill_policies.docs --readme README.md"


def test_rule_ids_are_kebab_case_scoped_by_cloud_and_documented() -> None:
    for rule in policies.rules():
        assert rule.id.startswith(f"{rule.cloud}-") and rule.id == rule.id.lower() and " " not in rule.id
        assert rule.description and rule.remediation and rule.severity in policies.SEVERITIES
        if rule.pack == "tenant-isolation" and rule.severity in ("high", "critical"):
            assert rule.enforcement == "mandatory", rule.id
        if rule.pack == "agent-guardrails":
            assert rule.agent_only and rule.approval, rule.id


def test_policy_config_round_trips_through_json_with_floats(catalog: Any) -> None:
    context = context_from_catalog(catalog, "paybill-tenant", "nakatomi", actor="agent:x")
    config = policies.policy_config(context, pack="plan-limits")
    assert set(config) == {rule.id for rule in policies.rules(["plan-limits"])}
    wire = json.loads(json.dumps(config).replace(': 4,', ': 4.0,'))  # the engine sends numbers as floats
    entry = wire["aws-rds-instance-vcpus-within-plan"]
    back = policies.context_from_config(entry, "paybill-tenant", "nakatomi")
    assert back.limits == context.limits and back.actor == "agent:x" and back.plan == "sovereign"
    assert back.limits is not None and back.limits.regions == ("eu-central-1", "eu-west-1", "germanywestcentral",
                                                               "westeurope")
    # only the cross-tenant rule of the stack's cloud carries the other tenants' names
    isolation = policies.policy_config(context, pack="tenant-isolation")
    assert isolation["aws-resource-no-foreign-tenant-reference"]["context"]["foreign_names"]
    assert not isolation["aws-rds-instance-not-public"]["context"]["foreign_names"]


def test_a_config_for_another_stack_lends_it_nothing(catalog: Any) -> None:
    context = context_from_catalog(catalog, "paybill-tenant", "tyrell")
    entry = policies.policy_config(context)["aws-rds-instance-vcpus-within-plan"]
    assert not policies.context_from_config(entry, "paybill-tenant", "acme").known


def test_without_a_context_the_stack_is_unknown_and_no_catalog_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYBILL_CATALOG", str(CATALOG))  # the packs once fell back to it; no more
    context = policies.context_from_config({"catalog": str(CATALOG), "actor": "agent:y", "maxResources": 5.0},
                                           "paybill-cell", "aws-euw1-a")
    assert not context.known and context.limits is None and not context.foreign_names
    assert context.kind == "cell" and context.actor == "agent:y" and context.max_resources == 5
    assert not policies.context_from_config(None, "paybill-tenant", "acme").known


def test_unknown_tenants_and_projects_are_context_errors(catalog: Any) -> None:
    with pytest.raises(LookupError, match="unknown tenant 'nobody'"):
        context_from_catalog(catalog, "paybill-tenant", "nobody")
    with pytest.raises(LookupError, match="unknown cell"):
        context_from_catalog(catalog, "paybill-cell", "nowhere")
    with pytest.raises(LookupError, match="unknown project"):
        context_from_catalog(catalog, "other", "acme")


def _public_rds(example_stacks: dict[str, Any]) -> list[Any]:
    resources = list(example_stacks["cyberdyne"].resources)
    index = next(i for i, item in enumerate(resources) if item.type == "aws:rds/instance:Instance")
    resources[index] = dataclasses.replace(resources[index], inputs={**resources[index].inputs,
                                                                     "publiclyAccessible": True})
    return resources


def test_enforcement_for_all_and_per_rule(example_stacks: dict[str, Any], catalog: Any) -> None:
    context = context_from_catalog(catalog, "paybill-tenant", "cyberdyne")
    resources = _public_rds(example_stacks)
    assert [v.level for v in policies.evaluate(resources, context)] == ["mandatory"]
    assert [v.level for v in policies.evaluate(resources, context, enforcement={"all": "advisory"})] == ["advisory"]
    levels = {"all": "advisory", "aws-rds-instance-not-public": {"enforcementLevel": "mandatory"}}
    assert [v.level for v in policies.evaluate(resources, context, enforcement=levels)] == ["mandatory"]
    assert policies.evaluate(resources, context, enforcement={"aws-rds-instance-not-public": "disabled"}) == []
    assert policies.evaluate(resources, context, packs=("plan-limits",)) == []
    with pytest.raises(ValueError, match="not one of"):
        policies.evaluate(resources, context, enforcement={"all": "loud"})


def test_unknown_values_leave_a_rule_undecided(example_stacks: dict[str, Any], catalog: Any) -> None:
    context = context_from_catalog(catalog, "paybill-tenant", "cyberdyne")
    resources = list(example_stacks["cyberdyne"].resources)
    index = next(i for i, item in enumerate(resources) if item.type == "aws:rds/instance:Instance")
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    resources[index] = dataclasses.replace(resources[index], inputs={**resources[index].inputs,
                                                                     "instanceClass": unknown})
    report = policies.check(resources, context)
    assert report.violations == []
    assert [item.policy for item in report.undecided] == ["aws-rds-instance-vcpus-within-plan"]


def test_remediation_adds_missing_markers_and_protection(catalog: Any) -> None:
    context = context_from_catalog(catalog, "paybill-tenant", "cyberdyne")
    bare = policies.ResourceView("urn:pulumi:cyberdyne::paybill-tenant::aws:rds/instance:Instance::db",
                               "aws:rds/instance:Instance", "db", {"tags": {"team": "x"}})
    fixed = policies.remediate(bare, context)
    assert fixed.inputs["tags"] == {"team": "x", **context.markers}
    assert fixed.inputs["deletionProtection"] is True
    assert policies.evaluate([fixed], context, packs=("tenant-isolation",)) != []  # the rest stays a human's job


def test_the_stack_comes_from_the_urn() -> None:
    urn = "urn:pulumi:acme::paybill-tenant::paybill:tenant:Pooled$aws:s3/bucketObjectv2:BucketObjectv2::acme-slice"
    assert policies.parse_urn(urn) == ("acme", "paybill-tenant", "aws:s3/bucketObjectv2:BucketObjectv2", "acme-slice")
    with pytest.raises(ValueError):
        policies.parse_urn("arn:aws:s3:::x")


def test_the_package_exports_the_functions_and_keeps_the_rule_modules_importable() -> None:
    from paybill_policies.evaluate import get
    from paybill_policies.rules import aws, common

    assert callable(policies.rules) and callable(policies.evaluate) and get({"a": {"b": 1}}, "a.b") == 1
    assert aws.RDS == "aws:rds/instance:Instance" and common.MARKERS_PRESENT


def test_the_registry_refuses_a_second_rule_of_an_id_and_an_id_outside_its_cloud() -> None:
    rule = policies.REGISTRY["aws-rds-instance-not-public"]
    with pytest.raises(policies.RuleError, match="registered twice"):
        policies.register(rule)
    with pytest.raises(policies.RuleError, match="must start with its cloud"):
        policies.register(dataclasses.replace(rule, id="rds-instance-not-public-elsewhere"))
    with pytest.raises(policies.ConfigError, match="unknown pack"):
        policies.rules(["no-such-pack"])


def test_every_error_is_a_policy_error() -> None:
    for error in (policies.ContextError, policies.ConfigError, policies.RuleError, policies.InputError,
                  policies.Unknown):
        assert issubclass(error, policies.PolicyError)
    assert issubclass(policies.ContextError, LookupError) and issubclass(policies.ConfigError, ValueError)


def test_rule_ids_stand_in_the_source_as_literals() -> None:
    """Searching the source for a rule id finds where it is defined."""
    source = "\n".join(path.read_text(encoding="utf-8")
                       for path in (REPO / "policy_packs" / "paybill_policies" / "rules").glob("*.py"))
    missing = [rule.id for rule in policies.rules() if f'"{rule.id}"' not in source]
    assert not missing


def test_api_versioned_azure_tokens_read_as_their_resource(example_stacks: dict[str, Any], catalog: Any) -> None:
    """A stack written against an API version of azure-native meets the same rules, read the same way (the
    markers rule used to fail on the token, the allow-list to refuse it, a container to read as an account)."""
    def versioned(resource: Any) -> Any:
        for module, version in (("storage", "v20230101"), ("dbforpostgresql", "v20240801"), ("keyvault", "v20230701")):
            resource = dataclasses.replace(resource, type=resource.type.replace(
                f"azure-native:{module}:", f"azure-native:{module}/{version}:"))
        return resource

    resources = [versioned(resource) for resource in example_stacks["tyrell"].resources]
    assert any("/v2023" in resource.type for resource in resources)
    for actor in ("human", "agent:claude"):
        report = policies.check(resources, context_from_catalog(catalog, "paybill-tenant", "tyrell", actor))
        assert report.violations == [] and report.undecided == [], actor
    container = next(index for index, item in enumerate(resources) if item.type.endswith(":BlobContainer"))
    resources[container] = dataclasses.replace(resources[container], inputs={**resources[container].inputs,
                                                                              "publicAccess": "Blob"})
    found = policies.evaluate(resources, context_from_catalog(catalog, "paybill-tenant", "tyrell"))
    assert [(item.policy, item.message) for item in found] == [
        ("azure-storage-account-no-public-access", "publicAccess is 'Blob'.")]

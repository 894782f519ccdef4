"""A pack driven through the CrossGuard analyzer protocol, as the engine does: start the pack's
program, read the port it prints, then GetAnalyzerInfo, Configure, Analyze and AnalyzeStack over gRPC."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.policy.packrun import running_pack

REPO = Path(__file__).resolve().parents[2]
URN = "urn:pulumi:cyberdyne::paybill-tenant::paybill:tenant:Silo$aws:rds/instance:Instance::cyberdyne-db"


@pytest.fixture(scope="module")
def analyzer() -> Iterator[Any]:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    folder = REPO / "policy_packs" / "plan-limits"
    # the engine runs the pack's folder with the project's python
    with running_pack([sys.executable, "-u", str(folder)], folder, environment, "the pack") as stub:
        yield stub


def _struct(values: dict[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def _configure(analyzer: Any, config: dict[str, Any]) -> None:
    """What the engine sends: every policy's enforcement level (its default, as GetAnalyzerInfo gave it,
    unless the config overrides it) and its properties from `--policy-pack-config`."""
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2

    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for policy in analyzer.GetAnalyzerInfo(empty_pb2.Empty()).policies:
        entry = request.policyConfig[policy.name]
        entry.enforcementLevel = policy.enforcementLevel
        properties = dict(config.get(policy.name) or {})
        properties.pop("enforcementLevel", None)
        entry.properties.update(json.loads(json.dumps(properties)))
    analyzer.Configure(request)


def test_the_pack_describes_its_policies(analyzer: Any) -> None:
    import paybill_policies as policies
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2

    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "plan-limits" and info.supportsConfig
    names = {policy.name for policy in info.policies}
    assert names == {rule.id for rule in policies.rules(["plan-limits"])}
    rds = next(policy for policy in info.policies if policy.name == "aws-rds-instance-vcpus-within-plan")
    assert rds.enforcementLevel == analyzer_pb2.MANDATORY and rds.remediation_steps
    assert "context" in rds.configSchema.properties


def test_analyze_and_analyze_stack_use_the_context_from_policy_config(analyzer: Any, catalog: Any) -> None:
    import paybill_policies as policies
    from pulumi.runtime.proto import analyzer_pb2

    from paybill_iac.policy_context import context_from_catalog

    context = context_from_catalog(catalog, "paybill-tenant", "cyberdyne")
    _configure(analyzer, policies.policy_config(context, pack="plan-limits"))
    inputs = {"instanceClass": "db.m7g.16xlarge", "allocatedStorage": 256, "backupRetentionPeriod": 30,
              "deletionProtection": True}
    request = analyzer_pb2.AnalyzeRequest(type="aws:rds/instance:Instance", urn=URN, name="cyberdyne-db",
                                          properties=_struct(inputs))
    found = analyzer.Analyze(request).diagnostics
    assert [(item.policyName, item.enforcementLevel) for item in found] == [
        ("aws-rds-instance-vcpus-within-plan", analyzer_pb2.MANDATORY)]
    assert "64 vCPUs" in found[0].message and "plan 'enterprise'" in found[0].message

    compliant = analyzer_pb2.AnalyzeRequest(type="aws:rds/instance:Instance", urn=URN, name="cyberdyne-db",
                                            properties=_struct({**inputs, "instanceClass": "db.m7g.xlarge"}))
    assert list(analyzer.Analyze(compliant).diagnostics) == []

    second = URN.replace("cyberdyne-db", "cyberdyne-db-2")
    stack = analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(type="aws:rds/instance:Instance", urn=urn, name=urn.rsplit("::", 1)[-1],
                                      properties=_struct({**inputs, "instanceClass": "db.m7g.xlarge"}))
        for urn in (URN, second)])
    found = analyzer.AnalyzeStack(stack).diagnostics
    assert {item.policyName for item in found} == {"aws-database-instance-count-within-plan"}


def test_a_stack_cannot_raise_its_own_plan_through_a_context_for_another_stack(analyzer: Any, catalog: Any) -> None:
    import paybill_policies as policies
    from pulumi.runtime.proto import analyzer_pb2

    from paybill_iac.policy_context import context_from_catalog

    other = context_from_catalog(catalog, "paybill-tenant", "tyrell")  # enterprise, but another tenant
    _configure(analyzer, policies.policy_config(other, pack="plan-limits"))
    request = analyzer_pb2.AnalyzeStackRequest(resources=[analyzer_pb2.AnalyzerResource(
        type="aws:rds/instance:Instance", urn=URN, name="cyberdyne-db",
        properties=_struct({"instanceClass": "db.m7g.xlarge"}))])
    found = analyzer.AnalyzeStack(request).diagnostics
    assert "any-stack-known-to-catalog" in {item.policyName for item in found}


def test_an_unknown_value_is_an_advisory_diagnostic(analyzer: Any, catalog: Any) -> None:
    import paybill_policies as policies
    from pulumi.runtime.proto import analyzer_pb2

    from paybill_iac.policy_context import context_from_catalog

    context = context_from_catalog(catalog, "paybill-tenant", "cyberdyne")
    _configure(analyzer, policies.policy_config(context, pack="plan-limits"))
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    request = analyzer_pb2.AnalyzeRequest(type="aws:rds/instance:Instance", urn=URN, name="cyberdyne-db",
                                          properties=_struct({"instanceClass": unknown, "backupRetentionPeriod": 30}))
    found = analyzer.Analyze(request).diagnostics
    assert [(item.policyName, item.enforcementLevel) for item in found] == [
        ("aws-rds-instance-vcpus-within-plan", analyzer_pb2.ADVISORY)]
    assert "during preview" in found[0].message


def test_without_policy_config_the_stack_is_unknown(analyzer: Any) -> None:
    """The pack reads no catalog (not even the repository's stacks/catalog): the control plane's policy
    config is the only source of a stack's plan."""
    from pulumi.runtime.proto import analyzer_pb2

    _configure(analyzer, {})
    request = analyzer_pb2.AnalyzeStackRequest(resources=[analyzer_pb2.AnalyzerResource(
        type="aws:rds/instance:Instance", urn=URN, name="cyberdyne-db",
        properties=_struct({"instanceClass": "db.m7g.16xlarge"}))])
    found = {item.policyName for item in analyzer.AnalyzeStack(request).diagnostics}
    assert found == {"any-stack-known-to-catalog"}
    resource = analyzer_pb2.AnalyzeRequest(type="aws:rds/instance:Instance", urn=URN, name="cyberdyne-db",
                                           properties=_struct({"instanceClass": "db.m7g.16xlarge"}))
    assert list(analyzer.Analyze(resource).diagnostics) == []  # no plan, so no size limit to hold it to


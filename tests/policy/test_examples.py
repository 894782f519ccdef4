"""Each pack over what the components build for every cloud x topology of the example catalog: the
components are compliant by construction, so no rule may fire."""

from __future__ import annotations

from typing import Any

import paybill_policies as policies
import pytest

from paybill_iac.policy_context import context_from_catalog

CLOUDS = ("aws", "azure", "gcp", "oci")
TOPOLOGIES = ("silo", "bridge", "pooled", "cell")


def _stacks(example_stacks: dict[str, Any], cloud: str, topology: str) -> list[Any]:
    return [stack for stack in example_stacks.values() if stack.cloud == cloud and stack.isolation == topology]


def test_the_example_catalog_covers_every_cloud_and_topology(example_stacks: dict[str, Any]) -> None:
    missing = [(cloud, topology) for cloud in CLOUDS for topology in TOPOLOGIES
               if not _stacks(example_stacks, cloud, topology)]
    assert not missing


@pytest.mark.parametrize("pack", policies.PACKS)
@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("cloud", CLOUDS)
def test_components_violate_no_rule(example_stacks: dict[str, Any], catalog: Any, cloud: str, topology: str,
                                    pack: str) -> None:
    for stack in _stacks(example_stacks, cloud, topology):
        context = context_from_catalog(catalog, stack.project, stack.stack)
        report = policies.check(stack.resources, context, (pack,))
        assert report.violations == [], stack.stack
        assert report.undecided == [], stack.stack


@pytest.mark.parametrize("cloud", CLOUDS)
def test_an_agent_may_deploy_every_tenant_topology_but_no_cell(example_stacks: dict[str, Any], catalog: Any,
                                                               cloud: str) -> None:
    for stack in example_stacks.values():
        if stack.cloud != cloud:
            continue
        context = context_from_catalog(catalog, stack.project, stack.stack, actor="agent:claude")
        found = policies.evaluate(stack.resources, context)
        if stack.isolation == "cell":
            assert [violation.policy for violation in found] == [f"{cloud}-cell-stack-unchanged-by-agent"]
            assert "Approval needed: a cell operator" in found[0].message
        else:
            assert found == [], stack.stack

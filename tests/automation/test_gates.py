"""Agent gates judged from paybill_iac.model.resource_facts: what counts as data when an agent deletes or
replaces it. Pure: no database, no runner."""

from __future__ import annotations

import pytest

from paybill_iac.automation.gates import AgentBudget, data_at_risk, gate_reasons
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.runner import DELETING_OPS, ChangeSummary, Step
from paybill_iac.model.resource_facts import FACTS, is_data_type

TENANT = StackRef.tenant("acme")


def _step(op: str, type_token: str, *, protect: bool = False, retain: bool = False) -> Step:
    return Step(op, f"urn:pulumi:acme::paybill-tenant::paybill:tenant:Silo${type_token}::thing", type_token,
                protect, retain)


def _reasons(*steps: Step) -> list[str]:
    return gate_reasons(TENANT, ChangeSummary.from_steps(steps), AgentBudget())


# Substring matching on type tokens missed these (nothing in "resources:resourcegroup" or
# "authorization:managementlockbyscope" named a data store): deleting either loses the data under it.
@pytest.mark.parametrize("type_token", [
    "azure-native:resources:ResourceGroup",
    "azure-native:resources/v20240301:ResourceGroup",  # an API-versioned token reads as its resource
    "azure-native:authorization:ManagementLockByScope",
])
@pytest.mark.parametrize("op", ["delete", "replace"])
def test_deleting_what_guards_data_is_gated(type_token: str, op: str) -> None:
    [reason] = _reasons(_step(op, type_token))
    verb = "deletes" if op == "delete" else "replaces"
    assert reason == f"it {verb} the stateful resource {type_token} 'thing'"


# Substring matching counted a bucket policy as a bucket ("s3/bucket" is in "s3/bucketpolicy"). It is a
# grant: deleting it loses no data, so an agent may do it within its budget.
@pytest.mark.parametrize("op", ["delete", "replace"])
def test_a_bucket_policy_is_not_data(op: str) -> None:
    assert _reasons(_step(op, "aws:s3/bucketPolicy:BucketPolicy")) == []


@pytest.mark.parametrize("type_token", [
    "aws:efs/fileSystem:FileSystem",  # the substring list did not know it either
    "aws:dynamodb/table:Table",
    "gcp:bigquery/dataset:Dataset",
    "azure-native:documentdb:DatabaseAccount",
    "oci:Database/autonomousDatabase:AutonomousDatabase",
    "kubernetes:core/v1:PersistentVolumeClaim",
])
def test_an_unknown_cloud_type_is_gated(type_token: str) -> None:
    [reason] = _reasons(_step("delete", type_token))
    assert reason == (f"it deletes the resource {type_token} 'thing', a type paybill-iac does not know "
                      "(counted as holding data)")


@pytest.mark.parametrize("type_token", [
    "pulumi:pulumi:Stack", "pulumi:providers:aws", "paybill:tenant:Silo", "paybill:cell:Cell",
    "aws:iam/role:Role", "aws:ec2/securityGroup:SecurityGroup", "azure-native:authorization:RoleAssignment",
])
def test_engine_component_and_known_non_data_types_are_not_gated(type_token: str) -> None:
    assert _reasons(_step("delete", type_token)) == []


def test_the_state_s_protect_and_retain_flags_gate_any_type() -> None:
    assert _reasons(_step("delete", "aws:iam/role:Role", protect=True)) == [
        "it deletes the protected resource aws:iam/role:Role 'thing'"]
    assert _reasons(_step("delete", "aws:iam/role:Role", retain=True)) == [
        "it deletes the stateful resource aws:iam/role:Role 'thing'"]


@pytest.mark.parametrize("token", sorted(FACTS))
def test_every_type_in_the_facts_table_is_gated_exactly_when_it_is_data(token: str) -> None:
    for op in sorted(DELETING_OPS):
        gated = bool(_reasons(_step(op, token)))
        assert gated == is_data_type(token), (op, token)
    assert data_at_risk(_step("delete", token)) == ("stateful" if is_data_type(token) else None)


def test_creating_or_updating_data_is_not_a_deletion() -> None:
    steps = [_step("create", "aws:rds/instance:Instance"), _step("update", "azure-native:resources:ResourceGroup")]
    assert _reasons(*steps) == []


def test_each_resource_is_named_once() -> None:
    rds = "aws:rds/instance:Instance"
    reasons = _reasons(_step("create-replacement", rds), _step("replace", rds), _step("delete-replaced", rds))
    assert reasons == [f"it replaces the stateful resource {rds} 'thing'"]


def test_operation_types_are_the_engine_s_own() -> None:
    """The Python SDK's OpType is the engine's list (pkg/resource/deploy/step.go); nothing else is an op."""
    from pulumi.automation.events import OpType

    from paybill_iac.automation.engine import NO_CHANGE_OPS, OPERATION_TYPES

    assert set(OPERATION_TYPES) == {op.value for op in OpType}
    assert "replace-replaced" not in DELETING_OPS
    assert {"discard-replaced", "import-replacement", "read-replacement", "remove-pending-replace"} <= DELETING_OPS
    assert not DELETING_OPS & NO_CHANGE_OPS
    assert set(OPERATION_TYPES) - DELETING_OPS - NO_CHANGE_OPS == {"create", "update", "import"}


@pytest.mark.parametrize("op", ["discard-replaced", "import-replacement", "a-new-engine-op"])
def test_a_data_resource_lost_by_any_deleting_op_is_gated(op: str) -> None:
    assert _reasons(_step(op, "aws:rds/instance:Instance"))
    assert _reasons(_step(op, "aws:iam/role:Role", protect=True))

"""Failing closed: stack rules on the engine's shape (outputs, dependencies), no input crashing a rule,
undecided rules shown to a person and blocking an agent in `policy check` and `preview`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import paybill_policies as policies
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paybill_iac.policy_context import context_from_catalog
from tests.policy.conftest import engine_shape
from tests.policy.test_policy_check import _check, _export

SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "AAAABBBB"}


@pytest.mark.parametrize("actor", ["human", "agent:claude"])
def test_every_example_stack_passes_in_the_engines_stack_shape(
        example_stacks: dict[str, Any], catalog: Any, actor: str) -> None:
    """Outputs only (no input-only property such as serverName), with dependencies: the stack policies'
    shape. Nothing fires, nothing is undecided (bar the cell guard for an agent)."""
    for stack in example_stacks.values():
        views = engine_shape(stack)
        assert views and any(view.dependencies for view in views)
        context = context_from_catalog(catalog, stack.project, stack.stack, actor)
        report = policies.check(views, context, kinds=("stack",))
        fired = {item.policy for item in report.violations} | {item.policy for item in report.undecided}
        assert fired <= ({f"{stack.cloud}-cell-stack-unchanged-by-agent"} if stack.isolation == "cell" and
                         actor != "human" else set()), (stack.stack, report)


def test_a_lock_elsewhere_does_not_cover_a_server_in_the_engines_shape(
        example_stacks: dict[str, Any], catalog: Any) -> None:
    """azure-native outputs lack serverName: a lock in another resource group used to cover any server."""
    views = engine_shape(example_stacks["tyrell"])
    server = next(view for view in views if view.type == "azure-native:dbforpostgresql:Server")
    assert "serverName" not in server.outputs
    lock = next(index for index, view in enumerate(views) if view.type.endswith(":ManagementLockByScope"))
    views[lock] = dataclasses.replace(views[lock], dependencies=(), property_dependencies={}, inputs={},
                                      outputs={"level": "CanNotDelete", "name": "elsewhere"})
    context = context_from_catalog(catalog, "paybill-tenant", "tyrell")
    found = [item.policy for item in policies.check(views, context).violations]
    assert found == ["azure-postgres-server-deletion-protection"]


_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8)
                       | st.sampled_from(["*", "0.0.0.0/0", "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "{\"Statement\":7}",
                                          "ALL {x}", "Allow any-user to x where any {y}"]),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                    max_size=3), max_leaves=8)
_TYPES = sorted({token for rule in policies.rules() for token in rule.types if not token.endswith("*")})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(type_token=st.sampled_from(_TYPES), inputs=st.dictionaries(
    st.sampled_from(sorted({path.split(".")[0] for rule in policies.rules() for paths in rule.reads.values()
                            for path in paths} | {"policy", "member", "members", "statements", "name", "scope"})),
    _VALUES, max_size=6), agent=st.booleans())
def test_no_input_crashes_a_rule(catalog: Any, type_token: str, inputs: dict[str, Any], agent: bool) -> None:
    context = context_from_catalog(catalog, "paybill-tenant", "globex", "agent:x" if agent else "human")
    view = policies.ResourceView(f"urn:pulumi:globex::paybill-tenant::{type_token}::x", type_token, "x", inputs,
                                 outputs=inputs)
    report = policies.check([view], context)  # never raises: an unexpected shape is a violation
    assert all(item.message for item in report.violations)


def test_policy_check_flags_a_secret_grant_for_a_person_and_blocks_an_agent(
        tmp_path: Path, capsys: Any, example_stacks: dict[str, Any]) -> None:
    export = _export(example_stacks["cyberdyne"])
    for resource in export["deployment"]["resources"]:
        if resource["type"] == "aws:iam/rolePolicy:RolePolicy":
            resource["inputs"]["policy"] = SECRET
    person = _check(tmp_path, capsys, export, "--format", "json")
    report = json.loads(person.stdout)
    assert person.exit_code == 0 and report["summary"]["undecided"] >= 1 and report["summary"]["blocking"] == 0
    assert "undecided" in _check(tmp_path, capsys, export).output
    agent = _check(tmp_path, capsys, export, "--actor", "agent:claude", "--format", "json")
    assert agent.exit_code == 1 and json.loads(agent.stdout)["summary"]["blocking"] >= 1


def test_a_decrypted_export_decides_the_secret_grant(example_stacks: dict[str, Any], catalog: Any) -> None:
    """`pulumi stack export --show-secrets` holds the plaintext: the grant is decided."""
    document = json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    secret = {**{key: value for key, value in SECRET.items() if key != "ciphertext"}, "plaintext": json.dumps(document)}
    resources = [policies.ResourceView.from_dict({**item, "inputs": {**item["inputs"], "policy": secret}})
                 if item["type"] == "aws:iam/rolePolicy:RolePolicy" else policies.ResourceView.from_dict(item)
                 for item in example_stacks["cyberdyne"].registered]
    report = policies.check(resources, context_from_catalog(catalog, "paybill-tenant", "cyberdyne"))
    assert "aws-iam-policy-no-wildcards" in {item.policy for item in report.violations} and not report.undecided


def test_the_preview_shows_undecided_rules_never_dropping_them(example_stacks: dict[str, Any], catalog: Any) -> None:
    from paybill_iac.preview.policies import evaluate_stack

    resources = [{**item, "inputs": {**item["inputs"], "policy": SECRET}} if item["type"] ==
                 "aws:iam/rolePolicy:RolePolicy" else item for item in example_stacks["cyberdyne"].registered]
    resources = [{key: item[key] for key in ("urn", "type", "name", "inputs", "parent", "protect")}
                 for item in resources]
    person = evaluate_stack(catalog, "paybill-tenant", "cyberdyne", "human", resources, outputs={})
    assert person and all(item["level"] == "advisory" and item["message"].startswith("undecided:") for item in person)
    agent = evaluate_stack(catalog, "paybill-tenant", "cyberdyne", "agent:claude", resources, outputs={})
    assert {item["level"] for item in agent} == {"mandatory"}


def test_the_preview_judges_azure_principals_with_the_outputs_the_mock_runtime_registered(
        example_stacks: dict[str, Any], catalog: Any) -> None:
    """Without outputs a grant's principal cannot be told from an outsider's: undecided; the preview hands
    the rules the outputs of the stack it just ran, so nothing is left undecided."""
    from paybill_iac.preview.policies import evaluate_stack

    stack = example_stacks["tyrell"]
    resources = [{key: item[key] for key in ("urn", "type", "name", "inputs", "parent", "protect")}
                 for item in stack.registered]
    blind = evaluate_stack(catalog, "paybill-tenant", "tyrell", "agent:claude", resources, outputs={})
    assert {item["policy"] for item in blind} == {"azure-authorization-principal-within-organisation"}
    outputs = {item["urn"]: item["outputs"] for item in stack.registered}
    assert evaluate_stack(catalog, "paybill-tenant", "tyrell", "agent:claude", resources, outputs=outputs) == []

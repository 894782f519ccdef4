"""The resource facts' engine knowledge checked against the provider SDKs: every input a `replace_on`
names exists, and on OCI (whose SDK marks every updatable input "(Updatable)") an input the components
set forces a replacement exactly when the facts say so."""

from __future__ import annotations

import importlib
import inspect
import re
from functools import cache
from typing import Any

import pytest

from paybill_iac.model import resource_facts

PYTHON_PACKAGE = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "gcp": "pulumi_gcp", "oci": "pulumi_oci"}
PROVIDER_ONLY = {("oci:Identity/compartment:Compartment", "enable_delete")}
"""Inputs of the provider, not of the cloud's API: updatable although the docstring does not say so
(terraform-provider-oci: `enable_delete` only decides whether a destroy deletes the compartment)."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@cache
def _sdk_class(token: str) -> Any:
    package, module, name = token.split(":")
    module_name = module.split("/")[0]
    if package == "oci":
        module_name = module_name.lower()
    return getattr(importlib.import_module(f"{PYTHON_PACKAGE[package]}.{module_name}"), name)


@cache
def _documented(token: str) -> dict[str, str]:
    """The SDK's documentation of each input (snake_case name -> text)."""
    source = inspect.getsource(_sdk_class(token))
    found: dict[str, str] = {}
    for match in re.finditer(r":param [^\n]*?\]+ (\w+): ([^\n]*)", source):
        found.setdefault(match.group(1), match.group(2))
    return found


@pytest.mark.parametrize("token", sorted(resource_facts.FACTS))
def test_replace_on_names_inputs_the_sdk_has(token: str) -> None:
    facts = resource_facts.FACTS[token]
    if token == "aws:rds/cluster:Cluster":  # listed for the agent gates only; no component builds one
        return
    parameters = set(inspect.signature(_sdk_class(token)._internal_init).parameters)
    for path in (*facts.replace_on, *(path for path, _ in facts.deletion_guards), *facts.contained_in,
                 *(path for path, _ in facts.forgets_on_delete), *(path for path, _ in facts.backups_on_delete)):
        head = path.split(".")[0]
        assert _snake(head) in parameters or f"{_snake(head)}_" in parameters, (token, path)


@cache
def _oci_runs() -> list[Any]:
    from tests.components.conftest import ComponentKit

    kit = ComponentKit()
    cell = kit.run_cell(kit.cell_stack("oci"))
    runs = [cell]
    for isolation in ("silo", "bridge", "pooled"):
        for state in ("active", "offboarding"):
            spec = kit.tenant_stack("oci", isolation, state=state)
            runs.append(kit.run_tenant(spec, cell))
            if state == "offboarding":
                runs.append(kit.run_tenant(spec.released(), cell))
    return runs


def test_oci_replacements_are_the_inputs_the_sdk_does_not_mark_updatable() -> None:
    seen: dict[str, set[str]] = {}
    for run in _oci_runs():
        for resource in run.resources:
            if resource.type.startswith("oci:"):
                seen.setdefault(resource.type, set()).update(resource.inputs)
    assert set(seen) == set(resource_facts.of_cloud("oci"))
    problems = []
    for token, inputs in sorted(seen.items()):
        documented = _documented(token)
        facts = resource_facts.FACTS[token]
        for name in sorted(inputs):
            text = documented.get(_snake(name), "")
            if not text:
                continue  # undocumented (the default security list adopts the VCN's): nothing to check against
            updatable = "(Updatable)" in text or (token, _snake(name)) in PROVIDER_ONLY
            conditional = text.startswith("(Conditionally updatable)")
            if not updatable and not conditional and name not in facts.replace_on:
                problems.append(f"{token}.{name} is not updatable: {text[:60]}")
            if updatable and name in facts.replace_on:
                problems.append(f"{token}.{name} is updatable")
    assert not problems, "\n".join(problems)

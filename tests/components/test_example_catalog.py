"""Every cloud x topology of the example catalog, built by the real stack programs from the generated
stack files (stacks/tenant/Pulumi.<tenant>.yaml, stacks/cell/Pulumi.<cell>.yaml) under the mock
runtime: cloud-neutral guarantees here, each cloud's exact resources in test_<cloud>_blocks.py."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

from paybill_iac.mockrun import StackRun, run_stack
from paybill_iac.model import markers, resource_facts
from paybill_iac.model.spec import CELL_PROJECT, TENANT_PROJECT, CellSpec, TenantSpec

REPO = Path(__file__).resolve().parents[2]
PACKAGE = {"aws": "aws", "azure": "azure-native", "gcp": "gcp", "oci": "oci"}
PYTHON_PACKAGE = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "gcp": "pulumi_gcp", "oci": "pulumi_oci"}
TAG_PROPERTY = {"aws": "tags", "azure": "tags", "gcp": "labels", "oci": "freeformTags"}
COMPONENT = {"silo": "paybill:tenant:Silo", "pooled": "paybill:tenant:Pooled", "bridge": "paybill:tenant:Bridge"}


def stack_config(project: str, stack: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "stacks" / project / f"Pulumi.{stack}.yaml").read_text())["config"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[dict[str, Any], StackRun]]:
    """Every cell, then every tenant with a stack, as `pulumi up` would build them."""
    results: dict[str, tuple[dict[str, Any], StackRun]] = {}
    outputs: dict[str, Any] = {}
    for path in sorted((REPO / "stacks" / "cell").glob("Pulumi.*.yaml")):
        cell = path.name.split(".")[1]
        config = stack_config("cell", cell)
        run = run_stack(REPO / "stacks" / "cell" / "__main__.py", project=CELL_PROJECT, stack=cell, config=config)
        outputs[f"organization/{CELL_PROJECT}/{cell}"] = run.outputs
        results[f"cell:{cell}"] = (config, run)
    for path in sorted((REPO / "stacks" / "tenant").glob("Pulumi.*.yaml")):
        tenant = path.name.split(".")[1]
        config = stack_config("tenant", tenant)
        run = run_stack(REPO / "stacks" / "tenant" / "__main__.py", project=TENANT_PROJECT, stack=tenant,
                        config=config, stack_references=outputs)
        results[f"tenant:{tenant}"] = (config, run)
    return results


def custom(run: StackRun) -> list[Any]:
    return [r for r in run.resources if r.custom and not r.type.startswith("pulumi:")]


def test_every_cloud_and_topology_is_built(runs: dict[str, tuple[dict[str, Any], StackRun]]) -> None:
    built = {(config["paybill:cloud"], config["paybill:isolation"]) for key, (config, _) in runs.items()
             if key.startswith("tenant:")}
    assert built == {(cloud, isolation) for cloud in PACKAGE for isolation in COMPONENT}
    assert {config["paybill:cloud"] for key, (config, _) in runs.items() if key.startswith("cell:")} == set(PACKAGE)


def test_resources_belong_to_the_stack_cloud_and_reach_the_component(
    runs: dict[str, tuple[dict[str, Any], StackRun]],
) -> None:
    for key, (config, run) in runs.items():
        cloud = config["paybill:cloud"]
        component_type = "paybill:cell:Cell" if key.startswith("cell:") else COMPONENT[config["paybill:isolation"]]
        components = [r for r in run.resources if r.type == component_type]
        assert len(components) == 1, key
        by_urn = {r.urn: r for r in run.resources}
        resources = custom(run)
        assert resources, key
        for resource in resources:
            assert resource.type.split(":")[0] == PACKAGE[cloud], (key, resource.type)
            parent, hops = resource.parent, 0
            while parent and parent != components[0].urn and hops < 10:
                parent, hops = by_urn[parent].parent if parent in by_urn else "", hops + 1
            assert parent == components[0].urn, (key, resource.type, resource.name)
            assert resource.name.startswith(components[0].name), (key, resource.name)


def spec_of(key: str, config: dict[str, Any]) -> TenantSpec | CellSpec:
    kind, stack = key.split(":", 1)
    return CellSpec.from_config(stack, config) if kind == "cell" else TenantSpec.from_config(stack, config)


def test_every_taggable_resource_carries_the_stack_markers(runs: dict[str, tuple[dict[str, Any], StackRun]]) -> None:
    for key, (config, run) in runs.items():
        expected = spec_of(key, config).markers
        tag_property = TAG_PROPERTY[config["paybill:cloud"]]
        tagged = [r for r in custom(run) if tag_property in r.inputs or "userLabels" in r.inputs.get("settings", {})]
        # GCP's pooled resources (database, managed folder, service account, SQL user) take no labels.
        assert tagged or (config["paybill:cloud"], config.get("paybill:isolation")) == ("gcp", "pooled"), key
        for resource in tagged:
            tags = resource.inputs.get(tag_property) or resource.inputs.get("settings", {}).get("userLabels")
            for marker, value in expected.items():
                assert tags.get(marker) == value, (key, resource.type, marker)
        required = markers.REQUIRED_FOR_CELL if key.startswith("cell:") else markers.REQUIRED_FOR_TENANT
        assert set(required) <= set(expected)


def test_stack_outputs_give_a_service_what_it_needs(runs: dict[str, tuple[dict[str, Any], StackRun]]) -> None:
    for key, (config, run) in runs.items():
        if key.startswith("cell:"):
            assert set(run.outputs["cell"]) == {"scope", "network", "key", "store", "database"}, key
            continue
        offboarding = config["paybill:state"] == "offboarding"
        parts = {"database", "store", "key", "network", "tenant"} | ({"final_backup"} if offboarding else {"identity"})
        assert parts <= set(run.outputs), key
        assert ("identity" in run.outputs) is not offboarding, key  # offboarding removes the access path
        assert run.outputs["tenant"]["id"] == config["paybill:tenant"]
        assert run.outputs["database"], key


def test_physical_names_come_from_the_generated_names(runs: dict[str, tuple[dict[str, Any], StackRun]]) -> None:
    """Each stack's resources use the names in its config (and pooled/bridge ones also the cell's)."""
    for key, (config, run) in runs.items():
        spec = spec_of(key, config)
        cell_names = spec.cell_names if isinstance(spec, TenantSpec) else {}
        names = set(config["paybill:names"].values()) | set(cell_names.values())
        used = {value for r in custom(run) for field, value in r.inputs.items()
                if field in ("name", "bucket", "identifier", "displayName", "accountName", "vaultName",
                             "serverName", "accountId", "resourceGroupName") and isinstance(value, str)}
        assert used & names, key
        # Cloud SQL IAM users are named after the service account's email: derived, not invented.
        stray = {value for value in used
                 if value.startswith(config["paybill:org"] + "-") and value not in names and "@" not in value}
        assert not stray, (key, stray)


def test_offboarding_keeps_data_and_suspension_grants_nothing(runs: dict[str, tuple[dict[str, Any], StackRun]]) -> None:
    for key, (config, run) in runs.items():
        dropped_by_data_plane = {r.urn for r in custom(run) if getattr(resource_facts.facts_for(r.type),
                                                                        "dropped_by_data_plane", False)}
        if key.startswith("cell:"):
            assert {r.urn for r in custom(run) if r.retain_on_delete} == dropped_by_data_plane, key
            continue
        state = config["paybill:state"]
        protected = [r for r in custom(run) if r.protect]
        retained = {r.urn for r in custom(run) if r.retain_on_delete}
        access = [r for r in run.resources if "paybill:tenant:Access" in r.urn]
        if state == "offboarding":
            # kept until retention end: everything but the access path, protected as ever
            assert retained == {r.urn for r in custom(run)} and not access, key
        else:
            assert retained == dropped_by_data_plane, key
            assert access, key
        if config["paybill:isolation"] != "pooled":
            assert protected, key
        if state == "suspended":
            grants = [r for r in access if getattr(resource_facts.facts_for(r.type), "grant", False)]
            assert not grants, (key, [r.name for r in grants])


def test_every_type_token_exists_and_is_current(runs: dict[str, tuple[dict[str, Any], StackRun]]) -> None:
    tokens = {r.type for _, run in runs.values() for r in custom(run)}
    assert len(tokens) > 40
    for token in sorted(tokens):
        package, module_path, class_name = token.split(":")
        module_name = module_path.split("/")[0].lower()
        python_package = PYTHON_PACKAGE[package]
        qualified = python_package if module_name == "index" else f"{python_package}.{module_name}"
        module = importlib.import_module(qualified)
        cls = getattr(module, class_name, None)
        assert cls is not None, f"{token}: no {class_name} in {module.__name__}"
        assert getattr(cls, "pulumi_type", None) == token, token
        source = inspect.getsource(inspect.getmodule(cls))  # type: ignore[arg-type]
        assert f"{class_name} is deprecated:" not in source, f"{token} is deprecated"


def test_protect_and_retain_follow_the_resource_facts(runs: dict[str, tuple[dict[str, Any], StackRun]]) -> None:
    """One table says which types hold or guard data (protected) and which the data plane drops itself
    (never deleted by the engine); one rule says what an offboarding tenant keeps: everything but its
    access path. Every resource of every example stack follows them, and every type a component creates
    is in the table."""
    for key, (config, run) in runs.items():
        offboarding = config.get("paybill:state") == "offboarding"
        for resource in custom(run):
            facts = resource_facts.facts_for(resource.type)
            assert facts is not None, f"{key}: {resource.type} is not in paybill_iac.model.resource_facts"
            assert resource.protect is facts.protected, (key, resource.type, resource.name)
            expected = offboarding or facts.dropped_by_data_plane
            assert resource.retain_on_delete is expected, (key, resource.name)

"""Fixtures of the policy tests: every stack of the example catalog, run once per session under the
mock runtime (paybill_iac.mockrun over stacks/<project>/__main__.py with its generated config)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "stacks" / "catalog"


RUN_ACTIVE = frozenset({"wayne"})
"""Tenants run as if active (their identity granted), so a cloud without an active example tenant still
has grants to judge (Google Cloud: wayne; the context stays the catalog's)."""


@dataclass(frozen=True)
class ExampleStack:
    project: str
    stack: str
    cloud: str
    isolation: str
    resources: tuple[Any, ...]  # ResourceView: inputs, outputs and dependencies, as a stack export has them
    registered: tuple[dict[str, Any], ...]  # RegisteredResource.as_dict() plus outputs


def _config(path: Path) -> dict[str, Any]:
    from paybill_iac.catalog import yamlio

    return dict(yamlio.load_file(path)["config"])


@pytest.fixture(scope="session")
def catalog() -> Any:
    from paybill_iac.catalog import load_catalog

    return load_catalog(CATALOG)


@pytest.fixture(scope="session")
def example_stacks(catalog: Any) -> dict[str, ExampleStack]:
    """Every cell and tenant stack of the example catalog, by stack name, run with the config `generate`
    writes (built in memory from the catalog) under the mock runtime. Each registered resource also keeps
    the dependencies and property dependencies the engine would get (for the engine's stack shape)."""
    from paybill_policies import ResourceView

    import paybill_iac.mockrun as mockrun
    from paybill_iac.model.spec import cell_spec, cells_in_use, tenant_spec

    found: dict[str, ExampleStack] = {}
    cell_runs: dict[str, Any] = {}
    edges: dict[str, tuple[list[str], dict[str, list[str]]]] = {}
    original = mockrun.RecordingMonitor.RegisterResource

    def recording(self: Any, request: Any) -> Any:
        response = original(self, request)
        edges[response.urn] = (list(request.dependencies), {key: list(value.urns) for key, value in
                                                             request.propertyDependencies.items()})
        return response

    def keep(project: str, stack: str, cloud: str, isolation: str, run: Any) -> None:
        registered = tuple({**item.as_dict(), "retain_on_delete": item.retain_on_delete, "provider": item.provider,
                            "outputs": item.outputs, "custom": item.custom, "id": item.id,
                            "dependencies": edges.get(item.urn, ([], {}))[0],
                            "propertyDependencies": edges.get(item.urn, ([], {}))[1]}
                           for item in run.resources)
        views = tuple(ResourceView.from_dict(item) for item in registered)  # a stack export's shape
        found[stack] = ExampleStack(project, stack, cloud, isolation, views, registered)

    mockrun.RecordingMonitor.RegisterResource = recording  # type: ignore[method-assign]
    try:
        for cell in cells_in_use(catalog):
            config = cell_spec(catalog, cell).to_config()
            run = mockrun.run_stack(REPO / "stacks" / "cell" / "__main__.py", project="paybill-cell", stack=cell,
                                    config=config, drop_aliases=True)
            cell_runs[cell] = run
            keep("paybill-cell", cell, config["paybill:cloud"], "cell", run)
        for tenant in sorted(catalog.tenants):
            spec = tenant_spec(catalog, tenant)
            if spec is None:
                continue
            if tenant in RUN_ACTIVE:
                spec = dataclasses.replace(spec, state="active")
            config = spec.to_config()
            references = {spec.cell_stack: cell_runs[spec.cell].outputs} if spec.cell_stack and spec.cell else {}
            run = mockrun.run_stack(REPO / "stacks" / "tenant" / "__main__.py", project="paybill-tenant",
                                    stack=tenant, config=config, stack_references=references, drop_aliases=True)
            keep("paybill-tenant", tenant, config["paybill:cloud"], config["paybill:isolation"], run)
    finally:
        mockrun.RecordingMonitor.RegisterResource = original  # type: ignore[method-assign]
    return found


def engine_shape(stack: ExampleStack) -> list[Any]:
    """The stack as the engine gives it to stack policies: each resource's outputs only (no input-only
    property), its dependencies and property dependencies."""
    from paybill_policies import ResourceView

    views = []
    for item in stack.registered:
        outputs = output_properties(item["type"], item["outputs"])
        views.append(ResourceView(urn=item["urn"], type=item["type"], name=item["name"], inputs=dict(outputs),
                                  outputs=dict(outputs), parent=item["parent"], protect=item["protect"],
                                  retain_on_delete=item["retain_on_delete"], provider=item["provider"],
                                  dependencies=tuple(item["dependencies"]),
                                  property_dependencies={key: tuple(value) for key, value in
                                                         item["propertyDependencies"].items()}))
    return views


def output_properties(type_token: str, state: dict[str, Any]) -> dict[str, Any]:
    """`state` without the properties the provider SDK declares as inputs only (what the engine's outputs
    lack, like an azure-native server's serverName)."""
    from tests.policy.test_sdk_properties import args_class, outputs_of

    try:
        inputs_only = set(_properties(args_class(type_token))) - outputs_of(type_token)
    except Exception:  # noqa: BLE001 - not a provider resource: keep everything
        return dict(state)
    return {key: value for key, value in state.items() if key not in inputs_only}


def _properties(cls: type) -> dict[str, Any]:
    from pulumi._types import _py_properties

    return {wire: prop for _, wire, prop in _py_properties(cls)}


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "fresh_venv: builds a policy pack and installs it into a fresh virtualenv "
                                       "(about 30-60 s, needs the package index); deselect with -m 'not fresh_venv'")

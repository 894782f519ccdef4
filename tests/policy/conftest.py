"""Fixtures of the policy tests: every stack of the example catalog, run once per session under the
mock runtime (paybill_iac.mockrun over stacks/<project>/__main__.py with its generated config)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "stacks" / "catalog"


@dataclass(frozen=True)
class ExampleStack:
    project: str
    stack: str
    cloud: str
    isolation: str
    resources: tuple[Any, ...]  # ResourceView
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
    """Every cell and tenant stack of the example catalog, by stack name."""
    from paybill_policies import ResourceView

    from paybill_iac.mockrun import run_stack

    found: dict[str, ExampleStack] = {}
    cell_runs: dict[str, Any] = {}

    def keep(project: str, stack: str, cloud: str, isolation: str, run: Any) -> None:
        registered = tuple({**item.as_dict(), "retain_on_delete": item.retain_on_delete, "provider": item.provider,
                            "outputs": item.outputs, "custom": item.custom, "id": item.id}
                           for item in run.resources)
        views = tuple(ResourceView.from_dict(item) for item in registered)
        found[stack] = ExampleStack(project, stack, cloud, isolation, views, registered)

    for path in sorted((REPO / "stacks" / "cell").glob("Pulumi.*.yaml")):
        cell = path.name.split(".")[1]
        config = _config(path)
        run = run_stack(REPO / "stacks" / "cell" / "__main__.py", project="paybill-cell", stack=cell, config=config)
        cell_runs[cell] = run
        keep("paybill-cell", cell, config["paybill:cloud"], "cell", run)
    for path in sorted((REPO / "stacks" / "tenant").glob("Pulumi.*.yaml")):
        tenant = path.name.split(".")[1]
        config = _config(path)
        references = {}
        if "paybill:cellStack" in config:
            references = {config["paybill:cellStack"]: cell_runs[config["paybill:cell"]].outputs}
        run = run_stack(REPO / "stacks" / "tenant" / "__main__.py", project="paybill-tenant", stack=tenant,
                        config=config, stack_references=references)
        keep("paybill-tenant", tenant, config["paybill:cloud"], config["paybill:isolation"], run)
    return found

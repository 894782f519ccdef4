"""The block tests run the stack programs' bodies (`paybill_components.stack.build_tenant`, `build_cell`):
what the components build from a spec, without the in-program policy enforcement that wraps them in
`tenant_program` (the policy tests and the example-catalog tests run the real programs, rules included;
the block specs here use unshaped names and no organisation accounts, which the rules would refuse)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import StackKit


class ComponentKit(StackKit):
    def run_cell(self, spec: Any) -> Any:
        from paybill_components.stack import build_cell

        from paybill_iac.mockrun import run_stack

        return run_stack(lambda: build_cell(spec), project=spec.project, stack=spec.cell, config=spec.to_config())

    def run_tenant(self, spec: Any, cell_run: Any = None) -> Any:
        from paybill_components.stack import build_tenant

        from paybill_iac.mockrun import run_stack

        references = {spec.cell_stack: cell_run.outputs} if cell_run is not None else {}
        return run_stack(lambda: build_tenant(spec), project=spec.project, stack=spec.tenant,
                         config=spec.to_config(), stack_references=references)


@pytest.fixture
def stackkit() -> StackKit:
    return ComponentKit()

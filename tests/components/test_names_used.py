"""A stack's config carries exactly the names its program reads (naming.NAMES_USED): recorded here by
running every cloud x role x state with a names mapping that notes each key the components read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import pytest

from paybill_iac.model import naming

READ: dict[tuple[str, str], set[str]] = {}


class RecordingNames(Mapping[str, str]):
    def __init__(self, names: Mapping[str, str], role: tuple[str, str]):
        self.names, self.role = dict(names), role

    def __getitem__(self, key: str) -> str:
        value = self.names[key]  # a key the stack does not have (`in` probes) is not a read
        READ.setdefault(self.role, set()).add(key)
        return value

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("components read names by key, never all of them")

    def __len__(self) -> int:
        return len(self.names)


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp", "oci"])
def test_programs_read_exactly_the_names_in_their_config(stackkit: Any, cloud: str) -> None:
    from paybill_components.stack import build_cell, build_tenant

    from paybill_iac.mockrun import run_stack
    from paybill_iac.model.spec import TenantSpec

    def run(spec: Any, cell_run: Any = None) -> Any:
        role = spec.isolation if isinstance(spec, TenantSpec) else "cell"
        recorded = replace(spec, names=RecordingNames(spec.names, (spec.cloud, role)))
        build = build_tenant if isinstance(spec, TenantSpec) else build_cell
        references = {spec.cell_stack: cell_run.outputs} if cell_run is not None and spec.cell_stack else {}
        return run_stack(lambda: build(recorded), project=spec.project, stack=spec.stack, config=spec.to_config(),
                         stack_references=references)

    cell = run(stackkit.cell_stack(cloud))
    for isolation in ("silo", "bridge", "pooled"):
        for state in ("active", "suspended", "offboarding"):
            spec = stackkit.tenant_stack(cloud, isolation, state=state)
            run(spec, cell)
            if state == "offboarding":
                run(spec.released(), cell)
    for role in ("cell", "silo", "bridge", "pooled"):
        assert READ[(cloud, role)] == set(naming.NAMES_USED[(cloud, role)]), role

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
        READ.setdefault(self.role, set()).add(key)
        return self.names[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("components read names by key, never all of them")

    def __len__(self) -> int:
        return len(self.names)


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp", "oci"])
def test_programs_read_exactly_the_names_in_their_config(stackkit: Any, monkeypatch: Any, cloud: str) -> None:
    import paybill_components.stack as stack_module

    from paybill_iac.model.spec import CellSpec, TenantSpec

    def recording(kind: type[Any]) -> Any:
        original = kind.from_config

        def from_config(stack: str, config: Any) -> Any:
            spec = original(stack, config)
            role = spec.isolation if isinstance(spec, TenantSpec) else "cell"
            return replace(spec, names=RecordingNames(spec.names, (spec.cloud, role)))

        return from_config

    monkeypatch.setattr(stack_module.TenantSpec, "from_config", recording(TenantSpec))
    monkeypatch.setattr(stack_module.CellSpec, "from_config", recording(CellSpec))
    cell = stackkit.run_cell(stackkit.cell_stack(cloud))
    for isolation in ("silo", "bridge", "pooled"):
        for state in ("active", "suspended", "offboarding"):
            stackkit.run_tenant(stackkit.tenant_stack(cloud, isolation, state=state), cell)
    for role in ("cell", "silo", "bridge", "pooled"):
        assert READ[(cloud, role)] == set(naming.NAMES_USED[(cloud, role)]), role

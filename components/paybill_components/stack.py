"""The tenant and cell stack programs: read the generated stack config, build the components, export.

`stacks/tenant/__main__.py` and `stacks/cell/__main__.py` call these; keeping the bodies here makes
them importable by tests and by `paybill-iac preview`, which run the very same code.
"""

from __future__ import annotations

from typing import Any

import pulumi

from paybill_components.args import CellArgs, DatabaseArgs, Placement, TenantArgs
from paybill_components.topology import Cell, Tenant, blocks_class
from paybill_iac.model.spec import NAMESPACE, CellStack, TenantStack


def _getter(config: pulumi.Config) -> Any:
    def get(key: str) -> Any:
        value = config.get(key)
        if value is not None and value[:1] in "{[":
            return config.get_object(key)
        return value

    return get


def _export(outputs: dict[str, Any]) -> None:
    for part, values in outputs.items():
        pulumi.export(part, values)


def tenant_program() -> Tenant:
    """Build the tenant of this stack from its config and export what its service needs."""
    spec = TenantStack.from_config(_getter(pulumi.Config(NAMESPACE)))
    placement = Placement(spec.cloud, spec.region, dict(spec.account))  # type: ignore[arg-type]
    provider = blocks_class(spec.cloud).provider(f"{spec.tenant}-provider", placement)
    cell_output = None
    if spec.isolation in ("pooled", "bridge"):
        if not spec.cell_stack:
            raise ValueError(f"tenant '{spec.tenant}' is {spec.isolation} but its config names no cell stack")
        cell_output = pulumi.StackReference(spec.cell_stack).get_output("cell")
    args = TenantArgs(
        tenant_id=spec.tenant, plan=spec.plan, isolation=spec.isolation,  # type: ignore[arg-type]
        state=spec.state, placement=placement, names=dict(spec.names),  # type: ignore[arg-type]
        markers=dict(spec.markers),
        database=DatabaseArgs.from_config(spec.database) if spec.database else None,
        cell=cell_output, cell_names=dict(spec.cell_names) if spec.cell_names else None,
    )
    tenant = Tenant.create(spec.tenant, args, pulumi.ResourceOptions(providers=[provider]))
    _export(tenant.outputs)
    pulumi.export("tenant", {"id": spec.tenant, "plan": spec.plan, "isolation": spec.isolation,
                             "cloud": spec.cloud, "region": spec.region, "state": spec.state})
    return tenant


def cell_program() -> Cell:
    """Build the cell of this stack and export the `cell` output its tenants read."""
    spec = CellStack.from_config(_getter(pulumi.Config(NAMESPACE)))
    placement = Placement(spec.cloud, spec.region, dict(spec.account))  # type: ignore[arg-type]
    provider = blocks_class(spec.cloud).provider(f"{spec.cell}-provider", placement)
    args = CellArgs(
        cell_id=spec.cell, placement=placement, names=dict(spec.names), markers=dict(spec.markers),
        database=DatabaseArgs.from_config(spec.database),
    )
    cell = Cell(spec.cell, args, pulumi.ResourceOptions(providers=[provider]))
    pulumi.export("cell", cell.handles.as_output())
    secrets = {part: handle.secrets for part, handle in cell.handles.parts().items() if handle.secrets}
    if secrets:
        pulumi.export("secrets", pulumi.Output.secret(secrets))
    return cell

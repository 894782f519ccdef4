"""The isolation models, written once for every cloud.

    silo    the tenant's own scope, network, key, object store, database instance and identity
    bridge  the cell's network; the tenant's own scope, key, object store, database instance, identity
    pooled  the cell's network, key, store and database server; the tenant gets a logical database,
            a slice (prefix, container or folder) of the store, and an identity reaching only those
    cell    the shared parts pooled and bridge tenants use

Each cloud supplies the blocks (paybill_components.<cloud>); nothing here names a cloud resource.

The lifecycle, once for every cloud (the spec says where the tenant is):

    active, onboarding  everything; the identity in its access path, granted its own slice
    suspended           the identity exists, granted nothing
    offboarding         no access path; a final backup of a dedicated database; everything else kept
                        (protected as ever, and retained on delete) until retention end
    guards lifted       a retiring shape of a plan change: protect and cloud-side guards off for the
                        `up` before the one that deletes it (its keys and backups stay in the cloud)
    guards released     retention end: every guard off, for the `up` before `destroy`
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import pulumi

from paybill_components.blocks import CellHandles, CloudBlocks, Grants, Guards, Handle, guard_by_facts
from paybill_iac.model.spec import CellSpec, TenantSpec

_BLOCKS_MODULE = {
    "aws": ("paybill_components.aws", "AwsBlocks"),
    "azure": ("paybill_components.azure", "AzureBlocks"),
    "gcp": ("paybill_components.gcp", "GcpBlocks"),
    "oci": ("paybill_components.oci", "OciBlocks"),
}


def blocks_class(cloud: str) -> type[CloudBlocks]:
    """The building blocks of `cloud`, imported on demand (each provider SDK is heavy)."""
    module, attribute = _BLOCKS_MODULE[cloud]
    return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]


def _outputs(handles: dict[str, Handle]) -> dict[str, Any]:
    """Stack outputs of a set of handles: plain refs, and secrets marked as pulumi secrets."""
    outputs: dict[str, Any] = {}
    for part, handle in handles.items():
        values: dict[str, Any] = dict(handle.refs)
        values.update({key: pulumi.Output.secret(value) for key, value in handle.secrets.items()})
        outputs[part] = values
    return outputs


CellOutput = pulumi.Input[Mapping[str, Any]]
"""The cell stack's `cell` output (CellHandles.as_output), read through a StackReference."""


def _guarded(opts: pulumi.ResourceOptions | None, *, offboarding: bool = False, guards: Guards = "kept",
             keeps_keys: bool = False) -> pulumi.ResourceOptions:
    transformation = guard_by_facts(offboarding=offboarding, guards=guards, keeps_keys=keeps_keys)
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transformations=[transformation]))


class Tenant(pulumi.ComponentResource):
    """A tenant's infrastructure in its isolation model. Use `Tenant.create(name, spec, cell)`."""

    outputs: dict[str, Any]
    """Per part (scope, network, key, store, database, identity, final_backup): what a service needs at
    run time (no identity while offboarding; a final backup only then)."""

    def __init__(self, type_token: str, name: str, spec: TenantSpec, cell: CellOutput | None,
                 opts: pulumi.ResourceOptions | None, guards: Guards | None = None):
        guards = guards or spec.guards
        super().__init__(type_token, name, None, _guarded(
            opts, offboarding=spec.offboarding, guards=guards, keeps_keys=spec.isolation != "pooled"))
        self.spec = spec
        self.guards: Guards = guards
        blocks = blocks_class(spec.cloud)(
            spec.placement, spec.markers, retain_data=spec.retain_data, guards=guards,
            opts=pulumi.ResourceOptions(parent=self)
        )
        self.outputs = _outputs(self._build(name, spec, blocks, cell))
        self.register_outputs(self.outputs)

    def _build(self, name: str, spec: TenantSpec, blocks: CloudBlocks, cell: CellOutput | None) -> dict[str, Handle]:
        raise NotImplementedError

    def _identity(self, name: str, spec: TenantSpec, blocks: CloudBlocks, scope: Handle,
                  grants: Grants) -> dict[str, Handle]:
        """The access path: the identity and its grants; none at all while the tenant is offboarding."""
        if spec.offboarding:
            return {}
        with blocks.access_path(name):
            return {"identity": blocks.identity(name, spec.names, scope, grants)}

    def _final_backup(self, name: str, spec: TenantSpec, blocks: CloudBlocks, scope: Handle,
                      database: Handle) -> dict[str, Handle]:
        """A dedicated instance's final backup while offboarding (and what a retiring shape keeps)."""
        if not spec.offboarding and self.guards != "lifted":
            return {}
        return {"final_backup": blocks.final_backup(name, spec.names, scope, database, _require_database(spec))}

    @staticmethod
    def create(name: str, spec: TenantSpec, cell: CellOutput | None = None,
               opts: pulumi.ResourceOptions | None = None, guards: Guards | None = None) -> Tenant:
        """The component for the tenant's isolation model (pooled and bridge need their `cell`); `guards`
        overrides the spec's (a retiring shape's are lifted)."""
        component = {"silo": SiloTenant, "bridge": BridgeTenant, "pooled": PooledTenant}[spec.isolation]
        return component(name, spec, cell, opts, guards)


def _require_cell(spec: TenantSpec, blocks: CloudBlocks, cell: CellOutput | None) -> CellHandles:
    if cell is None:
        raise ValueError(f"tenant '{spec.tenant}' is {spec.isolation} and needs its cell's outputs")
    return blocks.cell_handles(cell)


def _require_database(spec: TenantSpec) -> Any:
    if spec.database is None:
        raise ValueError(f"{spec.isolation} tenant '{spec.tenant}' needs a database size")
    return spec.database


class SiloTenant(Tenant):
    """Dedicated everything."""

    def __init__(self, name: str, spec: TenantSpec, cell: CellOutput | None = None,
                 opts: pulumi.ResourceOptions | None = None, guards: Guards | None = None):
        super().__init__("paybill:tenant:Silo", name, spec, cell, opts, guards)

    def _build(self, name: str, spec: TenantSpec, blocks: CloudBlocks, cell: CellOutput | None) -> dict[str, Handle]:
        size = _require_database(spec)
        names = spec.names
        scope = blocks.scope(name, names)
        network = blocks.network(name, names, scope)
        key = blocks.key(name, names, scope)
        store = blocks.object_store(name, names, scope, key)
        database = blocks.database_instance(name, names, scope, network, key, size)
        return {"scope": scope, "network": network, "key": key, "store": store, "database": database,
                **self._final_backup(name, spec, blocks, scope, database),
                **self._identity(name, spec, blocks, scope, Grants(store, key, database, active=spec.active))}


class BridgeTenant(Tenant):
    """The cell's network; a dedicated data tier (key, store, database instance)."""

    def __init__(self, name: str, spec: TenantSpec, cell: CellOutput | None = None,
                 opts: pulumi.ResourceOptions | None = None, guards: Guards | None = None):
        super().__init__("paybill:tenant:Bridge", name, spec, cell, opts, guards)

    def _build(self, name: str, spec: TenantSpec, blocks: CloudBlocks, cell: CellOutput | None) -> dict[str, Handle]:
        size = _require_database(spec)
        cell_handles = _require_cell(spec, blocks, cell)
        names = spec.names
        scope = blocks.scope(name, names)
        key = blocks.key(name, names, scope)
        store = blocks.object_store(name, names, scope, key)
        database = blocks.database_instance(name, names, scope, cell_handles.network, key, size)
        return {"scope": scope, "network": cell_handles.network, "key": key, "store": store, "database": database,
                **self._final_backup(name, spec, blocks, scope, database),
                **self._identity(name, spec, blocks, scope, Grants(store, key, database, active=spec.active))}


POOLED_FINAL_BACKUP = {"kind": "logical dump", "taken_by": "the data plane's db-offboard step (its final dump hook)"}
"""A pooled tenant's data is a database in the cell's server: its final backup is the data plane's dump."""


class PooledTenant(Tenant):
    """Logical isolation inside the cell: its own database, store slice and identity."""

    def __init__(self, name: str, spec: TenantSpec, cell: CellOutput | None = None,
                 opts: pulumi.ResourceOptions | None = None, guards: Guards | None = None):
        super().__init__("paybill:tenant:Pooled", name, spec, cell, opts, guards)

    def _build(self, name: str, spec: TenantSpec, blocks: CloudBlocks, cell: CellOutput | None) -> dict[str, Handle]:
        cell_handles = _require_cell(spec, blocks, cell)
        names = spec.names
        prefix = names["prefix"]
        scope = blocks.scope(name, names)
        database = blocks.tenant_database(name, names, scope, cell_handles)
        store = blocks.store_slice(name, names, scope, cell_handles, prefix)
        final = {"final_backup": Handle(dict(POOLED_FINAL_BACKUP))} if spec.offboarding else {}
        return {"scope": scope, "network": cell_handles.network, "key": cell_handles.key, "store": store,
                "database": database, **final,
                **self._identity(name, spec, blocks, scope, Grants(store, cell_handles.key, database, prefix=prefix,
                                                                    active=spec.active))}


class Cell(pulumi.ComponentResource):
    """The shared parts of pooled and bridge tenants in one cloud region."""

    outputs: dict[str, Any]
    """The `cell` stack output tenant stacks read (CellHandles.as_output) plus secrets."""

    def __init__(self, name: str, spec: CellSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("paybill:cell:Cell", name, None, _guarded(opts))
        blocks = blocks_class(spec.cloud)(spec.placement, spec.markers, opts=pulumi.ResourceOptions(parent=self))
        names = spec.names
        scope = blocks.scope(name, names)
        network = blocks.network(name, names, scope)
        key = blocks.key(name, names, scope)
        store = blocks.object_store(name, names, scope, key)
        database = blocks.database_instance(name, names, scope, network, key, spec.database)
        self.handles = CellHandles(scope, network, key, store, database)
        self.outputs = _outputs(self.handles.parts())
        self.register_outputs(self.outputs)

"""The isolation models, written once for every cloud.

    silo    the tenant's own scope, network, key, object store, database instance and identity
    bridge  the cell's network; the tenant's own scope, key, object store, database instance, identity
    pooled  the cell's network, key, store and database server; the tenant gets a logical database,
            a slice (prefix, container or folder) of the store, and an identity reaching only those
    cell    the shared parts pooled and bridge tenants use

Each cloud supplies the blocks (paybill_components.<cloud>); nothing here names a cloud resource.
"""

from __future__ import annotations

import importlib
from typing import Any

import pulumi

from paybill_components.args import CellArgs, TenantArgs
from paybill_components.blocks import CellHandles, CloudBlocks, Grants, Handle

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


class Tenant(pulumi.ComponentResource):
    """A tenant's infrastructure in its isolation model. Use `Tenant.create(name, args)`."""

    outputs: dict[str, Any]
    """Per part (scope, network, key, store, database, identity): what a service needs at run time."""

    def __init__(self, type_token: str, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None):
        super().__init__(type_token, name, None, opts)
        blocks = blocks_class(args.placement.cloud)(
            args.placement,
            args.markers,
            retain_data=args.state == "offboarding",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.outputs = _outputs(self._build(name, args, blocks))
        self.register_outputs(self.outputs)

    def _build(self, name: str, args: TenantArgs, blocks: CloudBlocks) -> dict[str, Handle]:
        raise NotImplementedError

    @staticmethod
    def create(name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> Tenant:
        """The component for the tenant's isolation model."""
        component = {"silo": SiloTenant, "bridge": BridgeTenant, "pooled": PooledTenant}[args.isolation]
        return component(name, args, opts)


def _require_cell(args: TenantArgs, blocks: CloudBlocks) -> CellHandles:
    if args.cell is None:
        raise ValueError(f"tenant '{args.tenant_id}' is {args.isolation} and needs its cell's outputs")
    return blocks.cell_handles(args.cell)


class SiloTenant(Tenant):
    """Dedicated everything."""

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("paybill:tenant:Silo", name, args, opts)

    def _build(self, name: str, args: TenantArgs, blocks: CloudBlocks) -> dict[str, Handle]:
        if args.database is None:
            raise ValueError(f"silo tenant '{args.tenant_id}' needs a database size")
        names = args.names
        scope = blocks.scope(name, names)
        network = blocks.network(name, names, scope)
        key = blocks.key(name, names, scope)
        store = blocks.object_store(name, names, scope, key)
        database = blocks.database_instance(name, names, scope, network, key, args.database)
        identity = blocks.identity(
            name, names, scope, Grants(store, key, database, active=args.state != "suspended")
        )
        return {"scope": scope, "network": network, "key": key, "store": store, "database": database,
                "identity": identity}


class BridgeTenant(Tenant):
    """The cell's network; a dedicated data tier (key, store, database instance)."""

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("paybill:tenant:Bridge", name, args, opts)

    def _build(self, name: str, args: TenantArgs, blocks: CloudBlocks) -> dict[str, Handle]:
        if args.database is None:
            raise ValueError(f"bridge tenant '{args.tenant_id}' needs a database size")
        cell = _require_cell(args, blocks)
        names = args.names
        scope = blocks.scope(name, names)
        key = blocks.key(name, names, scope)
        store = blocks.object_store(name, names, scope, key)
        database = blocks.database_instance(name, names, scope, cell.network, key, args.database)
        identity = blocks.identity(
            name, names, scope, Grants(store, key, database, active=args.state != "suspended")
        )
        return {"scope": scope, "network": cell.network, "key": key, "store": store, "database": database,
                "identity": identity}


class PooledTenant(Tenant):
    """Logical isolation inside the cell: its own database, store slice and identity."""

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("paybill:tenant:Pooled", name, args, opts)

    def _build(self, name: str, args: TenantArgs, blocks: CloudBlocks) -> dict[str, Handle]:
        cell = _require_cell(args, blocks)
        names = args.names
        prefix = names["prefix"]
        scope = blocks.scope(name, names)
        database = blocks.tenant_database(name, names, scope, cell)
        store = blocks.store_slice(name, names, scope, cell, prefix)
        identity = blocks.identity(
            name, names, scope,
            Grants(store, cell.key, database, prefix=prefix, active=args.state != "suspended"),
        )
        return {"scope": scope, "network": cell.network, "key": cell.key, "store": store, "database": database,
                "identity": identity}


class Cell(pulumi.ComponentResource):
    """The shared parts of pooled and bridge tenants in one cloud region."""

    outputs: dict[str, Any]
    """The `cell` stack output tenant stacks read (CellHandles.as_output) plus secrets."""

    def __init__(self, name: str, args: CellArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("paybill:cell:Cell", name, None, opts)
        blocks = blocks_class(args.placement.cloud)(
            args.placement, args.markers, opts=pulumi.ResourceOptions(parent=self)
        )
        names = args.names
        scope = blocks.scope(name, names)
        network = blocks.network(name, names, scope)
        key = blocks.key(name, names, scope)
        store = blocks.object_store(name, names, scope, key)
        database = blocks.database_instance(name, names, scope, network, key, args.database)
        self.handles = CellHandles(scope, network, key, store, database)
        self.outputs = _outputs(self.handles.parts())
        self.register_outputs(self.outputs)

"""The per-cloud building blocks every topology is made of, behind one interface.

Each cloud implements `CloudBlocks` in its own package (`paybill_components.aws`, `.azure`, `.gcp`,
`.oci`). A block creates the few resources of one concern (network, key, object store, database,
identity) and returns a `Handle`: the pulumi outputs other blocks and the stack outputs need, under
keys the cloud documents in its module. Topologies only pass handles along; only the cloud that made
a handle reads its keys. A cell's handles cross into tenant stacks as plain dicts (`Handle.refs`)
through the cell stack's `cell` output and `CloudBlocks.cell_handles`.

Rules every block follows:
- child resource names derive from the `name` it is given (`f"{name}-bucket"`); physical names come
  only from `names` (paybill_iac.model.naming);
- every resource gets `opts` (which carries `parent` and the provider), merged, never dropped;
  stateful ones (keys, buckets, databases, secrets, vaults) use `self.stateful(opts)`;
- every resource that takes tags or labels gets `self.tags`;
- encryption with the given key, no public access, TLS 1.2 or newer, deletion protection on databases.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi

from paybill_components.args import DatabaseArgs, Placement


@dataclass
class Handle:
    """The outputs of one block that others need, keyed as the cloud documents."""

    refs: dict[str, Any] = field(default_factory=dict)
    """Values (pulumi Inputs) by key; exported as they are in stack outputs."""
    secrets: dict[str, Any] = field(default_factory=dict)
    """Values exported as pulumi secrets."""

    def __getitem__(self, key: str) -> Any:
        return self.refs[key]


@dataclass
class Grants:
    """What a tenant identity may reach: exactly its own slice, nothing of another tenant's."""

    store: Handle
    """The object store (the tenant's own, or the cell's shared one)."""
    key: Handle
    """The key that encrypts the tenant's data."""
    database: Handle
    """The tenant's database (own instance, or its logical database in the cell's server)."""
    prefix: str | None = None
    """For a shared store: the only prefix, container or folder the identity may touch."""
    active: bool = True
    """False while the tenant is suspended: the identity exists but is granted nothing."""


@dataclass
class CellHandles:
    """The cell's shared parts as a tenant stack sees them."""

    scope: Handle
    network: Handle
    key: Handle
    store: Handle
    database: Handle

    def parts(self) -> dict[str, Handle]:
        return {"scope": self.scope, "network": self.network, "key": self.key, "store": self.store,
                "database": self.database}

    def as_output(self) -> dict[str, Any]:
        """The `cell` stack output that tenant stacks read through a StackReference."""
        return {part: handle.refs for part, handle in self.parts().items()}


class CloudBlocks(abc.ABC):
    """One cloud's building blocks. Construct one per component; it holds the shared options."""

    cloud: ClassVar[str]

    def __init__(
        self,
        placement: Placement,
        markers: Mapping[str, str],
        *,
        retain_data: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ):
        self.placement = placement
        self.tags = dict(markers)
        self.retain_data = retain_data
        self.opts = opts or pulumi.ResourceOptions()

    def child(self, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
        """Options for a child resource: the component's options merged with `opts`."""
        return pulumi.ResourceOptions.merge(self.opts, opts)

    def stateful(self, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
        """Options for a resource that holds data: protected; also kept in the cloud on delete while
        the tenant is offboarding (then `protect` is lifted so the stack can be destroyed without
        destroying the data)."""
        extra = (
            pulumi.ResourceOptions(protect=False, retain_on_delete=True)
            if self.retain_data
            else pulumi.ResourceOptions(protect=True)
        )
        return pulumi.ResourceOptions.merge(self.child(opts), extra)

    @staticmethod
    @abc.abstractmethod
    def provider(name: str, placement: Placement) -> pulumi.ProviderResource:
        """An explicit provider for `placement` (region, project): the stack passes it to every
        component, so no block reads a region from ambient config."""

    # --- building blocks -------------------------------------------------------------------------

    @abc.abstractmethod
    def scope(self, name: str, names: Mapping[str, str]) -> Handle:
        """The container the other resources live in (Azure resource group, OCI compartment); an
        empty handle where the cloud has none (AWS, GCP: the account or project)."""

    @abc.abstractmethod
    def network(self, name: str, names: Mapping[str, str], scope: Handle) -> Handle:
        """A private network for databases: no public ingress, private subnets only."""

    @abc.abstractmethod
    def key(self, name: str, names: Mapping[str, str], scope: Handle) -> Handle:
        """A customer-managed encryption key (with rotation) and whatever holds it."""

    @abc.abstractmethod
    def object_store(self, name: str, names: Mapping[str, str], scope: Handle, key: Handle) -> Handle:
        """A private, versioned bucket or storage account encrypted with `key`."""

    @abc.abstractmethod
    def database_instance(
        self,
        name: str,
        names: Mapping[str, str],
        scope: Handle,
        network: Handle,
        key: Handle,
        size: DatabaseArgs,
    ) -> Handle:
        """A PostgreSQL instance in `network`, encrypted with `key`, no public endpoint, TLS enforced,
        deletion protection, backups kept `size.backup_retention_days`."""

    @abc.abstractmethod
    def tenant_database(self, name: str, names: Mapping[str, str], scope: Handle, cell: CellHandles) -> Handle:
        """A pooled tenant's logical database in the cell's server: a database resource where the
        cloud has one, otherwise a role and its secret."""

    @abc.abstractmethod
    def store_slice(
        self, name: str, names: Mapping[str, str], scope: Handle, cell: CellHandles, prefix: str
    ) -> Handle:
        """A pooled tenant's slice of the cell's store: a prefix, container or managed folder."""

    @abc.abstractmethod
    def identity(self, name: str, names: Mapping[str, str], scope: Handle, grants: Grants) -> Handle:
        """The tenant's workload identity, permitted exactly `grants` (nothing while inactive)."""

    @abc.abstractmethod
    def cell_handles(self, cell_output: pulumi.Input[Mapping[str, Any]]) -> CellHandles:
        """The cell's handles rebuilt from its stack output (inverse of CellHandles.as_output)."""

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
- every resource gets `self.child(opts)` (which carries `parent` and the provider), merged, never
  dropped; `protect` and `retain_on_delete` are not chosen by hand: `guard_by_facts` sets them on
  every child from paybill_iac.model.resource_facts (data protected; data and what it needs kept on
  offboarding);
- every resource that takes tags or labels gets `self.tags`;
- encryption with the given key, no public access, TLS 1.2 or newer, deletion protection on databases.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi

from paybill_iac.model import resource_facts
from paybill_iac.model.sizing import DatabaseSize
from paybill_iac.model.spec import Placement


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


_BUILDING_ACCESS = contextvars.ContextVar("paybill_building_access", default=False)


@contextlib.contextmanager
def access_path() -> Iterator[None]:
    """Resources built inside are the tenant's access path (its identity and what it is granted): an
    offboarded tenant keeps none of it, whatever the type's facts say. Resource transformations run
    synchronously while a resource is constructed, so the flag is seen by exactly these resources."""
    token = _BUILDING_ACCESS.set(True)
    try:
        yield
    finally:
        _BUILDING_ACCESS.reset(token)


def guard_by_facts(retain_data: bool) -> pulumi.ResourceTransformation:
    """The transformation a component applies to every child: `protect` on the types that hold or guard
    data; while the tenant is offboarding, `retain_on_delete` on those and on what the kept data needs
    (never on its access path), and `protect` lifted so that the stack can be destroyed without
    destroying the data."""

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        facts = resource_facts.facts_for(args.type_)
        if facts is None:
            return None
        if retain_data:
            kept = facts.retained_on_offboarding and not _BUILDING_ACCESS.get()
            extra = pulumi.ResourceOptions(protect=False, retain_on_delete=kept)
        else:
            extra = pulumi.ResourceOptions(protect=facts.protected)
        return pulumi.ResourceTransformationResult(args.props, pulumi.ResourceOptions.merge(args.opts, extra))

    return transform


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
        size: DatabaseSize,
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

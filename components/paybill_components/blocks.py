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
  every child from paybill_iac.model.resource_facts (one rule, below);
- every resource that takes tags or labels gets `self.tags`;
- encryption with the given key, no public access, TLS 1.2 or newer, deletion protection on databases
  while the shape's guards are kept (`self.guarded`), lifted only by the lifecycle (`self.guards`).

The access path, and the one rule of what a tenant keeps: a tenant's identity and everything that
grants it something are built inside `blocks.access_path(name)`, as children of a `paybill:tenant:Access`
component. While the tenant is offboarding its stack builds no access path and keeps everything else
(`retain_on_delete`): the graph closure of its data is exactly that, and
tests/lifecycle/test_invariants.py proves it on every cloud and isolation model from the dependencies
the mock monitor records (every dependency of a kept resource is kept, nothing of the access path is).
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

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

    resource: pulumi.Resource | None = None
    """The block's main resource when this stack made it (not exported): what a resource needing it
    waits for with `depends_on` when no input carries the edge (a bucket encrypted with a key)."""

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

ACCESS_PATH_TYPE = "paybill:tenant:Access"
"""The component holding a tenant's access path (its identity and its grants): URNs say what it is."""

Guards = Literal["kept", "lifted", "released"]
"""How a shape's deletion guards stand (paybill_iac.model.spec.Guards)."""


class AccessPath(pulumi.ComponentResource):
    """A tenant's identity and what it is granted, the one part of a tenant its offboarding removes."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(ACCESS_PATH_TYPE, name, None, opts)
        self.register_outputs({})


def building_access_path() -> bool:
    """Whether the resource being built belongs to a tenant's access path."""
    return _BUILDING_ACCESS.get()


def guard_by_facts(*, offboarding: bool = False, guards: Guards = "kept",
                   keeps_keys: bool = False) -> pulumi.ResourceTransformation:
    """The transformation a component applies to every child (paybill_iac.model.resource_facts):

        guards kept      `protect` on what holds or guards data; while offboarding, `retain_on_delete` on
                         everything but the access path (which the offboarding stack does not build)
        guards lifted    (a retiring shape) no `protect`; `retain_on_delete` on what outlives the shape:
                         its keys (and, `keeps_keys`, the scope holding them) and final backups, which the
                         retained backups need
        guards released  (retention end) no `protect`, nothing kept

    and always `retain_on_delete` on what the data plane drops itself (a database inside a server)."""

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        facts = resource_facts.facts_for(args.type_)
        if facts is None:
            return None
        if guards == "kept":
            protect = facts.protected
            retain = offboarding and not _BUILDING_ACCESS.get()
        elif guards == "lifted":
            protect = False
            retain = facts.encrypts or facts.backup or (facts.scope and keeps_keys)
        else:
            protect, retain = False, False
        extra = pulumi.ResourceOptions(protect=protect, retain_on_delete=retain or facts.dropped_by_data_plane)
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
        guards: Guards = "kept",
        opts: pulumi.ResourceOptions | None = None,
    ):
        self.placement = placement
        self.tags = dict(markers)
        self.retain_data = retain_data
        self.guards: Guards = guards
        self.opts = opts or pulumi.ResourceOptions()

    @property
    def guarded(self) -> bool:
        """Cloud-side deletion guards on (deletion protection, no force-destroy, delete locks)."""
        return self.guards == "kept"

    @property
    def keeps_backups(self) -> bool:
        """Deleting a database leaves its final snapshot and retained backups (all but retention end)."""
        return self.guards != "released"

    def child(self, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
        """Options for a child resource: the component's options merged with `opts`."""
        return pulumi.ResourceOptions.merge(self.opts, opts)

    @contextlib.contextmanager
    def access_path(self, name: str) -> Iterator[None]:
        """Build the tenant's access path inside: its resources become children of a `paybill:tenant:Access`
        component (aliased to their former parent, so stacks created before it keep them), and the
        guard transformation knows them (resource transformations run synchronously while a resource is
        constructed, so the flag is seen by exactly these resources)."""
        owner = self.opts.parent
        component = AccessPath(f"{name}-access", pulumi.ResourceOptions(parent=owner))
        saved = self.opts
        self.opts = pulumi.ResourceOptions.merge(
            saved, pulumi.ResourceOptions(parent=component, aliases=[pulumi.Alias(parent=owner)] if owner else None))
        token = _BUILDING_ACCESS.set(True)
        try:
            yield
        finally:
            _BUILDING_ACCESS.reset(token)
            self.opts = saved

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
    def final_backup(self, name: str, names: Mapping[str, str], scope: Handle, database: Handle,
                     size: DatabaseSize) -> Handle:
        """The backup of a dedicated database instance that outlives it: on offboarding an on-demand
        snapshot or backup kept for `size.backup_retention_days` (until retention end), and for a retiring
        shape whatever its deletion keeps. Its refs say what it is (`kind`, `name`, `retention_days`,
        `taken_by`); a cloud whose API has no such resource says who takes it."""

    @abc.abstractmethod
    def cell_handles(self, cell_output: pulumi.Input[Mapping[str, Any]]) -> CellHandles:
        """The cell's handles rebuilt from its stack output (inverse of CellHandles.as_output)."""

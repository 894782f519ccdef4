"""The contract between stack generation and the stack programs: the keys of a stack's config.

`paybill-iac generate` writes `TenantStack.config()` / `CellStack.config()` into
`stacks/tenant/Pulumi.<tenant>.yaml` and `stacks/cell/Pulumi.<cell>.yaml`; the programs in
`stacks/tenant` and `stacks/cell` read them back with `from_config`. One module holds both directions
so they cannot drift. Pure Python: no pulumi import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "paybill"
TENANT_PROJECT = "paybill-tenant"
CELL_PROJECT = "paybill-cell"

# The provider's own config keys for region (and project): the stack's default provider reads them,
# and so does the explicit provider the program builds.
PROVIDER_REGION_KEY = {"aws": "aws:region", "azure": "azure-native:location", "gcp": "gcp:region",
                       "oci": "oci:region"}


def provider_config(cloud: str, region: str, account: Mapping[str, str]) -> dict[str, str]:
    config = {PROVIDER_REGION_KEY[cloud]: region}
    if cloud == "gcp" and account.get("project"):
        config["gcp:project"] = account["project"]
    return config


def cell_stack_name(pulumi_org: str, cell_id: str) -> str:
    """The fully qualified name a tenant stack uses to reference its cell's stack."""
    return f"{pulumi_org}/{CELL_PROJECT}/{cell_id}"


@dataclass(frozen=True)
class TenantStack:
    """Everything the tenant stack program needs, as written into the stack's config."""

    org: str
    tenant: str
    plan: str
    isolation: str
    cloud: str
    region: str
    state: str
    seats: int
    names: Mapping[str, str]
    markers: Mapping[str, str]
    account: Mapping[str, str] = field(default_factory=dict)
    database: Mapping[str, Any] | None = None  # dedicated instance size (silo, bridge)
    cell: str | None = None  # pooled and bridge
    cell_stack: str | None = None
    cell_names: Mapping[str, str] | None = None

    def config(self) -> dict[str, Any]:
        values: dict[str, Any] = provider_config(self.cloud, self.region, self.account)
        for key, value in (
            ("org", self.org), ("tenant", self.tenant), ("plan", self.plan), ("isolation", self.isolation),
            ("cloud", self.cloud), ("region", self.region), ("state", self.state), ("seats", self.seats),
            ("cell", self.cell), ("cellStack", self.cell_stack), ("database", self.database),
            ("account", dict(self.account) or None), ("names", dict(self.names)),
            ("cellNames", dict(self.cell_names) if self.cell_names else None), ("markers", dict(self.markers)),
        ):
            if value is not None:
                values[f"{NAMESPACE}:{key}"] = value
        return values

    @classmethod
    def from_config(cls, get: Callable[[str], Any]) -> TenantStack:
        """Read back from a config getter (`get("tenant")` -> value or None; objects already parsed)."""
        return cls(
            org=get("org"), tenant=get("tenant"), plan=get("plan"), isolation=get("isolation"),
            cloud=get("cloud"), region=get("region"), state=get("state"), seats=int(get("seats") or 0),
            names=get("names") or {}, markers=get("markers") or {}, account=get("account") or {},
            database=get("database"), cell=get("cell"), cell_stack=get("cellStack"),
            cell_names=get("cellNames"),
        )


@dataclass(frozen=True)
class CellStack:
    """Everything the cell stack program needs."""

    org: str
    cell: str
    cloud: str
    region: str
    names: Mapping[str, str]
    markers: Mapping[str, str]
    database: Mapping[str, Any]
    account: Mapping[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        values: dict[str, Any] = provider_config(self.cloud, self.region, self.account)
        for key, value in (
            ("org", self.org), ("cell", self.cell), ("cloud", self.cloud), ("region", self.region),
            ("database", dict(self.database)), ("account", dict(self.account) or None),
            ("names", dict(self.names)), ("markers", dict(self.markers)),
        ):
            if value is not None:
                values[f"{NAMESPACE}:{key}"] = value
        return values

    @classmethod
    def from_config(cls, get: Callable[[str], Any]) -> CellStack:
        return cls(
            org=get("org"), cell=get("cell"), cloud=get("cloud"), region=get("region"),
            names=get("names") or {}, markers=get("markers") or {}, database=get("database") or {},
            account=get("account") or {},
        )

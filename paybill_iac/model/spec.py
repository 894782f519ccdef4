"""Stack specs: every fact about one stack, built once from the catalog, and the stack config.

    catalog (+ placement ledger) --tenant_spec / cell_spec--> TenantSpec / CellSpec
        |--> to_config(): Pulumi.<stack>.yaml (`paybill-iac generate`)
        |        --> from_config() in the stack program --> components
        |--> the policy context, the preview and the automation (no one re-derives a fact)

A spec is the only source of a stack's facts: its plan and limits, isolation, cloud, region,
account, state, database size, cell and cell stack, and the physical names its program reads
(`naming.NAMES_USED`). Markers, the cell's names and every reserved name are derived from those.

The round trip to stack config is strict: `from_config` refuses a config with a missing key, a value
of the wrong type or one not allowed, or one edited by hand after `generate` wrote it (the
`paybill:digest` key covers every other value), naming the stack, the key and what was expected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast, get_args

from paybill_iac.model import lifecycle, markers, naming, sizing
from paybill_iac.model.catalog import (
    DEDICATED_DB_ISOLATIONS,
    SHARED_ISOLATIONS,
    Catalog,
    Cloud,
    Isolation,
    Plan,
    Tenant,
)
from paybill_iac.model.errors import SpecError
from paybill_iac.model.limits import PlanLimits
from paybill_iac.model.projects import CELL_PROJECT, NAMESPACE, TENANT_PROJECT
from paybill_iac.model.sizing import DatabaseSize

DIGEST_KEY = f"{NAMESPACE}:digest"

__all__ = ["CELL_PROJECT", "NAMESPACE", "TENANT_PROJECT", "CellSpec", "PlanLimits", "Placement", "StackSpec",
           "TenantSpec", "cell_spec", "cell_stack_name", "cells_in_use", "config_digest", "stack_spec",
           "tenant_spec"]

StackState: TypeAlias = Literal["onboarding", "active", "suspended", "offboarding"]
"""The states in which a tenant has a stack (lifecycle.HAS_STACK)."""
CLOUDS: tuple[str, ...] = get_args(Cloud)
ISOLATIONS: tuple[str, ...] = get_args(Isolation)
STACK_STATES: tuple[str, ...] = get_args(StackState)

# The provider's own config keys for region (and project): the stack's default provider reads them,
# and so does the explicit provider the program builds.
PROVIDER_REGION_KEY: Mapping[str, str] = {"aws": "aws:region", "azure": "azure-native:location", "gcp": "gcp:region",
                                          "oci": "oci:region"}


def cell_stack_name(pulumi_org: str, cell_id: str) -> str:
    """The fully qualified name a tenant stack uses to reference its cell's stack."""
    return f"{pulumi_org}/{CELL_PROJECT}/{cell_id}"


@dataclass(frozen=True)
class Placement:
    """Where a stack's resources go: cloud, region and the account-level settings of that cloud
    (gcp `project`; oci `parent_compartment_id`, `tenancy_id`)."""

    cloud: Cloud
    region: str
    account: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TenantSpec:
    """Every fact about one tenant's stack (project paybill-tenant, stack = tenant id)."""

    org: str
    tenant: str
    plan: str
    isolation: Isolation
    cloud: Cloud
    region: str
    state: StackState
    limits: PlanLimits
    names: Mapping[str, str]
    """The physical names the stack program reads (naming.NAMES_USED[(cloud, isolation)])."""
    account: Mapping[str, str] = field(default_factory=dict)
    database: DatabaseSize | None = None
    """The dedicated instance's size (silo, bridge); None for pooled tenants."""
    cell: str | None = None
    """The cell of a pooled or bridge tenant."""
    cell_stack: str | None = None
    """The cell's fully qualified stack name, read through a StackReference."""

    kind = "tenant"
    project = TENANT_PROJECT

    @property
    def stack(self) -> str:
        return self.tenant

    @property
    def placement(self) -> Placement:
        return Placement(self.cloud, self.region, self.account)

    @property
    def markers(self) -> dict[str, str]:
        return markers.tenant_markers(self.tenant, self.plan, self.isolation)

    @property
    def all_names(self) -> Mapping[str, str]:
        """Every physical name reserved for the tenant in its shape (the program's and the workflows')."""
        return naming.tenant_names(self.cloud, self.org, self.tenant, self.isolation)

    @property
    def cell_names(self) -> Mapping[str, str]:
        """The cell's physical names ({} without a cell): shared with the tenant, not foreign to it."""
        return naming.names_for(self.cloud, self.org, self.cell) if self.cell else {}

    @property
    def retain_data(self) -> bool:
        """Offboarding: data resources are kept in the cloud when the stack is destroyed."""
        return self.state == "offboarding"

    @property
    def active(self) -> bool:
        """False while suspended: the tenant's identity exists but is granted nothing."""
        return self.state != "suspended"

    def to_config(self) -> dict[str, Any]:
        values: dict[str, Any] = _provider_config(self.cloud, self.region, self.account)
        for key, value in (
            ("org", self.org), ("tenant", self.tenant), ("plan", self.plan), ("isolation", self.isolation),
            ("cloud", self.cloud), ("region", self.region), ("state", self.state),
            ("cell", self.cell), ("cellStack", self.cell_stack),
            ("database", self.database.as_config() if self.database else None),
            ("account", dict(self.account) or None), ("limits", self.limits.as_config()), ("names", dict(self.names)),
        ):
            if value is not None:
                values[f"{NAMESPACE}:{key}"] = value
        return _with_digest(values)

    @classmethod
    def from_config(cls, stack: str, config: Mapping[str, Any] | Callable[[str], Any]) -> TenantSpec:
        """The spec a generated stack config holds (`config`: full keys to values, parsed or as the
        JSON text Pulumi passes; or a getter of full keys). Raises SpecError naming every problem."""
        read = _ConfigReader(stack, config, TENANT_PROJECT)
        isolation = cast(Isolation, read.choice("isolation", ISOLATIONS))
        cloud = cast(Cloud, read.choice("cloud", CLOUDS))
        shared = isolation in SHARED_ISOLATIONS
        spec = cls(
            org=read.text("org"), tenant=read.text("tenant"), plan=read.text("plan"), isolation=isolation,
            cloud=cloud, region=read.text("region"), state=cast(StackState, read.choice("state", STACK_STATES)),
            limits=read.limits(),
            account=read.strings("account", optional=True),
            names=read.names(cloud, isolation),
            database=read.database(cloud, required=isolation in DEDICATED_DB_ISOLATIONS),
            cell=read.text("cell") if shared else read.absent("cell", f"a {isolation} tenant has no cell"),
            cell_stack=read.text("cellStack") if shared else read.absent("cellStack", "it has no cell"),
        )
        read.finish(spec.tenant, cloud, spec.region)
        return spec


@dataclass(frozen=True)
class CellSpec:
    """Every fact about one cell's stack (project paybill-cell, stack = cell id)."""

    org: str
    cell: str
    cloud: Cloud
    region: str
    database: DatabaseSize
    limits: PlanLimits
    names: Mapping[str, str]
    account: Mapping[str, str] = field(default_factory=dict)

    kind = "cell"
    project = CELL_PROJECT
    isolation = "pooled"  # what the cell's markers say: it serves pooled and bridge tenants
    retain_data = False

    @property
    def stack(self) -> str:
        return self.cell

    @property
    def placement(self) -> Placement:
        return Placement(self.cloud, self.region, self.account)

    @property
    def markers(self) -> dict[str, str]:
        return markers.cell_markers(self.cell)

    @property
    def all_names(self) -> Mapping[str, str]:
        return naming.names_for(self.cloud, self.org, self.cell)

    def to_config(self) -> dict[str, Any]:
        values: dict[str, Any] = _provider_config(self.cloud, self.region, self.account)
        for key, value in (
            ("org", self.org), ("cell", self.cell), ("cloud", self.cloud), ("region", self.region),
            ("database", self.database.as_config()), ("account", dict(self.account) or None),
            ("limits", self.limits.as_config()), ("names", dict(self.names)),
        ):
            if value is not None:
                values[f"{NAMESPACE}:{key}"] = value
        return _with_digest(values)

    @classmethod
    def from_config(cls, stack: str, config: Mapping[str, Any] | Callable[[str], Any]) -> CellSpec:
        read = _ConfigReader(stack, config, CELL_PROJECT)
        cloud = cast(Cloud, read.choice("cloud", CLOUDS))
        database = read.database(cloud, required=True)
        spec = cls(
            org=read.text("org"), cell=read.text("cell"), cloud=cloud, region=read.text("region"),
            database=cast(DatabaseSize, database), limits=read.limits(),
            names=read.names(cloud, "cell"), account=read.strings("account", optional=True),
        )
        read.finish(spec.cell, cloud, spec.region)
        return spec


StackSpec: TypeAlias = TenantSpec | CellSpec


# --- from the catalog ----------------------------------------------------------------------------


def tenant_spec(catalog: Catalog, tenant_id: str) -> TenantSpec | None:
    """The spec of a tenant's stack; None when the tenant has no stack (offboarded)."""
    tenant = catalog.tenants[tenant_id]
    if tenant.state not in lifecycle.HAS_STACK:
        return None
    plan = catalog.plans[tenant.plan]
    org = catalog.settings.org
    isolation = plan.isolation
    cell_id = catalog.placements.get(tenant.id) if isolation in SHARED_ISOLATIONS else None
    database = dedicated_database(plan, tenant) if isolation in DEDICATED_DB_ISOLATIONS else None
    return TenantSpec(
        org=org, tenant=tenant.id, plan=plan.id, isolation=isolation, cloud=tenant.cloud, region=tenant.region,
        state=cast(StackState, tenant.state),
        limits=PlanLimits(
            db_vcpus=plan.limits.db_vcpus, db_storage_gb=plan.limits.db_storage_gb,
            backup_retention_days=plan.limits.backup_retention_days,
            max_db_instances=1 if isolation in DEDICATED_DB_ISOLATIONS else 0,
            regions=tuple(plan.limits.regions) if plan.limits.regions is not None else None),
        names=naming.used_names(tenant.cloud, isolation,
                                naming.tenant_names(tenant.cloud, org, tenant.id, isolation)),
        account=catalog.settings.accounts.for_cloud(tenant.cloud), database=database, cell=cell_id,
        cell_stack=cell_stack_name(catalog.settings.pulumi_org, cell_id) if cell_id else None,
    )


def dedicated_database(plan: Plan, tenant: Tenant) -> DatabaseSize:
    """A silo or bridge tenant's instance: its overrides, else its plan's limits, fitted to its cloud
    (raises sizing.SizingError when nothing fits; the catalog's validation reports it)."""
    overrides, limits = tenant.overrides, plan.limits
    return sizing.database_size(
        tenant.cloud, overrides.db_vcpus or limits.db_vcpus, overrides.db_storage_gb or limits.db_storage_gb,
        overrides.backup_retention_days or limits.backup_retention_days)


def cell_spec(catalog: Catalog, cell_id: str) -> CellSpec:
    cell = catalog.cells[cell_id]
    org = catalog.settings.org
    return CellSpec(
        org=org, cell=cell.id, cloud=cell.cloud, region=cell.region,
        database=sizing.database_size(cell.cloud, cell.db_vcpus, cell.db_storage_gb, cell.backup_retention_days),
        limits=PlanLimits(cell.db_vcpus, cell.db_storage_gb, cell.backup_retention_days, 1, (cell.region,)),
        names=naming.used_names(cell.cloud, "cell", naming.names_for(cell.cloud, org, cell.id)),
        account=catalog.settings.accounts.for_cloud(cell.cloud),
    )


def cells_in_use(catalog: Catalog) -> list[str]:
    """The cells hosting at least one tenant: the ones that get a stack."""
    return sorted(set(catalog.placements.values()))


def stack_spec(catalog: Catalog, project: str, stack: str) -> StackSpec | None:
    """The spec of `project/stack`; None when the catalog has no such tenant with a stack, or cell."""
    if project == CELL_PROJECT:
        return cell_spec(catalog, stack) if stack in catalog.cells else None
    if project == TENANT_PROJECT and stack in catalog.tenants:
        return tenant_spec(catalog, stack)
    return None


# --- stack config --------------------------------------------------------------------------------


def _provider_config(cloud: str, region: str, account: Mapping[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {PROVIDER_REGION_KEY[cloud]: region}
    if cloud == "gcp" and account.get("project"):
        config["gcp:project"] = account["project"]
    return config


def config_digest(values: Mapping[str, Any]) -> str:
    """A digest of every config value but the digest itself: a hand edit changes it."""
    canonical = json.dumps({key: value for key, value in values.items() if key != DIGEST_KEY}, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _with_digest(values: dict[str, Any]) -> dict[str, Any]:
    values[DIGEST_KEY] = config_digest(values)
    return values


_MISSING = object()


class _ConfigReader:
    """Reads `paybill:` keys strictly, collecting every problem before raising one SpecError."""

    def __init__(self, stack: str, config: Mapping[str, Any] | Callable[[str], Any], project: str):
        self.stack = stack
        self.project = project
        self.get: Callable[[str], Any] = config.get if isinstance(config, Mapping) else config
        self.problems: list[str] = []
        self.seen: dict[str, Any] = {}

    def _raw(self, key: str, expected: str) -> Any:
        full = f"{NAMESPACE}:{key}"
        value = self.get(full)
        if value is None:
            self.problems.append(f"config key '{full}' is missing (expected {expected})")
            return _MISSING
        if isinstance(value, str) and expected.startswith(("a mapping", "a list")):
            try:
                value = json.loads(value)
            except ValueError:
                self.problems.append(f"config key '{full}' is not valid JSON (expected {expected})")
                return _MISSING
        self.seen[full] = value
        return value

    def _wrong(self, key: str, expected: str, value: Any) -> None:
        shown = json.dumps(value) if isinstance(value, (str, int, float, bool)) else type(value).__name__
        self.problems.append(f"config key '{NAMESPACE}:{key}' must be {expected}, got {shown}")

    def text(self, key: str) -> str:
        value = self._raw(key, "text")
        if value is _MISSING:
            return ""
        if not isinstance(value, str) or not value:
            self._wrong(key, "non-empty text", value)
            return ""
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        expected = f"one of {', '.join(choices)}"
        value = self._raw(key, expected)
        if value is _MISSING:
            return choices[0]
        if value not in choices:
            self._wrong(key, expected, value)
            return choices[0]
        return str(value)

    def absent(self, key: str, why: str) -> str | None:
        """None, which is what the key must be (a value is a problem: `why` says why)."""
        if self.get(f"{NAMESPACE}:{key}") is not None:
            self.problems.append(f"config key '{NAMESPACE}:{key}' must not be set: {why}")
        return None

    def strings(self, key: str, *, optional: bool = False) -> dict[str, str]:
        if optional and self.get(f"{NAMESPACE}:{key}") is None:
            return {}
        value = self._raw(key, "a mapping of text")
        if value is _MISSING:
            return {}
        if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            self._wrong(key, "a mapping of text values", value)
            return {}
        return dict(value)

    def names(self, cloud: str, role: str) -> dict[str, str]:
        names = self.strings("names")
        wanted = naming.NAMES_USED[(cloud, role)]
        missing = [key for key in wanted if key not in names]
        extra = sorted(set(names) - set(wanted))
        if names and missing:
            self.problems.append(f"config key '{NAMESPACE}:names' lacks {', '.join(missing)} "
                                 f"(a {cloud} {role} stack reads {', '.join(wanted)})")
        if extra:
            self.problems.append(f"config key '{NAMESPACE}:names' has {', '.join(extra)}, which a {cloud} {role} "
                                 "stack does not use")
        return names

    def limits(self) -> PlanLimits:
        expected = "a mapping of db_vcpus, db_storage_gb, backup_retention_days, max_db_instances (and regions)"
        value = self._raw("limits", expected)
        fallback = PlanLimits(1, 1, 1, 0)
        if value is _MISSING:
            return fallback
        numbers = ("db_vcpus", "db_storage_gb", "backup_retention_days", "max_db_instances")
        if not isinstance(value, Mapping) or set(value) - {*numbers, "regions"} or any(
                isinstance(value.get(key), bool) or not isinstance(value.get(key), int) for key in numbers):
            self._wrong("limits", expected, value)
            return fallback
        regions = value.get("regions")
        if regions is not None and not (isinstance(regions, list) and all(isinstance(r, str) for r in regions)):
            self._wrong("limits", "regions as a list of text", regions)
            regions = None
        return PlanLimits(int(value["db_vcpus"]), int(value["db_storage_gb"]), int(value["backup_retention_days"]),
                          int(value["max_db_instances"]), tuple(regions) if regions is not None else None)

    def database(self, cloud: str, *, required: bool) -> DatabaseSize | None:
        key = "database"
        if not required:
            self.absent(key, "only silo and bridge tenants and cells have a database instance")
            return None
        expected = "a mapping of instance_class, vcpus, storage_gb, backup_retention_days, engine_version"
        value = self._raw(key, expected)
        if value is _MISSING:
            return None
        fields = DatabaseSize.__dataclass_fields__
        if not isinstance(value, Mapping) or set(value) - set(fields):
            self._wrong(key, expected, value)
            return None
        try:
            size = DatabaseSize(**value)
        except TypeError:
            self._wrong(key, expected, value)
            return None
        if sizing.vcpus_of(cloud, size.instance_class, size.ocpus or None) is None:
            self.problems.append(f"config key '{NAMESPACE}:database' names instance class "
                                 f"'{size.instance_class}', which {cloud} does not offer")
        return size

    def finish(self, owner: str, cloud: str, region: str) -> None:
        if owner and owner != self.stack:
            self.problems.append(f"config key '{NAMESPACE}:{'tenant' if self.project == TENANT_PROJECT else 'cell'}' "
                                 f"is '{owner}' but the stack is '{self.stack}'")
        provider_key = PROVIDER_REGION_KEY[cloud]
        if not self.problems and self.get(provider_key) not in (None, region):
            self.problems.append(f"config key '{provider_key}' is '{self.get(provider_key)}' but "
                                 f"'{NAMESPACE}:region' is '{region}'")
        if not self.problems:
            self._check_digest()
        if self.problems:
            listing = "\n".join(f"  {problem}" for problem in self.problems)
            raise SpecError(f"stack '{self.project}/{self.stack}': its config cannot be used "
                            f"(regenerate it with `paybill-iac generate`):\n{listing}")

    def _check_digest(self) -> None:
        digest = self.get(DIGEST_KEY)
        if digest is None:
            self.problems.append(f"config key '{DIGEST_KEY}' is missing (expected the digest `paybill-iac generate` "
                                 "writes)")
            return
        written = dict(self.seen)
        for key in (*PROVIDER_REGION_KEY.values(), "gcp:project"):
            if self.get(key) is not None:
                written[key] = self.get(key)
        if digest != config_digest(written):
            self.problems.append(f"config key '{DIGEST_KEY}' does not match the other values: the file was edited "
                                 "by hand after `paybill-iac generate` wrote it")

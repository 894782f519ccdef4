"""Stack specs: every fact about one stack, built once from the catalog, and the stack config.

    catalog (+ placement ledger) --tenant_spec / cell_spec--> TenantSpec / CellSpec
        |--> to_config(): Pulumi.<stack>.yaml (`paybill-iac generate`)
        |        --> from_config() in the stack program --> components
        |--> the policy context, the preview and the automation (no one re-derives a fact)

A spec is the only source of a stack's facts: its plan and limits, isolation, cloud, region,
account, state, database size, cell and cell stack, and the physical names its program reads
(`naming.NAMES_USED`). Markers, the cell's names and every reserved name are derived from those.

A spec also says how the stack's guards stand in the tenant's lifecycle (`guards`: kept, or released
for the one `up` before the stack is destroyed at retention end), which generation of the names the
cloud never frees it uses (`generation`, naming.NEVER_FREED), and, while a plan change moves the
tenant between isolation models, the shape it retires (`retiring`: built beside the new one with its
guards kept, then lifted for one `up`, then left out so that the next `up` deletes it).

The round trip to stack config is strict: `from_config` refuses a config with a missing key, a value
of the wrong type or one not allowed, or one edited by hand after `generate` wrote it (the
`paybill:digest` key covers every other value), naming the stack, the key and what was expected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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

__all__ = ["CELL_PROJECT", "NAMESPACE", "TENANT_PROJECT", "CellSpec", "Guards", "PlanLimits", "Placement",
           "RetiringShape", "StackSpec", "TenantSpec", "cell_spec", "cell_stack_name", "cells_in_use", "config_digest",
           "stack_spec", "tenant_spec"]

StackState: TypeAlias = Literal["onboarding", "active", "suspended", "offboarding"]
"""The states in which a tenant has a stack (lifecycle.HAS_STACK)."""
CLOUDS: tuple[str, ...] = get_args(Cloud)
ISOLATIONS: tuple[str, ...] = get_args(Isolation)
STACK_STATES: tuple[str, ...] = get_args(StackState)

Guards: TypeAlias = Literal["kept", "lifted", "released"]
"""How a shape's deletion guards stand:

    kept      `protect` on what holds or guards data, cloud-side deletion protection on (RDS and Cloud SQL
              deletion protection, no force-destroy of a non-empty bucket, the Azure delete lock, an OCI
              compartment that is never deleted)
    lifted    a plan change's retire step: `protect` and the cloud-side guards off so that the next `up`
              can delete the old shape; what outlives it stays in the cloud (its key and scope, a final
              snapshot or retained backups encrypted with that key)
    released  retention end: everything off, nothing kept, no final snapshot: the next `destroy` leaves
              nothing but what the cloud never deletes (GCP key rings)
"""
GUARDS: tuple[str, ...] = get_args(Guards)

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
class RetiringShape:
    """The shape a plan change moves a tenant out of, built beside the new one until it is retired."""

    plan: str
    isolation: Isolation
    names: Mapping[str, str]
    """Its physical names (naming.NAMES_USED[(cloud, isolation)], at its own generation)."""
    generation: int = 0
    database: DatabaseSize | None = None
    cell: str | None = None
    cell_stack: str | None = None
    guards: Literal["kept", "lifted"] = "kept"

    def as_config(self) -> dict[str, Any]:
        values: dict[str, Any] = {"plan": self.plan, "isolation": self.isolation, "names": dict(self.names),
                                  "guards": self.guards}
        if self.generation:
            values["generation"] = self.generation
        if self.database is not None:
            values["database"] = self.database.as_config()
        if self.cell is not None:
            values["cell"] = self.cell
            values["cellStack"] = self.cell_stack
        return values


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
    generation: int = 0
    """The generation of the names the cloud never frees (naming.NEVER_FREED); 0: no suffix."""
    guards: Guards = "kept"
    """kept, or released (state offboarding only) for the `up` before `destroy` at retention end."""
    retiring: RetiringShape | None = None
    """The shape a plan change is retiring (another isolation model), built beside this one."""

    kind = "tenant"
    project = TENANT_PROJECT

    def __post_init__(self) -> None:
        if self.guards == "lifted":
            raise SpecError(f"tenant '{self.tenant}': only a retiring shape has its guards lifted; a stack's own "
                            "shape is kept or released")
        if self.guards == "released" and (self.state != "offboarding" or self.retiring is not None):
            raise SpecError(f"tenant '{self.tenant}': guards are released only at retention end (state offboarding, "
                            f"no plan change), not while {self.state}")
        if self.retiring is not None and self.retiring.isolation == self.isolation:
            raise SpecError(f"tenant '{self.tenant}': a plan change within {self.isolation} updates the shape in "
                            "place; only a change of isolation model retires a shape")
        if self.retiring is not None and self.state == "offboarding":
            raise SpecError(f"tenant '{self.tenant}': an offboarding tenant does not change plan")

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
        """Offboarding (until retention end): everything but the access path is kept in the cloud on delete."""
        return self.state == "offboarding" and self.guards == "kept"

    @property
    def offboarding(self) -> bool:
        """The tenant is leaving: no access path, a final backup, everything else kept until retention end."""
        return self.state == "offboarding"

    def retiring_spec(self) -> TenantSpec | None:
        """The retiring shape as a spec of its own (what its component is built from), or None."""
        old = self.retiring
        if old is None:
            return None
        return replace(self, plan=old.plan, isolation=old.isolation, names=old.names, generation=old.generation,
                       database=old.database, cell=old.cell, cell_stack=old.cell_stack, guards="kept",
                       retiring=None)

    def with_retiring(self, old: TenantSpec, guards: Literal["kept", "lifted"] = "kept") -> TenantSpec:
        """This spec (the new shape) building `old`'s shape beside it with its guards `guards`."""
        return replace(self, retiring=RetiringShape(
            plan=old.plan, isolation=old.isolation, names=old.names, generation=old.generation,
            database=old.database, cell=old.cell, cell_stack=old.cell_stack, guards=guards))

    def released(self) -> TenantSpec:
        """This (offboarding) spec with every guard released: the `up` before `destroy` at retention end."""
        return replace(self, guards="released")

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
            ("generation", self.generation or None), ("guards", None if self.guards == "kept" else self.guards),
            ("retiring", self.retiring.as_config() if self.retiring else None),
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
            generation=read.optional_integer("generation"),
            guards=cast(Guards, read.choice("guards", ("released",), default="kept")),
            retiring=read.retiring(cloud, isolation),
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
    generation: int = 0
    """The generation of the names the cloud never frees (a cell created again after one was deleted)."""

    kind = "cell"
    project = CELL_PROJECT
    isolation = "pooled"  # what the cell's markers say: it serves pooled and bridge tenants
    retain_data = False
    offboarding = False
    guards = "kept"

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
            ("limits", self.limits.as_config()), ("names", dict(self.names)), ("generation", self.generation or None),
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
            generation=read.optional_integer("generation"),
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
        names=tenant_shape_names(tenant.cloud, org, tenant.id, isolation, catalog.generations.get(tenant.id, 0)),
        account=catalog.settings.accounts.for_cloud(tenant.cloud), database=database, cell=cell_id,
        cell_stack=cell_stack_name(catalog.settings.pulumi_org, cell_id) if cell_id else None,
        generation=catalog.generations.get(tenant.id, 0),
    )


def tenant_shape_names(cloud: str, org: str, tenant_id: str, isolation: str, generation: int = 0) -> dict[str, str]:
    """The names a tenant's stack program reads in `isolation`, at `generation` (naming.NEVER_FREED)."""
    names = naming.with_generation(cloud, org, tenant_id, naming.SHAPE_TAGS[isolation], generation,
                                   naming.tenant_names(cloud, org, tenant_id, isolation))
    return naming.used_names(cloud, isolation, names)


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
    generation = catalog.generations.get(cell.id, 0)
    return CellSpec(
        org=org, cell=cell.id, cloud=cell.cloud, region=cell.region,
        database=sizing.database_size(cell.cloud, cell.db_vcpus, cell.db_storage_gb, cell.backup_retention_days),
        limits=PlanLimits(cell.db_vcpus, cell.db_storage_gb, cell.backup_retention_days, 1, (cell.region,)),
        names=naming.used_names(cell.cloud, "cell", naming.with_generation(
            cell.cloud, org, cell.id, "", generation, naming.names_for(cell.cloud, org, cell.id))),
        account=catalog.settings.accounts.for_cloud(cell.cloud), generation=generation,
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
        if isinstance(value, str) and expected.startswith(("a mapping", "a list", "a whole number")):
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

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        expected = f"one of {', '.join(choices)}"
        if default is not None and self.get(f"{NAMESPACE}:{key}") is None:
            return default
        value = self._raw(key, expected)
        if value is _MISSING:
            return choices[0]
        if value not in choices:
            self._wrong(key, expected, value)
            return choices[0]
        return str(value)

    def optional_integer(self, key: str) -> int:
        """An optional whole number of at least 1 (0 when the key is absent)."""
        if self.get(f"{NAMESPACE}:{key}") is None:
            return 0
        expected = "a whole number of at least 1"
        value = self._raw(key, expected)
        if value is _MISSING:
            return 0
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self._wrong(key, expected, value)
            return 0
        return value

    def retiring(self, cloud: str, isolation: str) -> RetiringShape | None:
        """The retiring shape of a plan change, or None when the key is absent."""
        key = f"{NAMESPACE}:retiring"
        if self.get(key) is None:
            return None
        expected = "a mapping of plan, isolation, names, guards (and generation, database, cell, cellStack)"
        value = self._raw("retiring", "a mapping: " + expected)
        allowed = {"plan", "isolation", "names", "guards", "generation", "database", "cell", "cellStack"}
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping) or set(value) - allowed or not {"plan", "isolation", "names"} <= set(value):
            self._wrong("retiring", expected, value)
            return None
        old = value.get("isolation")
        if old not in ISOLATIONS or old == isolation:
            self.problems.append(f"config key '{key}' must name an isolation model other than {isolation}, got "
                                 f"{json.dumps(old)}")
            return None
        guards = value.get("guards", "kept")
        if guards not in ("kept", "lifted"):
            self.problems.append(f"config key '{key}': guards must be kept or lifted, got {json.dumps(guards)}")
            return None
        names = value.get("names")
        wanted = naming.NAMES_USED[(cloud, old)]
        if not isinstance(names, Mapping) or set(names) != set(wanted) or not all(
                isinstance(item, str) for item in names.values()):
            self.problems.append(f"config key '{key}': names must be exactly {', '.join(wanted)} (a {cloud} {old} "
                                 "shape's names)")
            return None
        generation = value.get("generation", 0)
        if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
            self.problems.append(f"config key '{key}': generation must be a whole number, got {json.dumps(generation)}")
            return None
        shared = old in SHARED_ISOLATIONS
        cell, cell_stack = value.get("cell"), value.get("cellStack")
        if shared != isinstance(cell, str) or shared != isinstance(cell_stack, str):
            self.problems.append(f"config key '{key}': a {old} shape {'needs' if shared else 'has no'} cell and "
                                 "cellStack")
            return None
        database = value.get("database")
        size: DatabaseSize | None = None
        if (old in DEDICATED_DB_ISOLATIONS) != isinstance(database, Mapping):
            verb = "needs" if old in DEDICATED_DB_ISOLATIONS else "has no"
            self.problems.append(f"config key '{key}': a {old} shape {verb} database")
            return None
        if isinstance(database, Mapping):
            try:
                size = DatabaseSize(**database)
            except TypeError:
                self.problems.append(f"config key '{key}': database is not a database size")
                return None
        plan = value.get("plan")
        if not isinstance(plan, str) or not plan:
            self.problems.append(f"config key '{key}': plan must be non-empty text")
            return None
        return RetiringShape(plan=plan, isolation=cast(Isolation, old), names=dict(names), generation=generation,
                             database=size, cell=cell, cell_stack=cell_stack, guards=guards)

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

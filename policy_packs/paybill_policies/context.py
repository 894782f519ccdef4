"""What the rules know about a stack: the PolicyContext, and how a pack gets it from its policy config.

    PolicyContext          the stack's tenant or cell, plan, limits, isolation, cloud, region, state,
                           physical names, other owners' names, and who deploys
    PlanLimits             what the plan lets the stack provision
    unknown_context()      a stack the catalog does not know: only context-free rules run (and the
                           catalog-entry rules of every pack refuse it)
    context_from_spec()    the context of a stack from its spec (the control plane adds the other
                           owners' names; the in-program enforcement has the spec alone)
    context_from_config()  the context one policy call uses, from the policy config

The control plane builds a context from the catalog (`paybill_iac.policy_context.context_from_catalog`)
and hands it to the packs as policy config (`paybill_policies.config.policy_config`); this library
never reads a catalog. The context comes from the catalog, never from the stack: a stack (or an agent
editing it) cannot raise its own plan by setting a tag or a config value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from paybill_iac.model import markers
from paybill_iac.model.limits import PlanLimits
from paybill_iac.model.projects import CELL_PROJECT, TENANT_PROJECT
from paybill_iac.model.spec import CellSpec, TenantSpec
from paybill_policies.errors import ContextError

__all__ = [
    "ACCOUNT_KINDS", "CELL_PROJECT", "DEFAULT_MAX_RESOURCES", "TENANT_PROJECT", "ContextError", "PlanLimits",
    "PolicyContext", "accounts_of", "context_from_config", "context_from_spec", "unknown_context",
]

ACCOUNT_KINDS = ("aws", "azure_tenant", "azure_subscription", "gcp_project", "oci_tenancy", "oci_home_region")
"""The kinds of the organisation's accounts a context lists (PolicyContext.accounts)."""

DEFAULT_MAX_RESOURCES = 80
"""Most cloud resources one stack may hold when an agent deploys it (policy config `maxResources`)."""


@dataclass(frozen=True)
class PolicyContext:
    """What the catalog says about one stack, and who runs the deployment."""

    project: str
    """paybill-tenant or paybill-cell."""
    stack: str
    """The tenant id or the cell id."""
    actor: str = "human"
    """human, or agent:<name> (the agent guardrails apply to agents)."""
    kind: str = "tenant"
    """tenant or cell."""
    tenant: str = ""
    cell: str = ""
    """The tenant's cell (pooled, bridge) or the cell itself."""
    plan: str = ""
    isolation: str = ""
    """silo, bridge or pooled; a cell is pooled."""
    cloud: str = ""
    region: str = ""
    state: str = ""
    org: str = ""
    limits: PlanLimits | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    """The stack's own physical names (paybill_iac.model.naming)."""
    cell_names: Mapping[str, str] = field(default_factory=dict)
    """The tenant's cell's physical names (shared, so not foreign)."""
    foreign_names: frozenset[str] = frozenset()
    """Physical names and prefixes of every other tenant and cell: a resource naming one crosses
    the isolation boundary."""
    max_resources: int = DEFAULT_MAX_RESOURCES
    known: bool = True
    """False when the catalog has no entry for the stack (then only context-free rules run)."""
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """The organisation's own accounts by kind (ACCOUNT_KINDS: AWS account ids, the Entra tenant, Azure
    subscriptions, the GCP project, the OCI tenancy): the only ones a grant or provider may name."""
    cell_stack: str = ""
    """The fully qualified stack name of the tenant's cell: the only stack it may reference."""
    retiring: Mapping[str, Any] = field(default_factory=dict)
    """During a plan change, the retiring shape built beside the new one: its `markers`, `names`,
    `cell_names`, `isolation`, `cell_stack` and `guards` (kept, or lifted for its retire step; its resources
    are the tenant's own too); {} otherwise."""
    guards: str = "kept"
    """How the stack's own shape's deletion guards stand: kept, or released (the `up` before `destroy` at
    retention end, state offboarding only)."""

    def own(self, key: str) -> set[str]:
        """The stack's own physical names under `key`: the shape's, and the retiring shape's."""
        found = {str(self.names.get(key) or "")} | {str((self.retiring.get("names") or {}).get(key) or "")}
        return found - {""}

    def own_cell(self, key: str) -> set[str]:
        """The physical names under `key` of the cells the stack's shapes use (the retiring one's too)."""
        found = {str(self.cell_names.get(key) or "")} | {str((self.retiring.get("cell_names") or {}).get(key) or "")}
        return found - {""}

    def guards_released(self) -> bool:
        """Retention end: every guard of the stack is off on purpose, for the `up` before its `destroy`."""
        return self.kind == "tenant" and self.guards == "released" and self.state == "offboarding"

    def org_accounts(self, kind: str) -> tuple[str, ...]:
        """The organisation's accounts of `kind` (lowercase, as compared)."""
        return tuple(item.lower() for item in self.accounts.get(kind, ()))

    @property
    def is_agent(self) -> bool:
        return self.actor == "agent" or self.actor.startswith("agent:")

    @property
    def markers(self) -> dict[str, str]:
        """The markers every taggable resource of the stack must carry."""
        if not self.known:
            return {}
        if self.kind == "cell":
            return markers.cell_markers(self.cell or self.stack)
        return markers.tenant_markers(self.tenant or self.stack, self.plan, self.isolation)

    def as_dict(self, *, foreign: bool = True) -> dict[str, Any]:
        """JSON-ready, for policy config (`foreign=False` leaves the other owners' names out)."""
        data = asdict(replace(self, names=dict(self.names), cell_names=dict(self.cell_names), accounts={},
                              retiring={}))
        data["retiring"] = {key: dict(value) if isinstance(value, Mapping) else value
                            for key, value in self.retiring.items()}
        data["accounts"] = {kind: list(values) for kind, values in self.accounts.items()}
        data["foreign_names"] = sorted(self.foreign_names) if foreign else []
        if self.limits is not None:
            data["limits"]["regions"] = list(self.limits.regions) if self.limits.regions is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyContext:
        """Back from `as_dict()` as it arrives in policy config (numbers may be floats)."""
        limits = data.get("limits")
        plan_limits = None
        if isinstance(limits, Mapping):
            regions = limits.get("regions")
            plan_limits = PlanLimits(
                db_vcpus=int(limits["db_vcpus"]), db_storage_gb=int(limits["db_storage_gb"]),
                backup_retention_days=int(limits["backup_retention_days"]),
                max_db_instances=int(limits["max_db_instances"]),
                regions=tuple(str(region) for region in regions) if regions is not None else None,
            )
        text = {key: str(data.get(key) or "") for key in (
            "project", "stack", "kind", "tenant", "cell", "plan", "isolation", "cloud", "region", "state", "org")}
        return cls(
            **text, actor=str(data.get("actor") or "human"), limits=plan_limits,
            names={str(k): str(v) for k, v in (data.get("names") or {}).items()},
            cell_names={str(k): str(v) for k, v in (data.get("cell_names") or {}).items()},
            foreign_names=frozenset(str(name) for name in data.get("foreign_names") or ()),
            max_resources=int(data.get("max_resources") or DEFAULT_MAX_RESOURCES),
            known=bool(data.get("known", True)),
            accounts={str(kind): tuple(str(item) for item in values or ())
                      for kind, values in (data.get("accounts") or {}).items() if isinstance(values, (list, tuple))},
            cell_stack=str(data.get("cell_stack") or ""),
            retiring=dict(data.get("retiring") or {}) if isinstance(data.get("retiring"), Mapping) else {},
            guards=str(data.get("guards") or "kept"),
        )


def unknown_context(project: str, stack: str, actor: str = "human") -> PolicyContext:
    """The context of a stack the catalog does not know: only context-free rules can run."""
    return PolicyContext(project=project, stack=stack, actor=actor, known=False,
                         kind="cell" if project == CELL_PROJECT else "tenant")


def accounts_of(spec: TenantSpec | CellSpec) -> dict[str, tuple[str, ...]]:
    """The organisation's accounts a stack's spec carries (catalog `accounts`, per its cloud)."""
    account = spec.account

    def listed(key: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in str(account.get(key) or "").split(",") if item.strip())

    found = {"aws": listed("account_ids"), "azure_tenant": listed("tenant_id"),
             "azure_subscription": listed("subscription_ids"), "gcp_project": listed("project"),
             "oci_home_region": listed("home_region"),
             "oci_tenancy": listed("tenancy_id") or tuple(
                 item for item in listed("parent_compartment_id") if item.startswith("ocid1.tenancy."))}
    return {kind: values for kind, values in found.items() if values}


def context_from_spec(spec: TenantSpec | CellSpec, actor: str = "human",
                      foreign_names: frozenset[str] = frozenset()) -> PolicyContext:
    """The context of one stack from its spec; `foreign_names` are every other owner's names (the control
    plane knows them from the catalog; a stack program does not, so in-program they are empty)."""
    if isinstance(spec, CellSpec):
        return PolicyContext(
            project=spec.project, stack=spec.stack, actor=actor, kind="cell", cell=spec.cell, isolation="pooled",
            cloud=spec.cloud, region=spec.region, state="active", org=spec.org, limits=spec.limits,
            names=dict(spec.all_names), foreign_names=foreign_names, accounts=accounts_of(spec),
        )
    limits, retiring = spec.limits, {}
    old = spec.retiring_spec() if hasattr(spec, "retiring_spec") else None
    if old is not None:
        guards = spec.retiring.guards if spec.retiring is not None else "kept"
        retiring = {"markers": dict(old.markers), "names": dict(old.all_names), "cell_names": dict(old.cell_names),
                    "isolation": old.isolation, "cell_stack": old.cell_stack or "", "guards": guards}
        if limits is not None and old.database is not None:  # the retiring shape's own instance, until retired
            limits = replace(limits, max_db_instances=limits.max_db_instances + 1)
    return PolicyContext(
        project=spec.project, stack=spec.stack, actor=actor, kind="tenant", tenant=spec.tenant, cell=spec.cell or "",
        plan=spec.plan, isolation=spec.isolation, cloud=spec.cloud, region=spec.region, state=spec.state,
        org=spec.org, limits=limits, names=dict(spec.all_names), cell_names=dict(spec.cell_names),
        foreign_names=foreign_names, accounts=accounts_of(spec), cell_stack=spec.cell_stack or "",
        retiring=retiring, guards=spec.guards,
    )


def context_from_config(config: Mapping[str, Any] | None, project: str, stack: str) -> PolicyContext:
    """The context a pack uses for one policy call: the `context` in its policy config (written by
    `policy_config` for this very stack); without one, or with one written for another stack, the
    stack is unknown and only context-free rules run. The actor and the resource cap may be set on
    their own (`actor`, `maxResources`)."""
    config = config or {}
    actor = str(config.get("actor") or "human")
    data = config.get("context")
    context = unknown_context(project, stack, actor)
    if isinstance(data, Mapping) and data.get("stack"):
        try:
            given = PolicyContext.from_dict(data)
        except (TypeError, ValueError, KeyError, AttributeError):  # a config this library cannot read: unknown
            given = unknown_context(project, "", actor)
        # A config written for another stack must not lend it its plan.
        same = given.stack == stack and given.project == project
        context = given if same else unknown_context(project, stack, given.actor)
    if config.get("actor"):
        context = replace(context, actor=actor)
    if config.get("maxResources") is not None:
        try:
            context = replace(context, max_resources=int(float(config["maxResources"])))
        except (TypeError, ValueError):
            context = replace(context, max_resources=0)  # unreadable: no resource for an agent (fail closed)
    return context

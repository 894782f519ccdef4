"""What the service does, behind REST and MCP alike: every method takes the authenticated principal, checks
what it may do (auth.py), and runs the operation through the same Operator as the CLI (leases, journal,
gates, packs) with the principal's actor and change budget and the server's own settings. Methods block
(databases, Pulumi): the ASGI layers call them in worker threads.

    Service(config)
        authenticate(token) -> Principal | None
        tenants(principal), tenant(principal, id)              reads (the catalog, the journal)
        operate(principal, operation, tenant_id, fields)       preview, up, refresh, onboard, change-plan,
                                                               suspend, resume, offboard
        approvals(principal, status), decide(principal, id, approve=, fields=)
        journal(principal, tenant=, stack=, limit=)

What a caller sends for actor, budget, policy packs, state URL, backend (or any other setting) is refused
with a problem body and journaled as denied; every refusal of an authenticated principal on a target that
exists is journaled (`result` denied), so the journal tells who tried what.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybill_iac.automation import AgentBudget, Automation, Settings, StackRef
from paybill_iac.automation.store import Store, default_url, reads
from paybill_iac.automation.store.approvals import APPROVAL_TTL, Approval
from paybill_iac.automation.store.principals import Principal, Principals
from paybill_iac.catalog import load_catalog
from paybill_iac.errors import CatalogError, PaybillError
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.naming import id_problem
from paybill_iac.project import for_catalog
from paybill_iac.service.auth import LIFECYCLE, STACK_OPERATIONS, refusal, selects, selects_stack
from paybill_iac.service.problems import Problem, from_error

log = logging.getLogger("paybill_iac.service")

FIELDS: dict[str, tuple[str, ...]] = {
    "preview": (), "up": ("approval",), "refresh": ("approval",), "onboard": ("approval",),
    "change-plan": ("plan", "approval"),
    "suspend": ("approval",), "resume": ("approval",), "offboard": ("approval",), "approve": (), "reject": (),
}
"""What a caller may send with each operation; anything else is refused."""

SERVER_SETTINGS = ("actor", "identity", "principal", "budget", "max_changes", "policy_dir", "policy_packs", "packs",
                   "policies", "state_url", "state_dir", "database", "backend", "backend_url", "runner", "lease_ttl",
                   "stacks_dir", "catalog", "catalog_dir", "settings")
"""Names a caller may try to set that only the server sets: refused, and the attempt journaled."""

STATUSES = ("pending", "approved", "rejected", "used", "all")
MAX_JOURNAL = 500
CATALOG_RECHECK = 1.0  # seconds between looks at the catalog's files


@dataclass(frozen=True)
class ServiceConfig:
    """The server's settings (never a caller's)."""

    catalog_dir: Path
    state_url: str | None = None
    state_dir: Path | None = None
    """None: the state folder of the project (paybill.yaml) the catalog belongs to; never the working directory."""
    backend_url: str = ""
    write_tools: bool = False
    """MCP: register the write tools (up, refresh, lifecycle); otherwise only read tools exist."""
    rate: float = 50.0
    """Requests per second per token (sustained)."""
    burst: int = 100
    """Requests per token at once."""
    max_body: int = 64 * 1024
    """Largest request body, in bytes."""
    approval_ttl: float = APPROVAL_TTL
    public_url: str = "http://127.0.0.1:8470"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return self.state_url or default_url(None if os.environ.get("PAYBILL_STATE_URL") else self.state_folder())

    def state_folder(self) -> Path:
        if self.state_dir is not None:
            return Path(self.state_dir)
        return for_catalog(Path(self.catalog_dir)).require_state_dir("the service")


class Service:
    """The service's operations; one per server process (it holds the database pool)."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.store = Store(config.database_url)
        self.store.approvals.ttl = config.approval_ttl
        self.principals = Principals(self.store.db)
        self.owner = f"service:{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._signature: tuple[Any, ...] = ()
        self._checked = 0.0

    def close(self) -> None:
        self.store.close()

    # --- identity and the catalog ---------------------------------------------------------------------

    def authenticate(self, token: str) -> Principal | None:
        return self.principals.authenticate(token)

    def catalog(self) -> Catalog:
        """The server's catalog, loaded once and again when its files change (looked at once a second)."""
        now = time.monotonic()
        with self._lock:
            if self._catalog is not None and now - self._checked < CATALOG_RECHECK:
                return self._catalog
            signature = _signature(self.config.catalog_dir)
            if self._catalog is None or signature != self._signature:
                try:
                    self._catalog = load_catalog(self.config.catalog_dir)
                except CatalogError as error:
                    raise Problem("catalog-invalid", f"the server's catalog is not valid ({len(error.issues)} "
                                  "problem(s)); its operators run `paybill-iac validate`") from None
                self._signature = signature
            self._checked = now
            return self._catalog

    def _reload(self) -> None:
        with self._lock:
            self._checked = 0.0
            self._signature = ()

    def automation(self, principal: Principal) -> Automation:
        """An Operator acting as `principal` (its actor and budget) with the server's settings and database.
        Never closed: it shares the service's store."""
        settings = Settings(catalog_dir=Path(self.config.catalog_dir), actor=principal.actor,
                            state_url=self.store.url, state_dir=self.config.state_folder(),
                            backend_url=self.config.backend_url, budget=AgentBudget(max_changes=principal.max_changes))
        return Automation(settings, store=self.store, notify=lambda message: log.warning("%s", message))

    # --- reads --------------------------------------------------------------------------------------------

    def tenants(self, principal: Principal) -> list[dict[str, Any]]:
        self._allow(principal, "tenants")
        catalog = self.catalog()
        return [_summary(catalog, tenant_id) for tenant_id in sorted(catalog.tenants)
                if selects(principal, catalog, tenant_id)]

    def tenant(self, principal: Principal, tenant_id: str) -> dict[str, Any]:
        self._allow(principal, "tenant")
        catalog = self.catalog()
        self._visible(principal, catalog, tenant_id)
        tenant = catalog.tenants[tenant_id]
        plan = catalog.plans[tenant.plan]
        limits = plan.limits.model_dump(mode="json")
        limits.update({key: value for key, value in tenant.overrides.model_dump(mode="json").items()
                       if value is not None})
        stack = StackRef.tenant(tenant_id).key
        last, state = reads.deployed(self.store.db, stack, tenant_id)
        return {
            **_summary(catalog, tenant_id),
            "plan": {"id": plan.id, "name": plan.name, "isolation": plan.isolation, "clouds": list(plan.clouds),
                     "limits": plan.limits.model_dump(mode="json")},
            "limits": limits,
            "subscription": tenant.subscription.model_dump(mode="json"),
            "placement": {"cloud": tenant.cloud, "region": tenant.region, "cell": catalog.placements.get(tenant_id)},
            "stack": stack,
            "deployed": {"state": state, "last_operation": last},
        }

    # --- operations ---------------------------------------------------------------------------------------

    def operate(self, principal: Principal, operation: str, tenant_id: str,
                fields: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run `operation` on tenant `tenant_id` as `principal`; `fields` are what the caller sent."""
        if operation not in STACK_OPERATIONS + LIFECYCLE:
            raise Problem("not-found", f"no operation '{_shown(operation)}'")
        catalog = self.catalog()
        exists = tenant_id in catalog.tenants
        stack = StackRef.tenant(tenant_id) if exists else None
        reason = refusal(principal, operation)
        if reason:
            self._deny(principal, stack, operation, reason)
            raise Problem("forbidden", reason)
        if not selects(principal, catalog, tenant_id):
            self._deny(principal, stack, operation, f"tenant '{tenant_id}' is outside {principal.actor}'s tenants")
            raise _not_found(tenant_id)
        values = self._fields(principal, stack, operation, fields)
        plan = values.get("plan")
        if plan is not None and not selects(principal, catalog, tenant_id, plan=plan):
            reason = f"on plan '{plan}', tenant '{tenant_id}' would leave {principal.actor}'s tenants"
            self._deny(principal, stack, operation, reason)
            raise Problem("forbidden", reason)
        approval = values.get("approval")
        auto = self.automation(principal)
        try:
            if operation in STACK_OPERATIONS:
                run = getattr(auto, operation)
                results = [run(tenant=tenant_id, **({"approval": approval} if operation in ("up", "refresh") else {}))]
            elif operation == "change-plan":
                results = auto.change_plan(tenant_id, str(plan), approval=approval)
            else:
                method = {"onboard": auto.onboard, "suspend": auto.suspend, "resume": auto.resume,
                          "offboard": auto.offboard}[operation]
                results = method(tenant_id, approval=approval)
        except Exception as error:  # noqa: BLE001 - every failure becomes a problem body
            raise self._problem(principal, catalog, error) from None
        finally:
            if operation in LIFECYCLE:
                self._reload()
        return {"tenant": tenant_id, "operation": operation, "actor": principal.actor,
                "results": [_result(result) for result in results]}

    # --- approvals ----------------------------------------------------------------------------------------

    def approvals(self, principal: Principal, status: str = "pending") -> list[dict[str, Any]]:
        self._allow(principal, "approvals")
        if status not in STATUSES:
            raise Problem("bad-request", f"status '{_shown(status)}' is not one of {', '.join(STATUSES)}")
        catalog = self.catalog()
        found = self.store.approvals.find(status=None if status == "all" else status)
        return [_approval(item) for item in found if self._sees_approval(principal, catalog, item)]

    def decide(self, principal: Principal, approval_id: int, *, approve: bool,
               fields: dict[str, Any] | None = None) -> dict[str, Any]:
        """A human approver (not the requester) approves or rejects a pending, unexpired request."""
        operation = "approve" if approve else "reject"
        catalog = self.catalog()
        approval = self.store.approvals.get(approval_id)
        stack = StackRef.parse(approval.stack) if approval is not None else None
        reason = refusal(principal, operation)
        if reason:
            self._deny(principal, stack, operation, reason, approval_id)
            raise Problem("forbidden", reason)
        if approval is None or not self._sees_approval(principal, catalog, approval):
            if approval is not None:
                self._deny(principal, stack, operation, "the request's stack is outside the approver's tenants",
                           approval_id)
            raise Problem("not-found", f"no approval request #{approval_id}")
        self._fields(principal, stack, operation, fields)
        if approval.requested_by == principal.actor:
            reason = f"{principal.actor} requested change #{approval_id}: another human decides it"
            self._deny(principal, stack, operation, reason, approval_id)
            raise Problem("forbidden", reason)
        if approval.status != "pending" or approval.expired(self.store.clock()):
            state = "expired" if approval.status == "pending" else approval.status
            raise Problem("conflict", f"approval request #{approval_id} is {state}, not pending: a decision is "
                          "made once, before the request expires", approval=_approval(approval))
        auto = self.automation(principal)
        try:
            decided = auto.approve(approval_id) if approve else auto.reject(approval_id)
        except PaybillError as error:
            current = self.store.approvals.get(approval_id)
            if current is not None and current.status != "pending":  # decided meanwhile by someone else
                raise Problem("conflict", str(error), approval=_approval(current)) from None
            raise self._problem(principal, catalog, error) from None
        return _approval(decided)

    # --- the journal --------------------------------------------------------------------------------------

    def journal(self, principal: Principal, *, tenant: str | None = None, stack: str | None = None,
                limit: int = 50) -> list[dict[str, Any]]:
        self._allow(principal, "journal")
        if not 1 <= limit <= MAX_JOURNAL:
            raise Problem("bad-request", f"limit {limit}: between 1 and {MAX_JOURNAL}")
        catalog = self.catalog()
        key = None
        if stack is not None:
            try:
                ref = StackRef.parse(stack)
            except ValueError:
                raise Problem("bad-request", f"stack '{_shown(stack)}' is not tenant/<id> or cell/<id>") from None
            if not self._sees_stack(principal, catalog, ref):
                raise Problem("not-found", f"no stack '{_shown(stack)}'")
            key = ref.key
        if tenant is not None and not selects(principal, catalog, tenant):
            raise _not_found(tenant)
        everything = "*" in principal.tenants or tenant is not None or key is not None
        fetch = limit if everything else limit * 4
        while True:
            entries = self.store.journal.entries(tenant=tenant, stack=key, limit=fetch)
            shown = [entry for entry in entries if everything or self._sees_stack(principal, catalog,
                                                                                  StackRef.parse(entry.stack))]
            if len(shown) >= limit or len(entries) < fetch:
                return [_entry(entry) for entry in shown[:limit]]
            fetch *= 4

    # --- helpers --------------------------------------------------------------------------------------------

    def _allow(self, principal: Principal, operation: str) -> None:
        reason = refusal(principal, operation)
        if reason:
            raise Problem("forbidden", reason)

    def _visible(self, principal: Principal, catalog: Catalog, tenant_id: str) -> None:
        if not selects(principal, catalog, tenant_id):
            raise _not_found(tenant_id)

    def _sees_stack(self, principal: Principal, catalog: Catalog, stack: StackRef) -> bool:
        return selects_stack(principal, catalog, stack.kind, stack.name)

    def _sees_approval(self, principal: Principal, catalog: Catalog, approval: Approval) -> bool:
        try:
            return self._sees_stack(principal, catalog, StackRef.parse(approval.stack))
        except ValueError:
            return False

    def _fields(self, principal: Principal, stack: StackRef | None, operation: str,
                fields: dict[str, Any] | None) -> dict[str, Any]:
        """The caller's fields checked: a server setting is refused (and journaled), so is anything unknown."""
        fields = dict(fields or {})
        settings = sorted(name for name in fields if name.lower().replace("-", "_") in SERVER_SETTINGS)
        if settings:
            reason = (f"{', '.join(repr(name) for name in settings)} {'is' if len(settings) == 1 else 'are'} the "
                      "server's: identity comes from the token, the budget is the principal's, policy packs, "
                      "state and backend are the server's")
            self._deny(principal, stack, operation, f"caller-supplied settings refused: {', '.join(settings)}")
            raise Problem("caller-setting", reason, refused=settings)
        unknown = sorted(name for name in fields if name not in FIELDS[operation])
        if unknown:
            allowed = ", ".join(FIELDS[operation]) or "nothing"
            raise Problem("bad-request", f"unknown field(s) {', '.join(_shown(name) for name in unknown)} for "
                          f"{operation} (it takes {allowed})")
        approval = fields.get("approval")
        if approval is not None and (isinstance(approval, bool) or not isinstance(approval, int) or approval < 1):
            raise Problem("bad-request", "approval: a request id (a positive integer)")
        plan = fields.get("plan")
        if operation == "change-plan" and (not isinstance(plan, str) or id_problem(plan) is not None):
            raise Problem("bad-request", "plan: the id of the plan to move to")
        return fields

    def _deny(self, principal: Principal, stack: StackRef | None, operation: str, reason: str,
              approval_id: int | None = None) -> None:
        """Journal an authenticated principal's refused attempt on a target that exists."""
        if stack is None:
            return
        try:
            self.store.journal.refusal(
                op_id=uuid.uuid4().hex, actor=principal.actor, stack=stack.key, tenant=stack.tenant_id,
                operation=operation, owner=self.owner, result="denied", error=reason,
                details={"via": "service", "token": principal.token_id,
                         **({"approval": approval_id} if approval_id else {})})
        except PaybillError as error:  # the refusal stands even when it cannot be journaled
            log.error("could not journal a denied %s by %s: %s", operation, principal.actor, error)

    def _problem(self, principal: Principal, catalog: Catalog, error: BaseException) -> Problem:
        """The problem for a failure, with the ids of tenants the principal does not see blanked out."""
        problem = from_error(error)
        if "*" not in principal.tenants:
            hidden = [tenant for tenant in catalog.tenants if not selects(principal, catalog, tenant)]
            problem.detail = redact(problem.detail, hidden)
        return problem


def redact(text: str, hidden: list[str]) -> str:
    """`text` with each id of `hidden` replaced by a placeholder (longest first, whole words)."""
    for name in sorted(hidden, key=len, reverse=True):
        text = re.sub(rf"(?<![a-z0-9-]){re.escape(name)}(?![a-z0-9-])", "(another tenant)", text)
    return text


def _not_found(tenant_id: str) -> Problem:
    return Problem("not-found", f"no tenant '{_shown(tenant_id)}'")


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _signature(catalog_dir: Path) -> tuple[Any, ...]:
    found = []
    for folder in (Path(catalog_dir), Path(catalog_dir) / "tenants"):
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_file():
                        stat = entry.stat()
                        found.append((entry.path, stat.st_mtime_ns, stat.st_size))
        except OSError:
            continue
    return tuple(sorted(found))


def _summary(catalog: Catalog, tenant_id: str) -> dict[str, Any]:
    tenant = catalog.tenants[tenant_id]
    return {"id": tenant.id, "name": tenant.name, "plan": tenant.plan,
            "isolation": catalog.plans[tenant.plan].isolation, "cloud": tenant.cloud, "region": tenant.region,
            "state": tenant.state,
            "cell": catalog.placements.get(tenant_id)}


def _entry(entry: Any) -> dict[str, Any]:
    return {key: value for key, value in entry.as_dict().items() if key != "owner"}


def _approval(approval: Approval) -> dict[str, Any]:
    values = approval.as_dict()
    values.pop("plan_path", None)  # where the server keeps the plan is the server's business
    return values


def _result(result: Any) -> dict[str, Any]:
    return {"stack": result.stack, "operation": result.operation, "op_id": result.op_id,
            "summary": result.summary.as_dict(), "description": result.summary.describe(),
            "attempts": result.attempts, "approval": result.approval}

"""The data plane as the automation layer drives it: the `DataPlane` the workflows call, its real
implementation, and how one data-plane operation runs as a journaled step.

    DataPlane          apply / suspend / resume / offboard / drop on a tenant's database (a Target of
                       paybill_iac.dataplane.targets); returns the data plane's DataPlaneReport
    DirectDataPlane    runs paybill_iac.dataplane in this process, the admin connection from the
                       environment (PAYBILL_DB_*, see paybill_iac.dataplane.targets). The process
                       must reach the server: cell servers have private endpoints, so it runs inside
                       the cell's network (the `db` commands as a container job), or a service plugs
                       in a DataPlane of its own that launches that job and waits for it
    run_data_step      what `Operator.run_data_step` does: like a stack operation, a data-plane step
                       goes through the crash scan, the stack's lease and the journal (start, then an
                       end with the report: steps changed and in place, redacted statements, notes),
                       and an agent's step that needs a human waits for an approval

Journal operation names: db-apply, db-suspend, db-resume, db-offboard, db-drop. A failed step raises
DataPlaneFailed and is journaled as failed; nothing after it runs, and running the workflow again
carries on (every data-plane operation completes what a failed run left). psycopg and
paybill_iac.dataplane are imported only when a step runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from paybill_iac.automation.errors import DataPlaneFailed
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.outside import run_outside_step
from paybill_iac.automation.runner import ChangeSummary
from paybill_iac.automation.store import Store
from paybill_iac.errors import PaybillError, UsageError
from paybill_iac.model.catalog import Catalog

if TYPE_CHECKING:
    from paybill_iac.dataplane import AdminConnection, DataPlaneReport, DumpHook, SecretStore
    from paybill_iac.dataplane.targets import Target

__all__ = ["DB_OPERATIONS", "DataCall", "DataPlane", "DataTarget", "DirectDataPlane", "run_data_step", "target_for",
           "target_from_dict"]

DB_OPERATIONS = ("db-apply", "db-suspend", "db-resume", "db-offboard", "db-drop")
INSTALL_HINT = "the data plane needs psycopg: pip install 'paybill-iac[postgres]'"

DataTarget: TypeAlias = "Target"
"""paybill_iac.dataplane.targets.Target (named here so importing this module never imports psycopg)."""
DataCall: TypeAlias = "Callable[[], DataPlaneReport]"
"""One data-plane operation, ready to run."""


@runtime_checkable
class DataPlane(Protocol):
    """What the workflows do to a tenant's database. Implementations must be picklable."""

    def apply(self, target: Target, *, active: bool) -> DataPlaneReport:
        """Database, roles, grants and auth mapping as the target says; logins enabled when `active`."""
        ...

    def suspend(self, target: Target) -> DataPlaneReport:
        """NOLOGIN and the tenant's open sessions terminated."""
        ...

    def resume(self, target: Target) -> DataPlaneReport:
        """LOGIN again."""
        ...

    def offboard(self, target: Target, *, dump: DumpHook | None = None) -> DataPlaneReport:
        """NOLOGIN, sessions terminated, the final dump when `dump` is given; the database is kept."""
        ...

    def drop(self, target: Target) -> DataPlaneReport:
        """Retention end: the database and the tenant's roles dropped (irreversible)."""
        ...


def _dataplane() -> Any:
    try:
        import paybill_iac.dataplane as dataplane
    except ImportError as error:
        raise UsageError(f"{INSTALL_HINT} ({error})") from None
    return dataplane


def target_for(catalog: Catalog, tenant_id: str, outputs: Mapping[str, Any] | None = None) -> Target:
    """The tenant's database target (paybill_iac.dataplane.targets.target_for, imported on use)."""
    _dataplane()
    from paybill_iac.dataplane.targets import target_for as build

    return build(catalog, tenant_id, outputs)


def target_from_dict(data: Mapping[str, Any]) -> Target:
    """A target a workflow recorded (Target.to_dict)."""
    _dataplane()
    from paybill_iac.dataplane.targets import Target

    return Target.from_dict(data)


class DirectDataPlane:
    """paybill_iac.dataplane, run here. The admin connection of each target's server comes from the
    given values, else the environment (PAYBILL_DB_ADMIN_URL[__CELL_<ID>|__TENANT_<ID>], ...)."""

    def __init__(self, *, url: str | None = None, secret: str | None = None, secret_field: str | None = None,
                 store: str | None = None, environ: Mapping[str, str] | None = None):
        self.url, self.secret, self.secret_field, self.store = url, secret, secret_field, store
        self.environ = dict(environ) if environ is not None else None

    def admin(self, target: Target) -> tuple[AdminConnection, SecretStore | None]:
        _dataplane()
        from paybill_iac.dataplane.targets import AdminSettings

        settings = AdminSettings.from_env(target, self.environ, url=self.url, secret=self.secret,
                                          secret_field=self.secret_field, store=self.store)
        return settings.connection(target), settings.secret_store(target)

    def apply(self, target: Target, *, active: bool) -> DataPlaneReport:
        admin, store = self.admin(target)
        return _dataplane().apply(target.database, admin, store, active=active)  # type: ignore[no-any-return]

    def suspend(self, target: Target) -> DataPlaneReport:
        admin, store = self.admin(target)
        return _dataplane().suspend(target.database, admin, store)  # type: ignore[no-any-return]

    def resume(self, target: Target) -> DataPlaneReport:
        admin, store = self.admin(target)
        return _dataplane().resume(target.database, admin, store)  # type: ignore[no-any-return]

    def offboard(self, target: Target, *, dump: DumpHook | None = None) -> DataPlaneReport:
        admin, store = self.admin(target)
        return _dataplane().offboard(target.database, admin, store, dump=dump)  # type: ignore[no-any-return]

    def drop(self, target: Target) -> DataPlaneReport:
        admin, store = self.admin(target)
        return _dataplane().drop(target.database, admin, store)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"DirectDataPlane(url={'given' if self.url else 'from the environment'})"


# --- one data-plane operation as a journaled step ----------------------------------------------------------


def report_summary(report: DataPlaneReport) -> dict[str, Any]:
    """The journal's record of a report (counts first, as the journal table shows them)."""
    counts = {"changed": len(report.changed), "in place": len(report.unchanged)}
    return {"counts": {key: value for key, value in counts.items() if value}, "changed": list(report.changed),
            "unchanged": list(report.unchanged), "statements": list(report.statements), "notes": list(report.notes),
            "database": report.database, "endpoint": report.endpoint}


def run_data_step(store: Store, stack: StackRef, operation: str, target: Target,
                  call: Callable[[], DataPlaneReport], *, actor: str, lease_ttl: float,
                  recover: Callable[[], object], details: dict[str, Any] | None = None,
                  approval: int | None = None, reasons: list[str] | None = None,
                  then: str | None = None, workflow_owner: str | None = None) -> tuple[str, DataPlaneReport]:
    """Run `call` (a data-plane operation on `target`) as `operation` on `stack`; returns its journal id
    and report. `workflow_owner`: the hold of the workflow this step is part of (tenancy.py). `reasons`: why an
    agent's step needs a human (it is refused, with an approval request,
    unless `approval` is one a human gave for exactly this target); `then` says how to carry on once
    approved (`{approval}` in it is the request's id)."""
    details = {**(details or {}), "database": target.database.database, "server": target.server,
               **({"cell": target.cell} if target.cell else {})}

    def failed(failure: PaybillError) -> Exception:
        return DataPlaneFailed(f"{operation} of {stack.key} failed: {failure}. Nothing after this step ran; "
                               "run it again to carry on (it completes whatever this run left)", failure)

    return run_outside_step(store, stack, operation, call, actor=actor, lease_ttl=lease_ttl, recover=recover,
                            details=details, reviewed={"target": target.to_dict()}, approval=approval,
                            reasons=reasons, then=then, workflow_owner=workflow_owner, summarize=report_summary,
                            failed=failed, interrupted="the tenant's database may be half-way", phase="data")


def data_summary(report: DataPlaneReport) -> ChangeSummary:
    """A ChangeSummary for a data-plane step's OperationResult ("3 changed" or "no changes")."""
    return ChangeSummary({"changed": len(report.changed)} if report.changed else {})

"""A tenant held by one lifecycle workflow for all its steps: the workflow lease (store/leases.py).

    with TenantHold(store, kind, tenant, actor, ttl) as hold:   the tenant's workflow lease, renewed by a
        hold.step("provision")                                  heartbeat; refusals name the step
        ... operations that pass `hold.owner` as their workflow_owner go through; every other operation on
        the tenant's stack is refused (WorkflowBusy) while the hold is live

The Operator makes one with `Operator.hold(kind, tenant)` and passes its owner to every stack and
data-plane operation it runs inside it.
"""

from __future__ import annotations

from types import TracebackType

from paybill_iac.automation.store import Heartbeat, Store, new_owner, workflow_key


class TenantHold:
    """The tenant's workflow lease while a workflow runs (a context manager)."""

    def __init__(self, store: Store, kind: str, tenant: str, actor: str, ttl: float):
        self.store, self.kind, self.tenant, self.actor, self.ttl = store, kind, tenant, actor, ttl
        self.owner = new_owner()
        self._heartbeat: Heartbeat | None = None

    def __enter__(self) -> TenantHold:
        self.store.leases.acquire_workflow(self.tenant, self.owner, self.kind, self.actor, self.ttl)
        self._heartbeat = Heartbeat(self.store.leases, workflow_key(self.tenant), self.owner, self.ttl)
        self._heartbeat.start()
        return self

    def step(self, name: str) -> None:
        """The workflow moves on to step `name`."""
        self.store.leases.workflow_step(self.tenant, self.owner, self.kind, name)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self.store.leases.release(workflow_key(self.tenant), self.owner)

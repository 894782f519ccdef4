"""Retention end: the last workflow of a tenant, once the retention its plan promised has passed since its
offboarding. It leaves nothing but what the cloud never deletes (GCP key rings):

    release         up of the offboarding stack with every guard released (specs: `spec.released()`:
                    protect off, deletion protection off, force-destroy on, no final snapshot, the OCI
                    compartment deletable); the journal records the guards it deployed
    gate            an agent: the destroy is previewed and refused with an approval request (what it
                    deletes, the buckets it empties, the database it drops); nothing irreversible has run.
                    Run again with the approval a human gave: it is checked here and used by the destroy
    empty-buckets   the buckets the cloud deletes only empty (OCI), emptied with its CLI, journaled
    db-drop         a pooled tenant's database on its cell's server and its roles (paybill_iac.dataplane.drop),
                    irreversibly (a silo or bridge tenant's database goes with its instance)
    destroy         the stack (exactly what was reviewed, for an agent)
    commit          the tenant offboarded: the ledger first, then its file; its stack file goes

A tenant offboarded by the earlier workflow (which destroyed the stack at once and kept only a pooled
database) gets the db-drop alone. It acts on what the tenant's completed offboarding recorded (the
database target at its db-offboard step, the retention at its retention step). It refuses while the
retention runs, and for a tenant that is not offboarding or has no completed offboarding on record.
Each step is journaled; running it again after a failure, an interrupt or an approval carries on from
its record.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from paybill_iac.automation.dataplane import target_from_dict
from paybill_iac.automation.gates import is_agent
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.lifecycle_steps import buckets_to_empty, check_approval, deploy, empty_buckets
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.runbook import Approvals, begin, commit_edit, finished, tenant_of
from paybill_iac.automation.specs import stack_file, tenant_spec_of
from paybill_iac.automation.store import Workflow
from paybill_iac.automation.store.db import iso
from paybill_iac.catalog import ledger
from paybill_iac.errors import TransitionError, UsageError
from paybill_iac.model.words import plural


def retention_end(op: Operator, tenant_id: str, *, approval: int | None = None) -> list[OperationResult]:
    """Release the guards, empty what must be emptied, drop a pooled tenant's database, destroy the stack and
    record the tenant offboarded, once its retention ended ([] when that is done already)."""
    stack = StackRef.tenant(tenant_id)
    records = op.store.workflows
    tenant = op.reload().tenants.get(tenant_id)
    if tenant is None or tenant.state == "offboarded":
        legacy = records.latest("offboard", tenant_id, status="completed")
        if legacy is not None and "destroy" in legacy.steps:
            return _drop_after_destroy(op, tenant_id, legacy, approval)
    with op.hold("retention-end", tenant_id) as hold:
        def start() -> tuple[dict[str, Any], dict[str, Any]] | None:
            catalog = op.reload()
            tenant = tenant_of(catalog, tenant_id)
            if tenant.state == "offboarded" and finished(op, "retention-end", tenant_id):
                return None
            if tenant.state != "offboarding":
                raise TransitionError(f"tenant '{tenant_id}' is {tenant.state}: retention end takes an offboarding "
                                      "tenant whose retention ended (offboard it first)")
            offboarded = records.latest("offboard", tenant_id, status="completed")
            if offboarded is None:
                raise UsageError(f"tenant '{tenant_id}' has no completed offboarding on record: offboard it with "
                                 f"`paybill-iac lifecycle offboard {tenant_id}` first")
            retain_until = float((records.step_detail(offboarded.id, "retention") or {}).get("retain_until") or 0.0)
            if op.clock() < retain_until:
                raise UsageError(f"the retention of tenant '{tenant_id}' runs until {iso(retain_until)}: its data is "
                                 "kept until then")
            database = (records.step_detail(offboarded.id, "db-offboard") or {}).get("target")
            spec = tenant_spec_of(catalog, tenant_id)
            return ({"retain_until": retain_until},
                    {"offboard": offboarded.id, "database": database, "isolation": spec.isolation,
                     "outputs": op.outputs(stack, catalog), "edit": {"state": "offboarded"}})

        run = begin(op, hold, "retention-end", tenant_id, start)
        if run is None:
            return []
        approvals = Approvals(approval)
        results: list[OperationResult] = []
        details = {"workflow": "retention-end", "retain_until": run.params["retain_until"]}
        catalog = op.reload()
        if run.pending("release"):
            released = tenant_spec_of(catalog, tenant_id).released()
            results.append(deploy(op, released, catalog, step="release", details=details))
            run.done("release", {"outputs": results[-1].outputs})
        released_catalog = _released(op, tenant_id)
        outputs = run.detail("release").get("outputs") or run.record.get("outputs") or {}
        database = run.record.get("database") if run.record.get("isolation") == "pooled" else None
        if run.pending("gate"):
            given = approvals.take()
            if is_agent(op.actor) and given is None:
                # refused with an approval request for exactly this destroy; nothing irreversible ran yet
                buckets = buckets_to_empty(op, stack, released_catalog, outputs, run.record["isolation"])
                emptied = ", ".join(b for _, b in buckets)
                also = ([f"it empties {plural(len(buckets), 'bucket')} first ({emptied})"] if buckets
                        else []) + ([f"it drops database '{database.get('database')}' and its roles on "
                                     f"{database.get('server')}"] if database else [])
                results.append(op.run_step(stack, "destroy", catalog=released_catalog, gated=lambda _: also,
                                           details={**details, "step": "gate"}))
                run.done("gate", {"approval": None, "destroyed": True})  # nothing held data: it ran
            else:
                if given is not None:
                    check_approval(op, given, stack, "destroy")
                run.done("gate", {"approval": given})
        gate = run.detail("gate")
        if run.pending("empty-buckets"):
            if not gate.get("destroyed"):
                owned = buckets_to_empty(op, stack, released_catalog, outputs, run.record["isolation"])
                empty_buckets(op, stack, owned, {**details, "step": "empty-buckets"})
            run.done("empty-buckets")
        if run.pending("db-drop"):
            if database:
                target = target_from_dict(database)
                results.append(op.run_data_step(
                    stack, "db-drop", target, lambda: op.data_plane.drop(target),
                    details={**details, "step": "db-drop", "approval": gate.get("approval")}))
            run.done("db-drop")
        if run.pending("destroy"):
            if not gate.get("destroyed"):
                results.append(op.run_step(stack, "destroy", catalog=released_catalog, approval=gate.get("approval"),
                                           details={**details, "step": "destroy"}))
            run.done("destroy")
        if run.pending("commit"):
            root = op.settings.catalog_dir
            recorded = ledger.read(root).entries.get(tenant_id)
            location = recorded.location if recorded is not None else ledger.location_of(catalog, tenant_id)
            # the ledger first declares it, so that no moment has a file saying offboarded that the ledger refuses
            gone = ledger.Declared("offboard", to=replace(location, offboarded=True))
            commit_edit(op, tenant_id, run.record["edit"], declare=gone, settle=True)
            stack_file(op.layout.stacks_dir, "tenant", tenant_id).unlink(missing_ok=True)
            run.done("commit")
        run.finish()
        return results


def _released(op: Operator, tenant_id: str) -> Any:
    """The catalog whose tenant stack is the released offboarding stack (what the destroy previews against)."""
    from paybill_iac.automation.specs import deploying

    catalog = op.reload()
    if tenant_id not in catalog.tenants or catalog.tenants[tenant_id].state != "offboarding":
        return catalog
    return deploying(catalog, tenant_spec_of(catalog, tenant_id).released())


def _drop_after_destroy(op: Operator, tenant_id: str, offboarded: Workflow,
                        approval: int | None) -> list[OperationResult]:
    """An offboarding of the earlier kind destroyed the stack at once and kept only the pooled database: its
    retention end is the db-drop alone ([] once done), an agent's after a human approved exactly that drop."""
    records = op.store.workflows
    recorded = (records.step_detail(offboarded.id, "db-offboard") or {}).get("target")
    retain_until = float((records.step_detail(offboarded.id, "retention") or {}).get("retain_until") or 0.0)
    if op.clock() < retain_until:
        raise UsageError(f"the retention of tenant '{tenant_id}' runs until {iso(retain_until)}: its data is kept "
                         "until then")
    stack = StackRef.tenant(tenant_id)
    dropped = op.store.journal.last_success(stack.key, "db-drop")
    if not recorded or (dropped is not None and dropped.started_at >= (offboarded.finished_at or 0.0)):
        return []
    target = target_from_dict(recorded)
    reasons = [f"it drops database '{target.database.database}' of tenant '{tenant_id}' and its roles for good "
               f"(retention ended {iso(retain_until)})"]
    then = (f"{op.actor} calls `retention_end('{tenant_id}', approval={{approval}})` again, which drops exactly that "
            "database")
    return [op.run_data_step(stack, "db-drop", target, lambda: op.data_plane.drop(target), approval=approval,
                             reasons=reasons, then=then,
                             details={"workflow": "retention-end", "retain_until": retain_until})]

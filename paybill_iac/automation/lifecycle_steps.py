"""Steps the lifecycle workflows share beyond runbook.py: deploying a given spec, the final backup, emptying the
buckets a cloud deletes only empty, and the final backups a cancelled offboarding lets go.

    deploy(op, stack, spec, catalog, step=, ...)   `up` of exactly `spec` (specs.deploying): the journal says
                                                    which guards and retiring shape it deployed, and the stack
                                                    file says it too afterwards
    final_backup(op, spec, outputs, ...)           the offboarding's final backup, journaled as `final-backup`
                                                    with its id: the one the stack took (its `final_backup`
                                                    output), or, where the provider has no resource for it (a
                                                    Cloud SQL on-demand backup), the one the workflow takes
                                                    with the cloud's CLI
    empty_buckets(op, stack, buckets, ...)         journaled as `empty-buckets`, before the step that deletes them
    buckets_to_empty(op, stack, outputs, part)     the buckets of a shape the cloud deletes only empty (resource
                                                    facts `emptied_first`), from the stack outputs of `part`
    final_backup_unguard(op, stack, catalog)       the final backups in the stack's state, to let go of when an
                                                    offboarding is cancelled (their `protect` lifted after the
                                                    gate; retained on delete, they stay in the cloud)
    check_approval(op, approval, stack, operation) an approval usable for the step it was requested for,
                                                    checked (not used) before anything irreversible runs ahead
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import paybill_iac.automation.cloudcli as cloudcli
import paybill_iac.automation.outside as outside
from paybill_iac.automation.execution import Gate, Unguard
from paybill_iac.automation.invocation import StackRef
from paybill_iac.automation.operator import OperationResult, Operator
from paybill_iac.automation.runbook import under
from paybill_iac.automation.runner import ChangeSummary, Step
from paybill_iac.automation.specs import TenantSpec, deploying, spec_record, write_stack_file
from paybill_iac.errors import OperationError
from paybill_iac.model.catalog import DEDICATED_DB_ISOLATIONS, Catalog
from paybill_iac.model.resource_facts import facts_for


def deploy(op: Operator, spec: TenantSpec, catalog: Catalog, *, step: str, details: dict[str, Any],
           approval: int | None = None, gated: Gate | None = None, unguard: Unguard | None = None) -> OperationResult:
    """`up` of exactly `spec` on its tenant's stack (the rest of `catalog` as it is)."""
    stack = StackRef.tenant(spec.tenant)
    record = spec_record(spec)
    deploys = {key: value for key, value in record.items() if key != "config"}
    result = op.run_step(stack, "up", catalog=deploying(catalog, spec), approval=approval, gated=gated,
                         unguard=unguard, details={**details, "step": step, "deploys": deploys})
    write_stack_file(op.layout.stacks_dir, spec, f"the {details.get('workflow', 'lifecycle')} workflow's {step} step "
                                                 f"(guards {spec.guards}"
                                                 + (f"; retiring {spec.retiring.isolation} shape's guards "
                                                    f"{spec.retiring.guards}" if spec.retiring else "") + ")")
    return result


def cli(op: Operator) -> cloudcli.CommandRunner:
    return op.settings.cloud_cli or cloudcli.run_command


def _cloud_step(op: Operator, stack: StackRef, operation: str, call: Any, details: dict[str, Any],
                summarize: Any) -> Any:
    def failed(error: Exception) -> Exception:
        return OperationError(f"{operation} of {stack.key} failed: {error}. Nothing after this step ran; run the "
                              "workflow again to carry on")

    _, result = outside.run_outside_step(
        op.store, stack, operation, call, actor=op.actor, lease_ttl=op.settings.lease_ttl, recover=op.scan,
        details=details, reviewed={}, summarize=summarize, failed=failed,
        interrupted=f"the cloud may be half-way through {operation}", phase="cloud",
        workflow_owner=op.workflow_owner)
    return result


def final_backup(op: Operator, spec: TenantSpec, outputs: Mapping[str, Any], details: dict[str, Any],
                 description: str) -> dict[str, Any]:
    """The offboarding's final backup (see the module), journaled with its id; returns its record."""
    stack = StackRef.tenant(spec.tenant)
    found = outputs.get("database")
    database: Mapping[str, Any] = found if isinstance(found, Mapping) else {}

    def take() -> cloudcli.FinalBackup | None:
        if spec.cloud == "gcp" and spec.isolation in DEDICATED_DB_ISOLATIONS:
            instance = str(database.get("instance") or spec.names.get("db_instance") or "")
            project = str(database.get("project") or spec.account.get("project") or "")
            return cloudcli.gcp_final_backup(cli(op), instance, project, description)
        found = cloudcli.from_outputs(outputs.get("final_backup"))
        if found is None:  # the data is kept all the same (nothing is destroyed before retention end): say so
            op.notify(f"tenant '{spec.tenant}': its offboarding stack exports no final_backup, so none is recorded; "
                      "check the stack's outputs (`pulumi stack output final_backup`)")
        return found

    taken = _cloud_step(op, stack, "final-backup", take, details,
                        lambda backup: {"counts": {"final backup": 1 if backup else 0},
                                        "final_backup": backup.as_dict() if backup else None})
    return dict(taken.as_dict()) if taken is not None else {}


def buckets_to_empty(op: Operator, stack: StackRef, catalog: Catalog, outputs: Mapping[str, Any], isolation: str,
                     part: str | None = None) -> list[tuple[str, str]]:
    """The (namespace, bucket) of the `isolation` shape whose stack outputs are `outputs[part]` (None: the outputs
    themselves), when that shape's own component holds a bucket the cloud deletes only empty. Never a bucket
    the shape only has a slice of (a pooled tenant's prefix in its cell's bucket)."""
    component = f"paybill:tenant:{isolation.title()}"
    owned = [step for step in op.resources(stack, catalog)
             if getattr(facts_for(step.type), "emptied_first", False) and under(step.urn, component)]
    shape = outputs.get(part) if part else outputs
    store = shape.get("store") if isinstance(shape, Mapping) else None
    if not owned or not isinstance(store, Mapping) or store.get("prefix") or not store.get("bucket") \
            or not store.get("namespace"):
        return []
    return [(str(store["namespace"]), str(store["bucket"]))]


def empty_buckets(op: Operator, stack: StackRef, buckets: Sequence[tuple[str, str]],
                  details: dict[str, Any]) -> list[str]:
    """Empty `buckets` (journaled as `empty-buckets`); returns the commands run."""
    if not buckets:
        return []
    ran: list[str] = _cloud_step(
        op, stack, "empty-buckets", lambda: cloudcli.empty_buckets(cli(op), buckets),
        {**details, "buckets": [f"{namespace}/{bucket}" for namespace, bucket in buckets]},
        lambda commands: {"counts": {"emptied": len(commands)}, "commands": list(commands)})
    return ran


def final_backup_unguard(op: Operator, stack: StackRef, catalog: Catalog) -> Unguard | None:
    """The final backups in the stack's state (resource facts `backup`): the up back to active deletes them from
    the stack (retained on delete: they stay in the cloud for their retention); None when there are none."""
    backups = [step for step in op.resources(stack, catalog) if getattr(facts_for(step.type), "backup", False)]
    if not backups:
        return None
    reviewed = ChangeSummary.from_steps(Step("delete", step.urn, step.type, step.protect, step.retain_on_delete)
                                        for step in backups)
    return Unguard(tuple(step.urn for step in backups if step.protect), reviewed)


def check_approval(op: Operator, approval: int, stack: StackRef, operation: str) -> None:
    """Raise unless `approval` is usable by this actor for `operation` on `stack` (it is not used here)."""
    outside.use_approval(op.store, approval, stack, operation, None, op.actor, consume=False)

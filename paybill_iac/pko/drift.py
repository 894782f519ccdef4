"""Drift checks on the operator (`paybill-iac drift --fleet --engine pko`): per tenant, a check Stack beside the
tenant's own Stack, run as a refreshed preview, its outcome read from the Stack's status.

The check Stack (`drift-<tenant>`, the 42-character rule of `stack_name`) is the tenant's Stack resource
(`Rollout.manifest`: the same program, config, envRefs and Secret references, the same Pulumi stack), with:

- `preview: true` (operator 2.3, "preview mode"): the operator runs `pulumi preview`, never an update; two
  Stack resources on one Pulumi stack, one of them preview-only, is the operator's own preview-mode example;
- `refresh: true`: the preview refreshes first, so what the cloud holds is what the program is compared with;
- `updateTemplate.spec.expectNoChanges: true`: the preview fails ("no changes were expected but changes were
  proposed", the Pulumi CLI's `--expect-no-changes`) when the refreshed view differs from the program. The
  Stack's own `expectNoRefreshChanges` is set too, for what it says, but operator v2 ignores it (its webhook
  warns "expectNoRefreshChanges is ignored"; the line passing it on to the Update is commented out), so the
  Update template is what makes the check fail;
- no `prerequisites`: a preview reads the cell's outputs from the backend; it need not wait for a cell Stack;
- `workspaceReclaimPolicy: Delete`, `destroyOnFinalize: false` (as every paybill Stack; a preview Stack has
  nothing to destroy anyway), the label `paybill.io/kind: drift-check` (`fleet status` leaves them out:
  `status.deployments`);
- the annotation `pulumi.com/reconciliation-request`: the run's token, so the operator runs the check again
  for each new drift run although the spec did not change, and `status.classify` reads an outcome only once
  `lastUpdate.reconcileRequest` carries that token.

Outcome (`check_result`): Ready (the preview succeeded) -> `in_sync`; lastUpdate failed with the CLI's
expect-no-changes message -> `drifted`; anything else (not applied, stalled, another failure, not finished
in time) -> `error`, with the operator's message. A refreshed preview that proposes changes is drift, or a
change of the program or config not applied yet: the operator cannot tell them apart, nor say which
resources: the per-resource report is the local check's (`paybill-iac drift --tenant ID`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paybill_iac.model.spec import TenantSpec
from paybill_iac.pko.manifests import LABEL_PREFIX, RECONCILE_REQUEST, Rollout, stack_name
from paybill_iac.pko.rollout import WaveResult
from paybill_iac.pko.status import DRIFT_CHECK_KIND as CHECK_KIND

CHECK_PREFIX = "drift"
NO_CHANGES_EXPECTED = "no changes were expected"  # the Pulumi CLI's --expect-no-changes failure


def check_name(stack: str) -> str:
    """The check Stack's name for a tenant's stack: `drift-<stack>`, a DNS label of at most 42 characters."""
    return stack_name(CHECK_PREFIX, stack)


def check_request(run_id: str) -> str:
    """The reconciliation request of a drift run: the same for a resumed run, new for every other run."""
    return f"paybill-drift-{run_id}"


def check_manifest(rollout: Rollout, spec: TenantSpec, wave: int, request: str) -> dict[str, Any]:
    """The check Stack of one tenant's stack (module docstring)."""
    manifest = rollout.manifest(spec, wave)
    metadata, body = manifest["metadata"], manifest["spec"]
    metadata["name"] = check_name(spec.stack)
    metadata["labels"][f"{LABEL_PREFIX}kind"] = CHECK_KIND
    metadata["annotations"] = {RECONCILE_REQUEST: request,
                               f"{LABEL_PREFIX}config-digest": metadata["annotations"][f"{LABEL_PREFIX}config-digest"]}
    body.pop("prerequisites", None)
    body.update({"preview": True, "refresh": True, "expectNoRefreshChanges": True,
                 "updateTemplate": {"spec": {"expectNoChanges": True}},
                 "workspaceReclaimPolicy": "Delete", "destroyOnFinalize": False})
    return manifest


@dataclass(frozen=True)
class DriftCheck:
    """One tenant's check on the operator: `in_sync`, `drifted` or `error`, with the operator's words."""

    tenant: str
    stack: str
    """The check Stack's name."""
    status: str
    message: str = ""
    permalink: str = ""


def check_result(tenant: str, name: str, result: WaveResult) -> DriftCheck:
    """The check Stack `name`'s outcome in a wave the rollout waited for (module docstring)."""
    applied = next((outcome for outcome in result.applied if outcome.name == name), None)
    if applied is None or not applied.ok:
        return DriftCheck(tenant, name, "error", f"check Stack {name} was not applied: "
                          f"{applied.error if applied else 'no answer from the API server'}")
    if name in result.timed_out:
        return DriftCheck(tenant, name, "error", f"check Stack {name} did not finish in time; the operator "
                          "carries on with it and the next drift run reads a new outcome")
    status = result.statuses.get(name)
    if status is None:
        return DriftCheck(tenant, name, "error", f"check Stack {name}: no status from the operator")
    if status.state == "ready":
        return DriftCheck(tenant, name, "in_sync", "the refreshed preview proposed no changes", status.permalink)
    said = status.last_message or status.message
    if status.last_update == "failed" and NO_CHANGES_EXPECTED in said.lower():
        return DriftCheck(tenant, name, "drifted", f"the refreshed preview proposed changes: {said}", status.permalink)
    return DriftCheck(tenant, name, "error", f"check Stack {name} {status.state}: "
                      f"{status.reason or status.last_update} {said}".rstrip(), status.permalink)

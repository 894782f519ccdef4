"""A Stack's status as one state, and the fleet's states rolled up by wave, plan and cloud.

The operator's "ready protocol" (pulumi-kubernetes-operator operator/api/pulumi/v1/stack_types.go,
conditions Ready, Reconciling, Stalled, kstatus-compatible):

    Reconciling=True  the stack is being processed (reason StackProcessing), waits for a prerequisite
                      (PrerequisiteNotSatisfied) or retries after a failure (RetryingAfterFailure)
    Ready=True        processed to completion and up to date (ProcessingCompleted)
    Ready=False       failed; with Stalled=True it is not retried until its spec changes (SpecInvalid,
                      SourceUnavailable, UpdateConflict, PulumiVersionTooLow, WorkspaceFailed)

and `status.lastUpdate` (state `succeeded` or `failed`, `failures`, `generation`, `reconcileRequest`,
`message`, `permalink`, `lastResyncTime`). A status written for an older generation of the spec says nothing
about the current one (`status.observedGeneration` < `metadata.generation`), nor does one written before the
Stack's `pulumi.com/reconciliation-request` annotation took its present value (the operator runs a Stack
again when that value changes, and copies it into `lastUpdate.reconcileRequest` when the run ends).

States, in the order a rollout cares about them:

    pending      not seen by the operator yet (no conditions, or an older generation)
    waiting      a prerequisite (the tenant's cell) has not succeeded yet
    reconciling  an update is running
    failing      the last update of this spec failed and the operator will retry it (backoff)
    stalled      the operator gave up until the spec changes
    ready        the last update of this spec succeeded
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from paybill_iac.pko.manifests import LABEL_PREFIX, RECONCILE_REQUEST

STATES = ("pending", "waiting", "reconciling", "failing", "stalled", "ready")
FAILED_STATES = frozenset({"failing", "stalled"})
SETTLED_STATES = frozenset({"ready", "failing", "stalled"})
DRIFT_CHECK_KIND = "drift-check"


@dataclass(frozen=True)
class StackStatus:
    name: str
    kind: str  # tenant | cell
    tenant: str | None
    wave: int
    plan: str
    cloud: str
    state: str
    reason: str = ""
    message: str = ""
    failures: int = 0
    last_update: str = ""  # succeeded | failed | ""
    permalink: str = ""
    last_message: str = ""
    """status.lastUpdate.message: the operation's own error (the conditions say only that it failed)."""

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES

    @property
    def settled(self) -> bool:
        return self.state in SETTLED_STATES

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(item.get("type")): item for item in status.get("conditions") or [] if isinstance(item, Mapping)}


def classify(stack: Mapping[str, Any]) -> StackStatus:
    """One Stack object (as the API returns it) -> its StackStatus."""
    metadata = stack.get("metadata") or {}
    labels = metadata.get("labels") or {}
    status = stack.get("status") or {}
    generation = int(metadata.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    conditions = _conditions(status)
    last = status.get("lastUpdate") or {}
    current_update = bool(last) and int(last.get("generation") or 0) >= generation
    ready, stalled, reconciling = (conditions.get(kind) for kind in ("Ready", "Stalled", "Reconciling"))
    requested = (metadata.get("annotations") or {}).get(RECONCILE_REQUEST)
    reason, message = "", ""
    if not conditions or observed < generation:
        state = "pending"
    elif stalled is not None and stalled.get("status") == "True":
        state, reason, message = "stalled", str(stalled.get("reason", "")), str(stalled.get("message", ""))
    elif requested is not None and str(last.get("reconcileRequest", "")) != requested:
        state = "pending"  # the outcome shown is of an earlier request
    elif ready is not None and ready.get("status") == "True" and (not last or last.get("state") == "succeeded"):
        state, reason = "ready", str(ready.get("reason", ""))
    elif reconciling is not None and reconciling.get("status") == "True":
        reason, message = str(reconciling.get("reason", "")), str(reconciling.get("message", ""))
        if reason == "PrerequisiteNotSatisfied":
            state = "waiting"
        elif reason == "RetryingAfterFailure" or (current_update and last.get("state") == "failed"):
            state = "failing"
        else:
            state = "reconciling"
    elif current_update and last.get("state") == "failed":
        state, message = "failing", str(last.get("message", ""))
    else:
        state = "reconciling"
    if state == "failing" and not message:
        message = str(last.get("message", ""))
    try:
        wave = int(labels.get(f"{LABEL_PREFIX}wave", 0))
    except ValueError:
        wave = 0
    return StackStatus(
        name=str(metadata.get("name", "")), kind=str(labels.get(f"{LABEL_PREFIX}kind", "")),
        tenant=labels.get(f"{LABEL_PREFIX}tenant"), wave=wave, plan=str(labels.get(f"{LABEL_PREFIX}plan", "")),
        cloud=str(labels.get(f"{LABEL_PREFIX}cloud", "")), state=state, reason=reason,
        message=" ".join(message.split())[:300], failures=int(last.get("failures") or 0),
        last_update=str(last.get("state", "")), permalink=str(last.get("permalink", "")),
        last_message=" ".join(str(last.get("message", "")).split())[:1000],
    )


def deployments(statuses: Iterable[StackStatus]) -> list[StackStatus]:
    """The fleet's own Stacks: drift runs' check Stacks (kind `drift-check`, paybill_iac.pko.drift) are left out,
    since a check that found drift fails by design and says nothing about the tenant's deployment."""
    return [item for item in statuses if item.kind != DRIFT_CHECK_KIND]


def rollup(statuses: Iterable[StackStatus]) -> dict[str, Any]:
    """Counts of each state: in all, and by wave, plan and cloud (cells under plan `-`)."""
    items = list(statuses)

    def counts(group: Iterable[StackStatus]) -> dict[str, int]:
        found = Counter(item.state for item in group)
        return {state: found[state] for state in STATES if found[state]}

    by: dict[str, dict[str, dict[str, int]]] = {}
    for dimension, key in (("wave", lambda s: str(s.wave)), ("plan", lambda s: s.plan or "-"),
                           ("cloud", lambda s: s.cloud or "-")):
        groups: dict[str, list[StackStatus]] = {}
        for item in items:
            groups.setdefault(key(item), []).append(item)
        ordered = sorted(groups, key=lambda value: (int(value) if value.isdigit() else 10**9, value))
        by[dimension] = {value: counts(groups[value]) for value in ordered}
    return {"total": len(items), "states": counts(items), "by": by,
            "failed": sorted(item.name for item in items if item.failed)}

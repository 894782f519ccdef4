"""The lifecycle transitions as the workflows should run them: ordered steps, each a goal for the
tenant's stack (a spec its program builds) or a destroy, with what the workflow does before it.

    onboard             (no stack) -> up: the active stack
    suspend / resume    up: the suspended / active stack (the identity stays, its grants go / come back)
    offboard            up: the offboarding stack (no access path; a final backup; everything else
                        protected as before and retained on delete); the stack is kept until retention end
    cancel offboarding  up: the active stack; the final backup leaves the stack (the workflow runs
                        `pulumi state unprotect` on it; retained, it stays in the cloud for its retention)
    retention end       up: the offboarding stack with its guards released; then destroy (the workflow
                        empties the buckets the cloud deletes only empty)
    change plan         within one isolation model: up to the new plan (updates in place).
                        Between models: provision (up: the new shape beside the old, whose guards stay;
                        nothing existing changes), [data move, cut-over], lift (up: the old shape's guards
                        lifted, updates only), retire (up: the new shape alone; the workflow empties the old
                        buckets the cloud deletes only empty)

Every step is a spec, so `paybill-iac lifecycle plan` and the invariant tests run exactly the programs
the workflows deploy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from paybill_iac.errors import TransitionError, UsageError
from paybill_iac.model import lifecycle
from paybill_iac.model.spec import StackState, TenantSpec

StepKind = Literal["up", "provision", "lift", "retire", "release", "destroy"]


@dataclass(frozen=True)
class Step:
    """One step of a transition: the goal (None: destroy) and what the workflow does before it."""

    label: str
    kind: StepKind
    spec: TenantSpec | None
    unprotect_final_backup: bool = False
    """The workflow runs `pulumi state unprotect` on the final backup first (cancelled offboarding)."""
    emptied: bool = False
    """The workflow empties the buckets the cloud deletes only empty first (OCI)."""
    note: str = ""


@dataclass(frozen=True)
class Transition:
    """A lifecycle transition of one tenant: where its stack starts and the steps that take it on."""

    name: str
    tenant: str
    start: TenantSpec | None
    """The spec of the stack before the transition (None: there is no stack yet)."""
    steps: tuple[Step, ...]
    deletes_data: bool = False
    """Whether the transition deletes data on purpose (a retired shape, retention end)."""

    @property
    def target(self) -> TenantSpec | None:
        """The spec the stack is left at (None: destroyed)."""
        return self.steps[-1].spec if self.steps else self.start


def with_state(spec: TenantSpec, state: str) -> TenantSpec:
    return replace(spec, state=_stack_state(state), guards="kept")


def _stack_state(state: str) -> StackState:
    if state not in ("onboarding", "active", "suspended", "offboarding"):
        raise UsageError(f"'{state}' is not a state in which a tenant has a stack")
    return state  # type: ignore[return-value]


def state_transition(current: TenantSpec, to_state: str) -> Transition:
    """The transition of a tenant whose stack is at `current` to `to_state` (offboarded: retention end)."""
    now = current.state
    if not lifecycle.allowed(now, to_state) or now == to_state:
        targets = ", ".join(sorted(lifecycle.TRANSITIONS.get(now, frozenset()))) or "nothing"
        raise TransitionError(f"tenant '{current.tenant}' cannot go from {now} to {to_state}; from {now} it can go "
                              f"to {targets}")
    tenant = current.tenant
    if now == "onboarding" and to_state == "active":
        return Transition("onboard", tenant, None, (Step("up: the active stack", "up", with_state(current, "active")),))
    if to_state == "suspended":
        return Transition("suspend", tenant, current, (
            Step("up: the suspended stack", "up", with_state(current, "suspended"),
                 note="the identity stays, every grant goes; the data plane sets its logins NOLOGIN"),))
    if now == "suspended" and to_state == "active":
        return Transition("resume", tenant, current, (Step("up: the active stack", "up", with_state(current, "active"),
                                                           note="the grants come back; the data plane sets LOGIN"),))
    if to_state == "offboarding":
        return Transition("offboard", tenant, current, (
            Step("up: the offboarding stack", "up", with_state(current, "offboarding"),
                 note="no access path; the final backup; everything else kept (protect, retain_on_delete) until "
                      "retention end. Before it: the data plane's db-offboard (NOLOGIN, final dump); GCP: the "
                      "workflow's on-demand backup (gcloud sql backups create)"),))
    if now == "offboarding" and to_state == "active":
        return Transition("cancel-offboarding", tenant, current, (
            Step("up: the active stack", "up", with_state(current, "active"), unprotect_final_backup=True,
                 note="the final backup leaves the stack (state unprotect first); it stays in the cloud for its "
                      "retention"),))
    if now == "offboarding" and to_state == "offboarded":
        released = with_state(current, "offboarding").released()
        return Transition("retention-end", tenant, current, (
            Step("up: every guard released", "release", released,
                 note="protect off, deletion protection off, force-destroy on, no final snapshot, the OCI "
                      "compartment deletable"),
            Step("destroy", "destroy", None, emptied=True,
                 note="the workflow empties the buckets OCI deletes only empty; the data plane's db-drop drops "
                      "what lives in a shared server"),
        ), deletes_data=True)
    raise TransitionError(f"tenant '{tenant}': no workflow takes a stack from {now} to {to_state}")


def plan_transition(old: TenantSpec, new: TenantSpec) -> Transition:
    """A change of plan from the stack at `old` to `new` (the new plan's spec, at its generation)."""
    tenant = old.tenant
    if old.state not in ("active", "suspended"):
        raise TransitionError(f"tenant '{tenant}' is {old.state}; only active or suspended tenants change plan")
    if new.state != old.state:
        new = replace(new, state=old.state)
    if old.isolation == new.isolation:
        return Transition("change-plan", tenant, old, (
            Step(f"up: plan {new.plan}", "up", new, note=f"within {old.isolation}: an update in place"),))
    if new.generation <= old.generation:
        raise UsageError(f"tenant '{tenant}': the new {new.isolation} shape needs a generation above the old "
                         f"one's ({old.generation}): the names the cloud never frees must not repeat")
    return Transition("change-plan", tenant, old, (
        Step(f"provision: the {new.isolation} shape beside the {old.isolation} one", "provision",
             new.with_retiring(old, "kept"), note="creates only: nothing existing changes"),
        Step(f"lift: the {old.isolation} shape's guards", "lift", new.with_retiring(old, "lifted"),
             note="after the data move and the cut-over; updates only (protect and deletion protection off)"),
        Step(f"retire: the {old.isolation} shape", "retire", new, emptied=True,
             note="the old shape goes; its key (and what holds it) and its final backup stay in the cloud for "
                  "the backups' retention"),
    ), deletes_data=True)

"""The tenant lifecycle: states, the transitions allowed between them, and what each state builds.

    onboarding --> active <--> suspended
         |           |            |
         +-----------+------------+--> offboarding --> offboarded
                                           |
                                           +--> active   (offboarding cancelled before data went)

    onboarding   the stack is built for the first time (same resources as active)
    active       everything the plan provides
    suspended    the tenant's identity is granted nothing; all data stays
    offboarding  data resources are kept in the cloud on delete (final snapshot, retain on delete);
                 the stack may be destroyed without destroying data
    offboarded   no stack; retained data goes when its retention ends (automation layer)

The catalog holds only the current state; where the previous state is known (the automation
journal), `check_transition` enforces the arrows above.
"""

from __future__ import annotations

from paybill_iac.model.errors import TransitionError

TRANSITIONS: dict[str, frozenset[str]] = {
    "onboarding": frozenset({"active", "offboarding"}),
    "active": frozenset({"suspended", "offboarding"}),
    "suspended": frozenset({"active", "offboarding"}),
    "offboarding": frozenset({"offboarded", "active"}),
    "offboarded": frozenset(),
}

HAS_STACK = frozenset({"onboarding", "active", "suspended", "offboarding"})


def allowed(previous: str, new: str) -> bool:
    return previous == new or new in TRANSITIONS.get(previous, frozenset())


def check_transition(tenant_id: str, previous: str, new: str) -> None:
    """Raise TransitionError unless `previous -> new` is an allowed step."""
    if not allowed(previous, new):
        targets = ", ".join(sorted(TRANSITIONS.get(previous, frozenset()))) or "nothing (final state)"
        raise TransitionError(
            f"tenant '{tenant_id}' cannot go from {previous} to {new}; from {previous} it can go to {targets}"
        )

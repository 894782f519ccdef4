"""The lifecycle's invariants, checked on the engine's plan of a transition (`plan_step` per step).

    guards       no step is refused (nothing protected or guarded is deleted or replaced unless the
                 workflow lifted it first), no data is replaced, and data is deleted only by the
                 transitions that mean to (a retired shape, retention end), never by provision, lift
                 or release steps (which only create or update)
    kept         everything a resource kept in the cloud depends on is kept too (in the state or in the
                 cloud); an offboarding stack keeps everything but its access path, and nothing of it
    offboarding  leaves every data resource in place and a final backup (a backup resource for a
                 dedicated instance where the cloud has one, the stack's `final_backup` output always)
    retention    the end leaves nothing: the stack is gone, no deletion leaves backups, and only what the
                 data plane drops itself or the cloud never deletes (GCP key rings, whose versions go)
                 stays
    suspended    the identity reaches nothing: its access path holds no grant, and no grant of the stack
                 depends on it
    names        no two resources of a stack claim the same physical name (old and new shapes side by
                 side included), and no URN is registered twice
    keys         no key is deleted while anything encrypted with it stays (in the state or the cloud), nor
                 in a step whose deletions leave backups it encrypted
"""

from __future__ import annotations

from collections.abc import Sequence

from paybill_iac.lifecycle_plan.engine import (
    Snapshot,
    StepPlan,
    closure,
    collisions,
    dependents,
    kept_in_cloud,
)
from paybill_iac.lifecycle_plan.transitions import Transition
from paybill_iac.model import resource_facts


def _facts(type_token: str) -> resource_facts.ResourceFacts | None:
    return resource_facts.facts_for(type_token)


def guard_problems(transition: Transition, plans: Sequence[StepPlan]) -> list[str]:
    found = []
    for step, plan in zip(transition.steps, plans, strict=True):
        for change in plan.blocked:
            found.append(f"{plan.label}: {change.action} of {change.name} ({change.type}) is refused: "
                         f"{'; '.join(change.blocked_by)}")
        for change in plan.changes:
            facts = _facts(change.type)
            data = facts is not None and facts.holds_data
            if change.action == "replace" and data:
                found.append(f"{plan.label}: {change.name} ({change.type}) holds data and would be replaced "
                             f"({', '.join(change.replace_keys)})")
            if change.deletes and data and not (transition.deletes_data and step.kind in ("retire", "destroy")):
                found.append(f"{plan.label}: {change.name} ({change.type}) holds data and would be deleted")
            if step.kind in ("lift", "release") and change.action in ("delete", "delete-but-keep", "replace"):
                found.append(f"{plan.label}: a {step.kind} step only updates, but it would {change.action} "
                             f"{change.name}")
            if step.kind == "provision" and change.action not in ("create", "same"):
                found.append(f"{plan.label}: provisioning touches {change.name} ({change.action})")
    return found


def kept_problems(transition: Transition, plans: Sequence[StepPlan]) -> list[str]:
    found = []
    kept: dict[str, str] = {}
    for plan in plans:
        for urn, resource in kept_in_cloud([plan]).items():
            kept[urn] = resource.name
        for urn, resource in kept_in_cloud([plan]).items():
            if resource.access_path:
                continue  # a login the provider abandons: the data plane drops it (not kept data)
            facts = _facts(resource.type)
            for dep in plan.before.custom_dependencies(urn):
                source = _facts(plan.before.resources[dep].type)
                if facts is not None and facts.backup and source is not None and source.database_instance:
                    continue  # a backup outlives the instance it was taken of: that is what it is for
                if dep not in plan.after.resources and dep not in kept:
                    found.append(f"{plan.label}: {plan.before.resources[urn].name} stays in the cloud but "
                                 f"{plan.before.resources[dep].name}, which it depends on, is deleted")
    for step, plan in zip(transition.steps, plans, strict=True):
        if step.spec is not None and step.spec.offboarding and step.spec.guards == "kept":
            found += offboarding_keep_problems(plan.after, plan.label)
    return found


def offboarding_keep_problems(snapshot: Snapshot, label: str = "offboarding") -> list[str]:
    """An offboarding stack: no access path; every other resource retained on delete; the retained set
    closed under dependencies (the closure of its data, proven from the recorded graph)."""
    found = []
    retained = {urn for urn, resource in snapshot.resources.items() if resource.retain_on_delete}
    for urn, resource in snapshot.resources.items():
        if resource.access_path:
            found.append(f"{label}: {resource.name} belongs to the access path, which offboarding removes")
        elif urn not in retained:
            found.append(f"{label}: {resource.name} ({resource.type}) is not kept on delete")
    data = [urn for urn, resource in snapshot.resources.items() if (_facts(resource.type) or _NONE).holds_data]
    for urn in closure(snapshot, data) - retained:
        found.append(f"{label}: the kept data depends on {snapshot.resources[urn].name}, which is not kept")
    return found


class _NoFacts:
    holds_data = False


_NONE = _NoFacts()


def offboarding_problems(transition: Transition, plans: Sequence[StepPlan]) -> list[str]:
    if transition.name != "offboard":
        return []
    plan = plans[-1]
    found = []
    for urn, resource in plan.before.resources.items():
        facts = _facts(resource.type)
        if facts is not None and facts.holds_data and urn not in plan.after.resources:
            found.append(f"offboarding loses {resource.name} ({resource.type})")
    if "final_backup" not in plan.after.outputs:
        found.append("offboarding leaves no final_backup in the stack outputs")
    spec = transition.start
    dedicated = spec is not None and spec.isolation != "pooled" and spec.cloud in ("aws", "azure", "oci")
    if dedicated and not any(getattr(_facts(resource.type), "backup", False)
                             for resource in plan.after.resources.values()):
        found.append(f"offboarding takes no backup of the {spec.cloud if spec else ''} instance")
    return found


def retention_problems(transition: Transition, plans: Sequence[StepPlan]) -> list[str]:
    if transition.name != "retention-end":
        return []
    found = []
    last = plans[-1]
    if last.after.resources:
        found.append("retention end leaves resources in the stack")
    for plan in plans:
        for change in plan.changes:
            if change.leaves_backups and not change.leaves_backups[0].startswith("the cloud never deletes"):
                found.append(f"{plan.label}: deleting {change.name} leaves {', '.join(change.leaves_backups)}")
            if change.kept_because:
                facts = _facts(change.type)
                if not (facts and facts.dropped_by_data_plane):
                    found.append(f"{plan.label}: {change.name} ({change.type}) stays in the cloud "
                                 f"({change.kept_because})")
    return found


def suspended_problems(transition: Transition, plans: Sequence[StepPlan]) -> list[str]:
    found = []
    for step, plan in zip(transition.steps, plans, strict=True):
        if step.spec is None or step.spec.state not in ("suspended", "offboarding"):
            continue
        found += identity_reach_problems(plan.after, plan.label, offboarding=step.spec.offboarding)
    return found


def identity_reach_problems(snapshot: Snapshot, label: str, *, offboarding: bool = False) -> list[str]:
    """A suspended (or offboarding) stack's identity reaches nothing."""
    found = []
    access = {urn for urn, resource in snapshot.resources.items() if resource.access_path}
    for urn in sorted(access):
        resource = snapshot.resources[urn]
        if offboarding:
            found.append(f"{label}: {resource.name} of the access path is still there")
        elif getattr(_facts(resource.type), "grant", False):
            found.append(f"{label}: the suspended identity is granted {resource.name} ({resource.type})")
    for resource in snapshot.resources.values():
        facts = _facts(resource.type)
        if facts is not None and facts.grant and set(resource.dependencies) & access:
            found.append(f"{label}: {resource.name} ({resource.type}) grants the suspended identity something")
    return found


def name_problems(transition: Transition, plans: Sequence[StepPlan]) -> list[str]:
    found = []
    for plan in plans:
        found += [f"{plan.label}: {problem}" for problem in collisions(plan.after)]
    kept = kept_in_cloud(plans)
    if kept:
        final = plans[-1].after
        combined = Snapshot({**dict(final.resources), **kept})
        found += [f"after {transition.name}, kept in the cloud: {problem}" for problem in collisions(combined)
                  if not problem.startswith("URN")]
    return found


def key_problems(transition: Transition, plans: Sequence[StepPlan]) -> list[str]:
    found = []
    kept_so_far: set[str] = set()
    for plan in plans:
        kept_so_far |= set(kept_in_cloud([plan]))
        deleted_with_backups = {change.urn for change in plan.changes
                                if change.deletes and any(not item.startswith("the cloud never deletes")
                                                          for item in change.leaves_backups)}
        for change in plan.changes:
            facts = _facts(change.type)
            if not (change.deletes and facts is not None and facts.encrypts):
                continue
            for urn in dependents(plan.before, change.urn):
                name = plan.before.resources[urn].name
                if urn in plan.after.resources or urn in kept_so_far:
                    found.append(f"{plan.label}: key {change.name} is deleted while {name}, encrypted with it, stays")
                if urn in deleted_with_backups:
                    found.append(f"{plan.label}: key {change.name} is deleted while the backups {name} leaves "
                                 "stay")
    return found


CHECKS = {
    "guards": guard_problems,
    "kept": kept_problems,
    "offboarding": offboarding_problems,
    "retention": retention_problems,
    "suspended": suspended_problems,
    "names": name_problems,
    "keys": key_problems,
}


def problems(transition: Transition, plans: Sequence[StepPlan]) -> dict[str, list[str]]:
    """Every invariant's problems with the planned transition (empty lists when it holds)."""
    return {name: check(transition, plans) for name, check in CHECKS.items()}

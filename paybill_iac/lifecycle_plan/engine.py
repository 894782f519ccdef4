"""What the Pulumi engine and the cloud would do with one step of a workflow, offline.

A step takes a stack from one state (`Snapshot`: the resources its last deployment left, as the mock
monitor recorded them) to the goal its program declares (another Snapshot), or destroys it. For every
resource `plan_step` says what happens, with the engine's own rules (pulumi/pulumi
pkg/resource/deploy/step_generator.go and step.go):

    create            in the goal, not in the state
    update            in both, an input or an option (protect, retain_on_delete) differs and no input
                      the provider replaces on (resource facts `replace_on`, the `replaceOnChanges`
                      option) changed; `ignoreChanges` inputs are not compared
    replace           such an input changed; the engine refuses when the resource is protected in the
                      state and in the goal ("we do allow unprotecting and replacing to happen in a
                      single update cycle")
    delete            in the state, not in the goal (or destroyed); the engine refuses while the state
                      says `protect`; the cloud refuses while a deletion guard of the resource facts
                      holds (RDS and Cloud SQL deletion protection, a non-empty bucket without
                      forceDestroy, an OCI bucket not emptied, an Azure delete lock on it or a parent
                      that this step does not delete first)
    delete-but-keep   removed from the state but left in the cloud: `retain_on_delete` in the state, or
                      the provider forgets it (OCI compartment enableDelete=false, Cloud SQL
                      deletionPolicy=ABANDON)
    same              nothing to do

and what the deletion leaves behind (retained backups: an RDS final snapshot, Cloud SQL retained or
final backups). The workflow's own actions before a step are explicit: `unprotect` (URNs it runs
`pulumi state unprotect` on) and `emptied` (it empties the buckets the cloud deletes only empty).

This module only reasons about snapshots; `paybill_iac.lifecycle_plan.run` builds them by running the
stack programs under the mock runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from paybill_iac.model import resource_facts

Action = Literal["create", "update", "replace", "delete", "delete-but-keep", "same"]
ACCESS_PATH_TYPE = "paybill:tenant:Access"
_MISSING = object()


@dataclass(frozen=True)
class Resource:
    """One resource as the engine's state (or a program's goal) holds it."""

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    id: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def facts(self) -> resource_facts.ResourceFacts | None:
        return resource_facts.facts_for(self.type)

    @property
    def access_path(self) -> bool:
        """Part of the tenant's access path (a child of its `paybill:tenant:Access` component)."""
        return ACCESS_PATH_TYPE in self.urn.split("::")[2].split("$")[:-1] if self.urn.count("::") >= 3 else False

    @property
    def shape(self) -> str:
        """The component (shape) it belongs to: paybill:tenant:Silo, ...:Bridge, ...:Pooled, or ""."""
        chain = self.urn.split("::")[2].split("$") if self.urn.count("::") >= 3 else []
        return next((part for part in chain if part.startswith(("paybill:tenant:", "paybill:cell:"))
                     and part != ACCESS_PATH_TYPE), "")


@dataclass(frozen=True)
class Snapshot:
    """A stack's resources by URN (only the cloud resources: no components, providers or references)."""

    resources: Mapping[str, Resource] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    duplicate_urns: tuple[str, ...] = ()

    @classmethod
    def from_run(cls, run: Any) -> Snapshot:
        """From a `paybill_iac.mockrun.StackRun`."""
        found = {}
        for item in run.resources:
            if not item.custom or item.type.startswith("pulumi:"):
                continue
            found[item.urn] = Resource(
                urn=item.urn, type=item.type, name=item.name, inputs=item.inputs, id=item.id,
                protect=item.protect, retain_on_delete=item.retain_on_delete,
                delete_before_replace=getattr(item, "delete_before_replace", False),
                ignore_changes=tuple(getattr(item, "ignore_changes", ())),
                replace_on_changes=tuple(getattr(item, "replace_on_changes", ())),
                dependencies=tuple(getattr(item, "dependencies", ())),
                property_dependencies=dict(getattr(item, "property_dependencies", {})))
        return cls(found, dict(run.outputs), tuple(getattr(run, "duplicate_urns", ())))

    def custom_dependencies(self, urn: str) -> tuple[str, ...]:
        """The dependencies of `urn` that are resources of this stack."""
        return tuple(dep for dep in self.resources[urn].dependencies if dep in self.resources)


EMPTY = Snapshot()


@dataclass
class Change:
    """What one step does to one resource."""

    urn: str
    type: str
    name: str
    action: Action
    changed: tuple[str, ...] = ()
    """Inputs (and `(protect)`, `(retain_on_delete)`) that differ."""
    replace_keys: tuple[str, ...] = ()
    """The changed inputs the provider replaces on."""
    blocked_by: tuple[str, ...] = ()
    """What refuses it: the engine's `protect`, a cloud-side guard; empty when it goes through."""
    kept_because: str = ""
    """Why a delete leaves the resource in the cloud."""
    leaves_backups: tuple[str, ...] = ()
    """What a deletion leaves in the cloud (retained backups), which its key must outlive."""
    lifted_by_workflow: str = ""
    """The workflow's action that lets it through (state unprotect, emptying a bucket)."""

    @property
    def blocked(self) -> bool:
        return bool(self.blocked_by)

    @property
    def deletes(self) -> bool:
        """The provider deletes it (a delete that is not kept, or the old half of a replace)."""
        return self.action == "delete" or (self.action == "replace" and not self.kept_because)

    def as_dict(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "name": self.name, "action": self.action,
                "changed": list(self.changed), "replace_keys": list(self.replace_keys),
                "blocked_by": list(self.blocked_by), "kept_because": self.kept_because,
                "leaves_backups": list(self.leaves_backups), "lifted_by_workflow": self.lifted_by_workflow}


@dataclass
class StepPlan:
    """One step of a workflow: its label, the operation, and what it does to every resource."""

    label: str
    operation: Literal["up", "destroy"]
    changes: list[Change]
    before: Snapshot
    after: Snapshot
    """The state once the step ran (the goal for an up, nothing for a destroy)."""
    note: str = ""

    @property
    def blocked(self) -> list[Change]:
        return [change for change in self.changes if change.blocked]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for change in self.changes:
            if change.action != "same":
                found[change.action] = found.get(change.action, 0) + 1
        return found

    def kept_in_cloud(self) -> list[Change]:
        return [change for change in self.changes if change.kept_because]

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "operation": self.operation, "note": self.note, "counts": self.counts(),
                "blocked": len(self.blocked),
                "changes": [change.as_dict() for change in self.changes if change.action != "same"]}


def value_at(inputs: Mapping[str, Any], path: str) -> Any:
    """The input at a dotted camelCase path (list items by index), or _MISSING."""
    current: Any = inputs
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _holds(inputs: Mapping[str, Any], conditions: Iterable[tuple[str, Any]]) -> list[str]:
    """The conditions (path, value) that `inputs` meet, as text."""
    found = []
    for path, wanted in conditions:
        value = value_at(inputs, path)
        if value is _MISSING and wanted is False:
            value = False  # an unset boolean guard input is false
        if value == wanted:
            found.append(f"{path}={_text(wanted)}")
    return found


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _ignored(path: str, ignore: tuple[str, ...]) -> bool:
    return any(path == item or path.startswith(item + ".") or path.startswith(item + "[") for item in ignore)


def _changed_inputs(old: Resource, new: Resource) -> tuple[str, ...]:
    keys = set(old.inputs) | set(new.inputs)
    return tuple(sorted(key for key in keys if not _ignored(key, new.ignore_changes)
                        and old.inputs.get(key) != new.inputs.get(key)))


def _replace_keys(old: Resource, new: Resource) -> tuple[str, ...]:
    facts = new.facts
    paths = (*(facts.replace_on if facts else ()), *new.replace_on_changes)
    return tuple(path for path in paths if not _ignored(path, new.ignore_changes)
                 and value_at(old.inputs, path) != value_at(new.inputs, path))


def _locks(*snapshots: Snapshot) -> list[Resource]:
    return [resource for snapshot in snapshots for resource in snapshot.resources.values()
            if resource_facts.normal_type(resource.type) == "azure-native:authorization:ManagementLockByScope"]


def _deletion(old: Resource, *, unprotect: frozenset[str], emptied: bool, locks: list[Resource],
              deleted: set[str]) -> Change:
    """The change that deleting `old` is (or that the old half of a replacement is)."""
    facts = old.facts
    blocked: list[str] = []
    lifted = ""
    if old.protect and old.urn in unprotect:
        lifted = "pulumi state unprotect"
    elif old.protect:
        blocked.append("protect (in the state)")
    kept = ""
    if old.retain_on_delete:
        kept = "retain_on_delete"
    elif facts and _holds(old.inputs, facts.forgets_on_delete):
        kept = "the provider forgets it (" + ", ".join(_holds(old.inputs, facts.forgets_on_delete)) + ")"
    backups: list[str] = []
    if not kept and facts is not None:
        blocked += [f"the cloud refuses: {guard}" for guard in _holds(old.inputs, facts.deletion_guards)]
        if facts.emptied_first:
            if emptied:
                lifted = (lifted + "; " if lifted else "") + "the workflow empties it first"
            else:
                blocked.append("the cloud deletes it only empty (the workflow must empty it)")
        backups = [f"{condition} (backups stay in the cloud)" for condition in _holds(old.inputs,
                                                                                     facts.backups_on_delete)]
        if facts.never_deleted:
            kept = ""
            backups.append("the cloud never deletes it: its key versions are destroyed, its name stays taken")
        for lock in locks:
            scope = str(lock.inputs.get("scope") or "")
            if lock.urn in deleted or not scope or not old.id:
                continue
            if old.id == scope or old.id.startswith(scope.rstrip("/") + "/"):
                blocked.append(f"the cloud refuses: Azure delete lock {lock.inputs.get('lockName') or lock.name} "
                               f"on {scope.rsplit('/', 1)[-1]}")
    return Change(old.urn, old.type, old.name, "delete-but-keep" if kept else "delete", blocked_by=tuple(blocked),
                  kept_because=kept, leaves_backups=tuple(backups), lifted_by_workflow=lifted)


def plan_step(label: str, before: Snapshot, after: Snapshot | None, *, unprotect: Iterable[str] = (),
              emptied: bool = False, externals: Iterable[Snapshot] = (), note: str = "") -> StepPlan:
    """The engine's plan for one step: an `up` to the goal `after`, or a destroy (`after` None).
    `externals` are other stacks whose guards reach into this one (the cell's delete lock)."""
    lifted = frozenset(unprotect)
    goal = after if after is not None else EMPTY
    external = list(externals)
    deleted = {urn for urn in before.resources if urn not in goal.resources}
    locks = _locks(before, goal, *external)
    changes: list[Change] = []
    for urn, new in goal.resources.items():
        old = before.resources.get(urn)
        if old is None:
            changes.append(Change(urn, new.type, new.name, "create"))
            continue
        changed = list(_changed_inputs(old, new))
        replace_keys = _replace_keys(old, new)
        if replace_keys:
            blocked = ("protect (in the state and the program)",) if old.protect and new.protect else ()
            half = _deletion(old, unprotect=lifted, emptied=emptied, locks=locks, deleted=deleted | {urn})
            changes.append(Change(urn, new.type, new.name, "replace", tuple(changed), replace_keys,
                                  blocked_by=blocked + tuple(b for b in half.blocked_by if not b.startswith("protect")),
                                  kept_because=half.kept_because, leaves_backups=half.leaves_backups))
            continue
        for option in ("protect", "retain_on_delete"):
            if getattr(old, option) != getattr(new, option):
                changed.append(f"({option})")
        changes.append(Change(urn, new.type, new.name, "update" if changed else "same", tuple(changed)))
    for urn in sorted(deleted):
        changes.append(_deletion(before.resources[urn], unprotect=lifted, emptied=emptied, locks=locks,
                                 deleted=deleted))
    _with_containers(changes, before)
    changes.sort(key=lambda change: change.urn)
    return StepPlan(label, "up" if after is not None else "destroy", changes, before, goal, note)


def _with_containers(changes: list[Change], before: Snapshot) -> None:
    """A resource the engine only forgets goes anyway when the container it lives in is deleted (a
    database with its server)."""
    gone = {change.urn for change in changes if change.deletes}
    for change in changes:
        resource = before.resources.get(change.urn)
        if not change.kept_because or resource is None or resource.facts is None:
            continue
        containers = {urn for key in resource.facts.contained_in for urn in resource.property_dependencies.get(key, ())}
        if containers & gone:
            names = ", ".join(sorted(before.resources[urn].name for urn in containers & gone))
            change.action = "delete"
            change.kept_because = ""
            change.lifted_by_workflow = f"goes with {names}, which this step deletes"


# --- facts about a step's outcome, for the invariants ----------------------------------------------


def kept_in_cloud(steps: Iterable[StepPlan]) -> dict[str, Resource]:
    """Every resource the steps removed from the state but left in the cloud, by URN."""
    found: dict[str, Resource] = {}
    for step in steps:
        for change in step.changes:
            if change.kept_because and change.urn in step.before.resources:
                found[change.urn] = step.before.resources[change.urn]
    return found


def dependents(snapshot: Snapshot, urn: str) -> set[str]:
    """Every resource of `snapshot` that depends on `urn`, directly or through others."""
    reverse: dict[str, set[str]] = {}
    for resource in snapshot.resources.values():
        for dep in resource.dependencies:
            reverse.setdefault(dep, set()).add(resource.urn)
    found: set[str] = set()
    todo = [urn]
    while todo:
        for child in reverse.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def closure(snapshot: Snapshot, urns: Iterable[str]) -> set[str]:
    """`urns` and everything they depend on in `snapshot`, transitively."""
    found: set[str] = set()
    todo = [urn for urn in urns if urn in snapshot.resources]
    while todo:
        urn = todo.pop()
        if urn in found:
            continue
        found.add(urn)
        todo.extend(snapshot.custom_dependencies(urn))
    return found


_NAME_KEYS = frozenset({"name", "bucket", "identifier", "dbSnapshotIdentifier", "accountId", "secretName",
                        "key", "role", "scope", "lockName", "roleAssignmentName", "objectId", "managedFolder",
                        "cryptoKeyId", "member", "namespace"})


def physical_identity(resource: Resource) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """What names a resource in its cloud (its type and its name inputs; Azure: every `...Name` path
    parameter too): two resources with the same identity collide. None when it has no name input (OCI
    display names are labels, not identities: OCI never refuses a second one)."""
    names = []
    azure = resource.type.startswith("azure-native:")
    for key, value in resource.inputs.items():
        if isinstance(value, str) and (key in _NAME_KEYS or (azure and key.endswith("Name"))):
            names.append((key, value))
    return (resource_facts.normal_type(resource.type), tuple(sorted(names))) if names else None


def collisions(snapshot: Snapshot) -> list[str]:
    """Resources of one stack that would claim the same physical name (and URNs registered twice)."""
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    found = [f"URN registered twice: {urn}" for urn in snapshot.duplicate_urns]
    for resource in snapshot.resources.values():
        identity = physical_identity(resource)
        if identity is None:
            continue
        if identity in seen:
            found.append(f"{resource.name} and {seen[identity].rsplit('::', 1)[-1]} are both {identity[0]} "
                         f"{dict(identity[1])}")
        else:
            seen[identity] = resource.urn
    return found

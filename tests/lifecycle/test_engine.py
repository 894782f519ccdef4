"""The engine's rules on hand-made snapshots, and the invariants catching what breaks them: each case
one change from a sound baseline (pure: no pulumi)."""

from __future__ import annotations

import dataclasses

from paybill_iac.lifecycle_plan.engine import Resource, Snapshot, collisions, plan_step
from paybill_iac.lifecycle_plan.invariants import (
    identity_reach_problems,
    kept_problems,
    key_problems,
    offboarding_keep_problems,
)
from paybill_iac.lifecycle_plan.transitions import Step, Transition

STACK = "urn:pulumi:acme::paybill-tenant::"
SILO = "paybill:tenant:Silo"


def urn(type_token: str, name: str, access: bool = False) -> str:
    chain = f"{SILO}$paybill:tenant:Access$" if access else f"{SILO}$"
    return f"{STACK}{chain}{type_token}::{name}"


def res(type_token: str, name: str, *, access: bool = False, deps: tuple[str, ...] = (), **options: object) -> Resource:
    inputs = options.pop("inputs", {})
    return Resource(urn=urn(type_token, name, access), type=type_token, name=name, inputs=inputs,  # type: ignore[arg-type]
                    dependencies=deps, **options)  # type: ignore[arg-type]


def snap(*resources: Resource, outputs: dict[str, object] | None = None) -> Snapshot:
    return Snapshot({resource.urn: resource for resource in resources}, outputs or {})


KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
RDS = "aws:rds/instance:Instance"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def test_a_protected_resource_is_not_deleted_unless_the_workflow_unprotects_it() -> None:
    bucket = res(BUCKET, "b", protect=True, inputs={"bucket": "x", "forceDestroy": True})
    refused = plan_step("up", snap(bucket), snap())
    assert refused.changes[0].blocked_by == ("protect (in the state)",)
    lifted = plan_step("up", snap(bucket), snap(), unprotect={bucket.urn})
    assert not lifted.changes[0].blocked and lifted.changes[0].lifted_by_workflow == "pulumi state unprotect"


def test_the_cloud_refuses_while_a_deletion_guard_holds() -> None:
    db = res(RDS, "db", inputs={"identifier": "db", "deletionProtection": True, "skipFinalSnapshot": True,
                                "deleteAutomatedBackups": True})
    assert plan_step("up", snap(db), snap()).changes[0].blocked_by == ("the cloud refuses: deletionProtection=true",)
    bucket = res(BUCKET, "b", inputs={"bucket": "x"})  # forceDestroy unset: S3 keeps a non-empty bucket
    assert plan_step("destroy", snap(bucket), None).changes[0].blocked


def test_retained_and_forgotten_resources_stay_in_the_cloud() -> None:
    kept = res(KEY, "k", retain_on_delete=True)
    change = plan_step("up", snap(kept), snap()).changes[0]
    assert (change.action, change.kept_because) == ("delete-but-keep", "retain_on_delete")
    compartment = res("oci:Identity/compartment:Compartment", "c", inputs={"name": "c", "enableDelete": False})
    change = plan_step("destroy", snap(compartment), None).changes[0]
    assert change.action == "delete-but-keep" and "enableDelete=false" in change.kept_because


def test_replacement_follows_the_facts_and_refuses_a_protected_resource() -> None:
    old = res(RDS, "db", protect=True, inputs={"identifier": "a", "instanceClass": "db.t4g.micro"})
    resized = dataclasses.replace(old, inputs={"identifier": "a", "instanceClass": "db.m7g.large"})
    assert plan_step("up", snap(old), snap(resized)).changes[0].action == "update"
    renamed = dataclasses.replace(old, inputs={"identifier": "b", "instanceClass": "db.t4g.micro"})
    change = plan_step("up", snap(old), snap(renamed)).changes[0]
    assert change.action == "replace" and change.replace_keys == ("identifier",) and change.blocked
    unprotected = dataclasses.replace(renamed, protect=False)  # unprotect and replace in one update: allowed
    assert not plan_step("up", snap(old), snap(unprotected)).changes[0].blocked


def test_ignored_inputs_are_not_compared() -> None:
    db = res("oci:Psql/dbSystem:DbSystem", "db", inputs={"credentials": {"v": "1"}},
             ignore_changes=("credentials",))
    rotated = dataclasses.replace(db, inputs={"credentials": {"v": "2"}})
    assert plan_step("up", snap(db), snap(rotated)).changes[0].action == "same"


def test_an_azure_lock_refuses_deleting_what_it_covers_unless_it_goes_first() -> None:
    server_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/cell"
    lock = res("azure-native:authorization:ManagementLockByScope", "lock", inputs={"scope": server_id,
                                                                                   "lockName": "l"})
    database = res("azure-native:dbforpostgresql:Database", "db", id=f"{server_id}/databases/acme",
                   inputs={"databaseName": "acme"})
    external = snap(lock)  # the cell's lock: another stack
    change = plan_step("up", snap(database), snap(), externals=[external]).changes[0]
    assert any("Azure delete lock" in reason for reason in change.blocked_by)
    together = plan_step("destroy", snap(database, dataclasses.replace(lock, urn=lock.urn + "-own")), None)
    assert not any(change.blocked for change in together.changes)


def test_a_forgotten_resource_goes_with_the_container_deleted_with_it() -> None:
    server = res("azure-native:dbforpostgresql:Server", "s", inputs={"serverName": "s"})
    database = dataclasses.replace(res("azure-native:dbforpostgresql:Database", "d", retain_on_delete=True,
                                       inputs={"databaseName": "d"}, deps=(server.urn,)),
                                   property_dependencies={"serverName": (server.urn,)})
    plan = plan_step("destroy", snap(server, database), None)
    assert {change.name: change.action for change in plan.changes} == {"s": "delete", "d": "delete"}


def _transition(*steps: Step, name: str = "offboard") -> Transition:
    return Transition(name, "acme", None, steps)


def test_kept_resources_need_what_they_depend_on() -> None:
    key = res(KEY, "k", inputs={"description": "k"})
    bucket = res(BUCKET, "b", retain_on_delete=True, deps=(key.urn,), inputs={"bucket": "b"})
    plan = plan_step("destroy", snap(key, bucket), None)
    problems = kept_problems(_transition(Step("destroy", "destroy", None)), [plan])
    assert any("depends on" in problem for problem in problems)


def test_an_offboarding_stack_keeps_all_but_its_access_path() -> None:
    key = res(KEY, "k", retain_on_delete=True, protect=True)
    bucket = res(BUCKET, "b", retain_on_delete=True, protect=True, deps=(key.urn,))
    assert offboarding_keep_problems(snap(key, bucket)) == []
    assert offboarding_keep_problems(snap(dataclasses.replace(key, retain_on_delete=False), bucket))
    role = res(ROLE, "r", access=True, retain_on_delete=True)
    assert offboarding_keep_problems(snap(key, bucket, role))  # the access path must be gone


def test_a_suspended_identity_reaches_nothing() -> None:
    role = res(ROLE, "r", access=True)
    assert identity_reach_problems(snap(role), "suspended") == []
    granted = res(ROLE_POLICY, "p", access=True, deps=(role.urn,))
    assert identity_reach_problems(snap(role, granted), "suspended")
    # a grant outside the access path naming the identity reaches it just the same
    hidden = res(BUCKET_POLICY, "bp", deps=(role.urn,))
    assert identity_reach_problems(snap(role, hidden), "suspended")


def test_no_key_goes_before_what_it_encrypted() -> None:
    key = res(KEY, "k")
    bucket = res(BUCKET, "b", retain_on_delete=True, deps=(key.urn,))
    plan = plan_step("destroy", snap(key, bucket), None)
    assert key_problems(_transition(Step("destroy", "destroy", None)), [plan])
    db = res(RDS, "db", deps=(key.urn,), inputs={"skipFinalSnapshot": False, "deleteAutomatedBackups": True})
    plan = plan_step("destroy", snap(key, db), None)  # the final snapshot stays, encrypted with the key
    assert key_problems(_transition(Step("destroy", "destroy", None)), [plan])
    clean = dataclasses.replace(db, inputs={"skipFinalSnapshot": True, "deleteAutomatedBackups": True})
    cleaned = plan_step("destroy", snap(key, clean), None)
    assert key_problems(_transition(Step("destroy", "destroy", None)), [cleaned]) == []


def test_collisions_find_names_and_urns_claimed_twice() -> None:
    first = res(BUCKET, "b1", inputs={"bucket": "pb-acme-data"})
    second = res(BUCKET, "b2", inputs={"bucket": "pb-acme-data"})
    assert collisions(snap(first, second))
    assert collisions(snap(first, dataclasses.replace(second, inputs={"bucket": "pb-acme-b-data"}))) == []
    assert collisions(Snapshot({first.urn: first}, {}, (first.urn,)))

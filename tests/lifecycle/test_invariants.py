"""The lifecycle's invariants on every cloud x isolation model x transition, with the engine's semantics
(paybill_iac.lifecycle_plan) over what the real stack programs register under the mock runtime:

    guards       no protected or guarded resource is deleted or replaced unless the workflow lifted it;
                 no data is replaced; data is deleted only by a retire step or the retention-end destroy
    kept         everything a kept resource depends on is kept (proven from the recorded dependencies,
                 Output references included); an offboarding stack keeps all but its access path
    offboarding  the data stays and a final backup is taken
    retention    the end leaves nothing (but what the data plane drops and GCP's undeletable key rings)
    suspended    a suspended (or offboarding) identity reaches nothing
    names        old and new shapes coexist without a name collision (URNs and physical names)
    keys         no key is deleted before the data and backups it encrypted
"""

from __future__ import annotations

import pytest

from tests.lifecycle.conftest import CLOUDS, ISOLATIONS, TRANSITIONS, planned

_NO_FACTS = type("NoFacts", (), {"backup": False})()
MATRIX = [(cloud, isolation, name) for cloud in CLOUDS for isolation in ISOLATIONS for name in TRANSITIONS
          if name != f"change-plan-to-{isolation}"]


@pytest.mark.parametrize(("cloud", "isolation", "name"), MATRIX)
def test_every_invariant_holds(cloud: str, isolation: str, name: str) -> None:
    result = planned(cloud, isolation, name)
    broken = {invariant: problems for invariant, problems in result.problems.items() if problems}
    assert not broken, f"{cloud} {isolation} {name}: {broken}"
    assert not any(plan.blocked for plan in result.steps)


@pytest.mark.parametrize(("cloud", "isolation"), [(c, i) for c in CLOUDS for i in ISOLATIONS])
def test_offboarding_keeps_the_stack_and_removes_only_the_access_path(cloud: str, isolation: str) -> None:
    (step,) = planned(cloud, isolation, "offboard").steps
    removed = [change for change in step.changes if change.action in ("delete", "delete-but-keep")]
    # what goes is the identity and its grants (GCP: the login is abandoned for the data plane)
    assert removed and all(step.before.resources[change.urn].access_path for change in removed)
    assert not any(change.action == "replace" for change in step.changes)
    after = step.after.resources.values()
    assert after and all(resource.retain_on_delete for resource in after)
    assert "final_backup" in step.after.outputs


@pytest.mark.parametrize(("cloud", "isolation"), [(c, i) for c in CLOUDS for i in ISOLATIONS])
def test_retention_end_lifts_then_destroys_everything(cloud: str, isolation: str) -> None:
    release, destroy = planned(cloud, isolation, "retention-end").steps
    assert set(release.counts()) <= {"update"}  # only guards lifted: nothing deleted or replaced yet
    assert all(not resource.protect and not resource.retain_on_delete or
               resource.facts is not None and resource.facts.dropped_by_data_plane
               for resource in release.after.resources.values())
    assert destroy.after.resources == {}
    kept = [change for change in destroy.changes if change.kept_because]
    assert all(change.type.endswith(":Database") for change in kept)  # a pooled database: the data plane's


@pytest.mark.parametrize(("cloud", "isolation", "target"),
                         [(c, i, t) for c in CLOUDS for i in ISOLATIONS for t in ISOLATIONS if t != i])
def test_a_plan_change_provisions_lifts_and_retires(cloud: str, isolation: str, target: str) -> None:
    provision, lift, retire = planned(cloud, isolation, f"change-plan-to-{target}").steps
    assert set(provision.counts()) == {"create"}  # nothing existing changes while both shapes run
    assert not {"delete", "delete-but-keep", "replace"} & set(lift.counts())
    old = set(provision.before.resources)
    gone = {change.urn for change in retire.changes if change.action in ("delete", "delete-but-keep")}
    assert old <= gone  # the whole old shape leaves the stack in the retire step
    # ...with what the lift step added to it: the final backup a cloud without one on delete takes (OCI)
    assert all((retire.before.resources[urn].facts or _NO_FACTS).backup for urn in gone - old)
    kept = [retire.before.resources[change.urn] for change in retire.changes if change.kept_because]
    # what outlives the old shape: its keys (and the scope holding them), its final backup, what the data
    # plane drops itself, and logins the provider abandons for the data plane
    for resource in kept:
        facts = resource.facts
        assert facts is not None, resource.type
        assert (facts.encrypts or facts.scope or facts.backup or facts.dropped_by_data_plane
                or resource.access_path), resource.type
    if isolation != "pooled":
        assert any(resource.facts is not None and resource.facts.encrypts for resource in kept)  # for the backups

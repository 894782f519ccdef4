"""Names the cloud never frees: a tenant moved silo -> bridge -> silo (or a cell created again) gets a
new generation, so what the first silo shape left in the cloud (a GCP key ring, an Azure vault held by
purge protection with its resource group, an RDS final snapshot, an OCI compartment holding a kept
vault) never collides with the second silo shape."""

from __future__ import annotations

from typing import Any

import pytest

from paybill_iac.lifecycle_plan.engine import physical_identity
from paybill_iac.lifecycle_plan.transitions import plan_transition
from paybill_iac.model import naming
from paybill_iac.model.spec import tenant_shape_names
from tests.lifecycle.conftest import CLOUDS, runner, tenant


@pytest.mark.parametrize("cloud", CLOUDS)
def test_silo_bridge_silo_never_collides(cloud: str) -> None:
    from paybill_iac.lifecycle_plan.run import plan_transition as plan

    first = plan(plan_transition(tenant(cloud, "silo"), tenant(cloud, "bridge", generation=1)), runner(cloud))
    second = plan(plan_transition(tenant(cloud, "bridge", generation=1), tenant(cloud, "silo", generation=2)),
                  runner(cloud))
    assert first.ok and second.ok, (first.problems, second.problems)
    retire = first.steps[-1]
    left_in_cloud = {physical_identity(retire.before.resources[change.urn]) for change in retire.changes
                     if change.kept_because} - {None}
    # an RDS instance's deletion takes a final snapshot under the name it was given
    left_in_cloud |= {_final_snapshot(retire.before.resources[change.urn]) for change in retire.changes
                      if change.type == "aws:rds/instance:Instance" and change.leaves_backups}
    assert left_in_cloud  # the first silo shape's key, what holds it, or its final snapshot stays
    silo_again = {physical_identity(resource) for resource in second.steps[-1].after.resources.values()}
    silo_again |= {_final_snapshot(resource) for resource in second.steps[-1].after.resources.values()
                   if resource.type == "aws:rds/instance:Instance"}
    assert not left_in_cloud & silo_again


def _final_snapshot(instance: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("aws:rds/snapshot:Snapshot", (("dbSnapshotIdentifier", instance.inputs["finalSnapshotIdentifier"]),))


@pytest.mark.parametrize("cloud", CLOUDS)
def test_never_freed_names_change_with_the_generation_and_nothing_else_does(cloud: str) -> None:
    names = [tenant_shape_names(cloud, "pb", "acme", "silo", generation) for generation in (0, 1, 2)]
    for key in naming.NAMES_USED[(cloud, "silo")]:
        values = {found[key] for found in names}
        if key in naming.NEVER_FREED[cloud]:
            assert len(values) == 3, key
            assert naming.RULES[naming.name_kind(cloud, key)].problem(names[2][key]) is None
        else:
            assert len(values) == 1, key  # generation 0 keeps today's names; others never move
    assert names[0] == tenant_shape_names(cloud, "pb", "acme", "silo")


def test_a_generation_suffix_keeps_long_names_within_the_rule() -> None:
    long_id = "a" + "b" * 28 + "c"  # 30 characters, the longest id
    for cloud in CLOUDS:
        for key in naming.NEVER_FREED[cloud]:
            for isolation in ("silo", "bridge", "pooled"):
                found = tenant_shape_names(cloud, "pb", long_id, isolation, 123).get(key)
                if found is not None:
                    assert naming.RULES[naming.name_kind(cloud, key)].problem(found) is None, (cloud, key, found)
    with pytest.raises(ValueError):
        naming.with_generation("gcp", "pb", "acme", "s", -1, {})

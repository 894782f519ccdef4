"""The lifecycle matrix: every cloud x isolation model x transition, planned once per process.

Each cloud has one StackRunner (its cell runs once); a tenant stack runs once per distinct spec, and the
transitions of one (cloud, isolation) share their specs (the active stack is every transition's start
or goal), so the whole matrix is about a hundred mock runs.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from paybill_iac.lifecycle_plan.transitions import Transition, plan_transition, state_transition
from paybill_iac.model.spec import TenantSpec, cell_stack_name, tenant_shape_names
from tests.conftest import StackKit

CLOUDS = ("aws", "azure", "gcp", "oci")
ISOLATIONS = ("silo", "bridge", "pooled")
STATE_TRANSITIONS = ("onboard", "suspend", "resume", "offboard", "cancel-offboarding", "retention-end")
TRANSITIONS = (*STATE_TRANSITIONS, *(f"change-plan-to-{isolation}" for isolation in ISOLATIONS))
HOME_REGION = {"oci": "us-ashburn-1"}  # OCI identity through a provider in another (home) region
KIT = StackKit()


def tenant(cloud: str, isolation: str, *, state: str = "active", generation: int = 0, tenant_id: str = "acme",
           plan: str | None = None) -> TenantSpec:
    """A tenant's spec as the catalog builds it: shaped names at `generation`."""
    spec = KIT.tenant_stack(cloud, isolation, tenant=tenant_id, state=state,
                            plan=plan or {"silo": "enterprise", "bridge": "growth", "pooled": "starter"}[isolation])
    account = {**spec.account, **({"home_region": HOME_REGION[cloud]} if cloud in HOME_REGION else {})}
    return dataclasses.replace(spec, names=tenant_shape_names(cloud, KIT.org, tenant_id, isolation, generation),
                               generation=generation, account=account)


@cache
def runner(cloud: str) -> Any:
    from paybill_iac.lifecycle_plan.run import StackRunner

    found = StackRunner()
    cell = KIT.cell_stack(cloud)
    found.add_cell(cell, cell_stack_name(KIT.pulumi_org, cell.cell))
    return found


def transition(cloud: str, isolation: str, name: str) -> Transition:
    active = tenant(cloud, isolation)
    if name == "onboard":
        return state_transition(dataclasses.replace(active, state="onboarding"), "active")
    if name == "suspend":
        return state_transition(active, "suspended")
    if name == "resume":
        return state_transition(dataclasses.replace(active, state="suspended"), "active")
    if name == "offboard":
        return state_transition(active, "offboarding")
    if name == "cancel-offboarding":
        return state_transition(dataclasses.replace(active, state="offboarding"), "active")
    if name == "retention-end":
        return state_transition(dataclasses.replace(active, state="offboarding"), "offboarded")
    target = name.removeprefix("change-plan-to-")
    return plan_transition(active, tenant(cloud, target, generation=1))


@cache
def planned(cloud: str, isolation: str, name: str) -> Any:
    from paybill_iac.lifecycle_plan.run import plan_transition as plan

    return plan(transition(cloud, isolation, name), runner(cloud))

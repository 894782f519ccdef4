"""The offline lifecycle plan: what the Pulumi engine and the cloud would do, step by step, when a
tenant changes state or plan, and whether the lifecycle's invariants hold.

    transitions   the steps each workflow runs (specs the stack program builds, or a destroy)
    engine        the engine's rules on one step: create, update, replace, delete, delete-but-keep,
                  and what refuses it (protect, cloud-side guards, locks); pure
    invariants    no guarded data lost, kept data closed under dependencies, offboarding leaves the
                  data and a final backup, retention end leaves nothing, a suspended identity reaches
                  nothing, no name collision, no key deleted before what it encrypted
    run           runs the stacks under the mock runtime (imports pulumi) and plans a transition
    catalog       a catalog tenant's transition to a state or a plan
    render        table and json

`paybill-iac lifecycle plan TENANT --to STATE | --plan PLAN` is the command (paybill_iac.cli_lifecycle).
Only `transitions`, `engine` and `invariants` are imported here; `run` loads pulumi when used.
"""

from paybill_iac.lifecycle_plan.engine import Change, Resource, Snapshot, StepPlan, plan_step
from paybill_iac.lifecycle_plan.invariants import problems
from paybill_iac.lifecycle_plan.transitions import Step, Transition, plan_transition, state_transition

__all__ = ["Change", "Resource", "Snapshot", "Step", "StepPlan", "Transition", "plan_step", "plan_transition",
           "problems", "state_transition"]

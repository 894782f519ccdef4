"""The tenant and cell stack programs: read the stack's spec from its config, build the component, export.

`stacks/tenant/__main__.py` and `stacks/cell/__main__.py` call these; keeping the bodies here makes
them importable by tests and by `paybill-iac preview`, which run the very same code. A config that
does not read back into a spec (missing key, wrong type, hand edit) stops the program with a message
naming the stack and the key, before any resource is registered.
"""

from __future__ import annotations

from typing import Any

import pulumi

from paybill_components.topology import Cell, Tenant, blocks_class
from paybill_iac.model.spec import CellSpec, TenantSpec


def _config_value(key: str) -> Any:
    """A full config key's value as Pulumi holds it (text; objects as JSON text), or None."""
    return pulumi.runtime.get_config(key)


def tenant_program() -> Tenant:
    """Build the tenant of this stack from its config and export what its service needs."""
    spec = TenantSpec.from_config(pulumi.get_stack(), _config_value)
    policies = _enforce_policies(spec)
    provider = blocks_class(spec.cloud).provider(f"{spec.tenant}-provider", spec.placement)
    cell_output = None
    if spec.cell_stack:
        cell_output = pulumi.StackReference(spec.cell_stack).get_output("cell")
    tenant = Tenant.create(spec.tenant, spec, cell_output, pulumi.ResourceOptions(providers=[provider]))
    for part, values in tenant.outputs.items():
        pulumi.export(part, values)
    pulumi.export("tenant", {"id": spec.tenant, "plan": spec.plan, "isolation": spec.isolation,
                             "cloud": spec.cloud, "region": spec.region, "state": spec.state})
    policies.finish()
    return tenant


def cell_program() -> Cell:
    """Build the cell of this stack and export the `cell` output its tenants read."""
    spec = CellSpec.from_config(pulumi.get_stack(), _config_value)
    policies = _enforce_policies(spec)
    provider = blocks_class(spec.cloud).provider(f"{spec.cell}-provider", spec.placement)
    cell = Cell(spec.cell, spec, pulumi.ResourceOptions(providers=[provider]))
    pulumi.export("cell", cell.handles.as_output())
    secrets = {part: handle.secrets for part, handle in cell.handles.parts().items() if handle.secrets}
    if secrets:
        pulumi.export("secrets", pulumi.Output.secret(secrets))
    policies.finish()
    return cell


# --- in-program policy enforcement (issue 14) -------------------------------------------------------


def _enforce_policies(spec: TenantSpec | CellSpec) -> Any:
    """The policy packs' rules inside the program: every resource registered from here on is judged as it
    registers, and `finish()` judges the whole stack; a mandatory violation fails the program, so `pulumi
    up` without `--policy-pack`, Pulumi Deployments and the Kubernetes Operator are guarded too
    (paybill_policies.inprogram; the actor is PAYBILL_ACTOR)."""
    from paybill_policies import context_from_spec
    from paybill_policies.inprogram import enforce

    return enforce(context_from_spec(spec))

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
    """Build the tenant of this stack from its config and export what its service needs, every resource
    judged by the policy packs as it registers."""
    spec = TenantSpec.from_config(pulumi.get_stack(), _config_value)
    policies = _enforce_policies(spec)
    tenant = build_tenant(spec)
    policies.finish()
    return tenant


def build_tenant(spec: TenantSpec) -> Tenant:
    """The tenant stack's resources and outputs from its spec (the program's body; the offline lifecycle
    plan runs it on its own, to see what the engine would do with each step).

    During a plan change that moves the tenant to another isolation model the spec also names the
    retiring shape: it is built beside the new one (its own component type, so its URNs and, through
    the shape tag, its physical names differ), with its guards as the spec says, and exported under
    `retiring`."""
    provider = blocks_class(spec.cloud).provider(f"{spec.tenant}-provider", spec.placement)
    references: dict[str, Any] = {}

    def cell_output(cell_stack: str | None) -> Any:
        if cell_stack is None:
            return None
        if cell_stack not in references:  # one StackReference per cell, however many shapes use it
            references[cell_stack] = pulumi.StackReference(cell_stack).get_output("cell")
        return references[cell_stack]

    options = pulumi.ResourceOptions(providers=[provider])
    tenant = Tenant.create(spec.tenant, spec, cell_output(spec.cell_stack), options)
    for part, values in tenant.outputs.items():
        pulumi.export(part, values)
    pulumi.export("tenant", {"id": spec.tenant, "plan": spec.plan, "isolation": spec.isolation,
                             "cloud": spec.cloud, "region": spec.region, "state": spec.state,
                             "generation": spec.generation, "guards": spec.guards})
    old = spec.retiring_spec()
    if old is not None and spec.retiring is not None:
        retiring = Tenant.create(spec.tenant, old, cell_output(old.cell_stack), options, guards=spec.retiring.guards)
        pulumi.export("retiring", {"plan": old.plan, "isolation": old.isolation, "generation": old.generation,
                                   "guards": spec.retiring.guards, **retiring.outputs})
    return tenant


def cell_program() -> Cell:
    """Build the cell of this stack and export the `cell` output its tenants read."""
    spec = CellSpec.from_config(pulumi.get_stack(), _config_value)
    policies = _enforce_policies(spec)
    cell = build_cell(spec)
    policies.finish()
    return cell


def build_cell(spec: CellSpec) -> Cell:
    """The cell stack's resources and outputs from its spec (the program's body)."""
    provider = blocks_class(spec.cloud).provider(f"{spec.cell}-provider", spec.placement)
    cell = Cell(spec.cell, spec, pulumi.ResourceOptions(providers=[provider]))
    pulumi.export("cell", cell.handles.as_output())
    secrets = {part: handle.secrets for part, handle in cell.handles.parts().items() if handle.secrets}
    if secrets:
        pulumi.export("secrets", pulumi.Output.secret(secrets))
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

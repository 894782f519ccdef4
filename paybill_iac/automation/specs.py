"""The automation layer's only window on stack specs and stack files (`paybill_iac.model.spec`,
`paybill_iac.generate`): the two Pulumi projects, a stack's config as `paybill-iac generate` writes
it, regenerating the stack files once a workflow changed the catalog, and the specs a lifecycle step
deploys instead of the catalog's. When the specs change, this module follows; nothing else in the
automation layer reads them.

A workflow step that deploys a GIVEN spec (a plan change's provision and lift steps build the retiring
shape beside the new one; retention end releases every guard) runs on `deploying(catalog, spec)`: the
catalog with that spec standing in for the one it generates for the stack, so the stack config, the
policy packs' context and the deployed state all come from exactly that spec. `spec_record` is what the
journal and the workflow record keep of it; `write_stack_file` leaves the stack file saying what is
deployed.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

from paybill_iac.errors import UsageError
from paybill_iac.model.catalog import Catalog
from paybill_iac.model.errors import SpecError
from paybill_iac.model.spec import (
    CELL_PROJECT,
    TENANT_PROJECT,
    StackSpec,
    TenantSpec,
    stack_spec,
    tenant_shape_names,
    tenant_spec,
)

__all__ = ["CELL_PROJECT", "TENANT_PROJECT", "StackSpec", "TenantSpec", "at_generation", "deploying",
           "generated_config", "given_spec", "regenerate", "spec_from_record", "spec_record", "stack_file", "step_spec",
           "tenant_spec_of", "write_stack_file"]

_DEPLOYING = "_paybill_deploying"
"""The attribute of a catalog copy holding the specs its steps deploy instead of the generated ones."""


def deploying(catalog: Catalog, spec: StackSpec) -> Catalog:
    """`catalog` for a step that deploys `spec` instead of the spec the catalog generates for its stack."""
    found = copy.copy(catalog)
    setattr(found, _DEPLOYING, {**getattr(catalog, _DEPLOYING, {}), (spec.project, spec.stack): spec})
    return found


def step_spec(catalog: Catalog, project: str, name: str) -> StackSpec | None:
    """The spec a step on `project/name` deploys: the one `deploying` gave, else the catalog's."""
    given = getattr(catalog, _DEPLOYING, {}).get((project, name))
    return given if given is not None else stack_spec(catalog, project, name)


def given_spec(catalog: Catalog, project: str, name: str) -> StackSpec | None:
    """The spec `deploying` gave for `project/name`, or None (the catalog's own applies)."""
    found: StackSpec | None = getattr(catalog, _DEPLOYING, {}).get((project, name))
    return found


def generated_config(catalog: Catalog, project: str, name: str) -> dict[str, Any] | None:
    """The `config:` mapping of `project/name` from `catalog` (or the spec a step deploys); None when the
    stack does not exist (a tenant without a stack: offboarded)."""
    spec = step_spec(catalog, project, name)
    return None if spec is None else spec.to_config()


def tenant_spec_of(catalog: Catalog, tenant_id: str) -> TenantSpec:
    """The tenant's spec as `catalog` generates it (a UsageError when it has no stack)."""
    spec = tenant_spec(catalog, tenant_id)
    if spec is None:
        raise UsageError(f"tenant '{tenant_id}' is {catalog.tenants[tenant_id].state}: it has no stack")
    return spec


def at_generation(spec: TenantSpec, generation: int) -> TenantSpec:
    """`spec` with the names the cloud never frees at `generation` (the shape a plan change retires keeps the
    generation it was built under, whatever the catalog's ledger declares for the new one)."""
    names = tenant_shape_names(spec.cloud, spec.org, spec.tenant, spec.isolation, generation)
    return replace(spec, names=names, generation=generation)


def spec_record(spec: TenantSpec) -> dict[str, Any]:
    """What the journal and a workflow's record keep of a spec a step deploys: how its guards stand, the
    retiring shape beside it, and its whole config (to deploy it again when the workflow resumes)."""
    retiring = spec.retiring
    return {"plan": spec.plan, "isolation": spec.isolation, "state": spec.state, "generation": spec.generation,
            "guards": spec.guards,
            "retiring": None if retiring is None else {"plan": retiring.plan, "isolation": retiring.isolation,
                                                       "generation": retiring.generation, "guards": retiring.guards},
            "config": spec.to_config()}


def spec_from_record(tenant_id: str, record: dict[str, Any]) -> TenantSpec:
    """The spec `spec_record` kept (its config read back strictly, digest included)."""
    try:
        return TenantSpec.from_config(tenant_id, record["config"])
    except (KeyError, TypeError, SpecError) as error:
        raise UsageError(f"the workflow record of tenant '{tenant_id}' holds no usable spec ({error}): a human "
                         "checks the tenant's stack and finishes the workflow by hand") from None


def regenerate(catalog: Catalog, stacks_dir: Path) -> None:
    """Write the stack files and the placement ledger for `catalog` (what `paybill-iac generate` does)."""
    from paybill_iac.generate import generate

    generate(catalog, stacks_dir)


def stack_file(stacks_dir: Path, kind: str, name: str) -> Path:
    """Where `generate` writes the stack file of a tenant's or a cell's stack."""
    return Path(stacks_dir) / kind / f"Pulumi.{name}.yaml"


def write_stack_file(stacks_dir: Path, spec: TenantSpec, why: str) -> Path:
    """Write the stack file of the spec a workflow step deployed (`why`: which workflow and step), so that the
    file says what is deployed until the workflow's next step (or `generate`) writes it again."""
    from paybill_iac.files import atomic_write
    from paybill_iac.generate import render

    path = stack_file(stacks_dir, "tenant", spec.tenant)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, render(spec.to_config(), why).encode())
    return path

"""The automation layer's only window on stack specs and stack files (`paybill_iac.model.spec`,
`paybill_iac.generate`): the two Pulumi projects, a stack's config as `paybill-iac generate` writes
it, and regenerating the stack files once a workflow changed the catalog. When the specs change,
this module follows; nothing else in the automation layer reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paybill_iac.model.catalog import Catalog
from paybill_iac.model.spec import CELL_PROJECT, TENANT_PROJECT, stack_spec

__all__ = ["CELL_PROJECT", "TENANT_PROJECT", "regenerate", "generated_config", "stack_file"]


def generated_config(catalog: Catalog, project: str, name: str) -> dict[str, Any] | None:
    """The `config:` mapping of `project/name` from `catalog`; None when the stack does not exist (a tenant
    without a stack: offboarded)."""
    spec = stack_spec(catalog, project, name)
    return None if spec is None else spec.to_config()


def regenerate(catalog: Catalog, stacks_dir: Path) -> None:
    """Write the stack files and the placement ledger for `catalog` (what `paybill-iac generate` does)."""
    from paybill_iac.generate import generate

    generate(catalog, stacks_dir)


def stack_file(stacks_dir: Path, kind: str, name: str) -> Path:
    """Where `generate` writes the stack file of a tenant's or a cell's stack."""
    return Path(stacks_dir) / kind / f"Pulumi.{name}.yaml"

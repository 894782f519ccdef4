"""The per-run config of every policy pack, computed from the catalog and the actor (never from the
stack's own config or tags). The only place the automation layer reads the policy library."""

from __future__ import annotations

from typing import Any

from paybill_iac.automation.invocation import POLICY_PACKS, StackRef
from paybill_iac.automation.specs import StackSpec, given_spec
from paybill_iac.errors import OperationError, UsageError
from paybill_iac.model.catalog import Catalog


def policy_configs(catalog: Catalog, stack: StackRef, actor: str,
                   spec: StackSpec | None = None) -> dict[str, dict[str, Any]]:
    """The policy config of each of POLICY_PACKS for one run of `stack` by `actor`; `spec` (default: the one
    `specs.deploying` gave the catalog): the spec a workflow step deploys instead of the catalog's (a plan
    change's retiring shape, retention end's released guards), so the packs judge exactly what it deploys."""
    try:
        from paybill_policies import policy_config

        from paybill_iac.policy_context import context_from_catalog
    except ImportError as error:
        raise OperationError(f"the policy library (paybill_policies) cannot be imported ({error}); "
                             "paybill-iac never runs a stack without its policy packs") from None
    spec = spec if spec is not None else given_spec(catalog, stack.project, stack.name)
    try:
        context = context_from_catalog(catalog, stack.project, stack.name, actor=actor, spec=spec)
    except LookupError as error:
        raise UsageError(str(error)) from None
    return {pack: policy_config(context, pack=pack) for pack in POLICY_PACKS}

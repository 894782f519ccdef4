"""Provider-shaped outputs for the mock runtime: ids, ARNs, Azure resource ids, self links, OCIDs.

The mock runtime computes nothing a provider would; these functions fill in what the real provider
returns (deterministically, from the resource's name and inputs), so stack outputs and cross-stack
references in an offline preview look as they will in the cloud. One module per cloud adds the
outputs its resources have (`shape(type_token, name, inputs, ctx)`) and answers its invokes.
Pure Python: no pulumi import.
"""

from __future__ import annotations

from typing import Any

from paybill_iac.mock_outputs import aws, azure, gcp, oci
from paybill_iac.mock_outputs.common import Where, placed, where_from_config

__all__ = ["Where", "invoke", "new_resource", "where_from_config"]

_CLOUD_MODULES = {"aws": aws, "azure-native": azure, "gcp": gcp, "oci": oci}


def new_resource(type_token: str, name: str, inputs: dict[str, Any], stack: str,
                 where: Where | None = None) -> tuple[str, dict[str, Any]]:
    """(id, state) for a newly registered resource: its inputs plus the provider's computed outputs, in the
    stack's region and account (`where`, from its config: `where_from_config`)."""
    package = type_token.split(":", 1)[0]
    module = _CLOUD_MODULES.get(package)
    if type_token.startswith("pulumi:providers:"):
        return f"{name}-provider-id", dict(inputs)
    if module is None:
        return f"{name}-id", dict(inputs)
    with placed(where):
        resource_id, computed = module.shape(type_token, name, inputs, stack)
    state = dict(inputs)
    state.update(computed)
    return resource_id, state


def invoke(token: str, args: dict[str, Any], where: Where | None = None) -> dict[str, Any]:
    """The result of a data-source invoke (caller identity, availability zones, client config)."""
    package = token.split(":", 1)[0]
    module = _CLOUD_MODULES.get(package)
    if module is None:
        return {}
    with placed(where):
        return module.invoke(token, args)

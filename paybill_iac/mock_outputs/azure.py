"""Provider-shaped mock outputs for azure resources (see paybill_iac.mock_outputs)."""

from __future__ import annotations

from typing import Any

from paybill_iac.mock_outputs.common import stable_hex


def shape(type_token: str, name: str, inputs: dict[str, Any], stack: str) -> tuple[str, dict[str, Any]]:
    """(id, computed outputs) of a azure resource."""
    return f"{name}-{stable_hex(stack, type_token, name, length=8)}", {}


def invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Results of azure data-source invokes."""
    return {}

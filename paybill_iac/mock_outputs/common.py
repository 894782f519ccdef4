"""Helpers shared by the per-cloud mock output modules: stable ids, and where the stack being run is."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

MOCK_AWS_ACCOUNT = "123456789012"
MOCK_AZURE_SUBSCRIPTION = "00000000-0000-4000-8000-000000000000"
MOCK_AZURE_TENANT = "11111111-1111-4111-8111-111111111111"


def stable_hex(*parts: str, length: int = 12) -> str:
    """A deterministic hex string for ids that look random in the cloud."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


@dataclass(frozen=True)
class Where:
    """Where the stack being run lives, as its stack config says: the mock runtime does not tell a mock
    which region or account a resource's provider is for, so ARNs, resource ids and endpoints take them
    from here ("" where the config has none: each module then falls back to its MOCK_* constant)."""

    region: str = ""
    account: str = ""  # aws: account id; azure: subscription id; gcp: project; oci: tenancy OCID
    directory: str = ""  # azure: the Entra tenant id


_CURRENT = Where()


def current() -> Where:
    """The placement of the stack whose resources are being shaped."""
    return _CURRENT


@contextmanager
def placed(where: Where | None) -> Iterator[None]:
    """Shape resources as `where`'s for the duration (None: leave the current placement)."""
    global _CURRENT
    if where is None:
        yield
        return
    before, _CURRENT = _CURRENT, where
    try:
        yield
    finally:
        _CURRENT = before


def where_from_config(config: Mapping[str, Any]) -> Where:
    """The region and account of a stack from the config `spec.to_config()` generated for it."""
    from paybill_iac.model.spec import NAMESPACE, PROVIDER_REGION_KEY

    cloud = str(config.get(f"{NAMESPACE}:cloud") or "")
    region = str(config.get(PROVIDER_REGION_KEY.get(cloud, ""), "") or config.get(f"{NAMESPACE}:region") or "")
    account: Any = config.get(f"{NAMESPACE}:account") or {}
    if isinstance(account, str):
        try:
            account = json.loads(account)
        except ValueError:
            account = {}
    if not isinstance(account, Mapping):
        account = {}

    def first(key: str) -> str:
        return str(account.get(key) or "").split(",")[0]

    found = {"aws": first("account_ids"), "azure": first("subscription_ids"), "gcp": first("project"),
             "oci": first("tenancy_id")}.get(cloud, "")
    return Where(region=region, account=found, directory=first("tenant_id") if cloud == "azure" else "")

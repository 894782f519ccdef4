"""Helpers shared by the per-cloud mock output modules."""

from __future__ import annotations

import hashlib

MOCK_AWS_ACCOUNT = "123456789012"
MOCK_AZURE_SUBSCRIPTION = "00000000-0000-4000-8000-000000000000"
MOCK_AZURE_TENANT = "11111111-1111-4111-8111-111111111111"


def stable_hex(*parts: str, length: int = 12) -> str:
    """A deterministic hex string for ids that look random in the cloud."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]

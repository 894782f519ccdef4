"""Shared fixtures of the operator-engine tests: settings, the example catalog, the operator's CRD schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# The operator's Stack CRD, v1 openAPIV3Schema (descriptions removed), kept beside the project, never in it.
CRD_SCHEMA = REPO.parent / "shared" / "reference" / "pko" / "stack-v1.schema.json"

SETTINGS: dict[str, Any] = {
    "pko": {
        "namespace": "paybill-stacks",
        "program": {"git": {"repo": "https://github.com/acme/paybill-iac.git", "branch": "main",
                            "auth": {"secret": "paybill-git", "key": "accessToken"}}},
        "backend": {"url": {"secret": "pulumi-backend", "key": "url"},
                    "passphrase": {"secret": "pulumi-backend", "key": "passphrase"},
                    "secrets_provider": "awskms://alias/paybill-state?region=eu-west-1"},
        "credentials": {"aws": {"AWS_ACCESS_KEY_ID": {"secret": "aws-deployer", "key": "id"},
                                "AWS_SECRET_ACCESS_KEY": {"secret": "aws-deployer", "key": "secret"}},
                        "azure": {"ARM_CLIENT_SECRET": {"secret": "azure-deployer", "key": "secret"}}},
        "service_account": "paybill-workspace",
        "workspace": {"image": "ghcr.io/acme/paybill-workspace:1.4.0", "requests": {"cpu": "500m", "memory": "1Gi"},
                      "limits": {"memory": "2Gi"}},
        "retry_max_backoff_seconds": 1800,
    }
}


@pytest.fixture
def settings() -> Any:
    from paybill_iac.pko.settings import parse_settings

    return parse_settings(SETTINGS)


@pytest.fixture(scope="session")
def catalog() -> Any:
    from paybill_iac.catalog import load_catalog

    return load_catalog(REPO / "stacks" / "catalog")


@pytest.fixture(scope="session")
def crd_validator() -> Any:
    """A jsonschema validator of the operator's published Stack schema; the tests that need it are skipped,
    saying so, where the reference copy is not beside the project."""
    if not CRD_SCHEMA.is_file():
        pytest.skip(f"the operator's Stack CRD schema is not at {CRD_SCHEMA} (a reference copy kept outside the "
                    "project): manifests are not validated against it here")
    import jsonschema

    document = json.loads(CRD_SCHEMA.read_text())
    schema = document.get("schema", document)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)

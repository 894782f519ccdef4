"""The CLI: exit codes, messages without tracebacks, and cold start without pulumi."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "stacks" / "catalog"


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paybill_iac.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_validate_ok() -> None:
    result = run("validate", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_validate_invalid_catalog_exits_1_with_every_error_and_no_traceback(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE, catalog)
    (catalog / "tenants" / "acme.yaml").write_text("id: acme\nname: [oops\n")
    (catalog / "tenants" / "globex.yaml").write_text(
        (EXAMPLE / "tenants" / "globex.yaml").read_text().replace("region: westeurope", "region: moon-1"))
    result = run("validate", str(catalog))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "tenants/acme.yaml" in result.stderr and "malformed YAML" in result.stderr
    assert "tenants/globex.yaml: tenant 'globex', field 'region'" in result.stderr


def test_usage_error_exits_2() -> None:
    result = run("validate", "--no-such-flag")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_generate_on_an_invalid_catalog_writes_nothing(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE, catalog)
    (catalog / "placements.yaml").unlink()
    (catalog / "tenants" / "acme.yaml").write_text("id: acme\n")
    result = run("generate", str(catalog), "--out", str(tmp_path / "out"))
    assert result.returncode == 1 and "field 'name': is required" in result.stderr
    assert not (tmp_path / "out").exists() and not (catalog / "placements.yaml").exists()


def test_generate_check_exit_codes(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE, catalog)
    out = tmp_path / "out"
    assert run("generate", str(catalog), "--out", str(out), "--check").returncode == 1
    assert run("generate", str(catalog), "--out", str(out)).returncode == 0
    result = run("generate", str(catalog), "--out", str(out), "--check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("kind", ["catalog", "plans", "cells", "tenant"])
def test_schema_is_json_schema(kind: str) -> None:
    result = run("schema", kind)
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["$schema"].startswith("https://json-schema.org/")
    assert document["type"] == "object"


def test_schema_describes_tenant_fields() -> None:
    document = json.loads(run("schema", "tenant").stdout)
    assert {"id", "plan", "cloud", "region", "state", "subscription"} <= set(document["properties"])
    assert set(document["required"]) >= {"id", "name", "plan", "cloud", "region", "state", "subscription"}


@pytest.mark.parametrize("command", [["validate", str(EXAMPLE)], ["schema"], ["validate", "--help"],
                                     ["generate", str(EXAMPLE), "--check"]])
def test_control_plane_commands_never_import_pulumi(command: list[str]) -> None:
    heavy = "{'pulumi', 'pulumi_aws', 'pulumi_azure_native', 'pulumi_gcp', 'pulumi_oci', 'pulumi_policy', 'grpc'}"
    probe = (
        "import sys\nfrom paybill_iac.cli import main\n"
        f"try:\n    main({command!r})\nexcept SystemExit:\n    pass\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in result.stderr, result.stderr

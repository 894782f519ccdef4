"""`paybill-iac doctor` on a real project: a PATH without pulumi, a fake `pulumi` printing a version,
credentials from the environment, a real SQLite state database migrated to the head."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def doctor(project: Path, bin_dir: Path, home: Path, **env: str) -> tuple[int, list[dict[str, str]]]:
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("PAYBILL_", "AWS_", "ARM_", "GOOGLE_", "TF_VAR_"))}
    environ.update({"PYTHONPATH": str(REPO), "HOME": str(home), "PATH": f"{bin_dir}:/usr/bin:/bin", **env})
    done = subprocess.run([sys.executable, "-m", "paybill_iac.cli", "doctor", "--format", "json"], cwd=project,
                          capture_output=True, text=True, env=environ, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def by_name(checks: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {check["name"]: check for check in checks}


def test_doctor_without_and_with_what_it_needs(tmp_path: Path) -> None:
    project, home, bin_dir = tmp_path / "project", tmp_path / "home", tmp_path / "bin"
    for folder in (home, bin_dir):
        folder.mkdir()
    catalog = project / "stacks" / "catalog"
    shutil.copytree(REPO / "stacks" / "catalog", catalog)
    for tenant in catalog.glob("tenants/*.yaml"):  # only the AWS tenants: one cloud's credentials to find
        if "cloud: aws" not in tenant.read_text():
            tenant.unlink()
    (catalog / "placements.yaml").unlink(missing_ok=True)
    (project / "paybill.yaml").write_text("")

    code, checks = doctor(project, bin_dir, home)
    found = by_name(checks)
    assert code == 1
    assert found["pulumi CLI"]["status"] == "fail"
    assert "https://www.pulumi.com/docs/install/" in found["pulumi CLI"]["fix"]
    assert found["aws credentials"]["status"] == "fail" and "AWS_ACCESS_KEY_ID" in found["aws credentials"]["fix"]
    assert found["catalog"]["status"] == "ok", found["catalog"]
    assert "azure credentials" not in found and "gcp credentials" not in found
    assert found["state database"]["status"] == "warn" and not (project / ".paybill").exists()
    assert found["policy packs"]["status"] == "ok"

    pulumi = bin_dir / "pulumi"
    pulumi.write_text('#!/bin/sh\ncase "$1" in\n  version) echo v3.140.0 ;;\n'
                      '  whoami) [ "$PULUMI_BACKEND_URL" = s3://acme-state ] && echo alice || exit 1 ;;\nesac\n')
    pulumi.chmod(0o755)
    from paybill_iac.automation.store import Store

    Store(f"sqlite:///{project / '.paybill' / 'state.db'}").close()
    code, checks = doctor(project, bin_dir, home, AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="x")
    found = by_name(checks)
    assert found["pulumi CLI"] == {"name": "pulumi CLI", "status": "ok", "detail": "v3.140.0", "fix": ""}
    assert found["aws credentials"]["status"] == "ok" and found["backend"]["status"] == "ok"
    assert found["state database"]["status"] == "ok" and "head" in found["state database"]["detail"]
    assert code == 0, checks

    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[default]\n")
    code, checks = doctor(project, bin_dir, home)
    assert by_name(checks)["aws credentials"]["detail"] == f"from {home / '.aws' / 'credentials'}" and code == 0

    (project / "paybill.yaml").write_text("backend: s3://acme-state\n")
    code, checks = doctor(project, bin_dir, home)
    assert by_name(checks)["backend"] == {"name": "backend", "status": "ok", "detail": "s3://acme-state as alice",
                                          "fix": ""}
    (project / "paybill.yaml").write_text("backend: gs://elsewhere\n")
    code, checks = doctor(project, bin_dir, home)
    assert by_name(checks)["backend"]["status"] == "fail" and code == 1

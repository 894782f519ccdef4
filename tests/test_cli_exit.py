"""validate and generate end their process without the interpreter's teardown: the exit status, the output
and the files written must be what a normal exit gives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "stacks" / "catalog"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paybill_iac.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": ""}, timeout=120)


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "catalog")
    return tmp_path / "catalog"


def test_validate_exits_0_or_1_with_all_its_output(catalog: Path, tmp_path: Path) -> None:
    valid = _run("validate", str(catalog), cwd=tmp_path)
    assert valid.returncode == 0 and valid.stdout.startswith(f"{catalog}: valid: ")
    (catalog / "plans.yaml").write_text("plans: [}\n")
    invalid = _run("validate", str(catalog), cwd=tmp_path)
    assert invalid.returncode == 1 and "plans.yaml" in invalid.stderr and invalid.stdout == ""


def test_generate_writes_everything_and_check_exits_1_when_stale(catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    wrote = _run("generate", str(catalog), "--out", str(out), cwd=tmp_path)
    assert wrote.returncode == 0, wrote.stderr
    written = wrote.stdout.strip().splitlines()[-1].split()[0]
    files = sorted(out.rglob("Pulumi.*.yaml"))
    assert int(written) == len(files)  # (the ledger copied with the catalog is current)
    assert _run("generate", str(catalog), "--out", str(out), "--check", cwd=tmp_path).returncode == 0
    files[0].write_text(files[0].read_text() + "# edited\n")
    stale = _run("generate", str(catalog), "--out", str(out), "--check", cwd=tmp_path)
    assert stale.returncode == 1 and str(files[0]) in stale.stderr

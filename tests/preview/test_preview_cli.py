"""`paybill-iac preview` on the command line: exit codes, messages, formats written to files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.preview.conftest import EXAMPLE, REPO, add_tenant_on_a_new_cell, copy_catalog


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from paybill_iac.cli import main

    with pytest.raises(SystemExit) as done:
        main(["preview", *args])
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def test_one_tenant_exits_0_with_a_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # a pipe: the full table (pytest-xdist workers set COLUMNS)
    code, out, err = cli(capsys, str(EXAMPLE), "--tenant", "cyberdyne", "--jobs", "1")
    assert code == 0, err
    assert "tenant cyberdyne" in out and "aws" in out and "silo" in out
    assert out.strip().splitlines()[-1].startswith("ok: 1 tenant, 0 cells")
    # no progress bar when stderr is not a terminal: only the line naming the project used
    assert err.splitlines() == [f"paybill-iac: project {REPO} (paybill.yaml); catalog {EXAMPLE}"]


def test_a_catalog_change_the_packs_refuse_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An agent adds a tenant that needs a cell nobody used yet: the agent guardrails refuse the cell."""
    catalog = copy_catalog(tmp_path / "catalog")
    add_tenant_on_a_new_cell(catalog)
    report, sarif = tmp_path / "out" / "report.json", tmp_path / "out" / "report.sarif"
    code, out, err = cli(capsys, str(catalog), "--actor", "agent:renovate", "--jobs", "2",
                         "--format", "json", "--output", str(report), "--format", "sarif", "--output", str(sarif))
    assert code == 1, err
    assert out.startswith("FAIL: 15 tenants, 5 cells")  # the summary line, since the reports went to files
    data = json.loads(report.read_text())
    initrode = next(stack for stack in data["tenants"] if stack["tenant"] == "initrode")
    assert initrode["cell"] == "aws-use1-a" and initrode["violations"] == []
    assert "aws-use1-a" in data["summary"]["stacks_with_mandatory"]  # every cell: an agent may not change one
    cell = next(stack for stack in data["cells"] if stack["stack"] == "aws-use1-a")
    assert ("agent-guardrails", "aws-cell-stack-unchanged-by-agent", "mandatory") in {
        (v["pack"], v["policy"], v["level"]) for v in cell["violations"]}
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert results and {result["ruleId"] for result in results} >= {"aws-cell-stack-unchanged-by-agent"}
    mandatory = [result for result in results if result["ruleId"] == "aws-cell-stack-unchanged-by-agent"
                 and result["properties"]["stack"] == "aws-use1-a"]
    assert mandatory[0]["level"] == "error"
    location = mandatory[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("catalog/cells.yaml")
    cells_text = (catalog / "cells.yaml").read_text().splitlines()
    assert "id: aws-use1-a" in cells_text[location["region"]["startLine"] - 1]


def test_a_catalog_error_exits_2_worded_as_validate_says(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    catalog = copy_catalog(tmp_path / "catalog")
    (catalog / "tenants" / "acme.yaml").write_text("id: acme\nname: [oops\n")
    code, out, err = cli(capsys, str(catalog), "--jobs", "1")
    assert code == 2
    assert out == ""
    assert "error: the catalog has 1 error:" in err and "tenants/acme.yaml" in err and "malformed YAML" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("args", "message"), [
    (["--tenant", "nobody"], "unknown tenant 'nobody'"),
    (["--actor", "robot"], "--actor 'robot' is not 'human' or 'agent:<name>'"),
    (["--format", "json", "--format", "sarif"], "several --format values need as many --output files"),
    (["--format", "bogus"], "Invalid value for '--format'"),
    (["--jobs", "0"], "Invalid value for '--jobs'"),
])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, _, err = cli(capsys, str(EXAMPLE), *args)
    assert code == 2
    assert message in err


def test_help_is_a_cold_start_without_pulumi() -> None:
    script = ("import sys\nfrom paybill_iac.cli import main\n"
              "try:\n    main(['preview', '--help'])\nexcept SystemExit:\n    pass\n"
              "assert 'pulumi' not in sys.modules and 'paybill_iac.preview' not in sys.modules, 'heavy import'\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--base GITREF" in done.stdout and "table|json|markdown|sarif" in done.stdout.replace(
        "[table|json|markdown|sarif]", "table|json|markdown|sarif")


def test_progress_is_quiet_off_a_terminal_and_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from paybill_iac.preview.runner import Progress

    assert Progress(10)._bar is None  # stderr is captured: not a terminal
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert Progress(10)._bar is None
    monkeypatch.delenv("CI")
    bar = Progress(10)
    assert bar._bar is not None
    bar.advance("tenant acme")
    bar.close()

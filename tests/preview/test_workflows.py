"""The pull-request workflow: valid YAML, the jobs the issue asks for, and commands that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from tests.preview.conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    if True in data:  # YAML 1.1 reads the key `on` as the boolean true
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def shell_lines(workflow: dict[str, Any]) -> list[str]:
    lines = []
    for step in steps(workflow):
        script = step.get("run", "")
        script = re.sub(r"<<'?(\w+)'?([^\n]*)\n.*?\n\s*\1\s*\n", r"\2\n", script + "\n", flags=re.S)  # heredocs
        lines += [line.strip() for line in script.replace("\\\n", " ").splitlines() if line.strip()]
    return lines


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return {match.group(1) for match in re.finditer(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.M)}


def test_there_is_a_workflow() -> None:
    assert any(path.name == "preview.yml" for path in WORKFLOWS)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_is_valid(path: Path) -> None:
    workflow = load(path)
    assert workflow["name"] and workflow["on"] and workflow["jobs"]
    for name, job in workflow["jobs"].items():
        assert job.get("runs-on"), name
        assert job.get("steps"), name
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), (name, step)


def test_the_preview_workflow_does_what_the_issue_asks() -> None:
    workflow = load(REPO / ".github" / "workflows" / "preview.yml")
    assert "pull_request" in workflow["on"]
    offline = workflow["jobs"]["offline"]
    uses = [step.get("uses", "") for step in offline["steps"]]
    runs = "\n".join(step.get("run", "") for step in offline["steps"])
    assert any(use.startswith("actions/checkout@") for use in uses)
    checkout = next(step for step in offline["steps"] if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0  # --base needs the base branch
    assert "pip install -e ." in runs  # installs the project
    assert re.search(r"paybill-iac preview .*--base", runs.replace("\\\n", " "))
    assert "--format markdown" in runs and "--format sarif" in runs
    comment = next(step for step in offline["steps"] if step.get("uses", "").startswith("actions/github-script@"))
    assert "<!-- paybill-iac-preview -->" in comment["with"]["script"] and "updateComment" in comment["with"]["script"]
    assert any(use.startswith("github/codeql-action/upload-sarif@") for use in uses)
    assert offline["permissions"]["security-events"] == "write"
    assert offline["permissions"]["pull-requests"] == "write"
    fail = next(step for step in offline["steps"] if "Fail on mandatory" in step.get("name", ""))
    assert "exit 1" in fail["run"]
    real = workflow["jobs"]["pulumi"]
    assert real["needs"] == "offline" and "real-preview" in real["if"]
    real_runs = "\n".join(step.get("run", "") for step in real["steps"])
    assert "pulumi preview" in real_runs
    for pack in ("plan-limits", "tenant-isolation", "agent-guardrails"):
        assert f"--policy-pack ../../policy_packs/{pack}" in real_runs
        assert (REPO / "policy_packs" / pack / "PulumiPolicy.yaml").is_file()
    assert "secrets.PULUMI_ACCESS_TOKEN" in (REPO / ".github" / "workflows" / "preview.yml").read_text()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_paybill_iac_and_make_command_exists(path: Path) -> None:
    from paybill_iac.cli import cli

    targets = makefile_targets()
    seen = 0
    for line in shell_lines(load(path)):
        words = shlex.split(line, comments=True)
        for index, word in enumerate(words):
            if word.endswith("paybill-iac"):
                seen += 1
                args = [w for w in words[index + 1:] if w not in ("&&", "||", ";", "|")]
                context = click.Context(cli)
                group: Any = cli
                for arg in args:
                    if arg.startswith("-") or not isinstance(group, click.Group):
                        break
                    command = group.get_command(context, arg)
                    assert command is not None, f"{path.name}: `paybill-iac {' '.join(args)}` has no command {arg!r}"
                    group = command
                    if not isinstance(command, click.Group):
                        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
                        for flag in (w.split("=")[0] for w in args if w.startswith("--")):
                            assert flag in options, f"{path.name}: `{arg}` has no option {flag}"
                        break
            if word == "make" and index + 1 < len(words):
                seen += 1
                assert words[index + 1] in targets, f"{path.name}: no Makefile target {words[index + 1]!r}"
    assert seen, f"{path.name} runs no paybill-iac or make command"

"""The pull-request workflow judges a pull request with the agent guardrails when its author is a bot or
is listed as an agent in the project's settings (paybill.yaml on the base branch, or the repository
variable PAYBILL_AGENT_AUTHORS): the workflow's own script, run as the workflow runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "preview.yml"


def _script() -> str:
    text = WORKFLOW.read_text()
    start = text.rindex("\n", 0, text.index("# BEGIN pull-request actor")) + 1
    end = text.index("# END pull-request actor")
    return textwrap.dedent(text[start:end])


def actor(login: str, kind: str = "User", settings: str = "", variable: str = "") -> str:
    env = {**os.environ, "AUTHOR": login, "AUTHOR_TYPE": kind, "BASE_SETTINGS": settings, "AGENT_AUTHORS": variable}
    done = subprocess.run([sys.executable, "-c", _script()], env=env, capture_output=True, text=True, check=True)
    [line] = done.stdout.splitlines()
    assert line.startswith("actor=")
    return line.removeprefix("actor=")


LISTED = "pull_requests:\n  agents: [Billing-Agent, claude-code]\n"


@pytest.mark.parametrize(("login", "kind", "settings", "variable", "expected"), [
    ("alice", "User", "", "", "human"),
    ("dependabot[bot]", "Bot", "", "", "agent:dependabot"),
    ("Renovate[bot]", "Bot", "", "", "agent:renovate"),
    ("billing-agent", "User", LISTED, "", "agent:billing-agent"),
    ("Claude-Code", "User", LISTED, "", "agent:claude-code"),
    ("alice", "User", LISTED, "", "human"),
    ("ops-robot", "User", "", "someone, ops-robot", "agent:ops-robot"),
    ("alice", "User", "pull_requests:\n  agents: []\n", "", "human"),
    ("alice", "User", "", "", "human"),
])
def test_who_is_judged_as_an_agent(login: str, kind: str, settings: str, variable: str, expected: str) -> None:
    assert actor(login, kind, settings, variable) == expected


def test_the_workflow_reads_the_agents_from_the_base_branch_and_passes_the_actor_on() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = {step.get("id"): step for step in workflow["jobs"]["offline"]["steps"] if step.get("id")}
    assert 'git show "origin/${{ github.base_ref }}:paybill.yaml"' in steps["author"]["run"]
    assert "vars.PAYBILL_AGENT_AUTHORS" in steps["author"]["env"]["AGENT_AUTHORS"]
    assert '--actor "$ACTOR"' in steps["preview"]["run"]
    assert steps["preview"]["env"]["ACTOR"] == "${{ steps.author.outputs.actor }}"
    assert workflow["jobs"]["offline"]["outputs"]["actor"] == "${{ steps.author.outputs.actor }}"
    pulumi = [step for step in workflow["jobs"]["pulumi"]["steps"] if "policy config" in step.get("run", "")]
    assert pulumi and '--actor "$ACTOR"' in pulumi[0]["run"]
    settings = yaml.safe_load((REPO / "paybill.yaml").read_text())
    assert settings["pull_requests"]["agents"] == []

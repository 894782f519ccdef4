"""The README's tutorial, run as written: its files are written and its shell blocks run, in order, in one
bash with the installed `paybill-iac`, in a fresh home folder; the output shown after each shell block must
appear in what the block printed, line by line and in order (`...` stands for anything)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SECTION = "## Tutorial: your own catalog in ten minutes"
MARKER = "@@paybill-tutorial-block {}@@"
WIDTH = "120"  # the terminal width the tables shown were printed at
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)


@dataclass
class Step:
    kind: str  # "sh" | "file"
    text: str
    path: str = ""  # a file's path, from its first line "# <path>"
    expected: str | None = None  # the output shown after a shell block


def tutorial_steps(readme: str) -> list[Step]:
    """The tutorial section's shell blocks (each with the text block after it, if any) and files (yaml blocks
    whose first line is `# <path>`), in order."""
    start = readme.index(SECTION)
    end = readme.index("\n## ", start + len(SECTION))
    steps: list[Step] = []
    for match in FENCE.finditer(readme[start:end]):
        language, body = match.group(1), match.group(2)
        if language == "sh":
            steps.append(Step("sh", body))
        elif language == "text":
            assert steps and steps[-1].kind == "sh" and steps[-1].expected is None, \
                f"an output block that follows no shell block:\n{body}"
            steps[-1].expected = body
        elif language == "yaml":
            first, _, rest = body.partition("\n")
            assert first.startswith("# "), f"a file block must start with '# <path>':\n{body}"
            steps.append(Step("file", rest, path=first[2:].strip()))
    return steps


def script(steps: list[Step]) -> str:
    """One bash script: the files written with heredocs where they appear, each shell block after a marker."""
    lines = ["set -euo pipefail", "exec 2>&1"]
    for number, step in enumerate(steps):
        if step.kind == "file":
            lines += [f"mkdir -p \"$(dirname '{step.path}')\"", f"cat > '{step.path}' <<'PAYBILL_TUTORIAL_EOF'",
                      step.text.rstrip("\n"), "PAYBILL_TUTORIAL_EOF"]
        else:
            lines += [f"echo '{MARKER.format(number)}'", step.text.rstrip("\n")]
    return "\n".join(lines) + "\n"


def outputs(printed: str, steps: list[Step]) -> dict[int, str]:
    """What each shell block printed, by its step number."""
    found: dict[int, str] = {}
    parts = re.split(r"^@@paybill-tutorial-block (\d+)@@\n", printed, flags=re.MULTILINE)
    for number, text in zip(parts[1::2], parts[2::2], strict=True):
        found[int(number)] = text
    return found


def missing_lines(expected: str, actual: str) -> list[str]:
    """The expected lines not found, in order, among the actual ones (`...` matches anything)."""
    actual_lines = [line.rstrip() for line in actual.splitlines()]
    position, missing = 0, []
    for line in expected.splitlines():
        if not line.strip():
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in line.rstrip().split("...")))
        for index in range(position, len(actual_lines)):
            if pattern.fullmatch(actual_lines[index]):
                position = index + 1
                break
        else:
            missing.append(line)
    return missing


def run_tutorial(home: Path) -> tuple[list[Step], dict[int, str], subprocess.CompletedProcess[str]]:
    steps = tutorial_steps(README.read_text(encoding="utf-8"))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PAYBILL_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), COLUMNS=WIDTH, PYTHONUNBUFFERED="1", CI="true")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(["bash", "-c", script(steps)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    return steps, outputs(done.stdout, steps), done


def test_the_section_has_files_commands_and_outputs() -> None:
    steps = tutorial_steps(README.read_text(encoding="utf-8"))
    commands = "\n".join(step.text for step in steps if step.kind == "sh")
    for command in ("paybill-iac validate", "paybill-iac list", "paybill-iac describe tenant",
                    "paybill-iac preview", "--format markdown"):
        assert command in commands
    assert {step.path for step in steps if step.kind == "file"} >= {
        "catalog/catalog.yaml", "catalog/plans.yaml", "catalog/cells.yaml"}
    assert sum(1 for step in steps if step.kind == "sh" and step.expected) >= 5


def test_missing_lines_matches_in_order_with_wildcards() -> None:
    assert missing_lines("a ... c\nd", "x\na b c\nd\n") == []
    assert missing_lines("d\na ... c", "a b c\nd\n") == ["a ... c"]
    assert missing_lines("valid: 3 tenants", "valid: 2 tenants") == ["valid: 3 tenants"]


@pytest.mark.skipif(not (Path(sys.executable).parent / "paybill-iac").exists()
                    or not (REPO / ".venv" / "bin" / "activate").exists(),
                    reason="the tutorial activates the clone's .venv (`make venv`) and runs its paybill-iac")
def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    steps, printed, done = run_tutorial(tmp_path)
    assert done.returncode == 0, f"the tutorial stopped (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    for number, step in enumerate(steps):
        if step.kind != "sh" or step.expected is None:
            continue
        actual = printed.get(number, "")
        missing = missing_lines(step.expected, actual)
        assert not missing, (f"the README shows lines this block did not print:\n{step.text}\n--- missing:\n"
                             + "\n".join(missing) + f"\n--- printed:\n{actual}")
    written = [path for path in (REPO / "stacks").rglob("Pulumi.*.yaml") if "tut-globex" in path.read_text()]
    assert written == []  # nothing of the tutorial's (org `tut`) was written into the clone's stacks

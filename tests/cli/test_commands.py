"""Every command from its project root: the walk-up, -C, one way to name the catalog, read-only commands that
create nothing, path problems as usage errors (exit 2), fleet without the Pulumi CLI, shell completion.
Real processes, real folders, a PATH without pulumi."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "stacks" / "catalog"


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("PAYBILL_")}
    environ.update({"PYTHONPATH": str(REPO), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}, **(env or {}))
    return subprocess.run([sys.executable, "-m", "paybill_iac.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=environ, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose paybill.yaml names its own layout: the catalog in config/, the programs in infra/."""
    root = tmp_path / "acme-platform"
    shutil.copytree(EXAMPLE, root / "config" / "catalog")
    for kind in ("tenant", "cell"):
        (root / "infra" / kind).mkdir(parents=True)
        for name in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(REPO / "stacks" / kind / name, root / "infra" / kind / name)
    (root / "paybill.yaml").write_text("catalog: config/catalog\nstacks: infra\nstate: {dir: var/state}\n")
    (root / "docs" / "deep").mkdir(parents=True)
    return root


def _files(root: Path) -> set[Path]:
    return {path.relative_to(root) for path in root.rglob("*")}


def test_commands_in_a_subfolder_use_the_project_root_and_say_so(project: Path) -> None:
    done = run("validate", cwd=project / "docs" / "deep")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{project / 'config' / 'catalog'}: valid")
    assert done.stderr.splitlines()[0] == (f"paybill-iac: project {project} (paybill.yaml); catalog "
                                           f"{project / 'config' / 'catalog'}")
    done = run("generate", cwd=project / "docs")
    assert done.returncode == 0, done.stderr
    assert (project / "infra" / "tenant" / "Pulumi.acme.yaml").is_file()
    assert not (project / "docs" / "stacks").exists()


def test_minus_c_works_from_anywhere_and_refuses_a_folder_outside_a_project(project: Path, tmp_path: Path) -> None:
    done = run("-C", str(project), "validate", cwd=tmp_path)
    assert done.returncode == 0 and "config/catalog: valid" in done.stdout
    done = run("-C", str(tmp_path), "validate", cwd=project)
    assert done.returncode == 2 and "no paybill.yaml in" in done.stderr and "Traceback" not in done.stderr


def test_one_way_to_name_the_catalog(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(EXAMPLE, other)
    for args, env in ((["validate", str(other)], {}), (["validate", "--catalog", str(other)], {}),
                      (["validate"], {"PAYBILL_CATALOG": str(other)}),
                      (["lifecycle", "plan", "acme", "--to", "suspended", "--catalog", str(other)], {})):
        done = run(*args, cwd=project, env=env)
        assert str(other) in done.stderr.splitlines()[0], (args, done.stderr)
    done = run("validate", str(other), "--catalog", str(project), cwd=project)
    assert done.returncode == 2 and "two catalogs given" in done.stderr


def test_read_only_commands_create_nothing(project: Path) -> None:
    before = _files(project)
    journal = run("journal", "--json", cwd=project / "docs")
    assert journal.returncode == 0 and journal.stdout == ""
    assert f"no state database at {project / 'var' / 'state' / 'state.db'} yet" in journal.stderr
    review = run("review", cwd=project)
    assert review.returncode == 0 and review.stdout == "nothing needs a human\n"
    tokens = run("token", "list", cwd=project)
    assert tokens.returncode == 0 and tokens.stdout == ""
    assert _files(project) == before


def test_without_a_project_state_is_refused_with_the_fix(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "stacks" / "catalog")
    done = run("token", "create", "--principal", "alice", "--kind", "human", "--role", "viewer", cwd=tmp_path)
    assert done.returncode == 2 and "--state-dir DIR or $PAYBILL_STATE_DIR" in done.stderr
    assert not (tmp_path / ".paybill").exists()


def test_fleet_without_the_pulumi_cli_fails_once_with_the_install_link(project: Path) -> None:
    done = run("fleet", "preview", cwd=project)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("https://www.pulumi.com/docs/install/") == 1
    assert "fleet preview needs the Pulumi CLI" in done.stderr and "Traceback" not in done.stderr


# Where even root is refused (sysfs): a folder nothing may be made in, a write-only file.
ROOT_REFUSED = {"unwritable-state": (Path("/sys/fs"), "write"),
                "catalog-unreadable": (Path("/sys/bus/pci/rescan"), "read")}


def _refuses_root(path: Path, how: str) -> bool:
    try:
        if how == "read":
            path.read_bytes()
        else:
            (path / "paybill-probe").mkdir()
    except PermissionError:
        return True
    except OSError:
        return False
    return False


@pytest.mark.parametrize("case", ["out-is-a-file", "state-under-a-file", "unwritable-state", "catalog-unreadable"])
def test_path_problems_are_usage_errors_naming_the_path(project: Path, case: str) -> None:
    as_root = os.geteuid() == 0  # root passes file modes by; sysfs refuses even root
    if as_root and case in ROOT_REFUSED and not _refuses_root(*ROOT_REFUSED[case]):
        pytest.skip(f"running as root and {ROOT_REFUSED[case][0]} does not refuse root here")
    if case == "state-under-a-file":
        (project / "var").write_text("")
        done = run("token", "create", "--principal", "alice", "--kind", "human", "--role", "viewer", cwd=project)
        path = project / "var"
    elif case == "out-is-a-file":
        (project / "afile").write_text("")
        done = run("generate", "--out", "afile/stacks", cwd=project)
        path = Path("afile/stacks")
    elif case == "unwritable-state":
        if as_root:
            (project / "var").symlink_to(ROOT_REFUSED[case][0])
        else:
            (project / "var").mkdir()
            (project / "var").chmod(0o500)
        done = run("token", "create", "--principal", "alice", "--kind", "human", "--role", "viewer", cwd=project)
        path = (project / "var").resolve()  # the folder the state would be made in, a symlink followed
    else:
        plans = project / "config" / "catalog" / "plans.yaml"
        if as_root:
            plans.unlink()
            plans.symlink_to(ROOT_REFUSED[case][0])
        else:
            plans.chmod(0o000)
        done = run("validate", cwd=project)
        path = project / "config" / "catalog" / "plans.yaml"
    assert done.returncode == (1 if case == "catalog-unreadable" else 2), done.stderr
    assert "internal error" not in done.stderr
    assert str(path) in done.stderr and "Traceback" not in done.stderr


def test_shell_completion_script_is_produced(project: Path) -> None:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("PAYBILL_")}
    done = subprocess.run([sys.executable, "-c", "from paybill_iac.cli import cli; cli(prog_name='paybill-iac')"],
                          env={**environ, "_PAYBILL_IAC_COMPLETE": "bash_source", "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, cwd=project, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "_paybill_iac_completion()" in done.stdout and "complete -o nosort -F _paybill_iac_completion" in done.stdout
    words = subprocess.run([sys.executable, "-c", "from paybill_iac.cli import cli; cli(prog_name='paybill-iac')"],
                           env={**environ, "_PAYBILL_IAC_COMPLETE": "bash_complete", "COMP_WORDS": "paybill-iac doc",
                                "COMP_CWORD": "1", "PYTHONPATH": str(REPO)},
                           capture_output=True, text=True, cwd=project, timeout=60)
    assert "plain,doctor" in words.stdout.splitlines()


def test_a_table_cell_is_clipped_but_never_inside_a_link() -> None:
    from paybill_iac.cli_ops import clip

    message = ("fleet up needs the Pulumi CLI, which is not on PATH. Install it "
               "(https://www.pulumi.com/docs/install/, e.g. `curl -fsSL https://get.pulumi.com | sh`) and retry.")
    clipped = clip(message, 80)
    assert clipped.startswith(message[:60]) and "https://www.pulumi.com/docs/install/," in clipped
    assert clipped.endswith("…") and len(clipped) < len(message)
    assert clip("short", 80) == "short"
    assert clip("x" * 120, 100) == "x" * 100 + "…"


def test_the_preview_and_an_operation_name_the_stack_program_that_is_missing(project: Path, tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    shutil.copytree(EXAMPLE, loose / "catalog")
    done = run("preview", "catalog", "--tenant", "acme", "--jobs", "1", cwd=loose)
    assert done.returncode == 2 and f"{loose / 'tenant'}: no such folder" in done.stderr, done.stderr
    (project / "infra" / "cell" / "Pulumi.yaml").unlink()
    done = run("up", "--cell", "aws-euw1-a", cwd=project)
    assert done.returncode == 2, done.stderr
    assert f"{project / 'infra' / 'cell' / 'Pulumi.yaml'}: missing" in done.stderr and "Traceback" not in done.stderr

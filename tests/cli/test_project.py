"""paybill_iac.project: finding the project root and resolving every path from it (no mocks: real folders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybill_iac.errors import UsageError
from paybill_iac.project import check_stack_programs, find_root, for_catalog, read_settings, resolve

NO_ENV: dict[str, str] = {}


def _project(root: Path, text: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "paybill.yaml").write_text(text)
    return root


def test_the_root_is_found_walking_up_and_its_paths_are_relative_to_it_not_the_cwd(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo", "catalog: config/catalog\nstacks: infra\nstate: {dir: var/state}\n")
    deep = root / "infra" / "tenant"
    deep.mkdir(parents=True)
    found = resolve(environ=NO_ENV, cwd=deep)
    assert found.root == root.resolve() and found.file == root.resolve() / "paybill.yaml"
    assert found.catalog == root.resolve() / "config" / "catalog"
    assert found.stacks == root.resolve() / "infra"
    assert found.state_dir == root.resolve() / "var" / "state"
    assert found.database_url() == f"sqlite:///{root.resolve() / 'var' / 'state' / 'state.db'}"


def test_defaults_of_a_project_and_without_one(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    found = resolve(environ=NO_ENV, cwd=root)
    assert (found.catalog, found.stacks, found.state_dir) == (root / "stacks" / "catalog", root / "stacks",
                                                             root / ".paybill")
    bare = tmp_path / "elsewhere"
    bare.mkdir()
    none = resolve(environ=NO_ENV, cwd=bare)
    assert none.root is None and none.state_dir is None and none.catalog == bare / "stacks" / "catalog"
    with pytest.raises(UsageError, match="no project to keep it in.*--state-dir"):
        none.require_state_dir()
    assert "no state to read" in str(none.missing_database())


def test_typed_values_win_then_the_environment_then_the_file(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo", "catalog: a\nbackend: file://pulumi\nstate: {url: 'sqlite:///db/x.db'}\n")
    env = {"PAYBILL_CATALOG": "b", "PAYBILL_STATE_DIR": "s"}
    found = resolve(environ=env, cwd=root)
    assert found.catalog == root / "b" and found.state_dir == root / "s"
    assert found.backend_url == f"file://{root / 'pulumi'}" and found.state_url == f"sqlite:///{root / 'db' / 'x.db'}"
    typed = resolve(catalog=Path("c"), state_url="postgresql://h/db", backend_url="s3://bucket", environ=env, cwd=root)
    assert typed.catalog == root / "c" and typed.state_url == "postgresql://h/db" and typed.backend_url == "s3://bucket"


def test_a_catalog_outside_the_project_takes_the_stacks_and_state_of_its_own_folder(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    outside = tmp_path / "copy" / "catalog"
    found = resolve(catalog=outside, environ=NO_ENV, cwd=root)
    assert found.root is None and found.stacks == tmp_path / "copy" and found.state_dir is None
    other = _project(tmp_path / "other")
    assert for_catalog(other / "stacks" / "catalog").state_dir == other / ".paybill"


def test_minus_c_names_a_folder_inside_a_project(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    (root / "docs").mkdir()
    assert resolve(directory=Path("repo/docs"), environ=NO_ENV, cwd=tmp_path).root == root
    with pytest.raises(UsageError, match="no such folder"):
        resolve(directory=Path("nope"), environ=NO_ENV, cwd=tmp_path)
    (tmp_path / "loose").mkdir()
    with pytest.raises(UsageError, match="no paybill.yaml in .*loose or above"):
        resolve(directory=Path("loose"), environ=NO_ENV, cwd=tmp_path)


@pytest.mark.parametrize(("text", "message"), [
    ("catalgo: x\n", "unknown key 'catalgo'; did you mean 'catalog'?"),
    ("state: {dri: x}\n", "unknown key 'state.dri'; did you mean 'state.dir'?"),
    ("zzz: 1\n", "unknown key 'zzz'; known keys: catalog, stacks, state, backend, pull_requests, pko"),
    ("catalog: [a]\n", "key 'catalog' must be a folder path, got list"),
    ("state: .paybill\n", "key 'state' must be a mapping with dir and url, got str"),
    ("- a\n", "expected a mapping of settings"),
    ("catalog: [\n", "not valid YAML"),
])
def test_paybill_yaml_is_strict_and_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    file = _project(tmp_path, text) / "paybill.yaml"
    with pytest.raises(UsageError) as raised:
        read_settings(file)
    assert str(raised.value).startswith(f"{file}: ") and message in str(raised.value)


def test_the_repository_s_own_project_file_is_valid() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert find_root(repo / "stacks" / "tenant") == repo
    assert "pull_requests" in read_settings(repo / "paybill.yaml")
    assert set(check_stack_programs(repo / "stacks")) == {"tenant", "cell"}


def test_missing_stack_programs_are_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"tenant: no such folder"):
        check_stack_programs(tmp_path)
    for kind in ("tenant", "cell"):
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "__main__.py").write_text("")
    with pytest.raises(UsageError, match=r"tenant/Pulumi.yaml: missing"):
        check_stack_programs(tmp_path)

"""The automation package's shape: imports in one direction, one window on the specs, the policy library
through its public top level, no reaching into another object's private parts, no god modules.
(tests/architecture checks the import cycles of the whole project.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "paybill_iac" / "automation"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400


def _name(path: Path) -> str:
    parts = ["paybill_iac", *path.relative_to(REPO / "paybill_iac").with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Every module named by an import in `path` (lazy and TYPE_CHECKING ones included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda path: _name(path))
def test_no_module_imports_a_package_it_belongs_to(path: Path) -> None:
    """Importing your own package's __init__ from inside it is how the old circles started."""
    name = _name(path)
    parents = {".".join(name.split(".")[:index]) for index in range(2, name.count(".") + 1)}
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in parents | {name}:
            raise AssertionError(f"{name} imports from its own package {node.module}: import the module itself")


def test_only_specs_reads_the_stack_specs_and_generate() -> None:
    readers = {_name(path) for path in MODULES
               if {"paybill_iac.model.spec", "paybill_iac.generate"} & _imported(path)}
    assert readers == {"paybill_iac.automation.specs"}


def test_the_policy_library_is_used_through_its_top_level() -> None:
    """paybill_policies is being split into submodules; only its top level is a stable API."""
    library = REPO / "policy_packs" / "paybill_policies"
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deep = [alias.name for alias in node.names if alias.name.startswith("paybill_policies.")]
            elif isinstance(node, ast.ImportFrom) and node.module == "paybill_policies":
                deep = [alias.name for alias in node.names
                        if (library / f"{alias.name}.py").exists() or (library / alias.name).is_dir()]
            elif isinstance(node, ast.ImportFrom):
                deep = [node.module] if (node.module or "").startswith("paybill_policies.") else []
            else:
                continue
            assert not deep, f"{_name(path)} line {node.lineno} imports {deep}: use the paybill_policies top level"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: _name(path))
def test_no_module_reaches_into_another_object_s_private_parts(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
            raise AssertionError(f"{_name(path)} line {node.lineno}: {ast.unparse(node)} is another object's "
                                 "private part")


@pytest.mark.parametrize("path", MODULES, ids=lambda path: _name(path))
def test_no_god_modules(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_name(path)} has {lines} lines: split it by concern"


def test_workflows_and_fleet_drive_the_public_operator() -> None:
    from paybill_iac.automation import Automation, Operator, fleet, workflows

    assert issubclass(Automation, Operator)
    for module in (workflows, fleet):
        assert "paybill_iac.automation.operator" in _imported(Path(module.__file__))
        assert "paybill_iac.automation.api" not in _imported(Path(module.__file__))

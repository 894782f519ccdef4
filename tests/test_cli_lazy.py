"""The CLI imports a command's module only when that command is looked up, and lists every command."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from paybill_iac.cli import LAZY_COMMANDS, _Commands, cli

MODULES = sorted({module for modules in LAZY_COMMANDS.values() for module in modules})


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_each_command_of_the_table_is_registered_by_its_modules_alone(name: str) -> None:
    group = _Commands("fresh")
    assert group.get_command(click.Context(group), name) is not None


def test_the_table_names_every_command_its_modules_register() -> None:
    group = _Commands("fresh")
    assert set(group.list_commands(click.Context(group))) == set(LAZY_COMMANDS)
    fleet = group.get_command(click.Context(group), "fleet")
    assert isinstance(fleet, click.Group) and {"up", "manifests", "apply", "status", "check"} <= set(fleet.commands)


def test_the_main_help_lists_every_command() -> None:
    listed = cli.list_commands(click.Context(cli))
    assert set(LAZY_COMMANDS) | {"validate", "generate", "schema"} <= set(listed)


def _imported_by(*argv: str) -> set[str]:
    """The CLI modules a fresh interpreter has imported after `paybill-iac ARGV`."""
    script = ("import sys\nfrom paybill_iac.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n"
              "    pass\nprint('imported:', *(name for name in sys.modules if name.startswith('paybill_iac.cli_')))\n")
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True)
    last = done.stdout.strip().splitlines()[-1].split()
    assert last[0] == "imported:"
    return set(last[1:])


def test_validate_help_imports_no_other_command_s_module() -> None:
    assert _imported_by("validate", "--help") <= {"paybill_iac.cli_project"}


def test_a_command_imports_its_own_modules_only() -> None:
    imported = _imported_by("up", "--help")
    assert "paybill_iac.cli_ops" in imported
    assert not imported & {"paybill_iac.cli_service", "paybill_iac.cli_describe", "paybill_iac.cli_db"}

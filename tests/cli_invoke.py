"""The CLI run in this process the way the `paybill-iac` entry point runs it (errors become messages and exit
codes), for tests that read what it printed: one helper instead of a copy per test module."""

from __future__ import annotations

from typing import Any


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `paybill-iac ARGV`; a traceback on stderr fails the test."""
    from paybill_iac.cli import main

    try:
        main(list(argv))
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err

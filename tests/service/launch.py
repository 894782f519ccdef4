"""Starts `paybill-iac serve` as the tests' server process, with the stack-runner and data-plane doubles
of tests/automation/doubles.py in place of the Pulumi CLI and the tenants' databases (when
PAYBILL_TEST_RUNNER holds the double's settings as JSON; without it the real runner runs, and with no
Pulumi CLI on the machine every operation answers 503). Everything else is the real server: uvicorn, the
app, the store, the Operator.

    python -m tests.service.launch serve --catalog DIR --state-url URL --bind 127.0.0.1:PORT [...]
"""

from __future__ import annotations

import json
import os
import sys

RUNNER_ENV = "PAYBILL_TEST_RUNNER"


def main(argv: list[str]) -> None:
    settings = os.environ.get(RUNNER_ENV)
    if settings:
        from paybill_iac.automation import dataplane, operator
        from tests.automation.doubles import FakeRunner, RecordingDataPlane

        options = json.loads(settings)
        options["changes"] = {stack: [tuple(step) for step in steps]
                              for stack, steps in options.get("changes", {}).items()}
        runner = FakeRunner(**options)
        plane = RecordingDataPlane()
        operator._pulumi_runner = lambda: runner  # type: ignore[attr-defined]
        dataplane.DirectDataPlane = lambda: plane  # type: ignore[misc,assignment]
    from paybill_iac.cli import main as cli

    cli(argv)


if __name__ == "__main__":
    main(sys.argv[1:])

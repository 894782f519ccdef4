"""SIGTERM and SIGINT while an operation runs: the operation ends cleanly instead of vanishing.

A container runtime stops a job with SIGTERM (Kubernetes, ECS, systemd), a person with Ctrl-C (SIGINT).
Left to Python's defaults, SIGTERM kills the process on the spot: no journal end, no lease release, the
`pulumi` child running on (it is not told), and the stack looks healthy until its lease expires. Under
`handle_signals` (installed by the Operator around each operation, in the main thread):

    1st signal   forwarded to the runner's engine processes (runner.interrupt: SIGINT, on which the
                 Pulumi CLI cancels gracefully: resource operations in flight finish, the state is
                 written, then it exits). The Operator waits for the engine to stop, then raises
                 OperationInterrupted. With no engine process to wait for, it raises at once.
    2nd signal   forwarded again (the CLI then stops at once) and OperationInterrupted is raised.
    while the Operator writes the journal's end and releases the lease, signals are only noted.

The Operator journals the operation as `interrupted` with its phase (the `Interruption` says which:
preview, apply, refresh, lifting or setting protection, a data-plane step), flags the stack for review
when the phase could have changed it, releases the lease, and lets OperationInterrupted (a
KeyboardInterrupt) end the command with exit code 128 + the signal.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from paybill_iac.automation.errors import OperationInterrupted

log = logging.getLogger("paybill_iac.automation")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
CHANGING_PHASES = frozenset({"apply", "refresh", "unprotect", "protect", "data"})
"""Phases in which an interrupted operation may have changed the stack: it is flagged for review."""


@dataclass
class Interruption:
    """The state one operation shares with its signal handler."""

    phase: str = "start"
    signum: int | None = None
    signals: int = 0
    closing: bool = False

    def check(self) -> None:
        """Raise OperationInterrupted if a signal arrived (called where the engine has returned or failed)."""
        if self.signum is not None:
            raise OperationInterrupted(self.signum, self.phase)

    @property
    def changing(self) -> bool:
        return self.phase in CHANGING_PHASES


@contextmanager
def handle_signals(runner: Any, interruption: Interruption) -> Iterator[Interruption]:
    """SIGINT and SIGTERM handled as the module says while the block runs (only in the main thread: other
    threads cannot install handlers, and their operations end with the process)."""
    if threading.current_thread() is not threading.main_thread():
        yield interruption
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        interruption.signals += 1
        if interruption.signum is None:
            interruption.signum = signum
        if interruption.closing:
            return
        forwarded = _forward(runner, signum)
        log.warning("%s received during %s: %s", signal.Signals(signum).name, interruption.phase,
                    "the engine was told to stop; waiting for it" if forwarded and interruption.signals == 1
                    else "stopping now")
        if not forwarded or interruption.signals > 1:
            raise OperationInterrupted(interruption.signum, interruption.phase)

    previous = {number: signal.signal(number, handler) for number in SIGNALS}
    try:
        yield interruption
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _forward(runner: Any, signum: int) -> bool:
    interrupt = getattr(runner, "interrupt", None)
    if interrupt is None:
        return False
    try:
        return bool(interrupt(signum))
    except Exception as error:  # noqa: BLE001 - a failed forward must not hide the signal
        log.warning("could not forward the signal to the engine: %s", error)
        return False

"""Killing a workflow at every step boundary, then recovering as people and services would (review, clear
what a human checked, approve what an agent asked, run the workflow again), and comparing the end state
with an uninterrupted run's.

A step boundary is just before or just after any effect a workflow has: an engine call (up, preview,
destroy, refresh, state protect and unprotect), a data-plane call, a file written (the tenant file, the
ledger, stack files), a workflow record written, a journal row. `boundaries()` calls back at each.

Two ways to kill, both real processes:

    killed_at(n)      a forked process runs the workflow and SIGKILLs itself at the n-th boundary; the
                      recovery then runs in the test's process (one process killed per point: sampled)
    snapshot_each()   the workflow runs once; at each boundary a forked child copies the whole world as
                      it stands (catalog, stack files, state database, engine double) to a folder of its
                      own and recovers that copy while the workflow waits: what a SIGKILL at that moment
                      leaves behind, since nothing after the boundary ran and everything before it is on
                      disk (every write is a committed transaction or an atomic rename). A boundary where
                      nothing was written since the previous one is the same world: it is recovered once.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import shutil
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from paybill_iac.automation import ApprovalNeeded, NeedsReview
from paybill_iac.errors import LeaseHeld
from tests.automation.doubles import RecordingDataPlane
from tests.automation.engine_double import StatefulRunner
from tests.automation.lifecycle_double import LifecycleRunner

LATER = 3600.0
"""How far the recovering side's clock is ahead: every lease the killed process held has expired."""


def _targets() -> list[tuple[Any, str]]:
    import paybill_iac.automation.catalog_edit as catalog_edit
    import paybill_iac.files as files
    from paybill_iac.automation.store.journal import Journal
    from paybill_iac.automation.store.workflows import WorkflowRecords

    found: list[tuple[Any, str]] = [(StatefulRunner, name) for name in ("run", "unprotect", "protect")]
    found += [(LifecycleRunner, "run")]
    found += [(RecordingDataPlane, name) for name in ("apply", "suspend", "resume", "offboard")]
    found += [(WorkflowRecords, name) for name in ("start", "step_done", "finish")]
    found += [(Journal, name) for name in ("start", "end", "refusal")]
    # the ledger and generate import the writer when they write: patched where they find it then
    found += [(module, "atomic_write") for module in (catalog_edit, files)]
    return found


@contextmanager
def boundaries(at: Callable[[int, str], None] | None = None) -> Iterator[list[str]]:
    """Count the step boundaries crossed inside the block (their names, in order), calling `at(n, name)` at
    each (n from 1)."""
    crossed: list[str] = []
    saved = []

    def cross(name: str) -> None:
        crossed.append(name)
        if at is not None:
            at(len(crossed), name)

    for owner, attribute in _targets():
        original = getattr(owner, attribute)
        saved.append((owner, attribute, original))
        label = f"{getattr(owner, '__name__', owner)}.{attribute}"

        def wrapped(*args: Any, __original: Any = original, __label: str = label, **kwargs: Any) -> Any:
            cross(f"before {__label}")
            result = __original(*args, **kwargs)
            cross(f"after {__label}")
            return result

        setattr(owner, attribute, wrapped)
    try:
        yield crossed
    finally:
        for owner, attribute, original in saved:
            setattr(owner, attribute, original)


def kill_here(kill_at: int) -> Callable[[int, str], None]:
    def at(count: int, _name: str) -> None:
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    return at


def killed_at(target: Callable[[int], None], kill_at: int) -> int:
    """Run `target(kill_at)` in a forked process (it installs `boundaries(kill_here(kill_at))`); its exit code."""
    process = multiprocessing.get_context("fork").Process(target=target, args=(kill_at,))
    process.start()
    process.join(timeout=120)
    assert process.exitcode is not None, "the killed workflow hung"
    return process.exitcode


def snapshot_each(root: Path, copies: Path, recover_copy: Callable[[Path], dict[str, Any]]) -> Callable[[int, str],
                                                                                                       None]:
    """A `boundaries` callback: at boundary n, a forked child copies `root` to copies/<n> and writes
    `recover_copy(copy)` (or the error) to copies/<n>/result.json; the workflow waits for it."""

    forking = [True]
    last: list[Any] = [None, 0]

    def at(count: int, name: str) -> None:
        if not forking[0]:  # in a child: its own boundaries are not snapshotted again
            return
        print_ = fingerprint(root)
        if print_ == last[0]:  # nothing was written since the last snapshot: the same world, recovered the same
            (copies / str(count)).mkdir(parents=True, exist_ok=True)
            (copies / str(count) / "result.json").write_text(json.dumps({"same as": last[1]}))
            return
        last[:] = [print_, count]
        pid = os.fork()
        if pid == 0:  # the child: never returns into the test
            forking[0] = False
            code = 0
            copy = copies / str(count)
            try:
                shutil.copytree(root, copy, symlinks=True)
                result = {"boundary": name, **recover_copy(copy)}
            except BaseException as error:  # noqa: BLE001 - reported to the parent
                result = {"boundary": name, "error": f"{type(error).__name__}: {error}",
                          "traceback": traceback.format_exc()}
                code = 1
            try:
                (copy / "result.json").write_text(json.dumps(result, default=str, sort_keys=True))
            finally:
                os._exit(code)
        os.waitpid(pid, 0)

    return at


def fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """What a snapshot of `root` would hold, cheaply: every file's path, size and modification time."""
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            if not name.endswith(".lock"):
                stat = os.stat(os.path.join(folder, name))
                found.append((os.path.join(folder, name), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


def hooks(folder: Path) -> dict[str, Callable[..., None]]:
    """Data-move and cut-over hooks that record what they were handed (in files: the process may die)."""

    def data_move(context: Any) -> None:
        with open(folder / "moves.jsonl", "a") as stream:
            stream.write(json.dumps({"old": context.old_outputs, "new": context.new_outputs}) + "\n")

    def cut_over(context: Any) -> None:
        with open(folder / "cut-overs.jsonl", "a") as stream:
            stream.write(json.dumps({"to": context.to_plan}) + "\n")

    return {"data_move": data_move, "cut_over": cut_over}


def recover(make: Callable[..., Any], workflow: Callable[[Any, int | None], Any], actor: str, *,
            ahead: float = LATER) -> list[str]:
    """Carry a workflow to its end as people would after a crash: the scan flags what the dead process left
    half-way, a human checks and clears it, approves what the agent asks; the agent runs the workflow again.
    `ahead`: how far the database's clock has moved on since (0 for a run that nothing killed). Returns what
    happened, in order."""
    clock = functools.partial(later, ahead)
    agent = make(actor=actor, clock=clock)
    people: list[Any] = []

    def human() -> Any:  # opened when a human is needed
        if not people:
            people.append(make(actor="human", clock=clock))
        return people[0]

    approval: int | None = None
    happened: list[str] = []
    try:
        for _ in range(12):
            try:
                workflow(agent, approval)
                happened.append("done")
                return happened
            except ApprovalNeeded as refused:
                happened.append(f"approval {refused.approval_id}")
                human().approve(refused.approval_id)
                approval = refused.approval_id
            except NeedsReview:
                stacks = sorted({flag.stack for flag in human().review().flags})
                happened.append("review " + ",".join(stacks))
                if not stacks:
                    raise
                for stack in stacks:
                    human().clear_review(stack)
            except LeaseHeld as busy:  # nothing live holds anything any more: this would be a bug
                raise AssertionError(f"still busy after the crash: {busy}") from None
        raise AssertionError(f"the workflow did not finish: {happened}")
    finally:
        for opened in [agent, *people]:
            opened.close()


def later(ahead: float = LATER) -> float:
    return time.time() + ahead

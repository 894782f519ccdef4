"""Split large, independent work (parsing 10,000 tenant files, rendering 10,000 stack files) over the
machine's cores with forked worker processes; small inputs stay in this process, where a fork would
cost more than it saves.

A worker is a plain `os.fork()` that takes chunks of the work as they come (their numbers, from a
pipe) and sends its results back through another pipe, pickled: no process pool and no queue
threads. Catalog commands are short-lived, and for them a pool's start-up (tens of milliseconds)
would be a sizeable share of the run.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

PARALLEL_THRESHOLD = 2000


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: for batches that allocate hundreds of thousands of objects
    (a catalog's models, parsed YAML, rendered files) and drop few. The collector would walk them all
    again every few thousand allocations, for nothing: a tenth of `paybill-iac validate`. Forked
    workers inherit the pause, which also keeps the collector from writing to (and so copying) the
    pages they share with their parent."""
    enabled = gc.isenabled()
    others_frozen = gc.get_freeze_count() > 0  # gc.freeze() of the caller's own (see below)
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # All the batch made is still young: the first collection after it would walk every object
            # (30 ms for a loaded catalog). Freezing and unfreezing files them with the old objects
            # instead (two list splices, no walk; the young count restarts at zero): a later full
            # collection looks at them, as it would have; none is lost to the collector. Not where
            # objects were frozen before (the preview freezes its own before forking): unfreezing would
            # thaw them too.
            if not others_frozen:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


# Items are handed out in this many chunks per process: whoever is free takes the next one, so a
# process slowed by other work (its `meanwhile`, another program) does less, and the last chunk to
# finish is small.
CHUNKS_PER_PROCESS = 32


def map_chunks(
    func: Callable[[Sequence[Item]], list[Result]], items: Sequence[Item], *, here: bool = False,
    meanwhile: Callable[[], object] | None = None,
) -> list[Result]:
    """`func` over contiguous chunks of `items`, results concatenated in order.

    `func` must be a module-level function; workers are forked, so they see this process's state as
    it was at the call (e.g. a loaded catalog) without pickling it, and only their results are
    pickled. With `here`, this process takes chunks too: one fork fewer, and its results are not
    pickled. `meanwhile` is other work of this process, done while the workers run (first, with
    `here`); it is called in every case, after `func` when nothing is forked. Serial in a process that
    runs other threads.
    """
    count = workers()
    # Forking a process that runs other threads (a service's connection pools, gRPC) can deadlock the
    # child on a lock one of them held: such callers get the serial path.
    single_threaded = threading.active_count() == 1
    if len(items) < PARALLEL_THRESHOLD or count < 2 or not single_threaded or not hasattr(os, "fork"):
        serial = func(items)
        if meanwhile is not None:
            meanwhile()
        return serial
    size = max(1, -(-len(items) // (count * CHUNKS_PER_PROCESS)))
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    # The chunks' numbers, 4 bytes each, in a pipe every process reads: a read of 4 bytes takes one
    # whole number (all are written before anyone reads, each read is one pipe operation).
    tokens, feed = os.pipe()
    try:
        os.write(feed, b"".join(index.to_bytes(4, "little") for index in range(len(chunks))))
    finally:
        os.close(feed)
    for stream in (sys.stdout, sys.stderr):  # or a worker could write what is buffered a second time
        if stream is not None:
            stream.flush()
    children: list[tuple[int, int]] = []
    try:
        for _ in range(count - 1 if here else count):
            children.append(_fork(func, chunks, tokens))
        done: dict[int, list[Result]] = {}
        if here:
            if meanwhile is not None:
                meanwhile()
            done.update(_take(func, chunks, tokens))
        elif meanwhile is not None:
            meanwhile()
        while children:
            done.update(_collect(*children.pop(0)))
        return [result for index in range(len(chunks)) for result in done[index]]
    finally:
        os.close(tokens)
        for pid, read in children:  # only after a failure: stop and reap the workers left
            os.close(read)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _take(
    func: Callable[[Sequence[Any]], list[Any]], chunks: list[Sequence[Any]], tokens: int, *, pickled: bool = False
) -> list[tuple[int, Any]]:
    """`func` over each chunk whose number this process reads from `tokens`, until there is none left;
    `pickled`: each chunk's results pickled as soon as they are made (a worker's: so that little is
    left to pickle once the last chunk is done, while its parent waits)."""
    done: list[tuple[int, Any]] = []
    while token := os.read(tokens, 4):
        index = int.from_bytes(token, "little")
        results = func(chunks[index])
        done.append((index, pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL) if pickled else results))
    return done


def _fork(func: Callable[[Sequence[Any]], list[Any]], chunks: list[Sequence[Any]], tokens: int) -> tuple[int, int]:
    """Start a worker taking chunks (`_take`); (its pid, the pipe its pickled results come through)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return pid, read
    # The worker: it must never return into the caller's code (it would run the rest of the command
    # twice), whatever happens: os._exit in every case.
    status = 1
    try:
        os.close(read)
        try:
            payload = pickle.dumps((True, _take(func, chunks, tokens, pickled=True)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as error:  # noqa: BLE001 - re-raised in the parent
            payload = _pickled_error(error)
        with os.fdopen(write, "wb") as stream:
            stream.write(payload)
        status = 0
    finally:
        os._exit(status)


def _pickled_error(error: BaseException) -> bytes:
    try:
        return pickle.dumps((False, error), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception that does not pickle is sent as its text
        return pickle.dumps((False, RuntimeError(f"{type(error).__name__}: {error}")))


def _collect(pid: int, read: int) -> list[tuple[int, list[Any]]]:
    """A worker's results (read before waiting: a full pipe would block it), or its exception."""
    try:
        with os.fdopen(read, "rb") as stream:
            data = stream.read()
    finally:
        _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"a worker process (pid {pid}) ended without results (wait status {status})")
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return [(index, pickle.loads(results)) for index, results in value]

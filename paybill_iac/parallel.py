"""Split large, independent work (parsing 10,000 tenant files, rendering 10,000 stack files) over the
machine's cores with forked worker processes; small inputs stay in this process, where a fork would
cost more than it saves."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

PARALLEL_THRESHOLD = 2000


def workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def map_chunks(func: Callable[[Sequence[Item]], list[Result]], items: Sequence[Item]) -> list[Result]:
    """`func` over contiguous chunks of `items`, results concatenated in order.

    `func` must be a module-level function; workers are forked, so they see this process's state as
    it was at the call (e.g. a loaded catalog) without pickling it. Serial in a process that runs
    other threads.
    """
    count = workers()
    # Forking a process that runs other threads (a service's connection pools, gRPC) can deadlock the
    # child on a lock one of them held: such callers get the serial path.
    single_threaded = threading.active_count() == 1
    if (len(items) < PARALLEL_THRESHOLD or count < 2 or not single_threaded
            or "fork" not in multiprocessing.get_all_start_methods()):
        return func(items)
    size = -(-len(items) // count)
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("fork")) as pool:
        results: list[Result] = []
        for part in pool.map(func, chunks):
            results.extend(part)
    return results

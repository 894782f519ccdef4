"""map_chunks: the same results in order, parallel or not; serial where forking is unsafe."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from paybill_iac import parallel


def pids_and_squares(items: Sequence[int]) -> list[tuple[int, int]]:
    return [(os.getpid(), item * item) for item in items]


def test_results_keep_their_order_and_use_workers_for_large_inputs(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    # Earlier tests in this process may have left threads behind (the CLI starts none); the workers
    # here only compute squares, which no inherited lock can block.
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)
    items = list(range(parallel.PARALLEL_THRESHOLD + 10))
    results = parallel.map_chunks(pids_and_squares, items)
    assert [square for _, square in results] == [item * item for item in items]
    assert os.getpid() not in {pid for pid, _ in results}


def test_small_inputs_stay_in_this_process() -> None:
    results = parallel.map_chunks(pids_and_squares, [1, 2, 3])
    assert results == [(os.getpid(), 1), (os.getpid(), 4), (os.getpid(), 9)]


def test_a_process_running_other_threads_is_never_forked(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        results = parallel.map_chunks(pids_and_squares, list(range(parallel.PARALLEL_THRESHOLD + 10)))
    finally:
        stop.set()
        other.join()
    assert {pid for pid, _ in results} == {os.getpid()}

"""Contention against real SQLite and real PostgreSQL: 8 processes over 20 tenants, with refusals (busy,
needs review, an agent's gated up) and crashes (a process dying half-way through an up): zero healthy
operations flagged, every journal entry complete once a human cleared the crashed stacks.

benchmarks/contention.py is the harness; this runs it at a size CI finishes in seconds (160 operations,
4 crashes); `python benchmarks/contention.py` runs the full 500 (the README gives both figures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import contention

SIZE = {"processes": 8, "operations": 160, "tenants": 20, "crashes": 4}


def _check(outcome: contention.Outcome) -> None:
    assert outcome.ok, outcome.problems
    assert outcome.healthy_flagged == []
    assert outcome.open_after_clear == 0 and outcome.open_before_clear == len(outcome.crashed) > 0
    assert outcome.results.get("refused", 0) > 0 and outcome.results.get("busy", 0) + outcome.results.get(
        "needs-review", 0) > 0, outcome.results
    assert sum(outcome.results.values()) == SIZE["operations"]


def test_contention_on_sqlite(tmp_path: Path) -> None:
    _check(contention.run(f"sqlite:///{tmp_path / 'state.db'}", tmp_path, **SIZE))


@pytest.mark.postgres
def test_contention_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    _check(contention.run(postgres_url, tmp_path, **SIZE))

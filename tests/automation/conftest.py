"""Fixtures for the automation tests: databases (SQLite, and a real PostgreSQL: tests/conftest.py), a copy of
the example catalog with its stack projects, and Automation objects wired to the runner double."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.automation.doubles import FakeRunner, RecordingDataPlane

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


class Clock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Env:
    root: Path
    catalog: Path
    stacks: Path
    state: Path
    sleeps: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    opened: list[Any] = field(default_factory=list)
    data_plane: RecordingDataPlane = field(default_factory=RecordingDataPlane)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.state / 'state.db'}"

    def make(self, actor: str = "human", runner: FakeRunner | None = None, **options: Any) -> Any:
        """An Automation on the runner double and the data-plane double (`self.data_plane`, shared by
        every Automation of the test unless `data_plane=` says otherwise)."""
        from paybill_iac.automation import Automation, RetryPolicy

        options.setdefault("data_plane", self.data_plane)
        options.setdefault("retry", RetryPolicy(attempts=4, base=1.0, cap=8.0))
        options.setdefault("state_url", self.url)
        options.setdefault("lease_ttl", 30.0)
        auto = Automation.open(self.catalog, actor=actor, runner=runner if runner is not None else FakeRunner(),
                               state_dir=self.state, sleep=self.sleeps.append, notify=self.notes.append, **options)
        self.opened.append(auto)
        return auto

    def tenant_file(self, tenant: str) -> Path:
        return self.catalog / "tenants" / f"{tenant}.yaml"


@pytest.fixture
def open_store() -> Iterator[Any]:
    """Opens Stores and closes them after the test (an unclosed connection is a ResourceWarning)."""
    from paybill_iac.automation.store import Store

    opened: list[Store] = []

    def make(url: str, **options: Any) -> Store:
        store = Store(url, **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """The example catalog and both stack projects, copied to a temporary folder."""
    with make_env(tmp_path) as made:
        yield made


@contextmanager
def make_env(tmp_path: Path) -> Iterator[Env]:
    """What the `env` fixture gives, in `tmp_path`, for as long as the block runs."""
    stacks = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks" / "catalog", stacks / "catalog")
    for project in ("tenant", "cell"):
        (stacks / project).mkdir(parents=True)
        for name in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(REPO / "stacks" / project / name, stacks / project / name)
    from paybill_iac.catalog import load_catalog
    from paybill_iac.generate import generate

    generate(load_catalog(stacks / "catalog"), stacks)
    made = Env(tmp_path, stacks / "catalog", stacks, tmp_path / "state")
    yield made
    for auto in made.opened:
        auto.close()

"""Fixtures for the automation tests: databases (SQLite, and a real PostgreSQL), a copy of the
example catalog with its stack projects, and Automation objects wired to the runner double."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.automation import pgserver
from tests.automation.doubles import FakeRunner, RecordingDataPlane

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server: PAYBILL_TEST_POSTGRES_URL (CI starts one), else one of our own.

    When PostgreSQL cannot be started the tests FAIL, so a CI machine without it is noticed; set
    PAYBILL_SKIP_POSTGRES=1 to skip them deliberately."""
    url = os.environ.get(pgserver.URL_ENV)
    if url:
        yield url
        return
    if os.environ.get(pgserver.SKIP_ENV):
        pytest.skip(f"{pgserver.SKIP_ENV} is set: PostgreSQL tests skipped on purpose")
    try:
        server = pgserver.start()
    except pgserver.Unavailable as error:
        pytest.fail(f"cannot start PostgreSQL for the tests: {error}. Install the PostgreSQL server binaries, "
                    f"set {pgserver.URL_ENV} to a server, or set {pgserver.SKIP_ENV}=1 to skip these tests")
    try:
        yield server.url
    finally:
        pgserver.stop(server.folder)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh schema on the server for one test (the URL selects it through search_path)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    plain = postgres_server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{postgres_server_url}?options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


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

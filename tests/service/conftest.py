"""Fixtures for the service tests: the real server (`paybill-iac serve` under uvicorn) started as a
subprocess on a free loopback port, on real SQLite and on the real PostgreSQL server as a least-privilege
role; principals and tokens made in the real store; a reader of the journal and of the runner double's
log (what actually ran)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.automation.doubles import read_log

REPO = Path(__file__).resolve().parents[2]
DB = "aws:rds/instance:Instance"
RUNNER = {
    # acme: an up deletes its protected database, so an agent's up needs a human approval
    "changes": {"paybill-tenant/acme": [["delete", DB, "acme-db", True]],
                # globex: twelve plain changes, over a small agent budget
                "paybill-tenant/globex": [["create", "aws:s3/bucketObject:BucketObject", f"o{index}", False]
                                          for index in range(12)]},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_stacks(root: Path) -> Path:
    """The example catalog and both stack projects under `root`, generated; returns the catalog folder."""
    stacks = root / "stacks"
    shutil.copytree(REPO / "stacks" / "catalog", stacks / "catalog")
    for project in ("tenant", "cell"):
        (stacks / project).mkdir(parents=True)
        for name in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(REPO / "stacks" / project / name, stacks / project / name)
    from paybill_iac.catalog import load_catalog
    from paybill_iac.generate import generate

    generate(load_catalog(stacks / "catalog"), stacks)
    return stacks / "catalog"


@dataclass(frozen=True)
class Caller:
    """A principal made for a test and its token."""

    token: str
    name: str
    kind: str

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def token_id(self) -> str:
        return self.token.split("_")[1]


@dataclass
class Server:
    """A running `paybill-iac serve`: its URL, the owner's database URL (for tokens and the journal) and
    the runner double's log."""

    url: str
    owner_url: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path
    runner_log: Path
    backend: str
    made: list[str] = field(default_factory=list)

    def token(self, name: str | None = None, *, kind: str = "agent", role: str = "operator",
              tenants: tuple[str, ...] = ("*",), max_changes: int = 10, expires_in: float | None = 3600.0) -> Caller:
        """A new principal (a unique name unless given) and its token, made in the real store."""
        from paybill_iac.automation.store import Store
        from paybill_iac.automation.store.principals import Principals

        name = name or f"{kind[0]}{uuid.uuid4().hex[:10]}"
        store = Store(self.owner_url)
        try:
            expires_at = None if expires_in is None else store.clock() + expires_in
            secret, _ = Principals(store.db).create_token(name, kind=kind, role=role, tenants=tenants,
                                                          max_changes=max_changes, expires_at=expires_at,
                                                          created_by="human:test")
        finally:
            store.close()
        self.made.append(name)
        return Caller(secret, name, kind)

    def client(self, caller: Caller | str | None = None, **headers: str) -> httpx.Client:
        token = caller.token if isinstance(caller, Caller) else caller
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def journal(self, actor: str | None = None) -> list[Any]:
        """Journal entries (oldest first), of `actor` when given, read as the owner."""
        from paybill_iac.automation.store import Store

        store = Store(self.owner_url)
        try:
            entries = store.journal.entries()
        finally:
            store.close()
        return [entry for entry in reversed(entries) if actor is None or entry.actor == actor]

    def open_entries(self) -> list[Any]:
        from paybill_iac.automation.store import Store

        store = Store(self.owner_url)
        try:
            return store.journal.entries(open_only=True)
        finally:
            store.close()

    def runs(self) -> list[dict[str, Any]]:
        """What the runner double ran (one line per preview/up/...)."""
        return read_log(self.runner_log)

    def store(self) -> Any:
        from paybill_iac.automation.store import Store

        return Store(self.owner_url)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(root: Path, state_url: str, owner_url: str, backend: str, *, double: bool = True,
                 extra: tuple[str, ...] = (), scheme: str = "http", verify: Any = True) -> Server:
    """`paybill-iac serve` in a subprocess on a free loopback port; waits for /healthz."""
    catalog = root / "stacks" / "catalog"
    if not catalog.exists():
        copy_stacks(root)
    runner_log = root / f"runner-{uuid.uuid4().hex[:6]}.jsonl"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PAYBILL_")}
    env["PYTHONPATH"] = str(REPO)
    if double:
        env["PAYBILL_TEST_RUNNER"] = json.dumps({**RUNNER, "log": str(runner_log)})
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep)
                                  if not (Path(part) / "pulumi").exists())
    last = ""
    for _ in range(3):  # a port taken between choosing and binding: choose again
        port = free_port()
        log = root / f"server-{port}.log"
        command = [sys.executable, "-m", "tests.service.launch", "serve", "--catalog", str(catalog),
                   "--state-url", state_url, "--state-dir", str(root / "state"), "--bind", f"127.0.0.1:{port}",
                   "--no-access-log", *extra]
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT)
        server = Server(f"{scheme}://127.0.0.1:{port}", owner_url, root, process, log, runner_log, backend)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1.0, verify=verify).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.05)
        server.stop()
        last = log.read_text(errors="replace")
        if "address already in use" not in last.lower():
            break
    raise RuntimeError(f"the server did not start:\n{last[-3000:]}")


def postgres_role_url(server_url: str, root_tag: str) -> tuple[str, str]:
    """A fresh schema migrated by the owner and a login role with the service's least privilege on it:
    returns (the service role's URL, the owner's URL)."""
    import psycopg

    schema = f"s_{root_tag}"
    role = f"svc_{root_tag}"
    password = uuid.uuid4().hex
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    owner = f"{server_url}?options=-csearch_path%3D{schema}"
    from click.testing import CliRunner

    from paybill_iac.cli_service import migrate

    result = CliRunner().invoke(migrate, ["--state-url", owner, "--service-role", role])
    assert result.exit_code == 0, result.output
    from sqlalchemy.engine import make_url

    service = make_url(owner).set(username=role, password=password).render_as_string(hide_password=False)
    return service, owner


def drop_role(server_url: str, tag: str) -> None:
    import psycopg

    with psycopg.connect(server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA s_{tag} CASCADE")
        conn.execute(f"DROP OWNED BY svc_{tag}")
        conn.execute(f"DROP ROLE svc_{tag}")


SERVER_OPTIONS = ("--write-tools", "--rate-limit", "20", "--burst", "40", "--max-body", "4096")
"""The shared servers' settings: write tools on (the read-only server is started by its own test), a
small rate limit and body limit the matrix reaches."""


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server with the runner double, on SQLite or on PostgreSQL as the service's own role; shared by
    the tests of a worker (each makes its own principals; tenants whose catalog a test changes are that
    test's own)."""
    root = tmp_path_factory.mktemp("svc")
    cleanup = None
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'state' / 'state.db'}"
        owner = url
    else:
        tag = uuid.uuid4().hex[:10]
        pg = request.getfixturevalue("postgres_server_url")
        url, owner = postgres_role_url(pg, tag)
        cleanup = (pg, tag)
    started = start_server(root, url, owner, request.param, extra=SERVER_OPTIONS)
    yield started
    started.stop()
    if cleanup:
        drop_role(*cleanup)
    assert "Traceback" not in started.output(), started.output()[-3000:]


def problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """Assert `response` is an RFC 9457 problem of `status` and type `kind`; return its body."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["type"] == f"urn:paybill-iac:problem:{kind}", body
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return dict(body)

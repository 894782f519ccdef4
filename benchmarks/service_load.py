"""The control-plane service under load, on loopback only: `paybill-iac serve` (uvicorn, access log on,
default rate limits) on a SQLite state database with the stack-runner double (tests/service/launch.py),
16 concurrent keep-alive clients, each with its own token.

    phase 1  describe: GET /v1/tenants/{id} (a tenant's resolved plan, limits, placement, last deployed
             state: a catalog read and two journal queries) -> requests/s, p50/p95/p99
    phase 2  the same load with one request in ten a refresh (POST /v1/tenants/{id}/refresh by a human
             operator): every one is journaled (succeeded, or busy when another holds the stack's lease)
             -> journal writes/s, and the journal is then counted: none lost, none left open

Bounded in time and count (PHASE_SECONDS, MAX_REQUESTS per phase); stops by itself. Figures, not a
pass/fail test: `python benchmarks/service_load.py [--postgres]` (PostgreSQL: PAYBILL_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CLIENTS = 16
PHASE_SECONDS = 8.0
WARMUP_SECONDS = 1.0
MAX_REQUESTS = 20_000
WRITE_SHARE = 10  # phase 2: one request in this many is a refresh
LIMITS = ("--rate-limit", "2000", "--burst", "2000")
"""The server's capacity is measured, not its per-token limit (default 50/s: 800/s for 16 tokens)."""
TENANTS = ["acme", "cyberdyne", "dunder-mifflin", "globex", "hooli", "nakatomi", "oscorp", "stark", "tyrell", "wonka"]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str,
                   token: str) -> int:
    body = b"{}" if method == "POST" else b""
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _client(port: int, token: str, writer_token: str, tenant: str, deadline: float, warm_until: float,
                  write_share: int, results: dict[str, list]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random(tenant)
    try:
        while time.perf_counter() < deadline and len(results["status"]) < MAX_REQUESTS:
            is_write = write_share and rng.randrange(write_share) == 0
            start = time.perf_counter()
            if is_write:
                status = await _request(reader, writer, "POST", f"/v1/tenants/{tenant}/refresh", writer_token)
            else:
                status = await _request(reader, writer, "GET", f"/v1/tenants/{rng.choice(TENANTS)}", token)
            elapsed = time.perf_counter() - start
            if is_write:
                results["all_writes"].append(status)
            if start < warm_until:
                results["warm"][0] += 1
            else:
                results["status"].append(status)
                results["write_latency" if is_write else "latency"].append(elapsed)
                if is_write:
                    results["writes"].append(status)
    finally:
        writer.close()


async def _phase(port: int, tokens: list[str], writers: list[str], write_share: int) -> dict[str, list]:
    results: dict[str, list] = {"latency": [], "write_latency": [], "status": [], "writes": [], "all_writes": [],
                                "warm": [0]}
    start = time.perf_counter()
    warm_until = start + WARMUP_SECONDS
    deadline = warm_until + PHASE_SECONDS
    await asyncio.gather(*[_client(port, tokens[index], writers[index], TENANTS[index % len(TENANTS)], deadline,
                                   warm_until, write_share, results) for index in range(CLIENTS)])
    results["seconds"] = [min(PHASE_SECONDS, time.perf_counter() - warm_until)]
    return results


def _quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(sorted(values), n=100)
    return f"p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms"


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) the process used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _report(name: str, results: dict[str, list], cpu: float = float("nan")) -> None:
    seconds = results["seconds"][0]
    statuses: dict[int, int] = {}
    for status in results["status"]:
        statuses[status] = statuses.get(status, 0) + 1
    reads = results["latency"]
    total = len(results["status"]) + results["warm"][0]
    print(f"{name}: {len(reads)} describes in {seconds:.1f} s = {len(reads) / seconds:.0f}/s, {_quantiles(reads)}; "
          f"statuses {dict(sorted(statuses.items()))}; server CPU {cpu * 1000 / max(total, 1):.2f} ms per request "
          f"(one core, as the GIL allows: ~{total / cpu if cpu == cpu and cpu else 0:.0f} requests/s)", flush=True)
    if results["write_latency"]:
        writes = results["write_latency"]
        print(f"  and {len(writes)} refreshes = {len(writes) / seconds:.0f}/s, {_quantiles(writes)}", flush=True)


def main() -> int:
    postgres = "--postgres" in sys.argv
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-"))
    process = None
    try:
        from tests.service.conftest import RUNNER, copy_stacks

        copy_stacks(root)
        if postgres:
            from tests.service.conftest import postgres_role_url

            base = os.environ.get("PAYBILL_TEST_POSTGRES_URL")
            if not base:
                print("set PAYBILL_TEST_POSTGRES_URL (python3 tests/automation/pgserver.py start)", file=sys.stderr)
                return 2
            url, owner = postgres_role_url(base, f"bench{os.getpid()}")
        else:
            url = owner = f"sqlite:///{root / 'state' / 'state.db'}"
        from paybill_iac.automation.store import Store
        from paybill_iac.automation.store.principals import Principals

        store = Store(owner)
        principals = Principals(store.db)
        tokens = [principals.create_token(f"reader{index}", kind="agent", role="viewer", tenants=["*"],
                                          created_by="human:bench")[0] for index in range(CLIENTS)]
        writers = [principals.create_token(f"writer{index}", kind="human", role="operator",
                                           created_by="human:bench")[0] for index in range(CLIENTS)]
        port = _port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("PAYBILL_")}
        env.update(PYTHONPATH=str(REPO), PAYBILL_TEST_RUNNER=json.dumps(RUNNER))
        log = (root / "server.log").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "tests.service.launch", "serve", "--catalog",
                                    str(root / "stacks" / "catalog"), "--state-url", url, "--state-dir",
                                    str(root / "state"), "--bind", f"127.0.0.1:{port}", *LIMITS], cwd=root, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        print(f"paybill-iac serve on 127.0.0.1:{port} ({'PostgreSQL' if postgres else 'SQLite'}), {CLIENTS} clients, "
              f"{os.cpu_count()} cores, {PHASE_SECONDS:.0f} s per phase", flush=True)
        cpu = _cpu(process.pid)
        reads = asyncio.run(_phase(port, tokens, writers, 0))
        _report("describe (GET /v1/tenants/{id})", reads, _cpu(process.pid) - cpu)
        before = len(store.journal.entries())
        cpu = _cpu(process.pid)
        mixed = asyncio.run(_phase(port, tokens, writers, WRITE_SHARE))
        _report("describe + 1 in 10 refresh", mixed, _cpu(process.pid) - cpu)
        time.sleep(0.5)
        entries = store.journal.entries()
        written = len(entries) - before
        answered = len(mixed["all_writes"])
        open_entries = store.journal.entries(open_only=True)
        results: dict[str, int] = {}
        for entry in entries[:written]:
            results[str(entry.result)] = results.get(str(entry.result), 0) + 1
        print(f"journal: {answered} refreshes answered, {written} journal entries written ({results}), "
              f"{len(open_entries)} left open, lost: {answered - written}", flush=True)
        store.close()
        return 0
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=15)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""What recording a fleet run costs the coordinator, and how fast a crashed run resumes, at 10,000 tenants.

    python benchmarks/fleet_runs.py [--tenants 10000] [--waves 5] [--postgres]

The coordinator (paybill_iac.automation.fleet.run_fleet) writes each tenant's outcome in its own
transaction as it arrives, so a crash loses at most the operations under way. Timed here on the real
state database (SQLite in a temporary folder; with --postgres, a PostgreSQL server of our own as the
tests start one): the run's start (its waves as planned), every outcome recorded one by one, then a resume
after a crash half-way: the claim taken over, the outcomes read back and the remaining tasks built as
JSON, as a second coordinator does before it hands them to an engine. Outcomes are written by this process
only (no engine runs): the figures are the bookkeeping, to be set against minutes per `pulumi up`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paybill_iac.automation.fleet import RUN_AGAIN, FleetTask, TenantOutcome, tasks_of  # noqa: E402
from paybill_iac.automation.store import Store  # noqa: E402


def measure(url: str, tenants: int, wave_count: int) -> dict[str, float]:
    ids = [f"t{index:05d}" for index in range(tenants)]
    size = -(-tenants // wave_count)
    waves = tuple(tuple(ids[start:start + size]) for start in range(0, tenants, size))
    clock = [1_800_000_000.0]
    store = Store(url, clock=lambda: clock[0])
    runs = store.fleet_runs
    try:
        started = time.perf_counter()
        run = runs.start("bench", rollout="r", operation="up", actor="human", params={"concurrency": 8,
                         "max_failures": 0}, waves=waves, owner="first", ttl=300)
        start_seconds = time.perf_counter() - started
        half = tenants // 2
        started = time.perf_counter()
        for number, wave in enumerate(waves, start=1):
            for tenant in wave:
                if int(tenant[1:]) >= half:  # the crash: the second half never recorded
                    break
                runs.record(run.id, asdict(TenantOutcome(tenant, number, "succeeded", "1 update", seconds=42.0)))
        record_seconds = time.perf_counter() - started
        clock[0] += 600  # the first coordinator's claim expired
        started = time.perf_counter()
        resumed = runs.claim(run.id, "second", 300)
        done = frozenset(item["tenant"] for item in runs.outcomes(run.id) if item["result"] not in RUN_AGAIN)
        tasks = [task.to_json() for wave in tasks_of(run.id, "up", resumed.waves, resumed.actor, done)
                 for task in wave]
        resume_seconds = time.perf_counter() - started
        assert len(tasks) == tenants - half and FleetTask.from_json(tasks[0]).tenant == f"t{half:05d}"
    finally:
        store.close()
    return {"start": start_seconds, "record": record_seconds, "per_outcome_ms": record_seconds / half * 1000,
            "resume": resume_seconds, "recorded": half, "left": tenants - half}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10000)
    parser.add_argument("--waves", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="also on a PostgreSQL server of our own")
    args = parser.parse_args()
    targets: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        targets.append(("SQLite", f"sqlite:///{Path(folder) / 'state.db'}"))
        server = None
        if args.postgres:
            from tests.automation import pgserver

            server = pgserver.start()
            targets.append(("PostgreSQL", server.url))
        try:
            for name, url in targets:
                found = measure(url, args.tenants, args.waves)
                print(f"{name}: {args.tenants} tenants in {args.waves} waves: run started in {found['start']:.3f} s; "
                      f"{found['recorded']:.0f} outcomes recorded one transaction each in {found['record']:.2f} s "
                      f"({found['per_outcome_ms']:.2f} ms per outcome); resumed after a crash (claim, read back, "
                      f"{found['left']:.0f} tasks built as JSON) in {found['resume']:.3f} s")
        finally:
            if server is not None:
                from tests.automation import pgserver

                pgserver.stop(server.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())

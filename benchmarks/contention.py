"""Contention: many processes running stack operations over few tenants against one state database, with
refusals and crashes, then the checks that matter: no healthy operation flagged, every journal entry
complete once a human cleared what the crashes left.

    python benchmarks/contention.py [--processes 8] [--operations 500] [--tenants 20] [--crashes 10]
                                    [--sqlite] [--postgres URL]

Each process opens one Automation (as a service would) on a synthetic catalog and runs its share of a
deterministic list of operations: humans' up, refresh and preview; agents' ups refused by the gates
(a database deleted: an approval request); ups that crash (the process dies in the middle, as a killed
deployment would: the harness starts a new process for the rest of its list). Operations contend for
the same stacks: "busy" refusals and flagged stacks are part of the run. At the end the harness waits
for the crashed operations' leases to expire, runs the crash scan, and checks:

    - every flag is on a stack an operation crashed on, and every flag naming an operation names a crashed
      one: zero healthy operations flagged
    - the journal entries without an end are exactly the crashed operations; a human clears those stacks
      (their entries end as abandoned) and then every entry is complete

Without --postgres (or PAYBILL_TEST_POSTGRES_URL), PostgreSQL is skipped; --sqlite alone skips it too.
`tests/automation/test_contention.py` runs the same on both databases at a size CI runs in seconds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KINDS = (("up", 40), ("refresh", 15), ("preview", 20), ("agent-refused", 25))
LEASE_TTL = 3.0
DB = "aws:rds/instance:Instance"


@dataclass
class Outcome:
    processes: int
    operations: int
    tenants: int
    seconds: float
    results: dict[str, int]
    crashed: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    healthy_flagged: list[dict[str, Any]]
    open_before_clear: int
    open_after_clear: int
    entries: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self, database: str) -> str:
        results = ", ".join(f"{count} {name}" for name, count in sorted(self.results.items()))
        return (f"{database}: {self.operations} operations by {self.processes} processes over {self.tenants} tenants "
                f"in {self.seconds:.1f} s ({self.operations / self.seconds:.0f} ops/s): {results}; "
                f"{len(self.crashed)} crashed, {len(self.flags)} flags (all on crashed stacks: "
                f"{'yes' if not self.healthy_flagged else 'NO'}), healthy operations flagged: "
                f"{len(self.healthy_flagged)}; journal entries {self.entries}, open before the human's clear "
                f"{self.open_before_clear} (= crashes), after {self.open_after_clear}"
                + ("" if self.ok else f"; PROBLEMS: {'; '.join(self.problems)}"))


def plan(operations: int, tenants: list[str], crashes: int, seed: int = 11) -> list[tuple[str, str]]:
    """The operations, in order: (kind, tenant); `crashes` of them are "crash" (an up that dies half-way)."""
    rng = random.Random(seed)
    kinds = [name for name, weight in KINDS for _ in range(weight)]
    ops = [(rng.choice(kinds), rng.choice(tenants)) for _ in range(operations)]
    for index in rng.sample(range(operations), crashes):
        ops[index] = ("crash", ops[index][1])
    return ops


def _worker(url: str, catalog: str, state: str, ops: list[tuple[int, str, str]], log: str) -> None:
    """One service process: its own Automation, its share of the operations, each outcome appended to `log`."""
    from paybill_iac.automation import ApprovalNeeded, Automation, NeedsReview
    from paybill_iac.errors import LeaseHeld, PaybillError
    from tests.automation.doubles import FakeRunner

    runner = FakeRunner()
    human = Automation.open(catalog, state_dir=state, state_url=url, runner=runner, lease_ttl=LEASE_TTL,
                            notify=lambda message: None)
    agent = Automation.open(catalog, state_dir=state, state_url=url, runner=runner, lease_ttl=LEASE_TTL,
                            actor="agent:contender", notify=lambda message: None)
    with open(log, "a") as stream:
        for index, kind, tenant in ops:
            stream.write(json.dumps({"index": index, "pid": os.getpid(), "event": "start"}) + "\n")
            stream.flush()
            key = f"paybill-tenant/{tenant}"
            runner.script = {f"up:{tenant}": ["crash"]} if kind == "crash" else {f"up:{tenant}": ["sleep:0.005"]}
            runner.changes = {key: [("delete", f"paybill:tenant:Silo${DB}", f"{tenant}-db", True)]} \
                if kind == "agent-refused" else {}
            try:
                if kind == "agent-refused":
                    agent.up(tenant=tenant)
                    result = "succeeded"
                elif kind in ("up", "crash"):
                    human.up(tenant=tenant)
                    result = "succeeded"
                else:
                    getattr(human, kind)(tenant=tenant)
                    result = "succeeded"
            except ApprovalNeeded:
                result = "refused"
            except LeaseHeld:
                result = "busy"
            except NeedsReview:
                result = "needs-review"
            except PaybillError as error:
                result = f"failed: {error}"
            stream.write(json.dumps({"index": index, "pid": os.getpid(), "event": "end", "result": result}) + "\n")
            stream.flush()
    human.close()
    agent.close()


def run(url: str, folder: Path, *, processes: int = 8, operations: int = 500, tenants: int = 20,
        crashes: int = 10) -> Outcome:
    """The whole run against the database at `url` (empty), in `folder` (see the module)."""
    from benchmarks.synthetic import write_catalog
    from paybill_iac.automation import Automation
    from paybill_iac.catalog import load_catalog
    from paybill_iac.generate import generate

    catalog = write_catalog(folder / "catalog", tenants)
    generate(load_catalog(catalog), folder / "stacks")
    state = folder / "state"
    human = Automation.open(catalog, state_dir=state, state_url=url, notify=lambda message: None,
                            runner=__import__("tests.automation.doubles", fromlist=["FakeRunner"]).FakeRunner())
    ids = sorted(load_catalog(catalog).tenants)
    ops = plan(operations, ids, crashes)
    shares: list[list[tuple[int, str, str]]] = [[] for _ in range(processes)]
    for index, (kind, tenant) in enumerate(ops):
        shares[index % processes].append((index, kind, tenant))
    log = folder / "outcomes.jsonl"
    context = multiprocessing.get_context("spawn")
    started = time.monotonic()
    running = {n: context.Process(target=_worker, args=(url, str(catalog), str(state), shares[n], str(log)))
               for n in range(processes)}
    for process in running.values():
        process.start()
    crashed: list[dict[str, Any]] = []
    while running:
        for n, process in list(running.items()):
            process.join(timeout=0.05)
            if process.exitcode is None:
                continue
            del running[n]
            if process.exitcode == 0:
                continue
            done = _events(log)
            begun = [item for item in done if item["pid"] == process.pid and item["event"] == "start"]
            ended = {item["index"] for item in done if item["pid"] == process.pid and item["event"] == "end"}
            dead = [item["index"] for item in begun if item["index"] not in ended]
            assert dead, f"process {process.pid} exited {process.exitcode} outside an operation"
            crashed.append({"index": dead[-1], "pid": process.pid, "tenant": ops[dead[-1]][1]})
            rest = [op for op in shares[n] if op[0] > dead[-1]]
            shares[n] = rest
            if rest:  # a new service process takes over the rest of the list
                running[n] = context.Process(target=_worker, args=(url, str(catalog), str(state), rest, str(log)))
                running[n].start()
    seconds = time.monotonic() - started
    time.sleep(LEASE_TTL + 0.5)  # the crashed operations' leases expire
    return _check(human, ops, crashed, _events(log), seconds, processes, tenants)


def _events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _check(human: Any, ops: list[tuple[str, str]], crashed: list[dict[str, Any]], events: list[dict[str, Any]],
           seconds: float, processes: int, tenants: int) -> Outcome:
    problems: list[str] = []
    results: dict[str, int] = {}
    for item in events:
        if item["event"] == "end":
            key = item["result"] if not item["result"].startswith("failed") else "failed"
            results[key] = results.get(key, 0) + 1
    results["crashed"] = len(crashed)
    if sum(results.values()) != len(ops):
        problems.append(f"{sum(results.values())} outcomes for {len(ops)} operations")
    crashed_stacks = {f"paybill-tenant/{item['tenant']}" for item in crashed}
    crashed_pids = {item["pid"] for item in crashed}
    review = human.review()
    flags = [flag.as_dict() for flag in review.flags]
    entries = human.store.journal.entries()
    by_op = {entry.op_id: entry for entry in entries}
    healthy = [flag for flag in flags if flag["stack"] not in crashed_stacks or (
        flag["op_id"] and int(by_op[flag["op_id"]].owner.split(":")[1]) not in crashed_pids)]
    if healthy:
        problems.append(f"{len(healthy)} healthy operation(s) flagged")
    unflagged = crashed_stacks - {flag["stack"] for flag in flags}
    if unflagged:
        problems.append(f"crashed stacks not flagged: {sorted(unflagged)}")
    open_entries = [entry for entry in entries if entry.ended_at is None]
    if sorted(int(entry.owner.split(":")[1]) for entry in open_entries) != sorted(crashed_pids):
        problems.append(f"open journal entries {[(e.stack, e.owner) for e in open_entries]} are not the crashes")
    if results.get("failed"):
        problems.append(f"{results['failed']} operation(s) failed")
    for stack in sorted(crashed_stacks):
        human.clear_review(stack)  # a human checked the stack
    after = [entry for entry in human.store.journal.entries() if entry.ended_at is None]
    if after:
        problems.append(f"{len(after)} journal entries still open after the clear")
    human.close()
    return Outcome(processes, len(ops), tenants, seconds, dict(sorted(results.items())), crashed, flags, healthy,
                   len(open_entries), len(after), len(entries), problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--operations", type=int, default=500)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--crashes", type=int, default=10)
    parser.add_argument("--sqlite", action="store_true", help="SQLite only")
    parser.add_argument("--postgres", default=os.environ.get("PAYBILL_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    size = {"processes": args.processes, "operations": args.operations, "tenants": args.tenants,
            "crashes": args.crashes}
    failed = 0
    with tempfile.TemporaryDirectory(prefix="paybill-contention-") as folder:
        outcome = run(f"sqlite:///{folder}/sqlite/state.db", Path(folder) / "sqlite", **size)
        print(outcome.describe("SQLite"), flush=True)
        failed += not outcome.ok
    if args.postgres and not args.sqlite:
        import uuid

        import psycopg

        schema = f"contention_{uuid.uuid4().hex[:8]}"
        plain = args.postgres.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            with tempfile.TemporaryDirectory(prefix="paybill-contention-") as folder:
                url = f"{args.postgres}?options=-csearch_path%3D{schema}"
                outcome = run(url, Path(folder) / "postgres", **size)
                print(outcome.describe("PostgreSQL"), flush=True)
                failed += not outcome.ok
        finally:
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    elif not args.sqlite:
        print("PostgreSQL: skipped (no --postgres URL and no PAYBILL_TEST_POSTGRES_URL)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

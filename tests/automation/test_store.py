"""Leases, the journal, review flags, approvals and workflow steps on real SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from sqlalchemy.exc import DBAPIError

from paybill_iac.automation.errors import NeedsReview
from paybill_iac.automation.store import Store
from paybill_iac.errors import LeaseHeld, OperationError, UsageError
from tests.automation.conftest import Clock

STACK = "paybill-tenant/acme"


def test_a_lease_is_held_by_one_owner_until_released(db_url: str, open_store) -> None:
    store = open_store(db_url)
    lease = store.leases.acquire(STACK, "owner-a", "up", "human", ttl=60)
    assert lease.owner == "owner-a"
    with pytest.raises(LeaseHeld, match="up by human .*holds its lease"):
        store.leases.acquire(STACK, "owner-b", "up", "agent:bot", ttl=60)
    assert store.leases.acquire(STACK, "owner-a", "up", "human", ttl=60).owner == "owner-a"  # re-entrant
    assert not store.leases.release(STACK, "owner-b")
    assert store.leases.release(STACK, "owner-a")
    assert store.leases.acquire(STACK, "owner-b", "up", "agent:bot", ttl=60).owner == "owner-b"
    store.close()


def test_renewing_keeps_a_lease_alive_and_an_expired_one_is_never_taken_over(db_url: str, open_store) -> None:
    clock = Clock()
    store = open_store(db_url, clock=clock)
    store.leases.acquire(STACK, "owner-a", "up", "human", ttl=10)
    clock.advance(8)
    assert store.leases.renew(STACK, "owner-a", ttl=10)
    clock.advance(8)
    with pytest.raises(LeaseHeld):
        store.leases.acquire(STACK, "owner-b", "up", "human", ttl=10)
    clock.advance(5)  # expired: the holder stopped renewing
    with pytest.raises(NeedsReview, match="review --clear"):
        store.leases.acquire(STACK, "owner-b", "up", "human", ttl=10)
    assert [flag.stack for flag in store.flags.find()] == [STACK]
    assert store.leases.get(STACK).owner == "owner-a"  # still there: nothing is taken over or cancelled
    assert not store.leases.renew(STACK, "owner-b", ttl=10)


def test_the_journal_is_append_only(db_url: str, open_store) -> None:
    store = open_store(db_url)
    store.journal.start(op_id="op1", actor="human", stack=STACK, tenant="acme", operation="up", owner="o")
    [entry] = store.journal.entries(open_only=True)
    assert entry.ended_at is None and entry.result is None
    store.journal.end(op_id="op1", result="succeeded", change_summary={"counts": {"create": 2}}, state="active")
    [entry] = store.journal.entries()
    assert (entry.result, entry.state, entry.change_summary) == ("succeeded", "active", {"counts": {"create": 2}})
    assert store.journal.entries(open_only=True) == []
    assert store.journal.last_state("acme") == "active"
    with pytest.raises(DBAPIError):  # one end per operation
        store.journal.end(op_id="op1", result="failed")
    for statement in ("UPDATE paybill_journal SET result = 'failed'", "DELETE FROM paybill_journal"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert len(store.journal.entries()) == 1
    with pytest.raises(OperationError, match="no start"):
        store.journal.end(op_id="nope", result="succeeded")


def test_journal_filters_and_order(db_url: str, open_store) -> None:
    clock = Clock()
    store = open_store(db_url, clock=clock)
    for index, tenant in enumerate(["acme", "globex", "acme"]):
        clock.advance(1)
        store.journal.start(op_id=f"op{index}", actor="human", stack=f"paybill-tenant/{tenant}", tenant=tenant,
                            operation="up", owner="o")
    assert [entry.op_id for entry in store.journal.entries()] == ["op2", "op1", "op0"]
    assert [entry.op_id for entry in store.journal.entries(tenant="acme")] == ["op2", "op0"]
    assert [entry.op_id for entry in store.journal.entries(stack="paybill-tenant/globex")] == ["op1"]
    assert len(store.journal.entries(limit=1)) == 1


def test_scan_flags_crashed_operations_but_not_running_ones(db_url: str, open_store) -> None:
    clock = Clock()
    store = open_store(db_url, clock=clock)
    # running: live lease, open journal entry
    store.leases.acquire("paybill-tenant/live", "live-owner", "up", "human", ttl=60)
    store.journal.start(op_id="live", actor="human", stack="paybill-tenant/live", tenant="live", operation="up",
                        owner="live-owner")
    # crashed after releasing nothing: expired lease and open journal entry
    store.leases.acquire("paybill-tenant/dead", "dead-owner", "up", "agent:bot", ttl=5)
    store.journal.start(op_id="dead", actor="agent:bot", stack="paybill-tenant/dead", tenant="dead",
                        operation="up", owner="dead-owner")
    # crashed with the lease gone (e.g. removed by hand): open journal entry only
    store.journal.start(op_id="orphan", actor="human", stack="paybill-cell/c1", tenant=None, operation="destroy",
                        owner="gone")
    clock.advance(10)
    assert {flag.stack for flag in store.scan()} == {"paybill-tenant/dead"}  # the orphan is younger than the grace
    clock.advance(30)
    store.leases.renew("paybill-tenant/live", "live-owner", ttl=60)
    raised = store.scan()
    assert sorted({flag.stack for flag in raised}) == ["paybill-cell/c1", "paybill-tenant/dead"]  # + its open entry
    assert store.scan() == []  # flags are raised once
    assert store.leases.get("paybill-tenant/dead") is not None  # never cancelled automatically
    # a human clears the dead stack: flags closed, stale lease removed, the open entry ended as abandoned
    assert store.clear("paybill-tenant/dead", "human") == 2
    assert store.leases.get("paybill-tenant/dead") is None
    [entry] = store.journal.entries(stack="paybill-tenant/dead")
    assert entry.result == "abandoned" and "cleared by human" in entry.error
    assert [flag.stack for flag in store.flags.find()] == ["paybill-cell/c1"]
    assert len(store.flags.find(include_cleared=True)) == 3


def test_approvals_are_single_use(db_url: str, open_store) -> None:
    store = open_store(db_url)
    request = store.approvals.request(stack=STACK, tenant="acme", operation="up", requested_by="agent:bot",
                                     reasons=["it deletes a database"], change_summary={"counts": {"delete": 1}},
                                     plan_path="/tmp/plan.json", plan_sha256="ab" * 32)
    assert [a.id for a in store.approvals.find(status="pending")] == [request]
    assert not store.approvals.use(request)  # not approved yet
    assert store.approvals.approve(request, "human")
    assert not store.approvals.approve(request, "human")
    approval = store.approvals.get(request)
    assert (approval.status, approval.decided_by, approval.reasons) == ("approved", "human", ["it deletes a database"])
    assert store.approvals.use(request)
    assert not store.approvals.use(request)
    assert store.approvals.get(request).status == "used"
    assert store.approvals.get(999) is None


def test_workflow_steps_are_recorded_once(db_url: str, open_store) -> None:
    store = open_store(db_url)
    workflow = store.workflows.start("change-plan", "acme", {"to": "growth"}, "human")
    store.workflows.step_done(workflow.id, "provision", {"old_outputs": {"a": 1}})
    store.workflows.step_done(workflow.id, "provision", {"ignored": True})
    assert store.workflows.running("change-plan", "acme").steps == ("record", "provision")
    assert store.workflows.record(workflow.id) == {}
    assert store.workflows.step_detail(workflow.id, "provision") == {"old_outputs": {"a": 1}}
    store.workflows.finish(workflow.id)
    assert store.workflows.running("change-plan", "acme") is None
    store.retained.record("acme", STACK, [("urn:a", "aws:rds/instance:Instance")], retain_until=123.0)
    assert [item.urn for item in store.retained.find("acme")] == ["urn:a"]


def test_bad_state_urls_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="SQLite .* or PostgreSQL"):
        Store("mysql://localhost/x")
    with pytest.raises(UsageError, match="needs a file"):
        Store("sqlite://")
    with pytest.raises(UsageError, match="not a database URL"):
        Store("not a url")


# --- two processes contending for one stack ---------------------------------------------------------


def _contend(url: str, worker: int, seconds: float, barrier: multiprocessing.synchronize.Barrier,
             results: multiprocessing.Queue) -> None:
    store = Store(url)
    barrier.wait()
    deadline = time.time() + seconds
    held, refused, index = [], 0, 0
    while time.time() < deadline:
        index += 1
        owner = f"w{worker}-{index}"
        try:
            store.leases.acquire(STACK, owner, "up", f"agent:w{worker}", ttl=30)
        except LeaseHeld:
            refused += 1
            time.sleep(0.001)
            continue
        start = time.time()
        time.sleep(0.005)
        end = time.time()
        assert store.leases.release(STACK, owner)
        held.append((start, end))
        time.sleep(0.003)
    store.close()
    results.put((worker, held, refused))


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_two_processes_never_hold_the_same_stack_at_once(db_url: str, start_method: str, open_store) -> None:
    open_store(db_url).close()  # schema first, so both workers race only on the lease
    context = multiprocessing.get_context(start_method)
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [context.Process(target=_contend, args=(db_url, worker, 1.0, barrier, results)) for worker in (1, 2)]
    for process in workers:
        process.start()
    reported = [results.get(timeout=120) for _ in workers]
    collected = {worker: held for worker, held, _ in reported}
    assert sum(refused for _, _, refused in reported) > 0, "the processes did contend"
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    intervals = sorted(interval for held in collected.values() for interval in held)
    assert all(collected[worker] for worker in (1, 2)), "both processes got the lease at some point"
    for (_, first_end), (second_start, _) in zip(intervals, intervals[1:], strict=False):
        assert second_start >= first_end, "two holders at once"

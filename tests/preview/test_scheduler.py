"""The order stacks run in: cells first and alone, tenants once their cell is back."""

from __future__ import annotations

from paybill_iac.preview.runner import Scheduler, StackResult
from paybill_iac.preview.tasks import CELL, TENANT, StackTask


def task(kind: str, ident: str, cell: str | None = None) -> StackTask:
    return StackTask(kind=kind, id=ident, config={}, cloud="aws", region="eu-west-1",
                     isolation="cell" if kind == CELL else ("pooled" if cell else "silo"), cell=cell,
                     reference=f"org/paybill-cell/{cell}" if cell else None)


def test_cells_go_first_and_alone_and_release_their_tenants() -> None:
    tasks = [task(TENANT, "a", "c1"), task(TENANT, "s1"), task(CELL, "c1"), task(TENANT, "s2"), task(CELL, "c2"),
             task(TENANT, "b", "c2")]
    scheduler = Scheduler(tasks, {})
    first = scheduler.take(8)
    assert [t.id for t, _ in first] == ["c1"]
    assert [t.id for t, _ in scheduler.take(8)] == ["c2"]
    assert [t.id for t, _ in scheduler.take(8)] == ["s1", "s2"]  # silo tenants need no cell
    assert scheduler.take(8) == []
    cell = first[0][0]
    assert scheduler.done(StackResult(cell, references={"cell": {"vpc": "v"}})) == []
    (tenant, references), = scheduler.take(8)
    assert tenant.id == "a" and references == {"org/paybill-cell/c1": {"cell": {"vpc": "v"}}}
    settled = scheduler.done(StackResult(task(CELL, "c2"), error="boom"))
    assert [(r.task.id, r.error) for r in settled] == [("b", "its cell 'c2' failed to preview, so it could not "
                                                               "run (boom)")]
    assert scheduler.ready == [] and scheduler.orphans() == []

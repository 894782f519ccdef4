"""Every lifecycle workflow killed at every step boundary ends, once recovered as people and services would
(crashes.py), in the same state as an uninterrupted run, with the stack flagged for review on the way
when the kill came mid-operation; and no data resource is ever deleted without a human's approval: the
agent's own runs never get one, and the data-move hook is always handed the old shape.

Against the stateful engine double running the lifecycle program (lifecycle_double.py): resources, protect and
retain flags and outputs per stack, shared through a file by the killed process and the one that recovers.
Exhaustively with a snapshot at each boundary (what SIGKILL leaves there), and with real SIGKILLs at sampled boundaries.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from paybill_iac.catalog import ledger
from tests.automation.conftest import Env, make_env
from tests.automation.crashes import boundaries, hooks, kill_here, killed_at, recover, snapshot_each
from tests.automation.lifecycle_double import TYPES, LifecycleRunner

AGENT = "agent:lifecycle-bot"
SECRET = TYPES["aws"]["secret"]
POOLED_DATABASE = TYPES["azure"]["secret"]  # a pooled tenant's database on an Azure cell
Workflow = Callable[[Any, "int | None"], Any]
NAMES = ["onboard", "suspend", "resume", "change-plan", "offboard", "move"]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """The `env` world, on a tmpfs where the machine has one (/dev/shm): the kills are of processes, not of
    the power, and hundreds of recoveries spend most of their time waiting for fsync on a disk. Temporary
    files (the catalog overlays of catalog_edit) go there too. The snapshots go beside it (`copies`)."""
    base = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else tmp_path
    folder = Path(tempfile.mkdtemp(dir=base, prefix="paybill-crashes-"))
    (folder / "tmp").mkdir()
    previous, tempfile.tempdir = tempfile.tempdir, str(folder / "tmp")
    try:
        with make_env(folder / "world") as made:
            yield made
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(folder, ignore_errors=True)


def _workflows(folder: Path) -> dict[str, tuple[str, Workflow, list[tuple[str, str]]]]:
    """name -> (tenant, the workflow as the agent runs it, the stacks brought up before)."""
    hook = hooks(folder)
    return {
        "onboard": ("umbrella", lambda auto, approval: auto.onboard("umbrella", approval=approval), []),
        "suspend": ("acme", lambda auto, approval: auto.suspend("acme", approval=approval),
                    [("cell", "aws-euw1-a"), ("tenant", "acme")]),
        "resume": ("initech", lambda auto, approval: auto.resume("initech", approval=approval),
                   [("cell", "gcp-euw1-a"), ("tenant", "initech")]),
        "change-plan": ("globex", lambda auto, approval: auto.change_plan("globex", "growth", approval=approval,
                                                                            **hook),
                        [("cell", "azure-weu-a"), ("tenant", "globex")]),
        "offboard": ("acme", lambda auto, approval: auto.offboard("acme", approval=approval),
                     [("cell", "aws-euw1-a"), ("tenant", "acme")]),
        "move": ("acme", lambda auto, approval: auto.move("acme", cell="aws-euw1-b", approval=approval,
                                                          data_move=hook["data_move"]),
                 [("cell", "aws-euw1-a"), ("tenant", "acme")]),
    }


def _world(root: Path) -> tuple[Env, LifecycleRunner, Callable[..., Any]]:
    """The test world under `root` (the env fixture's layout): its Env, engine double and Automation maker."""
    env = Env(root, root / "stacks" / "catalog", root / "stacks", root / "state")
    runner = LifecycleRunner(str(root / "engine.json"))
    return env, runner, functools.partial(env.make, runner=runner, lease_ttl=300.0)


def _prepare(env: Env, name: str) -> tuple[LifecycleRunner, Callable[..., Any], str, Workflow]:
    cells = env.catalog / "cells.yaml"
    cells.write_text(cells.read_text() + "  - {id: aws-euw1-b, cloud: aws, region: eu-west-1, capacity: 50}\n")
    _, runner, make = _world(env.root)
    tenant, workflow, stacks = _workflows(env.root)[name]
    human = make()
    for kind, stack in stacks:
        human.up(**{kind: stack})
    human.close()
    return runner, make, tenant, workflow


def _end_state(env: Env, runner: LifecycleRunner, tenant: str) -> dict[str, Any]:
    from paybill_iac.automation.store import Store

    engine = runner.read()
    store = Store(env.url, clock=lambda: 4e9)
    try:
        state = {
            "tenant file": yaml.safe_load(env.tenant_file(tenant).read_text()),
            "ledger": ledger.read(env.catalog).entries[tenant].as_dict(),
            "stacks": {key: {"resources": {urn: [item["type"], bool(item.get("protect")), bool(item.get("retain"))]
                                           for urn, item in stack["resources"].items()},
                             "outputs": stack["outputs"]} for key, stack in engine["stacks"].items()},
            "lost": sorted([item["stack"], item["type"]] for item in engine["lost"]),
            "kept": sorted([item["stack"], item["type"]] for item in engine["kept"]),
            "running workflow": store.workflows.running_for(tenant) is not None,
            "flags": [flag.stack for flag in store.flags.find()],
            "open journal entries": [[entry.stack, entry.operation] for entry in store.journal.entries(
                open_only=True)],
        }
    finally:
        store.close()
    return json.loads(json.dumps(state, default=str))


def _old_shape_only(root: Path) -> None:
    """The data-move hook was always handed the old (pooled) shape's outputs, never the new one."""
    moves = root / "moves.jsonl"
    for line in moves.read_text().splitlines() if moves.exists() else []:
        old = json.loads(line)["old"]
        assert old["isolation"] == "pooled" and old["database"]["name"].endswith("_p_db"), line


@pytest.mark.parametrize("name", NAMES)
def test_killed_at_every_step_boundary_it_recovers_to_the_same_end(env: Env, name: str) -> None:
    runner, make, tenant, workflow = _prepare(env, name)

    def recover_copy(copy: Path) -> dict[str, Any]:
        copy_env, copy_runner, copy_make = _world(copy)
        lost_at_kill = copy_runner.read()["lost"]
        happened = recover(copy_make, _workflows(copy)[name][1], AGENT)
        _old_shape_only(copy)
        return {"happened": happened, "state": _end_state(copy_env, copy_runner, tenant), "lost at kill": lost_at_kill}

    copies = env.root.parent / "copies"  # outside the world it copies
    with boundaries(snapshot_each(env.root, copies, recover_copy)) as crossed:
        happened = recover(make, workflow, AGENT, ahead=0.0)
    expected = _end_state(env, runner, tenant)
    assert expected["running workflow"] is False and expected["flags"] == [] and expected["open journal entries"] == []
    assert expected["lost"] == ({"change-plan": [["paybill-tenant/globex", POOLED_DATABASE]],
                                 "move": [["paybill-tenant/acme", SECRET]]}.get(name, []))
    if expected["lost"]:  # deleting data took a human's approval
        assert any(item.startswith("approval") for item in happened), happened
    _old_shape_only(env.root)
    assert len(crossed) > 20, crossed
    for point, boundary in enumerate(crossed, start=1):
        result = json.loads((copies / str(point) / "result.json").read_text())
        if "same as" in result:  # nothing written since that boundary: the same world
            result = json.loads((copies / str(result["same as"]) / "result.json").read_text())
        assert "error" not in result, (point, boundary, result.get("traceback"))
        lost_before_recovery = [(item["stack"], item["type"]) for item in result["lost at kill"]]
        approved = [item for item in happened[:1] if item.startswith("approval")]
        assert not lost_before_recovery or approved, (point, boundary, lost_before_recovery)
        assert result["state"] == expected, (point, boundary, result["happened"])


def _run_agent(make: Callable[..., Any], workflow: Workflow, kill_at: int) -> None:
    """In the killed process: the agent's run, SIGKILLed at boundary `kill_at` (a refusal ends it first when the
    agent needs an approval before that boundary: then nothing was killed)."""
    with boundaries(kill_here(kill_at)), contextlib.suppress(BaseException):
        workflow(make(actor=AGENT), None)
    os._exit(0)


def _sampled(count: int) -> list[int]:
    return sorted({1, count // 4, count // 2, 3 * count // 4, count} - {0})


@pytest.mark.parametrize("name", NAMES)
def test_a_real_sigkill_at_sampled_boundaries(env: Env, name: str) -> None:
    """The same, with the workflow's own process killed by SIGKILL (the agent alone: no approval exists)."""
    runner, make, tenant, workflow = _prepare(env, name)
    tmp_path = env.root.parent / "killed"
    pristine = tmp_path / "pristine"
    shutil.copytree(env.root, pristine, symlinks=True)
    recover(make, workflow, AGENT, ahead=0.0)
    expected = _end_state(env, runner, tenant)
    alone = tmp_path / "alone"  # how far the agent gets by itself (until a gate asks for a human's approval)
    shutil.copytree(pristine, alone, symlinks=True)
    with boundaries() as reached, contextlib.suppress(BaseException):
        _workflows(alone)[name][1](_world(alone)[2](actor=AGENT), None)
    assert len(reached) > 4, reached
    for point in _sampled(len(reached)):
        root = tmp_path / f"killed-{point}"
        shutil.copytree(pristine, root, symlinks=True)
        world_env, world_runner, world_make = _world(root)
        agent_workflow = _workflows(root)[name][1]
        exit_code = killed_at(functools.partial(_run_agent, world_make, agent_workflow), point)
        assert exit_code == -9, (point, reached[point - 1])  # SIGKILLed where it stood
        assert world_runner.read()["lost"] == [], "the agent's own run deleted data without an approval"
        happened = recover(world_make, agent_workflow, AGENT)
        _old_shape_only(root)
        assert _end_state(world_env, world_runner, tenant) == expected, (point, exit_code, happened)

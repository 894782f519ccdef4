"""Overhead of `paybill-iac preview` over the bare mock runtime registering the same resources.

    python benchmarks/preview_overhead.py [--tenants 200] [--repeat 3]

Measured in one process, on a synthetic catalog (benchmarks/synthetic.py), after a warm-up run that
loads the provider SDKs, as medians of --repeat alternating runs:

- preview: `paybill_iac.preview.run_preview(..., jobs=1)`: load and validate the catalog, generate
  every stack's config in memory, run the real stack programs (cells first, their outputs feeding the
  tenants' StackReferences) under the mock runtime with provider-shaped outputs, run the three policy
  packs on every stack, assemble the report and render it as JSON;
- bare (the figure's baseline): the same stack programs registering the same resources under the
  plain mock runtime (`paybill_iac.mockrun.run_stack` with its defaults), one after another: no
  policies, no report, no catalog loading;
- floor (for reference): the mock runtime registering the same resources (type, name, inputs,
  parent, protect) as generic `pulumi.CustomResource`s with echoing mocks: no typed SDK classes, no
  component code. What the programs cost above it is the SDK's and the components', not the preview's.

Target: preview / bare at most 1.3x. The preview runs the programs with `drop_aliases=True` and the
garbage collector's heap frozen once the provider SDKs are loaded (see paybill_iac.preview.runner),
which is why it can be faster than bare; its own work on top of the stack programs is printed too.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.synthetic import write_catalog  # noqa: E402

TARGET = 1.3


def bare_programs(catalog_path: Path) -> float:
    """The same stack programs under the plain mock runtime (run_stack defaults); seconds taken."""
    from paybill_iac.catalog import load_catalog
    from paybill_iac.mockrun import run_stack
    from paybill_iac.preview.tasks import build_tasks, stack_programs

    catalog = load_catalog(catalog_path)
    tasks = build_tasks(catalog)
    programs = stack_programs(catalog.root)
    started = time.perf_counter()
    outputs = {}
    for task in tasks.cells:
        outputs[task.id] = run_stack(programs["cell"], project=task.project, stack=task.id, config=task.config).outputs
    for task in tasks.tenants:
        references = {task.reference: outputs[task.cell]} if task.cell and task.reference else {}
        run_stack(programs["tenant"], project=task.project, stack=task.id, config=task.config,
                  stack_references=references)
    return time.perf_counter() - started


def floor_run(stacks: list[dict[str, Any]]) -> float:
    """Register every resource of `stacks` with the plain mock runtime; seconds taken."""
    import pulumi
    import pulumi.runtime
    import pulumi.runtime.settings
    from pulumi.runtime import mocks

    class Echo(mocks.Mocks):
        def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
            return {}, []

    started = time.perf_counter()
    for stack in stacks:
        resources = sorted(stack["resources"], key=lambda item: item["urn"].count("$"))  # parents first
        pulumi.runtime.settings.ROOT.set(None)
        echo = Echo()
        pulumi.runtime.set_mocks(echo, project=stack["project"], stack=stack["stack"], preview=False,
                                 monitor=mocks.MockMonitor(echo))

        @pulumi.runtime.test  # type: ignore[misc]
        def program(resources: list[dict[str, Any]] = resources) -> None:
            made: dict[str, pulumi.Resource] = {}
            for item in resources:
                opts = pulumi.ResourceOptions(parent=made.get(item["parent"]), protect=item["protect"])
                if item["type"].startswith("pulumi:providers:"):
                    made[item["urn"]] = pulumi.ProviderResource(item["type"].split(":")[2], item["name"],
                                                                dict(item["inputs"]), opts)
                elif item["type"].startswith("paybill:"):
                    made[item["urn"]] = pulumi.ComponentResource(item["type"], item["name"], None, opts)
                else:
                    made[item["urn"]] = pulumi.CustomResource(item["type"], item["name"], dict(item["inputs"]), opts)

        program()
    return time.perf_counter() - started


def preview_run(catalog: Path) -> tuple[float, dict[str, Any], dict[str, float]]:
    """One in-process preview (jobs=1) rendered as JSON; (seconds, report, breakdown)."""
    import paybill_iac.preview.policies as policies
    from paybill_iac.preview import Options, render, run_preview

    spent = {"stack programs": 0.0, "policy packs": 0.0}
    evaluate = policies.evaluate_stack

    def timed_evaluate(*args: Any, **kwargs: Any) -> Any:
        begin = time.perf_counter()
        try:
            return evaluate(*args, **kwargs)
        finally:
            spent["policy packs"] += time.perf_counter() - begin

    import paybill_iac.mockrun as mockrun

    original = mockrun.run_stack

    def timed_run(*args: Any, **kwargs: Any) -> Any:
        begin = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent["stack programs"] += time.perf_counter() - begin

    policies.evaluate_stack, mockrun.run_stack = timed_evaluate, timed_run
    try:
        started = time.perf_counter()
        report = run_preview(Options(catalog=catalog, jobs=1, progress=False))
        render(report, "json")
        elapsed = time.perf_counter() - started
    finally:
        policies.evaluate_stack, mockrun.run_stack = evaluate, original
    spent["catalog, config, report"] = elapsed - spent["stack programs"] - spent["policy packs"]
    return elapsed, report, spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        catalog = write_catalog(Path(folder) / "catalog", args.tenants)
        _, report, _ = preview_run(catalog)  # warm-up: provider SDKs loaded, heap settled
        stacks = report["tenants"] + report["cells"]
        bare_programs(catalog)
        floor_run(stacks)
        gc.collect()
        gc.freeze()
        previews, bares, floors, breakdowns = [], [], [], []
        for _ in range(args.repeat):
            seconds, report, spent = preview_run(catalog)
            previews.append(seconds)
            breakdowns.append(spent)
            bares.append(bare_programs(catalog))
            floors.append(floor_run(report["tenants"] + report["cells"]))
    resources = report["summary"]["resources"]
    preview, bare, floor = statistics.median(previews), statistics.median(bares), statistics.median(floors)
    ratio = preview / bare
    print(f"catalog: {args.tenants} tenants, {len(stacks)} stacks, {resources} resources; "
          f"median of {args.repeat} runs in one process")
    print(f"paybill-iac preview (jobs=1):              {preview:6.2f} s  {1000 * preview / len(stacks):5.1f} ms/stack")
    middle = breakdowns[len(breakdowns) // 2]
    for part, value in middle.items():
        print(f"  {part:<40} {value:6.2f} s")
    print(f"bare: same programs, plain mock runtime:   {bare:6.2f} s  {1000 * bare / len(stacks):5.1f} ms/stack")
    print(f"floor: same resources as generic resources: {floor:5.2f} s  {1000 * floor / resources:5.2f} ms/resource")
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"overhead ratio preview / bare: {ratio:.2f}x ({verdict} the target of {TARGET}x)")
    own = preview / middle["stack programs"]
    print(f"preview / its own stack-program time (policies, catalog, report on top): {own:.2f}x")
    print(f"for reference: preview / floor {preview / floor:.2f}x, bare / floor {bare / floor:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The cost of the in-program policy enforcement: every example stack program under the mock runtime,
with the enforcement (as shipped) and without it (its hook replaced by a no-op), several rounds each,
alternating; prints each side's time and the overhead ratio (the target is at most 10%). Times are the
process's CPU time (`time.process_time`), so other work on the machine does not blur the ratio.

    .venv/bin/python benchmarks/in_program_policies.py [--rounds N]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "components"), str(REPO / "policy_packs")]


class _Off:
    def finish(self) -> None:
        return None


def _stacks() -> list[tuple[str, str, dict[str, Any], str | None, str | None]]:
    from paybill_iac.catalog import load_catalog
    from paybill_iac.model.spec import cell_spec, cells_in_use, tenant_spec

    catalog = load_catalog(REPO / "stacks" / "catalog")
    found: list[tuple[str, str, dict[str, Any], str | None, str | None]] = [
        ("paybill-cell", cell, cell_spec(catalog, cell).to_config(), None, None) for cell in cells_in_use(catalog)]
    for tenant in sorted(catalog.tenants):
        spec = tenant_spec(catalog, tenant)
        if spec is not None:
            found.append(("paybill-tenant", tenant, spec.to_config(), spec.cell_stack, spec.cell))
    return found


def _round(stacks: list[Any], enforce: bool) -> float:
    import paybill_components.stack as stack_module

    from paybill_iac.mockrun import run_stack

    original = stack_module._enforce_policies
    if not enforce:
        stack_module._enforce_policies = lambda spec: _Off()  # type: ignore[assignment]
    outputs: dict[str, Any] = {}
    total = 0.0
    try:
        for project, stack, config, cell_stack, cell in stacks:
            program = REPO / "stacks" / ("cell" if project == "paybill-cell" else "tenant") / "__main__.py"
            references = {cell_stack: outputs[cell]} if cell_stack and cell in outputs else {}
            gc.collect()
            started = time.process_time()
            run = run_stack(program, project=project, stack=stack, config=config, stack_references=references,
                            drop_aliases=True)
            total += time.process_time() - started
            if project == "paybill-cell":
                outputs[stack] = run.outputs
    finally:
        stack_module._enforce_policies = original
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    stacks = _stacks()
    _round(stacks, True)  # warm up: provider modules, the rule registry
    _round(stacks, False)
    on: list[float] = []
    off: list[float] = []
    for _ in range(rounds):
        off.append(_round(stacks, False))
        on.append(_round(stacks, True))
    with_policies, without = statistics.median(on), statistics.median(off)
    ratio = (with_policies - without) / without
    print(f"{len(stacks)} stack programs under the mock runtime, median of {rounds} rounds:")
    print(f"  without in-program policies  {without:.3f} s")
    print(f"  with in-program policies     {with_policies:.3f} s")
    print(f"  overhead ratio               {ratio:+.1%} (target: at most +10%)")


if __name__ == "__main__":
    main()

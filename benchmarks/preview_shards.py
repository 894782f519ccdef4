"""A sharded preview against the unsharded one: each shard's time against an Nth of the unsharded time
(target: within 15%), and the merge (target: at most 2 s for 10,000 tenants).

    python benchmarks/preview_shards.py [--tenants 1000] [--shards 8] [--jobs 2] [--merge-tenants 10000]

Runs the real commands in subprocesses, cold start included, one after another on this machine (in CI
the shards run side by side on their own runners): `paybill-iac preview CATALOG` once, then
`paybill-iac preview CATALOG --shard I/N` for each I, then `paybill-iac preview merge` of the shards'
JSON reports, checked to render the unsharded report (its JSON: the unsharded report with slim stacks,
paybill_iac.preview.shard.slim_report). The merge is also timed on `--merge-tenants`
tenants: the shards' reports replicated under new stack names (the merge reads, sorts and sums; its time
grows with the stacks, not with what they hold).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.synthetic import write_catalog  # noqa: E402
from paybill_iac.preview.shard import slim_report  # noqa: E402

BALANCE = 0.15
MERGE_SECONDS = 2.0


CPU: list[float] = []  # the CPU seconds (user + system) of each run, its worker processes included


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(arguments: list[str]) -> float:
    started, cpu = time.perf_counter(), _cpu()
    done = subprocess.run([sys.executable, "-m", "paybill_iac.cli", *arguments], capture_output=True, text=True,
                          env=dict(os.environ, CI="1"))
    seconds = time.perf_counter() - started
    CPU.append(_cpu() - cpu)
    if done.returncode not in (0, 1):
        raise SystemExit(f"`paybill-iac {' '.join(arguments)}` failed ({done.returncode}): {done.stderr}")
    return seconds


def _comparable(report: dict) -> dict:
    report = copy.deepcopy(report)
    report["summary"].pop("seconds")
    report["summary"].pop("jobs")
    return report


def _scaled(shards: list[Path], factor: int, folder: Path) -> list[Path]:
    """The shards' reports with every stack repeated `factor` times under new names."""
    paths = []
    for path in shards:
        report = json.loads(path.read_text())
        for key in ("tenants", "cells"):
            report[key] = [dict(stack, stack=f"{stack['stack']}-{copy_number}",
                                tenant=f"{stack['tenant']}-{copy_number}" if stack["tenant"] else None)
                           for stack in report[key] for copy_number in range(factor)]
        target = folder / f"scaled-{path.name}"
        target.write_text(json.dumps(report))
        paths.append(target)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--merge-tenants", type=int, default=10000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        catalog = write_catalog(folder / "catalog", args.tenants)
        common = ["--jobs", str(args.jobs), "--no-progress", "--format", "json"]
        full_seconds = _run(["preview", str(catalog), *common, "--output", str(folder / "full.json")])
        full_cpu = CPU[-1]
        shard_seconds, shard_cpu, paths = [], [], []
        for index in range(1, args.shards + 1):
            path = folder / f"shard-{index}.json"
            shard_seconds.append(_run(["preview", str(catalog), *common, "--shard", f"{index}/{args.shards}",
                                       "--output", str(path)]))
            shard_cpu.append(CPU[-1])
            paths.append(path)
        merge_args = ["preview", "merge", *map(str, paths), "--format", "json", "--output", str(folder / "merged.json"),
                      "--format", "markdown", "--output", str(folder / "merged.md"),
                      "--format", "sarif", "--output", str(folder / "merged.sarif")]
        merge_seconds = _run(merge_args)
        full = json.loads((folder / "full.json").read_text())
        same = _comparable(json.loads((folder / "merged.json").read_text())) == _comparable(slim_report(full))
        inside = [json.loads(path.read_text())["summary"]["seconds"] for path in paths]
        factor = max(1, args.merge_tenants // max(1, args.tenants))
        scaled = _scaled(paths, factor, folder)
        big_merge = _run(["preview", "merge", *map(str, scaled), "--format", "json", "--output",
                          str(folder / "big.json"), "--format", "markdown", "--output", str(folder / "big.md"),
                          "--format", "sarif", "--output", str(folder / "big.sarif")])
        big_tenants = len(json.loads((folder / "big.json").read_text())["tenants"])
    summary = full["summary"]
    share = full_seconds / args.shards
    print(f"catalog: {args.tenants} tenants -> {summary['tenants']} tenant stacks + {summary['cells']} cells; "
          f"{os.cpu_count()} cores, --jobs {args.jobs}")
    print(f"unsharded preview: {full_seconds:.1f} s wall ({summary['seconds']:.1f} s inside the command); "
          f"1/{args.shards} of it: {share:.2f} s")
    worst = 0.0
    for index, (seconds, own) in enumerate(zip(shard_seconds, inside, strict=True), start=1):
        deviation = seconds / share - 1
        worst = max(worst, abs(deviation))
        print(f"  shard {index}/{args.shards}: {seconds:.2f} s wall ({own:.2f} s inside), "
              f"{deviation:+.0%} of 1/{args.shards}")
    spread = (max(shard_seconds) - min(shard_seconds)) / (sum(shard_seconds) / len(shard_seconds))
    print(f"shards: worst {worst:.0%} from 1/{args.shards} of the unsharded time (target {BALANCE:.0%}); "
          f"spread between shards {spread:.0%}; sum {sum(shard_seconds):.1f} s")
    cpu_share = full_cpu / args.shards
    cpu_worst = max(abs(cpu / cpu_share - 1) for cpu in shard_cpu)
    print(f"CPU time (user + system, workers included; steadier than wall time on a busy machine): unsharded "
          f"{full_cpu:.1f} s, 1/{args.shards}: {cpu_share:.2f} s; shards "
          + ", ".join(f"{cpu:.2f}" for cpu in shard_cpu) + f" s: worst {cpu_worst:.0%} from 1/{args.shards}")
    print(f"merge of {args.shards} reports ({summary['tenants']} tenants): {merge_seconds:.2f} s; of {big_tenants} "
          f"tenants: {big_merge:.2f} s (target {MERGE_SECONDS:.0f} s); merged report equals the unsharded one: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

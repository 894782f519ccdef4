"""Catalog scale: validate + generate for a synthetic catalog, beside the time needed only to parse
its YAML files, and the CLI's cold start beside a bare Python start.

    python benchmarks/catalog_scale.py [--tenants 10000] [--repeat 3]

Each figure is the median of --repeat runs of the real `paybill-iac` command in a subprocess; memory
is the peak resident set of that process. Ratios compare figures measured in this same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.synthetic import write_catalog  # noqa: E402

CLI = [sys.executable, "-m", "paybill_iac.cli"]


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak MB) of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024


def parse_only(catalog: Path) -> float:
    """The floor: reading and parsing every catalog file with libyaml, nothing else (in-process,
    after a warm-up read so the page cache is as warm as for the commands)."""
    paths = sorted(catalog.rglob("*.yaml"))
    for path in paths:
        path.read_bytes()
    start = time.perf_counter()
    for path in paths:
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="paybill-bench-"))
    try:
        catalog = write_catalog(work / "catalog", args.tenants)
        parse = median([parse_only(catalog) for _ in range(args.repeat)])
        validate = [timed([*CLI, "validate", str(catalog)], work) for _ in range(args.repeat)]
        first = []
        for attempt in range(args.repeat):
            # A fresh folder each time (deleting 10,000 files just before would bill their removal here).
            out = work / f"out-{attempt}"
            (catalog / "placements.yaml").unlink(missing_ok=True)
            os.sync()
            first.append(timed([*CLI, "generate", str(catalog), "--out", str(out)], work))
        noop = [timed([*CLI, "generate", str(catalog), "--out", str(out)], work) for _ in range(args.repeat)]
        check = subprocess.run([*CLI, "generate", str(catalog), "--out", str(out)], cwd=work, capture_output=True,
                               text=True)
        written = check.stdout.strip().splitlines()[-1]
        bare = median([timed([sys.executable, "-c", "pass"], work)[0] for _ in range(args.repeat * 3)])
        help_start = median([timed([*CLI, "validate", "--help"], work)[0] for _ in range(args.repeat * 3)])

        def row(name: str, runs: list[tuple[float, float]]) -> str:
            seconds = median([r[0] for r in runs])
            return f"| {name} | {seconds:.2f} s | {seconds / parse:.1f}x | {max(r[1] for r in runs):.0f} MB |"

        print(f"Catalog of {args.tenants} tenants, median of {args.repeat} runs (parse-only floor {parse:.2f} s)\n")
        print("| command | time | vs parsing the YAML only | peak memory |")
        print("|---|---|---|---|")
        print(f"| parse the YAML only (libyaml, in-process) | {parse:.2f} s | 1.0x | - |")
        print(row("`paybill-iac validate`", validate))
        print(row("`paybill-iac generate` (first run: writes every file)", first))
        print(row("`paybill-iac generate` (no change)", noop))
        print(f"\nNo-op regenerate: {written}")
        print(f"Cold start: `paybill-iac validate --help` {help_start * 1000:.0f} ms, bare `python -c pass` "
              f"{bare * 1000:.0f} ms ({help_start / bare:.1f}x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

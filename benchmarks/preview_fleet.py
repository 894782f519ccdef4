"""A full preview of a synthetic 1,000-tenant catalog with `--jobs 2` (target: at most 60 s).

    python benchmarks/preview_fleet.py [--tenants 1000] [--jobs 2] [--repeat 1]

Runs the real command (`paybill-iac preview CATALOG --jobs N --format json --output FILE`) in a
subprocess, cold start included; prints the wall time, the time per stack and the peak memory of the
biggest process (the parent or a worker).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.synthetic import write_catalog  # noqa: E402

TARGET_SECONDS = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        catalog = write_catalog(Path(folder) / "catalog", args.tenants)
        output = Path(folder) / "preview.json"
        command = [sys.executable, "-m", "paybill_iac.cli", "preview", str(catalog), "--jobs", str(args.jobs),
                   "--format", "json", "--output", str(output)]
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, CI="1"))
            times.append(time.perf_counter() - started)
            if done.returncode not in (0, 1):
                print(done.stderr, file=sys.stderr)
                return 1
        report = json.loads(output.read_text())
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = report["summary"]
    stacks = summary["tenants"] + summary["cells"]
    seconds = statistics.median(times)
    print(f"catalog: {args.tenants} tenants -> {summary['tenants']} tenant stacks + {summary['cells']} cells, "
          f"{summary['resources']} resources, {summary['violations']['mandatory']} mandatory violations, "
          f"{len(summary['failed'])} failed")
    print(f"machine: {os.cpu_count()} cores; --jobs {args.jobs}")
    print(f"full preview: {seconds:.1f} s wall ({1000 * seconds / stacks:.1f} ms per stack; "
          f"{summary['seconds']:.1f} s inside the command), peak {peak_mb:.0f} MB per process")
    verdict = "meets" if seconds <= TARGET_SECONDS else "MISSES"
    print(f"{verdict} the target of {TARGET_SECONDS:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

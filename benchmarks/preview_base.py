"""`preview --base` with one changed tenant in a 10,000-tenant catalog (target: at most 5 s).

    python benchmarks/preview_base.py [--tenants 10000] [--repeat 3]

A temporary git repository holds a synthetic catalog (benchmarks/synthetic.py) at stacks/catalog,
committed; one silo tenant is then suspended in the working tree, and the real command
`paybill-iac preview stacks/catalog --base HEAD --format json` runs in a subprocess (cold start
included). Also shown: the time `validate` needs for the catalog, for scale, and with --plan-change
a change that affects a third of the tenants (the base catalog is then loaded in full).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.synthetic import tenant_id, write_catalog  # noqa: E402

TARGET_SECONDS = 5.0
CLI = [sys.executable, "-m", "paybill_iac.cli"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c",
                    "commit.gpgsign=false", *args], cwd=repo, check=True, capture_output=True)


def timed(command: list[str], cwd: Path, repeat: int) -> tuple[float, subprocess.CompletedProcess[str]]:
    times, done = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=dict(os.environ, CI="1"))
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    assert done is not None
    return statistics.median(times), done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plan-change", action="store_true",
                        help="Also time a plan change (a third of the tenants affected; minutes at 10,000).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        catalog = write_catalog(repo / "stacks" / "catalog", args.tenants)
        subprocess.run([*CLI, "generate", str(catalog), "--out", str(repo / "generated")], check=True,
                       capture_output=True)  # writes placements.yaml, as a committed catalog has it
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "stacks")
        git(repo, "commit", "-q", "-m", "catalog")
        validate, _ = timed([*CLI, "validate", "stacks/catalog"], repo, args.repeat)

        changed = tenant_id(8)  # an AWS silo tenant (plan enterprise)
        path = catalog / "tenants" / f"{changed}.yaml"
        path.write_text(path.read_text().replace("state: active", "state: suspended"))
        seconds, done = timed([*CLI, "preview", "stacks/catalog", "--base", "HEAD", "--format", "json"], repo,
                              args.repeat)
        report = json.loads(done.stdout)
        previewed = [stack["stack"] for stack in report["tenants"] + report["cells"]]

        plan_line = ""
        if args.plan_change:
            plans = catalog / "plans.yaml"
            plans.write_text(plans.read_text().replace("seats: 5000", "seats: 5001"))
            plan_seconds, plan_done = timed(
                [*CLI, "preview", "stacks/catalog", "--base", "HEAD", "--format", "json"], repo, 1)
            affected = len(json.loads(plan_done.stdout)["tenants"])
            plan_line = f"for scale, a plan change affecting {affected} tenants: {plan_seconds:.1f} s"
    print(f"catalog: {args.tenants} tenants; `validate` takes {validate:.2f} s")
    print(f"one tenant changed ({changed}): previewed {previewed}; "
          f"{report['base']['changes']['resources']} resources changed")
    verdict = "meets" if seconds <= TARGET_SECONDS else "MISSES"
    print(f"preview --base: {seconds:.2f} s wall (median of {args.repeat}); {verdict} the target of "
          f"{TARGET_SECONDS:.0f} s")
    if plan_line:
        print(plan_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

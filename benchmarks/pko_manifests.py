"""Operator manifests for a synthetic catalog of 10,000 tenants against `paybill-iac generate` (target:
`fleet manifests` within 2x the time of `generate`).

    python benchmarks/pko_manifests.py [--tenants 10000] [--repeat 3]

Both commands run as subprocesses, cold start included: a first run into an empty folder (every file
written) and a run with nothing to change (every file compared); the median of `--repeat` runs each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.synthetic import write_catalog  # noqa: E402

TARGET_RATIO = 2.0
SETTINGS = """pko:
  namespace: paybill-stacks
  program:
    git: {repo: "https://github.com/acme/paybill-iac.git", branch: main, auth: {secret: paybill-git, key: token}}
  backend:
    url: {secret: pulumi-backend, key: url}
    passphrase: {secret: pulumi-backend, key: passphrase}
  credentials:
    aws: {AWS_ACCESS_KEY_ID: {secret: aws, key: id}, AWS_SECRET_ACCESS_KEY: {secret: aws, key: secret}}
  workspace: {requests: {cpu: 500m, memory: 1Gi}}
"""


def _timed(arguments: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "paybill_iac.cli", *arguments], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"`paybill-iac {' '.join(arguments)}` failed: {done.stderr}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        catalog = write_catalog(folder / "catalog", args.tenants)
        settings = folder / "paybill.yaml"
        settings.write_text(SETTINGS)
        # Each run reads a fresh copy of the catalog (no placement ledger yet: both commands place every
        # tenant); `generate` writes the ledger into its copy, which the next run does not read.
        fresh = folder / "fresh"

        def copy() -> Path:
            shutil.rmtree(fresh, ignore_errors=True)
            return Path(shutil.copytree(catalog, fresh))

        for _ in range(args.repeat):
            for name, command, out in (
                ("generate", ["generate", str(fresh), "--out"], folder / "stacks"),
                ("fleet manifests", ["fleet", "manifests", "--catalog", str(fresh), "--settings", str(settings),
                                     "--out"], folder / "pko"),
            ):
                shutil.rmtree(out, ignore_errors=True)
                copy()
                figures.setdefault(f"{name} (first run)", []).append(_timed([*command, str(out)]))
                copy()
                figures.setdefault(f"{name} (no change)", []).append(_timed([*command, str(out)]))
        files = sum(1 for _ in (folder / "pko").rglob("*.yaml"))
        size_mb = sum(path.stat().st_size for path in (folder / "pko").rglob("*.yaml")) / 1e6
    print(f"catalog: {args.tenants} tenants; {files} Stack files ({size_mb:.0f} MB); {os.cpu_count()} cores; "
          f"median of {args.repeat}")
    median = {name: statistics.median(values) for name, values in figures.items()}
    for name, seconds in median.items():
        print(f"  {name}: {seconds:.2f} s")
    worst = 0.0
    for case in ("first run", "no change"):
        ratio = median[f"fleet manifests ({case})"] / median[f"generate ({case})"]
        worst = max(worst, ratio)
        print(f"fleet manifests / generate ({case}): {ratio:.2f}x (target at most {TARGET_RATIO:.0f}x)")
    print(("meets" if worst <= TARGET_RATIO else "MISSES") + f" the target of {TARGET_RATIO:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

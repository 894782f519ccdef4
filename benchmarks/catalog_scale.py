"""Catalog scale: validate + generate for a synthetic catalog, beside the time needed only to parse
its YAML files, and the CLI's cold start beside a bare Python start.

    python benchmarks/catalog_scale.py [--tenants 10000] [--repeat 3] [--no-bytecode-cache]

Each figure is the median of --repeat runs of the real `paybill-iac` command in a subprocess; memory
is the peak resident set of that command's largest process (the command or one of its forked
workers, which share its pages). Ratios compare figures measured in this same run, and are checked
against the targets of issue 9.

The commands run with a bytecode cache for paybill-iac's own modules, as an installed package has
(in a temporary folder: the source tree is left alone), warmed by one run first. Without it (where
PYTHONDONTWRITEBYTECODE is set and nothing was compiled yet) every run compiles those modules again;
--no-bytecode-cache measures that.
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

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.synthetic import write_catalog  # noqa: E402

CLI = [sys.executable, "-m", "paybill_iac.cli"]

# Issue 9: each command's time over the parse-only floor, and peak memory.
TARGETS = {"validate": 1.5, "noop": 2.0, "help": 2.0}
MEMORY_TARGET_MB = 150


class Failed(Exception):
    """A command exited non-zero: its figures are missing, and the reason is printed instead."""


def run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak MB) of one run of `command`. Waiting with wait4 gives that process's own
    resource usage, which covers the workers it waited for (ru_maxrss: the largest of them)."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            lines = errors.read().decode().strip().splitlines() or [f"exit {process.returncode}"]
            raise Failed(f"`{' '.join(['paybill-iac', *command[3:]])}` failed: {' '.join(lines[-2:])}")
    return elapsed, usage.ru_maxrss / 1024


Runs = list[tuple[float, float]] | Failed


def runs(commands: list[list[str]], cwd: Path, env: dict[str, str]) -> Runs:
    try:
        return [run(command, cwd, env) for command in commands]
    except Failed as failure:
        return failure


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


def command_env(work: Path, bytecode_cache: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PAYBILL_CACHE_DIR"] = str(work / "cache")  # generate's memo: this run's own, as a user's would be
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-bytecode-cache", dest="bytecode_cache", action="store_false",
                        help="run the commands as the environment says (PYTHONDONTWRITEBYTECODE)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="paybill-bench-"))
    try:
        env = command_env(work, args.bytecode_cache)
        catalog = write_catalog(work / "catalog", args.tenants)
        run([*CLI, "validate", "--help"], work, env)  # compiles the modules into the cache, if any
        parse = median([parse_only(catalog) for _ in range(args.repeat)])
        validate = runs([[*CLI, "validate", str(catalog)]] * args.repeat, work, env)
        first: Runs = []
        for attempt in range(args.repeat):
            # A fresh folder each time (deleting 10,000 files just before would bill their removal here).
            out = work / f"out-{attempt}"
            (catalog / "placements.yaml").unlink(missing_ok=True)
            os.sync()
            done = runs([[*CLI, "generate", str(catalog), "--out", str(out)]], work, env)
            first = done if isinstance(done, Failed) or isinstance(first, Failed) else first + done
        noop = runs([[*CLI, "generate", str(catalog), "--out", str(out)]] * args.repeat, work, env)
        check = subprocess.run([*CLI, "generate", str(catalog), "--out", str(out)], cwd=work, capture_output=True,
                               text=True, env=env)
        written = (check.stdout.strip().splitlines() or check.stderr.strip().splitlines() or ["?"])[-1]
        bare = median([run([sys.executable, "-c", "pass"], work, env)[0] for _ in range(args.repeat * 3)])
        help_start = median([run([*CLI, "validate", "--help"], work, env)[0] for _ in range(args.repeat * 3)])

        def seconds(measured: Runs) -> float:
            return median([r[0] for r in measured]) if not isinstance(measured, Failed) else float("nan")

        def peak(measured: Runs) -> float:
            return max(r[1] for r in measured) if not isinstance(measured, Failed) else float("nan")

        def row(name: str, measured: Runs) -> str:
            if isinstance(measured, Failed):
                return f"| {name} | {measured} | - | - |"
            time_taken = seconds(measured)
            return f"| {name} | {time_taken:.2f} s | {time_taken / parse:.1f}x | {peak(measured):.0f} MB |"

        cache = "with a bytecode cache" if args.bytecode_cache else "without a bytecode cache for paybill-iac"
        print(f"Catalog of {args.tenants} tenants, median of {args.repeat} runs (parse-only floor {parse:.2f} s), "
              f"{os.cpu_count()} cores, commands {cache}\n")
        print("| command | time | vs parsing the YAML only | peak memory |")
        print("|---|---|---|---|")
        print(f"| parse the YAML only (libyaml, in-process) | {parse:.2f} s | 1.0x | - |")
        print(row("`paybill-iac validate`", validate))
        print(row("`paybill-iac generate` (first run: writes every file)", first))
        print(row("`paybill-iac generate` (no change)", noop))
        print(f"\nNo-op regenerate: {written}")
        print(f"Cold start: `paybill-iac validate --help` {help_start * 1000:.0f} ms, bare `python -c pass` "
              f"{bare * 1000:.0f} ms ({help_start / bare:.1f}x)\n")

        def verdict(name: str, value: float, target: float, unit: str = "x") -> str:
            if value != value:  # nan: the command failed
                return f"{name}: no figure, the command failed (target {target:g}{unit}) MISSED"
            return f"{name} {value:.2f}{unit} (target {target:g}{unit}) {'ok' if value <= target else 'MISSED'}"

        peaks = [peak(measured) for measured in (validate, first, noop) if not isinstance(measured, Failed)]
        print("Against the targets:")
        print("  " + verdict("validate", seconds(validate) / parse, TARGETS["validate"]))
        print("  " + verdict("no-op generate", seconds(noop) / parse, TARGETS["noop"]))
        print("  " + verdict("peak memory", max(peaks) if peaks else float("nan"), MEMORY_TARGET_MB, " MB"))
        print("  " + verdict("validate --help vs python -c pass", help_start / bare, TARGETS["help"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

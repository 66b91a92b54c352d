"""CLI start-up: `liftlab --help` and `liftlab validate experiments/`, each in a fresh process.

Run: python benchmarks/bench_cli.py [RUNS]   (default 15 runs of each, median wall clock)

Targets (issue #15): --help < 0.3 s, validate experiments/ < 0.6 s. The baseline, measured in
the same run, is the interpreter's own start (`python -c pass`): what no CLI can go below.
Each command runs as `python -m liftlab.cli`-style through the same interpreter, so the
figures do not depend on how the console script was installed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = "from liftlab.cli import main; main()"  # what the `liftlab` console script runs

COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "liftlab --help": [sys.executable, "-c", ENTRY, "--help"],
    "liftlab validate experiments/": [sys.executable, "-c", ENTRY, "validate", "experiments/"],
}
TARGETS = {"liftlab --help": 0.3, "liftlab validate experiments/": 0.6}


def wall_clock(command: list[str]) -> float:
    """Seconds from spawning `command` to its exit; it must succeed."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(runs: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for name, command in COMMANDS.items():
        wall_clock(command)  # warm the file-system cache; not counted
    for _ in range(runs):  # interleaved, so a busy moment slows every command alike
        for name, command in COMMANDS.items():
            times[name].append(wall_clock(command))
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"median of {runs} fresh processes each")
    print(f"{'command':<32} {'median':>8} {'target':>8} {'vs python -c pass':>18}")
    for name, taken in times.items():
        median = statistics.median(taken)
        target = f"{TARGETS[name]:.1f}s" if name in TARGETS else "-"
        print(f"{name:<32} {median:7.3f}s {target:>8} {median / base:17.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)

"""CLI start-up: `liftlab --help` and `liftlab validate experiments/`, each in a fresh process.

Run: python benchmarks/bench_cli.py [RUNS]   (default 15 runs of each, median wall clock)

Targets (issue #15): --help < 0.3 s, validate experiments/ < 0.6 s. The baseline, measured in
the same run, is the interpreter's own start (`python -c pass`): what no CLI can go below.
Each command runs through the same interpreter as the console script's entry point, so the
figures do not depend on how the script was installed. Wall clock is the target; the CPU
time (user + system) of the child is printed too, as it moves less when other work shares
the machine.
"""

from __future__ import annotations

import resource
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


def run(command: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds from spawning `command` to its exit; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(runs: int) -> None:
    wall: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for command in COMMANDS.values():
        run(command)  # warm the file-system cache; not counted
    for _ in range(runs):  # interleaved, so a busy moment slows every command alike
        for name, command in COMMANDS.items():
            seconds, cpu_seconds = run(command)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    base = statistics.median(wall["python -c pass (baseline)"])
    print(f"median of {runs} fresh processes each")
    print(f"{'command':<32} {'wall':>8} {'target':>8} {'vs python -c pass':>18} {'cpu':>8}")
    for name, taken in wall.items():
        median = statistics.median(taken)
        target = f"{TARGETS[name]:.1f}s" if name in TARGETS else "-"
        print(f"{name:<32} {median:7.3f}s {target:>8} {median / base:17.1f}x {statistics.median(cpu[name]):7.3f}s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)

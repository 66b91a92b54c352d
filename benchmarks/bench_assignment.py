"""Batch assignment speed: ids/s from a pandas column, vs a pure-Python per-id loop.

Run: python benchmarks/bench_assignment.py [N]   (default 10,000,000 ids)
Targets on a 2-core machine: >= 3 million ids/s and >= 10x the pure-Python loop of the same
hash; a single assign_one under 50 us.
"""

from __future__ import annotations

import sys
import time
from datetime import date

import numpy as np
import pandas as pd

from liftlab import Arm, Campaign, Experiment, Metric, Project
from liftlab.assignment.arms import assign, assign_one
from liftlab.assignment.hashing import bucket, bucket_many


def main(n: int) -> None:
    ids = pd.Series([f"cust-{i:09d}" for i in range(n)], dtype=object)
    print(f"{n:,} string ids from a pandas column")

    start = time.perf_counter()
    batch = bucket_many("winback-2026q4", ids)
    batch_s = time.perf_counter() - start
    batch_rate = n / batch_s

    sample = ids.iloc[:200_000].tolist()
    start = time.perf_counter()
    loop = [bucket("winback-2026q4", unit_id) for unit_id in sample]
    loop_rate = len(sample) / (time.perf_counter() - start)
    assert np.array_equal(np.array(loop), batch[: len(sample)]), "batch differs from scalar"

    print(f"  bucket_many (vectorised)   {batch_rate / 1e6:6.2f} M ids/s  ({batch_s:.2f} s)")
    print(f"  pure-Python loop           {loop_rate / 1e6:6.2f} M ids/s  (200,000 ids, scaled)")
    print(f"  ratio                      {batch_rate / loop_rate:6.1f}x")

    experiment = Experiment(
        key="bench", start=date(2026, 1, 1), layer="email", layer_range=(0.0, 0.5),
        metrics=(Metric("purchase", "conversion"),),
        campaigns=(Campaign("at_risk", arms=(Arm("control", 0.2, control=True), Arm("offer", 0.8))),),
    )
    project = Project(holdout_fraction=0.05, holdout_salt="global")
    customers = pd.DataFrame({"unit_id": ids, "segment": "at_risk"})
    start = time.perf_counter()
    result = assign(experiment, customers, project)
    full_s = time.perf_counter() - start
    print(f"  assign() with holdout + layer + arms: {n / full_s / 1e6:.2f} M customers/s "
          f"({len(result.assignments):,} assigned)")

    repeats = 20_000
    start = time.perf_counter()
    for i in range(repeats):
        assign_one(experiment, sample[i % len(sample)], "at_risk", project)
    one_us = (time.perf_counter() - start) / repeats * 1e6
    print(f"  assign_one                 {one_us:6.1f} us per call")
    ok = batch_rate >= 3e6 and batch_rate / loop_rate >= 10 and one_us < 50
    print("targets (>= 3 M ids/s, >= 10x loop, assign_one < 50 us):", "OK" if ok else "MISSED")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)

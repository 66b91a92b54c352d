"""Assignment inside the engines: DuckDB's Arrow UDF and Spark local vs `assign()` in process.

Run: python benchmarks/bench_assign_engines.py [N ...]   (default 1,000,000 and 10,000,000 ids)

N customers (ids of many scripts: ASCII, integer-like, emoji, CJK, accented, Cyrillic,
Arabic; the eleven lifecycle segments at random) are written to one Parquet file. Each
engine assigns the three demo experiments (global holdout, layers) from that file and
writes the assignments back as Parquet; the time covers the engine's whole-table check, the
hashing and the write. The baseline (issue #16 item 3) is `assign()` in this process on the
same customers already in memory as a pandas frame — no file read, no write. Rows are
customers × experiments per second; ratio = liftlab rows/s ÷ baseline rows/s.

Spark runs `local[2]`, its session started before the clock (~10 s, once per application).
Each engine runs the whole batch twice and keeps the faster run (the first Spark job also
starts its Python workers).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from liftlab import Experiment, Project, load_experiments, load_project
from liftlab.assignment.arms import assign
from liftlab.lifecycle.catalog import SEGMENT_NAMES

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("c{:07d}", "{}", "😀{}", "顧客{}", "José-{}", "клиент{}🎉", "مشتری{}", "00{}")


def customers(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [SHAPES[i % len(SHAPES)].format(i) for i in range(n)]
    return pd.DataFrame({"customer_id": pd.array(ids, dtype="str"),
                         "segment": pd.array(rng.choice(SEGMENT_NAMES, n), dtype="str")})


def best_of(runs: int, work: Callable[[], int]) -> tuple[float, int]:
    """The fastest of `runs` runs, and the rows the last one assigned."""
    times, rows = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        rows = work()
        times.append(time.perf_counter() - start)
    return min(times), rows


def in_process(frame: pd.DataFrame, experiments: list[Experiment], project: Project) -> int:
    """The baseline: `assign()` on the customers already in memory."""
    return sum(len(assign(e, frame, project).assignments) for e in experiments)


def on_duckdb(source: str, folder: Path, experiments: list[Experiment], project: Project) -> int:
    """Each experiment assigned by DuckDB's UDF from the Parquet file and copied to Parquet."""
    import duckdb

    from liftlab.warehouse.assignment import assign_duckdb

    connection = duckdb.connect()
    total = 0
    for number, experiment in enumerate(experiments):
        out = str(folder / f"duckdb_{number}.parquet")
        relation = assign_duckdb(connection, experiment, source, project)
        relation.query("a", f"COPY (SELECT * FROM a) TO '{out}' (FORMAT parquet)")
        total += connection.sql(f"SELECT count(*) FROM '{out}'").fetchone()[0]
    return total


def on_spark(spark: Any, source: str, folder: Path, experiments: list[Experiment],
             project: Project) -> int:
    """Each experiment assigned by Spark from the Parquet file and written as Parquet."""
    from liftlab.warehouse.assignment import assign_spark

    table = spark.read.parquet(source)
    total = 0
    for number, experiment in enumerate(experiments):
        out = str(folder / f"spark_{number}")
        assign_spark(experiment, table, project).write.mode("overwrite").parquet(out)
        total += spark.read.parquet(out).count()
    return total


def main(sizes: list[int]) -> None:
    from liftlab.warehouse.spark import spark_session

    experiments = load_experiments(ROOT / "experiments")
    project = load_project(ROOT / "experiments")
    started = time.perf_counter()
    spark = spark_session("local[2]", app_name="liftlab-bench")
    print(f"Spark session local[2] started in {time.perf_counter() - started:.1f} s (not timed below)")
    print(f"{'ids':>11} {'engine':<16} {'liftlab s':>10} {'rows/s':>12} {'baseline s':>11} "
          f"{'rows/s':>12} {'ratio':>7}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            frame = customers(n)
            source = str(folder / "customers.parquet")
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source)
            units = n * len(experiments)
            baseline, expected = best_of(2, partial(in_process, frame, experiments, project))
            engines: list[tuple[str, Callable[[], int]]] = [
                ("DuckDB UDF", partial(on_duckdb, source, folder, experiments, project)),
                ("Spark local[2]", partial(on_spark, spark, source, folder, experiments, project)),
            ]
            for engine, work in engines:
                seconds, rows = best_of(2, work)
                assert rows == expected, (engine, rows, expected)
                print(f"{n:>11,} {engine:<16} {seconds:>10.2f} {units / seconds:>12,.0f} "
                      f"{baseline:>11.2f} {units / baseline:>12,.0f} {baseline / seconds:>7.3f}",
                      flush=True)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1_000_000, 10_000_000])

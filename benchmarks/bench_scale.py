"""A full report where the events live, at 1M, 10M and 100M conversion events, per engine.

Run: python benchmarks/bench_scale.py [--sizes 1M,10M,100M] [--engines duckdb,spark,sqlite]
                                      [--folder DIR] [--sqlite-max 10M] [--spark-master local[2]]

The lake is generated once per size as Parquet (by DuckDB, kept in --folder for the next run):
customers (1M for the 1M and 10M sizes, 10M for 100M), 90% of them exposed to one experiment
(four segments × 2–3 arms, a 10% global holdout in `assignments`), and 1M / 10M / 100M
purchases over 50 days with TIMESTAMP columns, as a lake holds them. A full report is
`analyze_source` for the experiment: two metrics (conversion and revenue, 14-day window, CUPED
pre-period) and the holdout comparison — four queries, only aggregates returned.

Engines: DuckDB over the Parquet files; Spark local (`--spark-master`, session start-up timed
apart and not counted: a cluster keeps its session); SQLite, the baseline, over the same rows
loaded into one SQLite file (epoch µs, indexed on (unit_id, event, ts) and (experiment,
unit_id) as the liftlab store is; load time not counted) — up to --sqlite-max events, beyond
which loading alone takes longer than the whole benchmark. Printed per size and engine: the
report's seconds, events/s, growth against the previous size, and the ratio to SQLite where
SQLite ran. Every engine's report is checked equal to DuckDB's ("agree").
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

# The experiment of bench_analyze.py (four segments × 2–3 arms, two 14-day metrics); the
# benchmarks' folder is on the path when a script in it runs.
from bench_analyze import EXPERIMENT

from liftlab.config.sources import Source
from liftlab.warehouse import analyze_source

#: Arms per segment as SQL: segment index → (arm keys, cumulative weights).
_ARMS = [(c.segment, [a.key for a in c.arms], [a.weight for a in c.arms]) for c in EXPERIMENT.campaigns]


def parse_size(text: str) -> int:
    """'1M' → 1_000_000, '100k' → 100_000, '2500' → 2500."""
    text = text.strip().upper()
    factor = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def customers_for(events: int) -> int:
    """1M customers up to 10M events, 10M beyond (the issue's 1M / 10M customers)."""
    return 1_000_000 if events <= 10_000_000 else 10_000_000


def _arm_case() -> str:
    """SQL choosing segment then arm from two uniform draws u1, u2 (the benchmark's own
    randomisation: the hash is not what is measured here)."""
    segments = "CASE " + " ".join(f"WHEN u1 < {(i + 1) / len(_ARMS)} THEN '{s}'"
                                  for i, (s, _, _) in enumerate(_ARMS[:-1])) + f" ELSE '{_ARMS[-1][0]}' END"
    arms = []
    for i, (_, keys, weights) in enumerate(_ARMS):
        lo, hi = i / len(_ARMS), (i + 1) / len(_ARMS)
        edges, total = [], 0.0
        for key, weight in zip(keys[:-1], weights[:-1], strict=True):
            total += weight
            edges.append(f"WHEN u2 < {total} THEN '{key}'")
        arms.append(f"WHEN u1 >= {lo} AND u1 < {hi} THEN CASE {' '.join(edges)} ELSE '{keys[-1]}' END")
    return f"{segments} AS segment, CASE {' '.join(arms)} END AS arm"


def generate(folder: Path, events: int) -> dict[str, str]:
    """The lake of one size as Parquet (kept: generated only when missing)."""
    customers = customers_for(events)
    lake = folder / f"lake_{EXPERIMENT.key}_{customers}_{events}"
    paths = {name: str(lake / f"{name}.parquet") for name in ("exposures", "conversions", "assignments")}
    if all(Path(p).exists() for p in paths.values()):
        return paths
    lake.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SELECT setseed(0.16)")
    con.execute(f"""CREATE TABLE people AS SELECT range AS unit_id, random() < 0.1 AS holdout
                    FROM range({customers})""")
    con.execute(f"""COPY (SELECT unit_id, '{EXPERIMENT.key}' AS experiment, holdout FROM people)
                    TO '{paths["assignments"]}' (FORMAT parquet)""")
    start = "TIMESTAMP '2026-10-01 00:00:00'"
    con.execute(f"""COPY (
        SELECT unit_id, '{EXPERIMENT.key}' AS experiment, {_arm_case()},
               {start} + to_microseconds(CAST(u3 * 7 * 86400e6 AS BIGINT)) AS event_time
        FROM (SELECT unit_id, random() AS u1, random() AS u2, random() AS u3 FROM people WHERE NOT holdout)
    ) TO '{paths["exposures"]}' (FORMAT parquet)""")
    con.execute(f"""COPY (
        SELECT CAST(floor(random() * {customers}) AS BIGINT) AS unit_id, 'purchase' AS event,
               round(exp(3 + 1.0 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())), 2) AS value,
               {start} - INTERVAL 20 DAY + to_microseconds(CAST(random() * 50 * 86400e6 AS BIGINT)) AS event_time
        FROM range({events})
    ) TO '{paths["conversions"]}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)""")
    con.close()
    return paths


def _source(name: str, url: str, paths: dict[str, str], **kw: Any) -> Source:
    from liftlab.config.sources import Columns

    return Source(name, url, paths["exposures"], paths["conversions"], paths["assignments"],
                  columns=Columns(timestamp="event_time"), **kw)


def sqlite_copy(paths: dict[str, str], target: Path) -> Source:
    """The lake's rows in one SQLite file, timestamps as epoch µs, indexed as the store is."""
    if not target.exists():
        partial = target.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        con = duckdb.connect()
        con.execute(f"ATTACH '{partial}' AS lite (TYPE sqlite)")
        for name, path in paths.items():
            columns = "* REPLACE (epoch_us(event_time) AS event_time)" if name != "assignments" else "*"
            con.execute(f"CREATE TABLE lite.{name} AS SELECT {columns} FROM read_parquet('{path}')")
        con.close()
        import sqlite3

        db = sqlite3.connect(partial)
        db.execute("CREATE INDEX conversions_unit ON conversions (unit_id, event, event_time)")
        db.execute("CREATE INDEX exposures_unit ON exposures (experiment, unit_id)")
        db.execute("CREATE INDEX assignments_unit ON assignments (experiment, unit_id)")
        db.execute("ANALYZE")
        db.commit()
        db.close()
        partial.rename(target)
    return _source("lite", f"sqlite:///{target}", {n: n for n in paths}, timestamps="epoch_us")


@dataclass(frozen=True)
class Timing:
    engine: str
    events: int
    seconds: float
    report: dict[str, Any]


def _timed(run: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    result = run(*args, **kwargs)
    return time.perf_counter() - began, result


def _agree(a: Any, b: Any) -> bool:
    """Two report dicts equal to 1e-9 (relative) in every number, generated_at aside."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_agree(a[k], b[k]) for k in a if k != "generated_at")
    if isinstance(a, list):
        return len(a) == len(b) and all(_agree(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1M,10M,100M")
    parser.add_argument("--engines", default="duckdb,spark,sqlite")
    parser.add_argument("--folder", type=Path, default=Path("bench_scale_data"))
    parser.add_argument("--sqlite-max", default="10M")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--spark-memory", default="6g", help="the local driver's heap")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    engines = args.engines.split(",")
    sqlite_max = parse_size(args.sqlite_max)
    args.folder.mkdir(parents=True, exist_ok=True)

    spark = None
    if "spark" in engines:
        from liftlab.warehouse.spark import spark_session

        seconds, spark = _timed(spark_session, args.spark_master, "liftlab-bench-scale",
                                {"spark.driver.memory": args.spark_memory})
        print(f"Spark session on {args.spark_master} started in {seconds:.1f} s (not counted)")

    timings: list[Timing] = []
    for events in sizes:
        seconds, paths = _timed(generate, args.folder, events)
        customers = customers_for(events)
        print(f"\n{events:,} events, {customers:,} customers (lake ready in {seconds:.1f} s)")
        reference: dict[str, Any] | None = None
        for engine in engines:
            if engine == "sqlite" and events > sqlite_max:
                print(f"  sqlite: not run above --sqlite-max {args.sqlite_max} events")
                continue
            if engine == "duckdb":
                source, extra = _source("lake", "duckdb:///:memory:", paths), {}
            elif engine == "spark":
                source, extra = _source("lake", f"spark://{args.spark_master}", paths), {"spark": spark}
            elif engine == "sqlite":
                loaded, source = _timed(sqlite_copy, paths, Path(paths["exposures"]).parent / "lake.db")
                print(f"  sqlite: rows loaded in {loaded:.1f} s (not counted)")
                extra = {}
            else:
                raise SystemExit(f"unknown engine {engine!r}")
            seconds, report = _timed(analyze_source, source, EXPERIMENT, **extra)
            report = report.to_dict()
            timing = Timing(engine, events, seconds, report)
            timings.append(timing)
            agree = "" if reference is None else ("  agree" if _agree(reference, report) else "  DIFFER")
            reference = reference or report
            print(f"  {engine:>6}: full report {seconds:8.1f} s  ({events / seconds / 1e6:6.2f} M events/s){agree}")

    print("\nliftlab vs baseline, ratio (full report time; SQLite = 1)")
    for events in sizes:
        base = next((t for t in timings if t.engine == "sqlite" and t.events == events), None)
        for t in (t for t in timings if t.events == events and t.engine != "sqlite"):
            ratio = f"{t.seconds / base.seconds:.3f}" if base else "n/a (SQLite not run)"
            shown = f"{base.seconds:.1f} s" if base else "-"
            print(f"  {events:>11,} events  {t.engine:>6} {t.seconds:8.1f} s vs sqlite {shown:>9}  ratio {ratio}")
    print("\ngrowth (time at this size / time at the previous size; events grow 10×)")
    for engine in engines:
        mine = [t for t in timings if t.engine == engine]
        steps = [f"{b.seconds / a.seconds:.1f}× ({a.events:,} → {b.events:,})" for a, b in itertools.pairwise(mine)]
        if steps:
            print(f"  {engine:>6}: " + ", ".join(steps))
    if spark is not None:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())

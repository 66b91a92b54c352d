"""`analyze` on a big store, first and after 1% new events, against DuckDB in the same run.

Run: python benchmarks/bench_analyze.py [SCALE]   (1.0 = 1M exposed customers, 10M conversions)

One experiment with a global holdout (10%), four segments × 2–3 arms, two metrics (a purchase
conversion and revenue, 14-day windows). Setup is not timed: rows are written in bulk straight
into the store's tables with sqlite3, `exposed_units` filled with the schema's BACKFILL.

Rows printed ("liftlab vs baseline, ratio"):
(a) the first full `analyze` (builds the materialised values) vs the same per-metric sums by
    DuckDB over the same SQLite file, summed over its queries (per metric: n, Σy, Σy², Σx, Σx²,
    Σxy per segment × arm over each unit's first exposure, window and pre-period; plus the
    holdout query) — target ratio <= 1.2; DuckDB over Parquet copies as a second reference;
(b) refresh + analyze after 1% new events (new exposures and conversions) — target < 3 s;
(c) the holdout comparison vs one metric's aggregate — target: no slower.
The DuckDB sums are checked against liftlab's ("agree").
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from liftlab import Arm, Campaign, Experiment, Metric, Project, assign
from liftlab.aggregate.queries import aggregate, holdout_aggregate
from liftlab.aggregate.refresh import materialised_stats, refresh
from liftlab.report.analysis import analyze
from liftlab.store.event_store import EventStore
from liftlab.store.schema import BACKFILL

DAY_US = 86_400_000_000
START = pd.Timestamp("2026-10-01", tz="UTC")
EXPERIMENT = Experiment(
    key="bench", start=date(2026, 10, 1),
    metrics=(Metric("purchase", "conversion", window_days=14), Metric("revenue", "revenue", window_days=14)),
    campaigns=(
        Campaign("at_risk", arms=(Arm("control", 0.5, control=True), Arm("offer", 0.5))),
        Campaign("champion", arms=(Arm("control", 0.2, control=True), Arm("vip", 0.4), Arm("gift", 0.4))),
        Campaign("hibernating", arms=(Arm("control", 0.5, control=True), Arm("winback", 0.5))),
        Campaign("loyal", arms=(Arm("control", 0.3, control=True), Arm("points", 0.35), Arm("early", 0.35))),
    ),
)
PROJECT = Project(holdout_fraction=0.1, holdout_salt="bench-holdout")


def _micros(stamp: pd.Timestamp) -> int:
    return int(stamp.value // 1000)


def build(folder: Path, scale: float) -> tuple[str, Path, pd.DataFrame, np.random.Generator]:
    """A store with the experiment's assignments, exposures (1% of units held back for later)
    and conversions, written straight into its tables."""
    exposed = int(1_000_000 * scale)
    customers = int(exposed / (1 - PROJECT.holdout_fraction))
    path = folder / "bench.db"
    url = f"sqlite:///{path}"
    store = EventStore(url)
    store.register_experiment(EXPERIMENT)
    store.engine.dispose()
    rng = np.random.default_rng(15)
    people = pd.DataFrame({"unit_id": [f"c{i:08d}" for i in range(customers)],
                           "segment": rng.choice(["at_risk", "champion", "hibernating", "loyal"], customers)})
    assigned = assign(EXPERIMENT, people, PROJECT).assignments
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    db.executemany(
        "INSERT INTO assignments (experiment, unit_id, segment, arm, bucket, holdout, assigned_at, version) "
        "VALUES (?, ?, ?, ?, ?, ?, 0, 1)",
        zip(assigned["experiment"], assigned["unit_id"], assigned["segment"],
            [None if pd.isna(a) else a for a in assigned["arm"]], assigned["bucket"].astype(float),
            assigned["holdout"].astype(int)))
    active = assigned[~assigned["holdout"]].reset_index(drop=True)
    later = rng.random(len(active)) < 0.01  # exposed in the "1% new events" step
    first = active[~later]
    send = _micros(START) + rng.integers(0, 7 * DAY_US, len(first))
    rows = pd.DataFrame({"event_id": [f"x{i:09d}" for i in range(len(first))], "experiment": first["experiment"],
                         "unit_id": first["unit_id"], "segment": first["segment"], "arm": first["arm"],
                         "channel": "email", "ts": send})
    resend = rows.sample(frac=0.1, random_state=1).assign(  # a second send to 10%, a week later
        event_id=lambda f: "y" + f["event_id"].str[1:], ts=lambda f: f["ts"] + 7 * DAY_US)
    rows = pd.concat([rows, resend]).sort_values("event_id")
    db.execute("DROP TRIGGER IF EXISTS exposures_first")  # bulk rows; exposed_units from BACKFILL
    db.executemany("INSERT INTO exposures (event_id, experiment, unit_id, segment, arm, channel, ts) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", rows.itertuples(index=False, name=None))
    db.execute("DELETE FROM exposed_units")
    db.execute(BACKFILL)
    db.commit()
    n_conv = int(10_000_000 * scale)
    units = assigned["unit_id"].to_numpy()
    for begin in range(0, n_conv, 1_000_000):
        size = min(1_000_000, n_conv - begin)
        chunk = zip([f"c{i:010d}" for i in range(begin, begin + size)], units[rng.integers(0, len(units), size)],
                    ["purchase"] * size, rng.lognormal(3, 1, size).round(2).tolist(),
                    (_micros(START) - 20 * DAY_US + rng.integers(0, 50 * DAY_US, size)).tolist())
        db.executemany("INSERT INTO conversions (event_id, unit_id, event, value, ts) VALUES (?, ?, ?, ?, ?)", chunk)
        db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()
    return url, path, active[later], rng


# -- the DuckDB baseline -------------------------------------------------------------------------


def _metric_query(source: str, metric: Metric) -> str:
    """Per segment × arm: n, Σy, Σy², Σx, Σx², Σxy of one metric, as the issue defines it."""
    window = metric.window_days * DAY_US
    hit = "1.0" if metric.kind == "conversion" else "c.value"
    agg = "MAX" if metric.kind == "conversion" else "SUM"
    return f"""
    WITH f AS (SELECT segment, arm, unit_id, t0 FROM {source}exposed_units WHERE experiment = 'bench'),
    u AS (
        SELECT f.segment, f.arm, f.unit_id,
               {agg}(CASE WHEN c.ts >= f.t0 THEN {hit} ELSE 0.0 END) AS y,
               {agg}(CASE WHEN c.ts < f.t0 THEN {hit} ELSE 0.0 END) AS x
        FROM f JOIN {source}conversions c ON c.unit_id = f.unit_id AND c.event = '{metric.event}'
             AND c.ts >= f.t0 - {window} AND c.ts < f.t0 + {window}
        GROUP BY f.segment, f.arm, f.unit_id
    ),
    s AS (SELECT segment, arm, SUM(y) AS s, SUM(y * y) AS s2, SUM(x) AS sx, SUM(x * x) AS sx2, SUM(x * y) AS sxy
          FROM u GROUP BY segment, arm),
    k AS (SELECT segment, arm, COUNT(*) AS n FROM f GROUP BY segment, arm)
    SELECT k.segment, k.arm, k.n, COALESCE(s.s, 0) AS sum, COALESCE(s.s2, 0) AS sum_sq,
           COALESCE(s.sx, 0) AS x_sum, COALESCE(s.sx2, 0) AS x_sum_sq, COALESCE(s.sxy, 0) AS xy_sum
    FROM k LEFT JOIN s USING (segment, arm) ORDER BY k.segment, k.arm"""


def _holdout_query(source: str, metric: Metric) -> str:
    """The programme (exposed units, in-window y) vs the global holdout (from the first send)."""
    window = metric.window_days * DAY_US
    hit = "1.0" if metric.kind == "conversion" else "c.value"
    agg = "MAX" if metric.kind == "conversion" else "SUM"
    return f"""
    WITH f AS (SELECT unit_id, t0 FROM {source}exposed_units WHERE experiment = 'bench'),
    send AS (SELECT MIN(t0) AS t0 FROM f),
    campaigned AS (
        SELECT {agg}({hit}) AS y FROM f JOIN {source}conversions c ON c.unit_id = f.unit_id
             AND c.event = '{metric.event}' AND c.ts >= f.t0 AND c.ts < f.t0 + {window}
        GROUP BY f.unit_id),
    held AS (
        SELECT {agg}({hit}) AS y FROM {source}assignments a CROSS JOIN send
        JOIN {source}conversions c ON c.unit_id = a.unit_id AND c.event = '{metric.event}'
             AND c.ts >= send.t0 AND c.ts < send.t0 + {window}
        WHERE a.experiment = 'bench' AND a.holdout
        GROUP BY a.unit_id)
    SELECT (SELECT COUNT(*) FROM f) AS n, (SELECT SUM(y) FROM campaigned) AS sum,
           (SELECT SUM(y * y) FROM campaigned) AS sum_sq,
           (SELECT COUNT(*) FROM {source}assignments WHERE experiment = 'bench' AND holdout) AS held_n,
           (SELECT SUM(y) FROM held) AS held_sum, (SELECT SUM(y * y) FROM held) AS held_sum_sq"""


def _extension() -> str:
    import duckdb_extension_sqlite_scanner

    folder = Path(duckdb_extension_sqlite_scanner.__file__).parent
    return str(next(folder.rglob("sqlite_scanner.duckdb_extension")))


def duckdb_baseline(con: duckdb.DuckDBPyConnection, source: str) -> tuple[float, dict]:
    """Seconds summed over the per-metric and holdout queries, and their answers."""
    seconds, answers = 0.0, {}
    for metric in EXPERIMENT.metrics:
        for name, query in (("arms", _metric_query(source, metric)), ("holdout", _holdout_query(source, metric))):
            started = time.perf_counter()
            answers[(metric.key, name)] = con.execute(query).df()
            seconds += time.perf_counter() - started
    return seconds, answers


def _agree(answers: dict, stats: dict, holdout: dict) -> bool:
    for metric in EXPERIMENT.metrics:
        ours = stats[metric.key].to_frame()
        theirs = answers[(metric.key, "arms")]
        if ours["n"].tolist() != theirs["n"].astype(int).tolist():
            return False
        for column in ("sum", "sum_sq", "x_sum", "x_sum_sq", "xy_sum"):
            if not np.allclose(ours[column], theirs[column].astype(float), rtol=1e-9):
                return False
        row, held = answers[(metric.key, "holdout")].iloc[0], holdout[metric.key]
        ours_h = [held.campaigned.n, held.campaigned.sum, held.campaigned.sum_sq,
                  held.holdout.n, held.holdout.sum, held.holdout.sum_sq]
        theirs_h = [row["n"], row["sum"], row["sum_sq"], row["held_n"], row["held_sum"], row["held_sum_sq"]]
        if not np.allclose(np.array(ours_h, dtype=float), np.array(theirs_h, dtype=float), rtol=1e-9):
            return False
    return True


def _row(what: str, ours: float, base_name: str, base: float) -> None:
    print(f"  {what:<44} {ours:8.2f} s   vs {base_name:<36} {base:8.2f} s   ratio {ours / base:5.2f}")


def main(scale: float) -> None:
    folder = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    url, path, held_back, rng = build(folder, scale)
    print(f"setup ({scale:g} scale: {int(1_000_000 * scale):,} exposed, {int(10_000_000 * scale):,} "
          f"conversions), not timed: {time.perf_counter() - started:.0f} s")

    con = duckdb.connect()
    con.execute(f"INSTALL '{_extension()}'")
    con.execute("LOAD sqlite_scanner")
    con.execute(f"ATTACH '{path}' AS lite (TYPE sqlite, READ_ONLY)")
    duck_s, answers = duckdb_baseline(con, "lite.")

    store = EventStore(url)
    started = time.perf_counter()
    report = analyze(store, EXPERIMENT)
    first_s = time.perf_counter() - started
    stats, holdout = materialised_stats(store, EXPERIMENT)
    agree = _agree(answers, stats, holdout)

    for table in ("exposed_units", "conversions", "assignments"):
        con.execute(f"COPY (SELECT * FROM lite.{table}) TO '{folder / table}.parquet' (FORMAT parquet)")
        con.execute(f"CREATE VIEW p_{table} AS SELECT * FROM '{folder / table}.parquet'")
    parquet_s, parquet_answers = duckdb_baseline(con, "p_")
    con.close()

    print("(a) first full analyze (builds the per-unit values)")
    _row("liftlab analyze, first", first_s, "DuckDB over the SQLite file", duck_s)
    _row("liftlab analyze, first", first_s, "DuckDB over Parquet copies", parquet_s)
    print(f"  DuckDB sums vs liftlab's: {'agree' if agree else 'DISAGREE'}; over Parquet: "
          f"{'agree' if _agree(parquet_answers, stats, holdout) else 'DISAGREE'}")

    # (b) 1% new events through the store's own logging: new units exposed, new conversions.
    new_conv = int(100_000 * scale)
    store.log_exposures(pd.DataFrame({
        "experiment": held_back["experiment"], "unit_id": held_back["unit_id"], "segment": held_back["segment"],
        "arm": held_back["arm"], "channel": "email",
        "timestamp": START + pd.to_timedelta(rng.integers(7 * 24, 9 * 24, len(held_back)), unit="h")}))
    with store.engine.connect() as conn:
        units = pd.read_sql_query("SELECT unit_id FROM assignments WHERE experiment = 'bench'", conn)["unit_id"]
    store.log_conversions(pd.DataFrame({
        "unit_id": units.to_numpy()[rng.integers(0, len(units), new_conv)], "event": "purchase",
        "value": rng.lognormal(3, 1, new_conv).round(2),
        "timestamp": START + pd.to_timedelta(rng.integers(20 * 24 * 60, 30 * 24 * 60, new_conv), unit="min")}))
    started = time.perf_counter()
    done = refresh(store, EXPERIMENT)
    refreshed = analyze(store, EXPERIMENT)
    second_s = time.perf_counter() - started
    print(f"(b) after 1% new events ({len(held_back):,} exposures, {new_conv:,} conversions): target < 3 s")
    print(f"  refresh {done.seconds:.2f} s ({done.units:,} units recomputed, "
          f"{'full' if done.full else 'incremental'}) + analyze {second_s - done.seconds:.2f} s "
          f"= {second_s:.2f} s   vs first analyze {first_s:.2f} s, ratio {second_s / first_s:.2f}")
    print("  load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))  # a shared machine shows here
    assert refreshed.experiment == report.experiment

    # (c) the holdout comparison vs one metric's aggregate (both read the refreshed values).
    metric = EXPERIMENT.metrics[1]
    started = time.perf_counter()
    aggregate(store, EXPERIMENT, metric)
    arms_s = time.perf_counter() - started
    started = time.perf_counter()
    holdout_aggregate(store, EXPERIMENT, metric)
    held_s = time.perf_counter() - started
    print("(c) holdout comparison vs one metric's aggregate: target no slower")
    _row(f"holdout_aggregate ({metric.key})", held_s, f"aggregate ({metric.key})", arms_s)
    store.engine.dispose()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)

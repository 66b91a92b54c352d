"""Bulk logging and SQL aggregation speed, against raw sqlite3 in the same run.

Run: python benchmarks/bench_store.py [N]   (default 1,000,000 exposures + 1,000,000 conversions)
Targets: liftlab's bulk logging at >= 0.5x raw `sqlite3.executemany` of the same rows into the
same schema (liftlab also validates every row, checks it against the stored assignment and
derives its event id); aggregation of a metric in < 2 s.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from liftlab import Arm, Campaign, Experiment, Metric, Project, assign
from liftlab.aggregate.queries import aggregate, holdout_aggregate
from liftlab.report.timeline import timeline
from liftlab.cli import cli
from liftlab.store.schema import SQLITE_CACHE_KIB
from liftlab.demo.simulate import simulate_campaign
from liftlab.store.event_store import EventStore


def main(n: int) -> None:
    folder = Path(tempfile.mkdtemp())
    experiment = Experiment(
        key="bench", start=date(2026, 10, 1),
        metrics=(Metric("purchase", "conversion"), Metric("revenue", "revenue")),
        campaigns=(Campaign("at_risk", arms=(Arm("control", 0.5, control=True), Arm("offer", 0.5))),),
    )
    people = pd.DataFrame({"unit_id": [f"c{i:08d}" for i in range(n)], "segment": "at_risk"})
    assignments = assign(experiment, people, Project()).assignments
    played = simulate_campaign(experiment, assignments, {"at_risk": {"offer": 0.2}}, seed=1)
    exposures = played.exposures
    rng = np.random.default_rng(2)
    conversions = pd.DataFrame({
        "unit_id": rng.choice(people["unit_id"].to_numpy(), n),
        "event": "purchase",
        "value": rng.lognormal(3, 1, n).round(2),
        "timestamp": pd.Timestamp("2026-09-20", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 86_400, n), unit="s"),
    })
    print(f"{len(exposures):,} exposures and {len(conversions):,} conversions")

    store = EventStore(f"sqlite:///{folder / 'liftlab.db'}")
    store.register_experiment(experiment)
    store.save_assignments(assignments)
    start = time.perf_counter()
    logged_x = store.log_exposures(exposures)
    logged_c = store.log_conversions(conversions)
    ours = time.perf_counter() - start
    assert logged_x.inserted == len(exposures) and logged_c.rejected == 0

    # Baseline: the very rows liftlab stored (same event ids, same schema), with raw sqlite3.
    baseline = EventStore(f"sqlite:///{folder / 'raw.db'}")
    with store.engine.connect() as conn:
        x_rows = conn.exec_driver_sql("SELECT * FROM exposures ORDER BY rowid").fetchall()
        c_rows = conn.exec_driver_sql("SELECT * FROM conversions ORDER BY rowid").fetchall()
    x_rows = [tuple(r) for r in x_rows]
    c_rows = [tuple(r) for r in c_rows]
    raw = sqlite3.connect(str(folder / "raw.db"))
    raw.execute("PRAGMA journal_mode=WAL")  # the store's own settings, so only the code differs
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    start = time.perf_counter()
    for rows, sql in ((x_rows, "INSERT INTO exposures VALUES (?, ?, ?, ?, ?, ?, ?)"),
                      (c_rows, "INSERT INTO conversions VALUES (?, ?, ?, ?, ?)")):
        for begin in range(0, len(rows), 50_000):
            raw.executemany(sql, rows[begin:begin + 50_000])
            raw.commit()
    raw_s = time.perf_counter() - start
    del baseline

    events = len(exposures) + len(conversions)
    print(f"  liftlab bulk logging      {events / ours:12,.0f} events/s  ({ours:.2f} s)")
    print(f"  raw sqlite3.executemany   {events / raw_s:12,.0f} events/s  ({raw_s:.2f} s)")
    print(f"  ratio                     {raw_s / ours:12.2f}x  (target >= 0.5x)")
    for metric in experiment.metrics:
        start = time.perf_counter()
        aggregate(store, experiment, metric)
        print(f"  aggregate {metric.key:<10} {time.perf_counter() - start:10.2f} s  (target < 2 s)")
    start = time.perf_counter()
    holdout_aggregate(store, experiment, experiment.metrics[1])
    print(f"  holdout comparison   {time.perf_counter() - start:10.2f} s")
    start = time.perf_counter()
    days = timeline(store, experiment).to_frame()["day"].nunique()
    print(f"  timeline ({days} days, {len(experiment.metrics)} metrics) {time.perf_counter() - start:5.2f} s"
          f"  (a cut-off query per day would take ~{days * len(experiment.metrics)} aggregations)")

    # The shell path: `liftlab log exposures FILE` reads a CSV in chunks (text timestamps).
    source = folder / "sends.csv"
    exposures.assign(timestamp=exposures["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")).to_csv(source, index=False)
    fresh = EventStore(f"sqlite:///{folder / 'cli.db'}")
    fresh.register_experiment(experiment)
    fresh.save_assignments(assignments)
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["log", "exposures", str(source), "--db", fresh.url])
    cli_s = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    print(f"  liftlab log exposures CSV {len(exposures) / cli_s:9,.0f} rows/s  ({cli_s:.2f} s, parsing included)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)

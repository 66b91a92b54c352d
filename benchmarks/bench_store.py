"""Bulk logging speed, against plain `sqlite3` in the same run (issue #15, item 2).

Run: python benchmarks/bench_store.py [N] [--no-conversions] [--rounds R]
     (default N = 1,000,000; N = 100,000 for a quick run; R = 2)

Prints three rows:
1. `EventStore.log_exposures` of N rows from a DataFrame (every row validated, checked against
   its stored assignment, given an event id, each unit's first exposure kept) vs the baseline:
   plain `sqlite3` `executemany` of the same rows (liftlab's event ids) into a plain table with
   the same columns as `exposures` and a TEXT primary key — no trigger, no `exposed_units`,
   no other index — with WAL, synchronous=NORMAL, a 64 MiB cache and 50k rows per commit.
   The baseline is timed twice: as defined (SQLite's default 4 KiB pages) and, printed for
   reference, with the 8 KiB pages liftlab's store creates its files with. Target:
   >= 0.7x the DataFrame-order baseline. liftlab and the baselines run alternately, R rounds
   each on fresh files, and the best of each counts: on a shared machine, load that lands on
   one side of a single pair skews its ratio.
2. `liftlab log exposures FILE.csv` of the same rows (parsing included) vs the DataFrame path.
   Target: >= 0.5x.
3. `log_conversions` of 10 N rows in N-row calls into the store of row 1 (N exposed units).
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
from liftlab.cli import cli
from liftlab.store.event_store import EventStore
from liftlab.store.schema import SQLITE_PAGE_BYTES

BASELINE_CHUNK = 50_000
PLAIN_TABLE = """CREATE TABLE exposures (event_id VARCHAR NOT NULL PRIMARY KEY, experiment VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL, segment VARCHAR NOT NULL, arm VARCHAR NOT NULL, channel VARCHAR NOT NULL,
    ts BIGINT NOT NULL)"""

EXPERIMENT = Experiment(
    key="bench", start=date(2026, 10, 1),
    metrics=(Metric("purchase", "conversion"), Metric("revenue", "revenue")),
    campaigns=(Campaign("at_risk", arms=(Arm("control", 0.5, control=True), Arm("offer", 0.5))),),
)


def _row(what: str, ours: float, baseline: float | None = None, unit: str = "rows/s", target: str = "") -> None:
    line = f"  {what:<44} {ours:>10,.0f} {unit}"
    if baseline is not None:
        line += f"  vs {baseline:>10,.0f} {unit}  ratio {ours / baseline:6.3f}x {target}"
    print(line, flush=True)


def _new_store(path: Path, assignments: pd.DataFrame) -> EventStore:
    store = EventStore(f"sqlite:///{path}")
    store.register_experiment(EXPERIMENT)
    store.save_assignments(assignments)
    return store


def plain_executemany(path: Path, rows: list[tuple], page_bytes: int | None = None) -> float:
    """Seconds to insert `rows` into a plain table as the baseline defines it (`page_bytes`:
    a page size other than SQLite's default, for reference)."""
    raw = sqlite3.connect(str(path))
    if page_bytes:
        raw.execute(f"PRAGMA page_size={page_bytes}")
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute("PRAGMA cache_size=-65536")
    raw.execute(PLAIN_TABLE)
    raw.commit()
    start = time.perf_counter()
    for begin in range(0, len(rows), BASELINE_CHUNK):
        raw.executemany("INSERT INTO exposures VALUES (?, ?, ?, ?, ?, ?, ?)", rows[begin:begin + BASELINE_CHUNK])
        raw.commit()
    seconds = time.perf_counter() - start
    raw.close()
    _drop(path)
    return seconds


def main(n: int, conversions: bool = True, rounds: int = 2) -> None:
    with tempfile.TemporaryDirectory(prefix="bench_store_") as folder:
        run(Path(folder), n, conversions, rounds)


def _drop(path: Path) -> None:
    """Delete a measured database (and its WAL) at once: its pages are not written back to
    disk while the next round is timed."""
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)


def run(folder: Path, n: int, conversions: bool, rounds: int) -> None:
    rng = np.random.default_rng(1)
    people = pd.DataFrame({"unit_id": [f"c{i:08d}" for i in range(n)], "segment": "at_risk"})
    assignments = assign(EXPERIMENT, people, Project(holdout_fraction=0.0)).assignments
    # One send per customer, in a shuffled order, at random moments of the first two weeks.
    sends = assignments.sample(frac=1.0, random_state=2).reset_index(drop=True)
    exposures = pd.DataFrame({
        "experiment": sends["experiment"], "unit_id": sends["unit_id"], "segment": sends["segment"],
        "arm": sends["arm"], "channel": "email",
        "timestamp": pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 14 * 86_400, n), unit="s"),
    })
    print(f"{n:,} exposures (one per customer), {10 * n:,} conversions in calls of {n:,}")

    # 1. The DataFrame path vs plain executemany of the same rows, alternately, best of R.
    ours = given_s = paged_s = float("inf")
    given_rows: list[tuple] = []
    for round_ in range(rounds):
        store = _new_store(folder / f"liftlab{round_}.db", assignments)
        start = time.perf_counter()
        logged = store.log_exposures(exposures)
        ours = min(ours, time.perf_counter() - start)
        assert logged.inserted == n and logged.rejected == 0, logged
        if not given_rows:
            with store.engine.connect() as conn:
                stored = pd.read_sql_query("SELECT * FROM exposures", conn)
            as_given = stored.set_index("unit_id").loc[exposures["unit_id"]].reset_index()[list(stored.columns)]
            given_rows = list(as_given.itertuples(index=False, name=None))
        if round_ < rounds - 1:  # the last round's store takes the conversions below
            store.engine.dispose()
            _drop(folder / f"liftlab{round_}.db")
        given_s = min(given_s, plain_executemany(folder / f"plain_given{round_}.db", given_rows))
        paged_s = min(paged_s, plain_executemany(folder / f"plain_paged{round_}.db", given_rows, SQLITE_PAGE_BYTES))
        print(f"    round {round_ + 1}: liftlab {n / ours:,.0f} rows/s (best so far), "
              f"baseline {n / given_s:,.0f}", flush=True)
    print(f"log_exposures from a DataFrame (best of {rounds} alternating rounds)")
    _row("liftlab vs plain executemany, DataFrame order", n / ours, n / given_s, target="(target >= 0.7x)")
    _row("liftlab vs plain executemany, 8 KiB pages", n / ours, n / paged_s, target="(reference)")

    # 2. The shell path: a CSV of the same rows (text timestamps), parsing included.
    source = folder / "sends.csv"
    exposures.assign(timestamp=exposures["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(source, index=False)
    fresh = _new_store(folder / "cli.db", assignments)
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["log", "exposures", str(source), "--db", fresh.url])
    cli_s = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    assert fresh.count("exposures") == n
    print("liftlab log exposures FILE.csv")
    _row("CSV (parsing included) vs the DataFrame path", n / cli_s, n / ours, target="(target >= 0.5x)")

    # 3. Conversions into the store of row 1: 10 N rows in N-row calls.
    if not conversions:
        return
    units = assignments["unit_id"].to_numpy(dtype=object)
    start = time.perf_counter()
    for call in range(10):
        part = np.random.default_rng(10 + call)
        conversions = pd.DataFrame({
            "unit_id": units[part.integers(0, n, n)], "event": "purchase",
            "value": part.lognormal(3, 1, n).round(2),
            "timestamp": pd.Timestamp("2026-09-20", tz="UTC") + pd.to_timedelta(part.integers(0, 40 * 86_400, n), unit="s"),
        })
        began = time.perf_counter()
        counts = store.log_conversions(conversions)
        assert counts.rejected == 0, counts
        print(f"    call {call + 1:>2}: {n / (time.perf_counter() - began):10,.0f} rows/s", flush=True)
    conv_s = time.perf_counter() - start  # data generation included: it is small beside the load
    print("log_conversions")
    _row(f"{10 * n:,} rows in calls of {n:,}", 10 * n / conv_s)


if __name__ == "__main__":
    args = sys.argv[1:]
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 2
    numbers = [a for i, a in enumerate(args) if not a.startswith("--") and (i == 0 or args[i - 1] != "--rounds")]
    main(int(numbers[0]) if numbers else 1_000_000, conversions="--no-conversions" not in args, rounds=rounds)

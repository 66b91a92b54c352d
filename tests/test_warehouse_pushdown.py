"""Only aggregates leave the engine: the rows Python fetches do not grow with the units.

The DuckDB engine is built on a DBAPI connection whose cursors count every row fetched
(fetchone / fetchmany / fetchall), below SQLAlchemy, so nothing the library does can hide one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("duckdb_engine")

import duckdb  # noqa: E402
import duckdb_engine  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from liftlab.config.loading import load_experiments  # noqa: E402
from liftlab.config.sources import Source  # noqa: E402
from liftlab.warehouse import analyze_source  # noqa: E402

DAY_US = 86_400_000_000


class _CountingCursor:
    def __init__(self, cursor: Any, counter: list[int]) -> None:
        self._cursor, self._counter = cursor, counter

    def fetchone(self) -> Any:
        row = self._cursor.fetchone()
        self._counter[0] += row is not None
        return row

    def fetchmany(self, *args: Any) -> Any:
        rows = self._cursor.fetchmany(*args)
        self._counter[0] += len(rows)
        return rows

    def fetchall(self) -> Any:
        rows = self._cursor.fetchall()
        self._counter[0] += len(rows)
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _CountingConnection:
    def __init__(self, counter: list[int]) -> None:
        self._conn = duckdb_engine.ConnectionWrapper(duckdb.connect())
        self._counter = counter

    def cursor(self) -> _CountingCursor:
        return _CountingCursor(self._conn.cursor(), self._counter)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _lake(folder: Path, experiment: Any, units: int, seed: int) -> Source:
    """Parquet exposures, conversions and assignments for `units` customers of `experiment`."""
    rng = np.random.default_rng(seed)
    start = int(datetime.combine(experiment.start, datetime.min.time(), tzinfo=UTC).timestamp() * 1e6)
    pairs = [(c.segment, a.key) for c in experiment.campaigns for a in c.arms]
    pick = rng.integers(0, len(pairs), units)
    ids = np.array([f"u{i}" for i in range(units)], dtype=object)
    t0 = start + rng.integers(0, 3 * DAY_US, units)
    held = rng.random(units) < 0.05
    exposed = ~held
    exposures = pd.DataFrame({
        "experiment": experiment.key, "unit_id": ids[exposed],
        "segment": [pairs[i][0] for i in pick[exposed]], "arm": [pairs[i][1] for i in pick[exposed]],
        "ts": t0[exposed]})
    exposures = pd.concat([exposures, exposures.assign(ts=exposures["ts"] + DAY_US)])  # re-sends
    buyers = rng.random(units) < 0.3
    conversions = pd.DataFrame({
        "unit_id": ids[buyers], "event": "purchase", "value": rng.gamma(2.0, 30.0, buyers.sum()),
        "ts": t0[buyers] + rng.integers(-20 * DAY_US, 20 * DAY_US, buyers.sum())})
    assignments = pd.DataFrame({"experiment": experiment.key, "unit_id": ids, "holdout": held})
    for name, frame in (("exposures", exposures), ("conversions", conversions),
                        ("assignments", assignments)):
        frame.to_parquet(folder / f"{name}.parquet")
    return Source("lake", "duckdb:///:memory:", str(folder / "exposures.parquet"),
                  str(folder / "conversions.parquet"), str(folder / "assignments.parquet"),
                  timestamps="epoch_us")


@pytest.mark.parametrize("units", [10_000, 40_000])
def test_rows_fetched_are_per_segment_arm_metric_never_per_unit(
    tmp_path: Path, experiments_dir: Path, units: int
) -> None:
    experiment = next(e for e in load_experiments(experiments_dir) if e.key == "winback-2026q4")
    source = _lake(tmp_path, experiment, units, seed=units)
    counter = [0]
    engine = create_engine("duckdb://", creator=lambda: _CountingConnection(counter))
    with engine.connect():  # the dialect's own first-connect queries (its version) not counted
        pass
    counter[0] = 0
    report = analyze_source(source, experiment, engine=engine)
    arms = sum(len(c.arms) for c in experiment.campaigns)
    # Per metric: one row per segment × arm, then the campaigned and the holdout rows.
    assert counter[0] == len(experiment.metrics) * (arms + 2)
    exposed = pd.read_parquet(source.exposures)["unit_id"].nunique()
    assert exposed > 9_000
    rows = [r for r in report.results if r.segment != "all" and r.metric == experiment.metrics[0].key]
    controls = {r.segment: r.n_control for r in rows}  # each control once, however many arms
    assert sum(controls.values()) + sum(r.n_treatment for r in rows) == exposed  # every unit, once
    engine.dispose()

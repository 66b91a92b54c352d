"""The demo's three experiments analysed where their events live give the store's reports.

The seeded demo store is exported to Parquet and analysed on DuckDB (epoch-µs and TIMESTAMP
columns), on the SQLite store itself declared as a source, and on PostgreSQL (TIMESTAMPTZ
columns; when LIFTLAB_TEST_POSTGRES_URL names a server, skipped otherwise) and on Spark over
the same Parquet files (one local session for the test run; skipped only without Java).
Every field of every report equals `analyze(store, ...)` to 1e-9, with and without an
`until` cut-off.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("duckdb_engine")

from scratch_pg import POSTGRES_URL, scratch_database  # noqa: E402

from liftlab.config.loading import load_experiments  # noqa: E402
from liftlab.config.sources import Columns, Source  # noqa: E402
from liftlab.report.analysis import analyze  # noqa: E402
from liftlab.store.event_store import EventStore  # noqa: E402
from liftlab.warehouse import analyze_source  # noqa: E402

TABLES = ("exposures", "conversions", "assignments")


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two report dicts differ: numbers beyond 1e-9 (relative, or absolute near 0)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a if k != "generated_at" for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool):
        same = math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
        return [] if same else [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def test_differences_sees_a_changed_number() -> None:
    assert _differences({"x": [1.0, 2.0]}, {"x": [1.0, 2.0 + 1e-6]}) == [".x[1]: 2.0 vs 2.000001"]
    assert _differences({"x": 1.0, "generated_at": "a"}, {"x": 1.0, "generated_at": "b"}) == []


@pytest.fixture(scope="module")
def lake(demo_run, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The demo store's tables as Parquet files, epoch µs and (a second set) TIMESTAMPs."""
    folder = tmp_path_factory.mktemp("lake")
    store = EventStore(demo_run.database_url)
    frames = {}
    with store.engine.connect() as conn:
        for name in TABLES:
            frames[name] = pd.read_sql_query(f"SELECT * FROM {name}", conn)
            frames[name].to_parquet(folder / f"{name}.parquet")
            stamped = frames[name].copy()
            if "ts" in stamped:
                stamped["event_time"] = pd.to_datetime(stamped.pop("ts"), unit="us", utc=True)
            stamped.rename(columns={"unit_id": "customer_id"}).to_parquet(folder / f"{name}_tz.parquet")
    return {"folder": folder, "store": store, "frames": frames}


def _experiments(experiments_dir: Path) -> list[Any]:
    experiments = load_experiments(experiments_dir)
    assert len(experiments) == 3
    return experiments


def _check(store: EventStore, source: Source, experiments: list[Any], **engine: Any) -> None:
    for experiment in experiments:
        expected = analyze(store, experiment).to_dict()
        assert expected["holdout"], "the demo has a global holdout to compare"
        found = analyze_source(source, experiment, **engine).to_dict()
        assert _differences(expected, found) == [], experiment.key
    # A look back: the timeline's `until` cut-off, in the middle of the first experiment.
    first = experiments[0]
    until = datetime.combine(first.start, datetime.min.time(), tzinfo=UTC) + timedelta(days=3, hours=5)
    expected = analyze(store, first, until=until).to_dict()
    assert _differences(expected, analyze_source(source, first, until=until, **engine).to_dict()) == []
    assert _differences(expected, analyze(store, first).to_dict()) != []  # the cut-off did cut


def test_duckdb_over_parquet_gives_the_store_reports(lake, experiments_dir: Path) -> None:  # type: ignore[no-untyped-def]
    folder = lake["folder"]
    source = Source("lake", "duckdb:///:memory:", *(str(folder / f"{n}.parquet") for n in TABLES),
                    timestamps="epoch_us")
    _check(lake["store"], source, _experiments(experiments_dir))


def test_duckdb_over_parquet_timestamps_and_renamed_columns(lake, experiments_dir: Path) -> None:  # type: ignore[no-untyped-def]
    folder = lake["folder"]
    source = Source("lake", "duckdb:///:memory:", *(str(folder / f"{n}_tz.parquet") for n in TABLES),
                    columns=Columns(unit_id="customer_id", timestamp="event_time"))
    _check(lake["store"], source, _experiments(experiments_dir)[:1])


def test_sqlite_store_declared_as_a_source(lake, demo_run, experiments_dir: Path) -> None:  # type: ignore[no-untyped-def]
    source = Source("store", demo_run.database_url, *TABLES, timestamps="epoch_us")
    _check(lake["store"], source, _experiments(experiments_dir))


def test_sql_query_relations(lake, experiments_dir: Path) -> None:  # type: ignore[no-untyped-def]
    folder = lake["folder"]
    conversions = (f"SELECT unit_id, event, value, ts FROM read_parquet('{folder / 'conversions.parquet'}') "
                   "WHERE value >= 0")
    source = Source("lake", "duckdb:///:memory:", str(folder / "exposures.parquet"), conversions,
                    str(folder / "assignments.parquet"), timestamps="epoch_us")
    _check(lake["store"], source, _experiments(experiments_dir)[:1])


@pytest.mark.skipif(not POSTGRES_URL, reason="LIFTLAB_TEST_POSTGRES_URL is not set (no PostgreSQL server)")
def test_postgresql_source_gives_the_store_reports(lake, experiments_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    with scratch_database() as url:
        engine = create_engine(url)
        for table, frame in lake["frames"].items():  # TIMESTAMPTZ columns, other names
            frame = frame.copy()
            if "ts" in frame:
                frame["event_time"] = pd.to_datetime(frame.pop("ts"), unit="us", utc=True)
            frame.rename(columns={"unit_id": "customer_id"}).to_sql(f"lake_{table}", engine, index=False)
        source = Source("warehouse", url, *(f"lake_{t}" for t in TABLES),
                        columns=Columns(unit_id="customer_id", timestamp="event_time"))
        _check(lake["store"], source, _experiments(experiments_dir), engine=engine)
        engine.dispose()


def test_spark_over_parquet_gives_the_store_reports(lake, spark, experiments_dir: Path) -> None:  # type: ignore[no-untyped-def]
    folder = lake["folder"]
    source = Source("lake", "spark://local[2]", *(str(folder / f"{n}.parquet") for n in TABLES),
                    timestamps="epoch_us")
    _check(lake["store"], source, _experiments(experiments_dir), spark=spark)


def test_spark_timestamps_renamed_columns_and_catalog_tables(lake, spark, experiments_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """TIMESTAMP columns under other names, read from tables in the session's catalog."""
    folder = lake["folder"]
    for name in TABLES:
        spark.read.parquet(str(folder / f"{name}_tz.parquet")).createOrReplaceTempView(f"lake_{name}")
    source = Source("lake", "spark://local[2]", *(f"lake_{n}" for n in TABLES),
                    columns=Columns(unit_id="customer_id", timestamp="event_time"))
    _check(lake["store"], source, _experiments(experiments_dir)[:1], spark=spark)


def test_timeline_from_a_source_is_the_store_timeline(lake, experiments_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from liftlab.report.timeline import timeline
    from liftlab.warehouse.timeline import source_timeline

    folder = lake["folder"]
    source = Source("lake", "duckdb:///:memory:", *(str(folder / f"{n}.parquet") for n in TABLES),
                    timestamps="epoch_us")
    experiment = _experiments(experiments_dir)[0]
    expected = timeline(lake["store"], experiment).to_frame()
    found = source_timeline(source, experiment).to_frame()
    assert len(expected) > 10
    pd.testing.assert_frame_equal(found, expected, rtol=1e-9, atol=1e-12)

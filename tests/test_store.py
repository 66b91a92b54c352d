"""EventStore: idempotent logging, quarantine with reasons, sticky assignments, SQL aggregates."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scratch_pg import POSTGRES_URL, scratch_database
from test_events import conversion_rows

from liftlab import Arm, Campaign, Experiment, Metric, Project, StoreError, assign
from liftlab.aggregate.queries import DAY_US, aggregate, holdout_aggregate
from liftlab.store.event_store import CHUNK_ROWS, EventStore

EXPERIMENT = Experiment(
    key="store-test",
    start=date(2026, 10, 1),
    metrics=(Metric("purchase", "conversion", window_days=7), Metric("revenue", "revenue", window_days=7)),
    campaigns=(
        Campaign("at_risk", arms=(Arm("control", 0.5, control=True), Arm("offer", 0.5))),
        Campaign("champion", arms=(Arm("control", 0.3, control=True), Arm("vip", 0.7))),
    ),
)
PROJECT = Project(holdout_fraction=0.1, holdout_salt="h")




@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: SQLite, and PostgreSQL when a server is given."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("LIFTLAB_TEST_POSTGRES_URL is not set: the store tests ran on SQLite only")
    with scratch_database() as url:
        yield url


@pytest.fixture
def store(empty_url: str) -> Iterator[EventStore]:
    """A fresh store with EXPERIMENT registered, on each backend."""
    s = EventStore(empty_url)
    s.register_experiment(EXPERIMENT)
    yield s
    s.engine.dispose()


def _open(url: str, barrier: object, results: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        EventStore(url)
        results.put("ok")  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 — the test reports what went wrong
        results.put(str(exc))  # type: ignore[attr-defined]


def _race(worker: object, url: str, processes: int) -> list[str]:
    """Run `worker(url, barrier, results)` in spawned processes released together; their reports."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    started = [context.Process(target=worker, args=(url, barrier, results)) for _ in range(processes)]
    for process in started:
        process.start()
    for process in started:
        process.join(timeout=120)
    return [results.get(timeout=5) for _ in started]


def test_eight_processes_opening_a_new_store_at_once(empty_url: str) -> None:
    """The schema is built once, by whichever opener gets the lock; nobody sees an error."""
    outcomes = _race(_open, empty_url, 8)
    assert outcomes == ["ok"] * 8, outcomes


def _assigned(store: EventStore, n: int = 2_000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    people = pd.DataFrame({"unit_id": [f"u{i}" for i in range(n)],
                           "segment": rng.choice(["at_risk", "champion"], n)})
    frame = assign(EXPERIMENT, people, PROJECT).assignments
    store.save_assignments(frame)
    return frame


def _exposures(frame: pd.DataFrame) -> pd.DataFrame:
    active = frame[~frame["holdout"]]
    return pd.DataFrame({"experiment": active["experiment"], "unit_id": active["unit_id"],
                         "segment": active["segment"], "arm": active["arm"], "channel": "email",
                         "timestamp": pd.Timestamp("2026-10-01 09:00", tz="UTC")})


def test_register_is_versioned(store: EventStore) -> None:
    assert store.register_experiment(EXPERIMENT).status == "unchanged"
    changed = Experiment(**{**EXPERIMENT.__dict__, "name": "renamed"})
    result = store.register_experiment(changed)
    assert (result.status, result.version) == ("changed", 2)
    assert store.experiment_config("store-test")["name"] == "renamed"


def test_assignments_are_sticky(store: EventStore) -> None:
    frame = _assigned(store)
    again = store.save_assignments(frame)
    assert (again.inserted, again.unchanged, again.conflicting) == (0, len(frame), 0)
    moved = frame.copy()
    flip = (~moved["holdout"]) & (moved["segment"] == "at_risk")
    moved.loc[flip, "arm"] = moved.loc[flip, "arm"].map({"control": "offer", "offer": "control"})
    extra = pd.DataFrame([{"experiment": "store-test", "unit_id": "new-1", "segment": "at_risk",
                           "arm": "offer", "bucket": 0.9, "holdout": False}])
    counts = store.save_assignments(pd.concat([moved, extra], ignore_index=True))
    assert counts.inserted == 1 and counts.conflicting == int(flip.sum())
    stored = store.assignments("store-test").set_index("unit_id")
    original = frame.set_index("unit_id")
    assert (stored.loc[original.index, "arm"].fillna("-") == original["arm"].fillna("-")).all()


def test_same_file_twice_counts_once(store: EventStore) -> None:
    exposures = _exposures(_assigned(store))
    first = store.log_exposures(exposures)
    second = store.log_exposures(exposures)
    assert first.inserted == len(exposures) and first.duplicates == 0
    assert (second.inserted, second.duplicates, second.rejected) == (0, len(exposures), 0)
    assert store.count("exposures") == len(exposures)


def test_bad_rows_are_quarantined_and_good_rows_kept(store: EventStore) -> None:
    frame = _assigned(store)
    exposures = _exposures(frame).astype(object).reset_index(drop=True)
    n = len(exposures)
    bad = {
        0: ("unit_id", None, "missing field 'unit_id'"),
        1: ("timestamp", "not a time", "unparseable timestamp"),
        2: ("arm", "nonsense", "arm differs"),
        3: ("experiment", "nope", "unknown experiment"),
        4: ("segment", "hibernating", "segment differs"),
        5: ("unit_id", 12345.5, "not text"),
    }
    for row, (column, value, _) in bad.items():
        exposures.at[row, column] = value
    held = frame[frame["holdout"]].iloc[0]
    exposures.loc[n] = [held["experiment"], held["unit_id"], held["segment"], "offer", "email",
                        pd.Timestamp("2026-10-01", tz="UTC")]
    counts = store.log_exposures(exposures, source="exposures.csv")
    assert counts.inserted == n - len(bad)
    assert counts.rejected == len(bad) + 1
    quarantine = store.quarantine().set_index("line")
    for row, (_, _, reason) in bad.items():
        assert reason in quarantine.loc[row + 2, "reason"]
    assert "global holdout" in quarantine.loc[n + 2, "reason"]
    assert (quarantine["source"] == "exposures.csv").all()


def test_conversion_checks(store: EventStore) -> None:
    rows = pd.DataFrame({
        "unit_id": ["a", "b", "c", "d", None],
        "event": ["purchase"] * 5,
        "value": [10.0, np.nan, -1.0, "ten", 3.0],
        "timestamp": ["2026-10-02T10:00:00Z"] * 5,
    })
    counts = store.log_conversions(rows)
    assert (counts.inserted, counts.rejected) == (1, 4)
    reasons = " ".join(store.quarantine()["reason"])
    for expected in ("NaN", "negative", "not a number", "missing field 'unit_id'"):
        assert expected in reasons
    nul = store.log_conversion(unit_id="a\x00b", event="purchase", value=5, timestamp="2026-10-03")
    assert nul.rejected == 1 and "NUL" in nul.reasons[0]  # PostgreSQL text cannot hold one
    single = store.log_conversion(unit_id="z", event="purchase", value=5, timestamp="2026-10-03")
    assert single.inserted == 1
    assert store.log_conversion(unit_id="z", event="purchase", value=5, timestamp="2026-10-03").duplicates == 1


def _pandas_reference(store: EventStore, exposures: pd.DataFrame, conversions: pd.DataFrame,
                      metric: Metric) -> pd.DataFrame:
    assignments = store.assignments("store-test")
    active = set(assignments.loc[~assignments["holdout"], "unit_id"])
    exp = exposures[exposures["unit_id"].isin(active)].copy()
    exp["t0"] = pd.to_datetime(exp["timestamp"], utc=True).dt.as_unit("us").astype("int64")
    first = exp.groupby("unit_id").agg(segment=("segment", "first"), arm=("arm", "first"), t0=("t0", "min"))
    conv = conversions[conversions["event"] == metric.event].copy()
    conv["ts"] = pd.to_datetime(conv["timestamp"], utc=True).dt.as_unit("us").astype("int64")
    joined = conv.merge(first, left_on="unit_id", right_index=True)
    window = metric.window_days * DAY_US
    post = joined[(joined.ts >= joined.t0) & (joined.ts < joined.t0 + window)]
    pre = joined[(joined.ts >= joined.t0 - window) & (joined.ts < joined.t0)]
    if metric.kind == "conversion":
        y = post.groupby("unit_id").size().clip(upper=1).astype(float)
        x = pre.groupby("unit_id").size().clip(upper=1).astype(float)
    else:
        y = post.groupby("unit_id")["value"].sum()
        x = pre.groupby("unit_id")["value"].sum()
    units = first.assign(y=y.reindex(first.index).fillna(0), x=x.reindex(first.index).fillna(0))
    units = units.assign(y2=units.y**2, x2=units.x**2, xy=units.x * units.y)
    return units.groupby(["segment", "arm"]).agg(
        n=("y", "size"), sum=("y", "sum"), sum_sq=("y2", "sum"), x_sum=("x", "sum"),
        x_sum_sq=("x2", "sum"), xy_sum=("xy", "sum")).reset_index()


def test_aggregate_matches_pandas(store: EventStore) -> None:
    frame = _assigned(store, 3_000)
    exposures = _exposures(frame)
    rng = np.random.default_rng(1)
    exposures["timestamp"] = exposures["timestamp"] + pd.to_timedelta(rng.integers(0, 3 * 24, len(exposures)), unit="h")
    # A second, later exposure for some units must not move their first exposure.
    again = exposures.sample(300, random_state=2).assign(
        timestamp=lambda f: f["timestamp"] + pd.Timedelta(days=2))
    store.log_exposures(pd.concat([exposures, again]))
    n_conv = 8_000
    conversions = pd.DataFrame({
        "unit_id": rng.choice(frame["unit_id"], n_conv),
        "event": rng.choice(["purchase", "visit"], n_conv, p=[0.8, 0.2]),
        "value": rng.lognormal(3, 1, n_conv).round(2),
        "timestamp": pd.Timestamp("2026-09-20", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 30 * 24 * 60, n_conv), unit="min"),
    })
    store.log_conversions(conversions)
    for metric in EXPERIMENT.metrics:
        ours = aggregate(store, EXPERIMENT, metric).to_frame().sort_values(["segment", "arm"], ignore_index=True)
        reference = _pandas_reference(store, pd.concat([exposures, again]), conversions, metric)
        reference = reference.sort_values(["segment", "arm"], ignore_index=True)
        assert ours["n"].tolist() == reference["n"].tolist()
        for column in ("sum", "sum_sq", "x_sum", "x_sum_sq", "xy_sum"):
            np.testing.assert_allclose(ours[column], reference[column], rtol=1e-9, err_msg=column)
    held = holdout_aggregate(store, EXPERIMENT, EXPERIMENT.metrics[0])
    assert held.holdout.n == int(frame["holdout"].sum())
    assert held.campaigned.n == int((~frame["holdout"]).sum())


def test_event_ids_are_stable_across_versions() -> None:
    """Re-loading a file into a store made by an earlier version must count nothing twice."""
    from liftlab.store.events import check_conversions

    rows = pd.DataFrame({"unit_id": ["u1", "u2"], "event": ["purchase"] * 2, "value": [12.5, 3],
                         "timestamp": ["2026-10-05T12:00:00Z", "2026-10-06 08:00"]})
    valid = check_conversions(rows).valid.set_index("unit_id")
    # Pinned from liftlab 0.1.0's first store (commit 8b605c4).
    assert valid.loc["u1", "event_id"] == "c3294f56f39d2c89cc442b7359112bf6e"
    assert valid.loc["u2", "event_id"] == "cecd37ffaec8c9358880dd58b5564476a"
    # And, on random rows, the definition: SipHash of the fields, combined both ways round.
    rng = np.random.default_rng(5)
    many = pd.DataFrame({"unit_id": [f"p{i}" for i in rng.integers(0, 10**6, 500)], "event": "visit",
                         "value": rng.random(500).round(3),
                         "timestamp": pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**6, 500), unit="s")})
    checked = check_conversions(many).valid
    fields = checked[["unit_id", "event", "value", "ts"]]
    forward = pd.util.hash_pandas_object(fields, index=False)
    backward = pd.util.hash_pandas_object(fields[fields.columns[::-1]], index=False)
    expected = [f"c{a:016x}{b:016x}" for a, b in zip(forward, backward)]
    assert checked["event_id"].tolist() == expected
    assert checked["event_id"].is_monotonic_increasing  # stored in primary-key order


def test_first_exposure_is_the_earliest_whatever_the_logging_order(store: EventStore) -> None:
    frame = _assigned(store, 500)
    exposures = _exposures(frame)
    later = exposures.assign(timestamp=exposures["timestamp"] + pd.Timedelta(days=3), channel="sms")
    store.log_exposures(later)
    store.log_exposures(exposures.iloc[::2])  # earlier sends logged afterwards, for half the units
    store.log_exposures(later)  # duplicates move nothing
    with store.engine.connect() as conn:
        first = pd.read_sql_query("SELECT unit_id, segment, arm, t0 FROM exposed_units", conn).set_index("unit_id")
    assert len(first) == len(exposures) and first.index.is_unique
    t0 = pd.to_datetime(first["t0"], unit="us", utc=True)
    early = set(exposures["unit_id"].iloc[::2])
    assert (t0[first.index.isin(early)] == pd.Timestamp("2026-10-01 09:00", tz="UTC")).all()
    assert (t0[~first.index.isin(early)] == pd.Timestamp("2026-10-04 09:00", tz="UTC")).all()
    expected = exposures.set_index("unit_id")
    assert (first["arm"] == expected.loc[first.index, "arm"]).all()
    # A look as of 2 October counts only the units first exposed before then.
    as_of = aggregate(store, EXPERIMENT, EXPERIMENT.metrics[0], until=pd.Timestamp("2026-10-02", tz="UTC"))
    assert as_of.total == len(early)


def test_a_store_from_before_exposed_units_is_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = EventStore(url)
    store.register_experiment(EXPERIMENT)
    frame = _assigned(store, 400)
    store.log_exposures(_exposures(frame))
    before = aggregate(store, EXPERIMENT, EXPERIMENT.metrics[1]).to_frame()
    with store.engine.begin() as conn:  # what a 0.1.0 store looked like
        conn.exec_driver_sql("DROP TABLE exposed_units")
    store.engine.dispose()
    reopened = EventStore(url)
    pd.testing.assert_frame_equal(aggregate(reopened, EXPERIMENT, EXPERIMENT.metrics[1]).to_frame(), before)


# The per-row trigger that kept first exposures before the logging path did (liftlab <= 0.4).
OLD_TRIGGER = {
    "sqlite": ["""CREATE TRIGGER exposures_first AFTER INSERT ON exposures BEGIN
        INSERT INTO exposed_units (experiment, unit_id, segment, arm, t0)
        VALUES (NEW.experiment, NEW.unit_id, NEW.segment, NEW.arm, NEW.ts)
        ON CONFLICT (experiment, segment, arm, unit_id) DO UPDATE SET t0 = excluded.t0
        WHERE excluded.t0 < exposed_units.t0;
    END"""],
    "postgresql": ["""CREATE FUNCTION liftlab_first_exposure() RETURNS trigger AS $body$
        BEGIN
            INSERT INTO exposed_units (experiment, unit_id, segment, arm, t0)
            VALUES (NEW.experiment, NEW.unit_id, NEW.segment, NEW.arm, NEW.ts)
            ON CONFLICT (experiment, segment, arm, unit_id)
            DO UPDATE SET t0 = LEAST(exposed_units.t0, EXCLUDED.t0);
            RETURN NULL;
        END $body$ LANGUAGE plpgsql""",
                   """CREATE TRIGGER exposures_first AFTER INSERT ON exposures
        FOR EACH ROW EXECUTE FUNCTION liftlab_first_exposure()"""],
}


def _triggers(store: EventStore) -> list[str]:
    query = ("SELECT name FROM sqlite_master WHERE type = 'trigger'" if store.engine.dialect.name == "sqlite"
             else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                  "UNION ALL SELECT proname FROM pg_proc WHERE proname = 'liftlab_first_exposure'")
    with store.engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql(query)]


def _first_exposures(store: EventStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """exposed_units, and what a full recomputation over exposures says it must hold."""
    columns = "experiment, segment, arm, unit_id"
    with store.engine.connect() as conn:
        kept = pd.read_sql_query(f"SELECT {columns}, t0 FROM exposed_units ORDER BY {columns}", conn)
        full = pd.read_sql_query(f"SELECT {columns}, MIN(ts) AS t0 FROM exposures GROUP BY {columns} "
                                 f"ORDER BY {columns}", conn)
    return kept, full


def test_the_old_first_exposure_trigger_is_dropped_on_open(empty_url: str) -> None:
    store = EventStore(empty_url)
    store.register_experiment(EXPERIMENT)
    frame = _assigned(store, 300)
    exposures = _exposures(frame)
    store.log_exposures(exposures.iloc[:100])
    with store.engine.begin() as conn:  # a store written by an earlier version
        for statement in OLD_TRIGGER[store.engine.dialect.name]:
            conn.exec_driver_sql(statement)
    assert "exposures_first" in _triggers(store)
    store.engine.dispose()
    reopened, again = EventStore(empty_url), EventStore(empty_url)  # a second open drops nothing twice
    assert _triggers(reopened) == []
    later = exposures.assign(timestamp=exposures["timestamp"] - pd.Timedelta(hours=1))
    assert reopened.log_exposures(later.iloc[50:]).inserted == len(later) - 50
    kept, full = _first_exposures(again)
    pd.testing.assert_frame_equal(kept, full)
    for s in (reopened, again):
        s.engine.dispose()


def test_small_batches_look_up_their_own_units(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A single event reads its unit's assignment by key, not every assignment: same verdicts."""
    from liftlab.store import sqlio
    from liftlab.store.sqlio import stored_assignments

    monkeypatch.setattr(sqlio, "KEYS_PER_QUERY", 25)  # 3,000 units scan; 40 go by key
    frame = _assigned(store, 3_000)
    units = frame["unit_id"].to_numpy(dtype=object)
    keys = np.full(len(units), "store-test", dtype=object)
    with store.engine.connect() as conn:
        everything = stored_assignments(conn, keys, units)
        few = stored_assignments(conn, keys[:40], units[:40])
    assert len(everything) == len(frame)
    expected = everything.set_index("unit_id").loc[units[:40]].reset_index()[few.columns]
    pd.testing.assert_frame_equal(few.sort_values("unit_id", ignore_index=True),
                                  expected.sort_values("unit_id", ignore_index=True), check_dtype=False)
    row = frame[~frame["holdout"]].iloc[0]
    wrong_arm = {"control": "offer", "offer": "control", "vip": "control"}[row["arm"]]
    refused = store.log_exposure(experiment="store-test", unit_id=row["unit_id"], segment=row["segment"],
                                 arm=wrong_arm, channel="email", timestamp="2026-10-01T09:00:00Z")
    assert refused.rejected == 1 and "sticky" in refused.reasons[0]
    kept = store.log_exposure(experiment="store-test", unit_id=row["unit_id"], segment=row["segment"],
                              arm=row["arm"], channel="email", timestamp="2026-10-01T09:00:00Z")
    assert kept.inserted == 1


def test_a_scan_reads_what_the_table_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's scan aggregates each column into one text and cuts it up again: it reads every
    stored value as a plain row read does (holdout units' missing arm, a missing version,
    non-ASCII text), and a value holding its separator, or a text past SQLite's length limit,
    falls back to reading rows."""
    import sqlite3

    from liftlab.store import sqlio
    from liftlab.store.sqlio import stored_assignments

    monkeypatch.setattr(sqlio, "KEYS_PER_QUERY", 10)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.register_experiment(EXPERIMENT)
    frame = _assigned(store, 300)
    store.save_assignments(pd.DataFrame({  # saved under version 2 (registered first), and none
        "experiment": ["store-test", "store-test", "other"], "unit_id": ["Zoë-ü", "naïve 漢字", "u1"],
        "segment": ["at_risk", "champion", "x"], "arm": ["offer", None, "b"], "bucket": [0.1, 0.2, 0.3],
        "holdout": [False, True, False]}), version=2)

    def comparable(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.sort_values("unit_id", ignore_index=True)
        return rows.assign(holdout=rows["holdout"].astype(bool), version=rows["version"].astype("Int64"),
                           **{c: rows[c].astype(object).where(rows[c].notna(), None)
                              for c in ("unit_id", "segment_stored", "arm_stored")})

    def plain() -> pd.DataFrame:
        with store.engine.connect() as conn:
            return comparable(pd.read_sql_query(
                "SELECT unit_id, segment AS segment_stored, arm AS arm_stored, holdout, version "
                "FROM assignments WHERE experiment = 'store-test'", conn))

    def scanned() -> pd.DataFrame:
        units = np.array(list(frame["unit_id"]) + ["Zoë-ü"], dtype=object)
        with store.engine.connect() as conn:
            found = stored_assignments(conn, np.full(len(units), "store-test", dtype=object), units)
        return comparable(found.drop(columns="experiment"))

    expected = plain()
    assert expected["arm_stored"].isna().sum() > 1 and expected["version"].isna().sum() == 0
    pd.testing.assert_frame_equal(scanned(), expected)
    with store.engine.begin() as conn:  # some rows without a version
        conn.exec_driver_sql("UPDATE assignments SET version = NULL WHERE unit_id LIKE 'u1%'")
    pd.testing.assert_frame_equal(scanned(), plain())
    with store.engine.connect() as conn:  # past SQLite's length limit: rows are read
        conn.connection.dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000)
        units = frame["unit_id"].to_numpy(dtype=object)
        assert sqlio._scan_sqlite(conn, "store-test") is None
        found = stored_assignments(conn, np.full(len(units), "store-test", dtype=object), units)
        conn.connection.dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000_000)
    pd.testing.assert_frame_equal(comparable(found.drop(columns="experiment")), plain())
    store.save_assignments(pd.DataFrame({"experiment": ["store-test"], "unit_id": ["odd\x1fid"], "segment": ["at_risk"],
                                         "arm": ["offer"], "bucket": [0.5], "holdout": [False]}))
    with store.engine.connect() as conn:  # a value holding the separator: the scan gives way to rows
        assert sqlio._scan_sqlite(conn, "store-test") is None
    assert "odd\x1fid" in set(scanned()["unit_id"])
    pd.testing.assert_frame_equal(scanned(), plain())
    store.engine.dispose()


def test_timestamps_in_iso_8601_or_epoch_seconds_only() -> None:
    from liftlab.store.events import check_conversions

    stamps = ["2026-10-05T12:00:00Z", "2026-10-05 14:00:00+02:00", "2026-10-05T12:00:00.000000",
              "Mon, 05 Oct 2026 12:00:00 +0000", "5 October 2026 12:00", "1791201600", "yesterday"]
    rows = pd.DataFrame({"unit_id": [f"t{i}" for i in range(len(stamps))], "event": "visit", "value": 0.0,
                         "timestamp": stamps})
    checked = check_conversions(rows)
    noon = int(pd.Timestamp("2026-10-05 12:00", tz="UTC").value // 1000)
    # ISO 8601 (offset or naive = UTC) and epoch seconds are read; other forms are refused, not guessed.
    assert (checked.valid["ts"] == noon).all() and len(checked.valid) == 4
    assert checked.rejected["line"].tolist() == [5, 6, 8]
    assert checked.rejected["reason"].str.startswith("unparseable timestamp").all()
    assert checked.rejected["reason"].str.contains("not ISO 8601 or epoch seconds").all()


def _log_worker(url: str, worker: int, n: int) -> None:
    """Workers 0 and 1 log purchases; 2 and 3 log sends to their own customers."""
    store = EventStore(url)
    for start in range(0, n, 10_000):
        units = [f"w{worker}-{i}" for i in range(start, start + 10_000)]
        if worker < 2:
            rows = pd.DataFrame({"unit_id": units, "event": "purchase", "value": 1.0,
                                 "timestamp": "2026-10-05T12:00:00Z"})
            counts = store.log_conversions(rows)
        else:
            rows = pd.DataFrame({"experiment": "store-test", "unit_id": units, "segment": "at_risk",
                                 "arm": "offer", "channel": "email", "timestamp": "2026-10-01T09:00:00Z"})
            counts = store.log_exposures(rows)
        assert counts.rejected == 0 and counts.inserted == 10_000, counts


def test_four_processes_logging_at_once_lose_nothing(store: EventStore) -> None:
    url = store.url
    n = 50_000
    setup = store
    units = [f"w{w}-{i}" for w in (2, 3) for i in range(n)]
    setup.save_assignments(pd.DataFrame({"experiment": "store-test", "unit_id": units, "segment": "at_risk",
                                         "arm": "offer", "bucket": 0.7, "holdout": False}))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_log_worker, args=(url, w, n)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
        assert worker.exitcode == 0
    store = EventStore(url)
    assert store.count("conversions") == 2 * n and store.count("exposures") == 2 * n
    assert aggregate(store, EXPERIMENT, EXPERIMENT.metrics[0]).total == 2 * n


def test_killed_load_leaves_whole_chunks_and_rerun_completes(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    source = tmp_path / "big.csv"
    n = 400_000
    pd.DataFrame({
        "unit_id": [f"k{i}" for i in range(n)], "event": "purchase", "value": 2.5,
        "timestamp": "2026-10-05T12:00:00Z",
    }).to_csv(source, index=False)
    EventStore(url)
    script = (
        "import sys, pandas as pd\n"
        "from liftlab.store.event_store import EventStore\n"
        "store = EventStore(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "store.log_conversions(pd.read_csv(sys.argv[2]))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, url, str(source)], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
    deadline = time.time() + 60
    store = EventStore(url)
    while store.count("conversions") == 0 and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = store.count("conversions")
    assert partial % CHUNK_ROWS == 0 and partial < n  # whole chunks only
    counts = store.log_conversions(pd.read_csv(source))
    assert counts.inserted == n - partial and counts.duplicates == partial
    assert store.count("conversions") == n


def test_assignments_read_once_are_reused_and_new_ones_still_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store remembers the assignments a scan read (they never change) and still looks up
    units assigned since, by another process."""
    from liftlab.store import sqlio

    monkeypatch.setattr(sqlio, "KEYS_PER_QUERY", 25)
    url = f"sqlite:///{tmp_path / 'events.db'}"
    logger = EventStore(url)
    logger.register_experiment(EXPERIMENT)
    frame = _assigned(logger, 1_000)
    sends = _exposures(frame)
    assert logger.log_exposures(sends.iloc[:600]).inserted == 600
    assert "store-test" in logger._seen  # the first batch scanned
    newcomers = pd.DataFrame({"experiment": "store-test", "unit_id": [f"late{i}" for i in range(30)],
                              "segment": "at_risk", "arm": "offer", "bucket": 0.9, "holdout": False})
    EventStore(url).save_assignments(newcomers)  # another process assigns 30 more
    wrong = sends.iloc[600:610].assign(arm="nonsense")
    late = _exposures(newcomers.assign(holdout=False))
    counts = logger.log_exposures(pd.concat([sends.iloc[610:], wrong, late]))
    assert counts.inserted == len(sends) - 610 + 30
    assert counts.rejected == 10 and all("sticky" in r for r in counts.reasons)


def test_daily_aggregate_equals_a_cut_off_per_day(store: EventStore) -> None:
    """Two queries give what `aggregate(until=end of day d)` gives for every day d."""
    from datetime import UTC, datetime, timedelta

    from liftlab.aggregate.queries import daily_aggregate

    frame = _assigned(store, 1_500)
    exposures = _exposures(frame)
    rng = np.random.default_rng(9)
    # Sends over five days from 2 October, some units sent twice (the repeat a day earlier, still
    # inside the experiment's dates); purchases before, during and after.
    exposures["timestamp"] = exposures["timestamp"] + pd.to_timedelta(rng.integers(24, 6 * 24, len(exposures)), unit="h")
    again = exposures.sample(200, random_state=3).assign(timestamp=lambda f: f["timestamp"] - pd.Timedelta(hours=30))
    store.log_exposures(pd.concat([again, exposures]))
    n = 6_000
    stamps = pd.Timestamp("2026-09-28", tz="UTC") + pd.to_timedelta(rng.integers(0, 20 * 24, n), unit="h")
    conversions = pd.DataFrame({"unit_id": rng.choice(frame["unit_id"], n), "event": "purchase",
                                "value": rng.lognormal(3, 1, n).round(2), "timestamp": stamps})
    conversions = pd.concat([conversions, conversions.iloc[:50].assign(value=7.0, event_id=[f"tie{i}" for i in range(50)])])
    store.log_conversions(conversions)
    origin = datetime(2026, 10, 1, tzinfo=UTC)  # the start: the first sends (the repeats) fall on day 0
    for metric in EXPERIMENT.metrics:
        daily = daily_aggregate(store, EXPERIMENT, metric, origin=origin, days=16)
        for day in range(16):
            cut = aggregate(store, EXPERIMENT, metric, until=origin + timedelta(days=day + 1)).to_frame()
            ours = daily[day].to_frame()
            assert ours[["segment", "arm"]].values.tolist() == cut[["segment", "arm"]].values.tolist(), day
            assert ours["n"].tolist() == cut["n"].tolist()
            np.testing.assert_allclose(ours["sum"], cut["sum"], rtol=1e-9)
            np.testing.assert_allclose(ours["sum_sq"], cut["sum_sq"], rtol=1e-9)


def test_an_iterable_of_records_is_read_in_slices(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A generator is consumed a slice at a time; line numbers run on across slices."""
    from liftlab.store import event_store as store_module

    monkeypatch.setattr(store_module, "RECORDS_PER_BATCH", 7)
    pulled = []

    def records():  # type: ignore[no-untyped-def]
        for i in range(30):
            pulled.append(i)
            if i == 21:  # three slices of 7 (one row refused) are stored before the fourth is read
                assert store.count("conversions") == 20
            yield {"unit_id": f"g{i}", "event": "visit", "value": -1.0 if i == 17 else 1.0,
                   "timestamp": "2026-10-02T10:00:00Z"}

    stream = records()
    counts = store.log_conversions(stream, source="stream", first_line=1)
    assert (counts.inserted, counts.rejected) == (29, 1)
    assert counts.reasons == ("line 18: field 'value' is negative",)
    assert len(pulled) == 30 and next(stream, None) is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=conversion_rows)
def test_junk_never_breaks_the_store(store: EventStore, rows: list[dict]) -> None:
    """Whatever a batch holds, the database (SQLite or PostgreSQL) takes every row it accepts."""
    counts = store.log_conversions(rows, source="fuzz", first_line=1)
    assert counts.inserted + counts.duplicates + counts.rejected == len(rows)


def test_a_store_that_refuses_writes_gives_one_clear_error(tmp_path: Path) -> None:
    from sqlalchemy import event

    from liftlab.errors import StoreError

    store = EventStore(f"sqlite:///{tmp_path / 'ro.db'}")
    store.engine.dispose()
    event.listen(store.engine, "connect", lambda conn, _: conn.execute("PRAGMA query_only=ON"))
    rows = pd.DataFrame({"unit_id": ["a"], "event": "visit", "value": 1.0, "timestamp": "2026-10-02"})
    with pytest.raises(StoreError, match="could not write 1 conversions .* readonly"):
        store.log_conversions(rows)


def test_log_file_reports_progress_and_checks_its_kind(store: EventStore, tmp_path: Path) -> None:
    source = tmp_path / "visits.csv"
    pd.DataFrame({"unit_id": [f"v{i}" for i in range(50)], "event": "visit", "value": 0.0,
                  "timestamp": "2026-10-02T10:00:00Z"}).to_csv(source, index=False)
    seen: list[tuple[int, int]] = []
    counts = store.log_file("conversions", source, progress=lambda done, rows: seen.append((done, rows)))
    assert counts.inserted == 50 and seen[-1] == (source.stat().st_size, 50)
    with pytest.raises(StoreError, match="kind"):
        store.log_file("visits", source)


def _register(url: str, barrier: object, results: object) -> None:
    store = EventStore(url)
    barrier.wait()  # type: ignore[attr-defined]
    try:
        results.put(store.register_experiment(EXPERIMENT).status)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001
        results.put(str(exc))  # type: ignore[attr-defined]


def test_processes_registering_the_same_config_at_once_store_it_once(empty_url: str) -> None:
    EventStore(empty_url)
    statuses = sorted(_race(_register, empty_url, 6))
    assert statuses == ["new"] + ["unchanged"] * 5, statuses
    store = EventStore(empty_url)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM experiments").scalar_one() == 1


# First exposures against the full recomputation: any rows, any chunking, any order, any writer.
_UNITS = 12
_chunked_rows = st.lists(
    st.tuples(st.integers(0, _UNITS - 1), st.integers(0, 400),  # unit, hours after the start
              st.one_of(st.none(), st.integers(0, 8))),  # a given event id, shared by some rows
    min_size=1, max_size=40,
)


def _rows_for(frame: pd.DataFrame, rows: list[tuple[int, int, int | None]]) -> pd.DataFrame:
    """Exposure records of the assigned, non-holdout units in `frame`, one per (unit, hour, id)."""
    active = frame[~frame["holdout"]].reset_index(drop=True)
    picked = active.iloc[[u % len(active) for u, _, _ in rows]].reset_index(drop=True)
    out = pd.DataFrame({"experiment": picked["experiment"], "unit_id": picked["unit_id"],
                        "segment": picked["segment"], "arm": picked["arm"], "channel": "email",
                        "timestamp": [pd.Timestamp("2026-10-01", tz="UTC") + pd.Timedelta(hours=h)
                                      for _, h, _ in rows]})
    out["event_id"] = pd.Series([None if e is None else f"given-{e}" for _, _, e in rows], dtype=object)
    return out


@settings(max_examples=30, deadline=None)
@given(rows=_chunked_rows, cuts=st.lists(st.integers(0, 40), max_size=6), order=st.randoms(use_true_random=False),
       chunk=st.integers(1, 7))
def test_first_exposure_equals_the_minimum_over_stored_exposures(
        rows: list[tuple[int, int, int | None]], cuts: list[int], order: object, chunk: int) -> None:
    """Random rows split into random calls, loaded in random order with small store chunks:
    exposed_units is exactly MIN(ts) per unit over the exposures stored. A duplicate event id
    with another timestamp is skipped (the stored row wins) and moves no t0."""
    import tempfile

    from liftlab.store import event_store

    folder = Path(tempfile.mkdtemp())
    store = EventStore(f"sqlite:///{folder / 'p.db'}")
    store.register_experiment(EXPERIMENT)
    frame = _assigned(store, 60)
    records = _rows_for(frame, rows)
    bounds = sorted({0, len(records), *(c for c in cuts if c < len(records))})
    calls = [records.iloc[a:b] for a, b in zip(bounds, bounds[1:])]
    order.shuffle(calls)  # type: ignore[attr-defined]
    saved = event_store.CHUNK_ROWS
    event_store.CHUNK_ROWS = chunk
    try:
        for call in calls:
            store.log_exposures(call)
    finally:
        event_store.CHUNK_ROWS = saved
    kept, full = _first_exposures(store)
    pd.testing.assert_frame_equal(kept, full)
    store.engine.dispose()


def _load_calls(url: str, barrier: object, results: object, calls: list[pd.DataFrame]) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        store = EventStore(url)
        for call in calls:
            store.log_exposures(call)
        results.put("ok")  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 — the test reports what went wrong
        results.put(repr(exc))  # type: ignore[attr-defined]


def test_two_processes_loading_overlapping_chunks_keep_the_earliest_exposure(store: EventStore) -> None:
    """Two writers load the same sends, and some of their own, in different chunk orders at
    once: every unit's first exposure is the minimum over what was stored."""
    frame = _assigned(store, 1_500)
    rng = np.random.default_rng(7)
    rows = [(int(u), int(h), None) for u, h in zip(rng.integers(0, 1_000, 6_000), rng.integers(0, 500, 6_000))]
    records = _rows_for(frame, rows).drop(columns="event_id")
    shared, own_a, own_b = records.iloc[:4_000], records.iloc[4_000:5_000], records.iloc[5_000:]
    calls_a = [part.iloc[at] for part in (shared, own_a) for at in np.array_split(np.arange(len(part)), 12)]
    calls_b = [part.iloc[at] for part in (own_b, shared) for at in np.array_split(np.arange(len(part)), 9)]
    rng.shuffle(calls_a)
    rng.shuffle(calls_b)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_load_calls, args=(store.url, barrier, results, calls))
               for calls in (calls_a, calls_b)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert [results.get(timeout=5) for _ in workers] == ["ok", "ok"]
    assert store.count("exposures") == len(records.drop_duplicates(["unit_id", "timestamp"]))
    kept, full = _first_exposures(store)
    pd.testing.assert_frame_equal(kept, full)
    assert len(kept) == records["unit_id"].nunique()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["b", "a", "é", "Z", "ab"]), st.text(min_size=1, max_size=6)),
                min_size=1, max_size=60))
def test_key_order_sorts_as_the_database_collates(rows: list[tuple[str, str]]) -> None:
    """Rows come out in the order of their keys' UTF-8 bytes (SQLite's and PostgreSQL's "C"
    order), whether a column repeats a few values (ranked) or holds distinct ids."""
    from liftlab.store.sqlio import key_order

    rows = rows + [("a", f"id{i}") for i in range(120)]  # ids many enough to be compared as text
    frame = pd.DataFrame({"segment": pd.Series([s for s, _ in rows], dtype=object),
                          "unit_id": pd.Series([u for _, u in rows], dtype=object)})
    ordered = frame.take(key_order(frame, ("segment", "unit_id")))
    got = list(zip(ordered["segment"], ordered["unit_id"]))
    assert got == sorted(rows, key=lambda r: (r[0].encode(), r[1].encode()))


def test_a_new_sqlite_store_has_8_kib_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    """New files get the store's page size (set before WAL fixes it); a store made with
    SQLite's default 4 KiB pages opens, upgrades and logs as before, its pages unchanged."""
    import sqlite3

    from liftlab.store.schema import SQLITE_PAGE_BYTES

    EventStore(f"sqlite:///{tmp_path / 'new.db'}")
    with sqlite3.connect(tmp_path / "new.db") as raw:
        assert raw.execute("PRAGMA page_size").fetchone()[0] == SQLITE_PAGE_BYTES == 8192
    with sqlite3.connect(tmp_path / "old.db") as raw:
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE unrelated (x INTEGER)")
    old = EventStore(f"sqlite:///{tmp_path / 'old.db'}")
    experiment = Experiment(key="pages", start=date(2026, 1, 1), metrics=(Metric("buy", "conversion"),),
                            campaigns=(Campaign("champion", arms=(Arm("control", 0.5, control=True),
                                                                   Arm("offer", 0.5))),))
    old.register_experiment(experiment)
    people = pd.DataFrame({"unit_id": [f"u{i}" for i in range(50)], "segment": "champion"})
    old.save_assignments(assign(experiment, people, Project(holdout_fraction=0.0)).assignments)
    stored = old.assignments("pages")
    logged = old.log_exposures(stored.assign(timestamp="2026-01-02T00:00:00Z")[
        ["experiment", "unit_id", "segment", "arm", "timestamp"]])
    assert logged.inserted == 50 and old.count("exposures") == 50
    with sqlite3.connect(tmp_path / "old.db") as raw:
        assert raw.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_big_batch_checked_beside_its_reader_thread_stores_what_the_plain_path_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From THREADED_ROWS rows a batch's assignments are read and matched on a second thread
    while the other checks run; the stored rows, first exposures, quarantine and counts are
    exactly those of the same batch checked on one thread. The batch mixes good rows with
    every kind of refusal (unknown unit, holdout unit, wrong arm, wrong segment, unknown
    experiment, bad timestamp, blank id), repeated rows and a unit exposed twice."""
    import liftlab.store.event_store as event_store

    rng = np.random.default_rng(7)
    people = pd.DataFrame({"unit_id": [f"u{i}" for i in range(15_000)],
                           "segment": rng.choice(["at_risk", "champion"], 15_000)})
    assigned = assign(EXPERIMENT, people, PROJECT).assignments
    sends = assigned[assigned["arm"].notna()].sample(frac=1.0, random_state=3)
    rows = pd.DataFrame({"experiment": sends["experiment"], "unit_id": sends["unit_id"],
                         "segment": sends["segment"], "arm": sends["arm"], "channel": "email",
                         "timestamp": pd.Timestamp("2026-10-02", tz="UTC")
                         + pd.to_timedelta(rng.integers(0, 86_400 * 5, len(sends)), unit="s")})
    holdout = assigned[assigned["holdout"]].iloc[:20]
    broken = pd.DataFrame({
        "experiment": ["store-test"] * 6 + ["nope"],
        "unit_id": ["ghost", holdout["unit_id"].iloc[0], rows["unit_id"].iloc[0], rows["unit_id"].iloc[1],
                    rows["unit_id"].iloc[2], "  ", rows["unit_id"].iloc[3]],
        "segment": [rows["segment"].iloc[0], holdout["segment"].iloc[0], rows["segment"].iloc[0], "hibernating",
                    rows["segment"].iloc[2], "at_risk", rows["segment"].iloc[3]],
        "arm": [rows["arm"].iloc[0], "control", "wrong-arm", rows["arm"].iloc[1], rows["arm"].iloc[2], "offer",
                rows["arm"].iloc[3]],
        "channel": "email",
        "timestamp": [pd.Timestamp("2026-10-03", tz="UTC")] * 4 + [pd.NaT, pd.Timestamp("2026-10-03", tz="UTC"),
                                                                   pd.Timestamp("2026-10-03", tz="UTC")],
    })
    earlier = rows.iloc[:50].assign(timestamp=pd.Timestamp("2026-10-01 12:00", tz="UTC"))
    batch = pd.concat([rows, broken, rows.iloc[:100], earlier], ignore_index=True)
    assert len(batch) >= event_store.THREADED_ROWS

    readers = []
    check = event_store.check_exposures

    def checking(*args: object, **kwargs: object) -> object:
        readers.append(kwargs.get("reader"))
        return check(*args, **kwargs)

    monkeypatch.setattr(event_store, "check_exposures", checking)

    def load(name: str) -> tuple[object, ...]:
        store = EventStore(f"sqlite:///{tmp_path / name}")
        store.register_experiment(EXPERIMENT)
        store.save_assignments(assigned)
        counts = store.log_exposures(batch, source="sends.csv")
        with store.engine.connect() as conn:
            stored = pd.read_sql_query("SELECT * FROM exposures ORDER BY event_id", conn)
        quarantined = store.quarantine()[["kind", "source", "line", "reason", "payload"]]
        return counts, stored, _first_exposures(store)[0], quarantined

    threaded = load("threaded.db")
    monkeypatch.setattr(event_store, "THREADED_ROWS", 10**9)
    plain = load("plain.db")
    assert readers[0] is not None and readers[-1] is None  # each path was taken
    assert threaded[0] == plain[0]
    assert threaded[0].rejected == 7 and threaded[0].inserted == len(rows) + 50
    for found, expected in zip(threaded[1:], plain[1:], strict=True):
        pd.testing.assert_frame_equal(found, expected)


def test_an_in_memory_store_logs_a_big_batch_on_its_own_thread() -> None:
    """An in-memory SQLite store has one database per thread, so a batch big enough for the
    reader thread is checked on the calling thread instead: every row is stored."""
    from liftlab.store.event_store import THREADED_ROWS

    store = EventStore("sqlite://")
    store.register_experiment(EXPERIMENT)
    people = pd.DataFrame({"unit_id": [f"u{i}" for i in range(THREADED_ROWS + 2_000)], "segment": "champion"})
    assigned = assign(EXPERIMENT, people, Project(holdout_fraction=0.0)).assignments
    store.save_assignments(assigned)
    sends = assigned.assign(timestamp="2026-10-02T00:00:00Z")[["experiment", "unit_id", "segment", "arm", "timestamp"]]
    logged = store.log_exposures(sends)
    assert logged.inserted == len(sends) and logged.rejected == 0
    assert store.count("exposures") == len(sends)

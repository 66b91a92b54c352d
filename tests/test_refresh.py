"""Incremental refresh: the materialised per-unit values give exactly what the full queries
give, whatever order events arrive in and however refreshes interleave with logging."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scratch_pg import POSTGRES_URL, scratch_database
from test_store import empty_url  # noqa: F401 — the fixture: SQLite, and PostgreSQL when given

from liftlab import Arm, Campaign, Experiment, Metric, Project, assign
from liftlab.aggregate import refresh as refresh_module
from liftlab.aggregate.queries import (
    aggregate,
    full_aggregate,
    full_holdout_aggregate,
    holdout_aggregate,
)
from liftlab.aggregate.refresh import materialised_stats, refresh, signature
from liftlab.store.event_store import EventStore

START = pd.Timestamp("2026-10-01", tz="UTC")
METRICS = (Metric("purchase", "conversion", window_days=2), Metric("revenue", "revenue", window_days=3),
           Metric("visit", "conversion", event="visit", window_days=1))
CAMPAIGNS = (Campaign("at_risk", arms=(Arm("control", 0.5, control=True), Arm("offer", 0.5))),
             Campaign("champion", arms=(Arm("control", 0.4, control=True), Arm("vip", 0.6))))
MAIN = Experiment(key="main", start=date(2026, 10, 1), metrics=METRICS, campaigns=CAMPAIGNS)
OTHER = Experiment(key="other", start=date(2026, 10, 1), metrics=METRICS[:1], campaigns=CAMPAIGNS)
PROJECT = Project(holdout_fraction=0.3, holdout_salt="refresh-test")
UNITS = [f"u{i}" for i in range(16)]
PEOPLE = pd.DataFrame({"unit_id": UNITS, "segment": ["at_risk", "champion"] * 8})


def _new_store(url: str) -> tuple[EventStore, dict[str, pd.DataFrame]]:
    store = EventStore(url)
    assigned = {}
    for experiment in (MAIN, OTHER):
        store.register_experiment(experiment)
        frame = assign(experiment, PEOPLE, PROJECT).assignments
        store.save_assignments(frame)
        assigned[experiment.key] = frame.set_index("unit_id")
    return store, assigned


def test_the_fixture_has_exposable_and_held_out_units() -> None:
    frame = assign(MAIN, PEOPLE, PROJECT).assignments
    assert 2 <= frame["holdout"].sum() <= 10


def _assert_same(store: EventStore, experiment: Experiment) -> None:
    """Materialised sums equal the full recomputation: counts exactly, sums to 1e-9."""
    stats, held = materialised_stats(store, experiment)
    for metric in experiment.metrics:
        ours = stats[metric.key].to_frame()
        full = full_aggregate(store, experiment, metric).to_frame()
        assert ours[["segment", "arm", "n"]].equals(full[["segment", "arm", "n"]]), metric.key
        assert list(ours.columns) == list(full.columns)
        for column in full.columns[3:]:
            np.testing.assert_allclose(ours[column].astype(float), full[column].astype(float), rtol=1e-9, atol=1e-9,
                                       err_msg=column)
        reference = full_holdout_aggregate(store, experiment, metric)
        for got, want in ((held[metric.key].campaigned, reference.campaigned),
                          (held[metric.key].holdout, reference.holdout)):
            assert float(got.n) == float(want.n), metric.key
            np.testing.assert_allclose([float(got.sum), float(got.sum_sq)],
                                       [float(want.sum), float(want.sum_sq)], rtol=1e-9, atol=1e-9)
        # The public calls agree with the one-transaction read.
        assert aggregate(store, experiment, metric).to_frame().equals(ours)


_exposure = st.tuples(st.just("expose"), st.sampled_from(["main", "other"]), st.integers(0, 15),
                      st.integers(0, 8 * 24), st.sampled_from(["email", "sms"]))
_conversion = st.tuples(st.just("convert"), st.integers(0, 17), st.sampled_from(["purchase", "visit"]),
                        st.sampled_from([0.0, 1.5, 10.0, 99.99]), st.integers(-4 * 24, 12 * 24))
_batch = st.lists(st.lists(st.one_of(_exposure, _conversion), min_size=1, max_size=6), min_size=1, max_size=7)


def _log_and_compare(url: str, batches: list[list[tuple]], share: float, full_every: int) -> None:
    """Log the batches into a fresh store at `url`, refreshing (with FULL_SHARE = `share`,
    and in full every `full_every` batches) and comparing with the full queries after each."""
    saved = refresh_module.FULL_SHARE
    refresh_module.FULL_SHARE = share
    try:
        store, assigned = _new_store(url)
        for step, batch in enumerate(batches):
            for call in batch:
                if call[0] == "expose":
                    _, key, unit, hours, channel = call
                    row = assigned[key].loc[UNITS[unit]]
                    if row["holdout"]:
                        continue  # the store refuses these (tested elsewhere)
                    store.log_exposure(experiment=key, unit_id=UNITS[unit], segment=row["segment"],
                                       arm=row["arm"], channel=channel,
                                       timestamp=START + pd.Timedelta(hours=hours))
                else:
                    _, unit, event, value, hours = call
                    store.log_conversion(unit_id=f"u{unit}", event=event, value=value,
                                         timestamp=START + pd.Timedelta(hours=hours))
            if full_every and step % full_every == 0:
                assert refresh(store, MAIN, full=True).full
            _assert_same(store, MAIN)
            _assert_same(store, OTHER)
        store.engine.dispose()
    finally:
        refresh_module.FULL_SHARE = saved


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=_batch, share=st.sampled_from([0.0, 0.2, 1.0]), full_every=st.integers(0, 4))
def test_materialised_values_equal_the_full_queries(batches: list[list[tuple]], share: float,
                                                   full_every: int) -> None:
    """Random logging — exposures in any order, earlier ones late, duplicates re-logged,
    conversions before their unit's exposure, of held-out units, of the other experiment's
    units — interleaved with refreshes (incremental, full, or patched whatever the share):
    after every batch the materialised sums are the full queries'."""
    with tempfile.TemporaryDirectory() as folder:
        _log_and_compare(f"sqlite:///{Path(folder) / 'events.db'}", batches, share, full_every)


@pytest.mark.skipif(not POSTGRES_URL, reason="LIFTLAB_TEST_POSTGRES_URL is not set: SQLite only")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=_batch, share=st.sampled_from([0.0, 0.2, 1.0]), full_every=st.integers(0, 4))
def test_materialised_values_equal_the_full_queries_on_postgresql(batches: list[list[tuple]], share: float,
                                                                  full_every: int) -> None:
    """The same property on PostgreSQL (its own `seq` watermark, lock and temporary tables),
    one fresh database per example."""
    with scratch_database() as url:
        _log_and_compare(url, batches, share, full_every)


@pytest.fixture
def filled(empty_url: str) -> Iterator[EventStore]:
    """A store with MAIN's units exposed over a few days and a few hundred conversions, on
    SQLite and (when a server is given) PostgreSQL."""
    store, assigned = _new_store(empty_url)
    rng = np.random.default_rng(7)
    active = assigned["main"][~assigned["main"]["holdout"]]
    store.log_exposures(pd.DataFrame({
        "experiment": "main", "unit_id": active.index, "segment": active["segment"].to_numpy(),
        "arm": active["arm"].to_numpy(), "channel": "email",
        "timestamp": START + pd.to_timedelta(rng.integers(1, 72, len(active)), unit="h")}))
    _convert(store, rng, 300)
    yield store
    store.engine.dispose()


def _convert(store: EventStore, rng: np.random.Generator, n: int) -> None:
    store.log_conversions(pd.DataFrame({
        "unit_id": rng.choice(UNITS, n), "event": rng.choice(["purchase", "visit"], n),
        "value": rng.lognormal(3, 1, n).round(2),
        "timestamp": START + pd.to_timedelta(rng.integers(-5 * 24 * 60, 12 * 24 * 60, n), unit="min")}))


def test_an_edited_metric_is_recomputed_not_served_stale(filled: EventStore) -> None:
    """A changed window or event is a new signature: rebuilt, never read from the old values;
    switching back finds the old values brought up to date with what came meanwhile."""
    before = aggregate(filled, MAIN, METRICS[1]).to_frame()
    for edited in (replace(METRICS[1], window_days=1), replace(METRICS[1], event="visit"),
                   replace(METRICS[1], kind="conversion")):
        assert signature(edited) != signature(METRICS[1])
        experiment = replace(MAIN, metrics=(edited, *METRICS[:1]))
        ours = aggregate(filled, experiment, edited).to_frame()
        pd.testing.assert_frame_equal(ours, full_aggregate(filled, experiment, edited).to_frame())
        assert not ours.equals(before)
        _assert_same(filled, experiment)
    _convert(filled, np.random.default_rng(8), 200)  # new events while the old metric is unused
    _assert_same(filled, MAIN)
    assert not aggregate(filled, MAIN, METRICS[1]).to_frame().equals(before)


def test_refresh_patches_only_touched_units(filled: EventStore) -> None:
    first = refresh(filled, MAIN)
    assert first.full and first.units == len(UNITS)  # nothing was materialised: built whole
    again = refresh(filled, MAIN)
    assert again.units == 0 and not again.full
    filled.log_conversion(unit_id="u0", event="purchase", value=5, timestamp=START + pd.Timedelta(hours=30))
    saved = refresh_module.FULL_SHARE
    try:
        refresh_module.FULL_SHARE = 0.5
        patched = refresh(filled, MAIN)
    finally:
        refresh_module.FULL_SHARE = saved
    assert not patched.full and patched.units == 1
    assert refresh(filled, MAIN, full=True).full
    _assert_same(filled, MAIN)


def test_holdout_values_follow_an_earlier_first_send(filled: EventStore) -> None:
    """The holdout is measured from the first send: an earlier send logged late rebuilds it."""
    held_before = holdout_aggregate(filled, MAIN, METRICS[0])
    assigned = filled.assignments("main").set_index("unit_id")
    unit = assigned[~assigned["holdout"]].index[0]
    row = assigned.loc[unit]
    filled.log_exposure(experiment="main", unit_id=unit, segment=row["segment"], arm=row["arm"],
                        channel="email", timestamp=START + pd.Timedelta(minutes=1))
    # Before the old first send (an hour in at the earliest), after the new one.
    filled.log_conversion(unit_id=assigned[assigned["holdout"]].index[0], event="purchase", value=3,
                          timestamp=START + pd.Timedelta(minutes=2))
    _assert_same(filled, MAIN)
    held_after = holdout_aggregate(filled, MAIN, METRICS[0])
    assert held_after.holdout.n == held_before.holdout.n
    assert float(held_after.holdout.sum) == float(full_holdout_aggregate(filled, MAIN, METRICS[0]).holdout.sum)


def test_cli_full_refresh_gives_the_same_report(filled: EventStore) -> None:
    """`liftlab analyze --full-refresh` rebuilds the values; the report is the same."""
    import json

    from click.testing import CliRunner

    from liftlab.cli import cli

    reports = []
    for extra in ([], ["--full-refresh"], []):
        result = CliRunner().invoke(cli, ["analyze", "main", "--db", filled.url, "--format", "json", *extra])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        report.pop("generated_at")
        reports.append(report)
    assert reports[0] == reports[1] == reports[2]


def test_the_report_from_materialised_values_is_the_full_queries_report(filled: EventStore) -> None:
    """`analyze` now reads the materialised values; a look `until` far ahead runs the full
    queries: the two reports are the same, number for number."""
    import json
    from datetime import datetime

    from liftlab.report.analysis import analyze
    from liftlab.report.render import render

    texts = []
    for until in (None, datetime(2100, 1, 1)):
        report = json.loads(render(analyze(filled, MAIN, until=until), "json"))
        report.pop("generated_at")
        texts.append(report)
    assert texts[0] == texts[1]


def test_single_version_shares_equal_the_joined_counts(filled: EventStore) -> None:
    """With one registered version, `expected_arm_shares` counts exposed units per segment
    without joining assignments: the same shares as the per-unit join, bit for bit."""
    from sqlalchemy import text

    from liftlab.store.shares import mix_arm_shares

    versions = {v.version: v.config for v in filled.experiment_versions("main")}
    assert len(versions) == 1
    with filled.engine.connect() as conn:
        counts = conn.execute(text(
            "SELECT a.segment, a.version, COUNT(*) FROM exposed_units u JOIN assignments a "
            "ON a.experiment = u.experiment AND a.unit_id = u.unit_id "
            "WHERE u.experiment = 'main' AND a.holdout = :f GROUP BY a.segment, a.version"), {"f": False}).fetchall()
    assert sum(n for _, _, n in counts) > 0
    assert filled.expected_arm_shares("main") == mix_arm_shares(versions, counts)


def test_a_store_keyed_the_old_way_is_rebuilt_on_opening(filled: EventStore) -> None:
    """An older store's unit_values (keyed with the signature second) and its watermarks are
    dropped when the store is opened, and the next refresh rebuilds them: same sums."""
    from sqlalchemy import text

    from liftlab.store.unit_values import KEY

    refresh(filled, MAIN)
    with filled.engine.begin() as conn:
        conn.execute(text("DROP TABLE unit_values"))
        conn.execute(text("CREATE TABLE unit_values (experiment VARCHAR NOT NULL, signature VARCHAR NOT NULL, "
                          "segment VARCHAR NOT NULL, arm VARCHAR NOT NULL, unit_id VARCHAR NOT NULL, "
                          "y FLOAT NOT NULL, x FLOAT NOT NULL, "
                          "PRIMARY KEY (experiment, signature, segment, arm, unit_id))"))
        conn.execute(text("ALTER TABLE refresh_marks DROP COLUMN exposed_floor"))
    reopened = EventStore(filled.url)
    with reopened.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM refresh_marks")).scalar() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM unit_values")).scalar() == 0
    from sqlalchemy import inspect

    with reopened.engine.connect() as conn:
        assert tuple(inspect(conn).get_pk_constraint("unit_values")["constrained_columns"]) == KEY
    assert refresh(reopened, MAIN).full
    _assert_same(reopened, MAIN)
    reopened.engine.dispose()
    again = EventStore(filled.url)  # keyed the current way: opening keeps the values
    with again.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM refresh_marks")).scalar() > 0
    assert not refresh(again, MAIN).full
    again.engine.dispose()


def test_the_holdout_is_counted_from_its_index(filled: EventStore) -> None:
    """The holdout's size is read from its partial index, and equals the count over every
    assignment."""
    from sqlalchemy import text

    with filled.engine.connect() as conn:
        indexed = refresh_module._holdout_size(conn, "main")
        scanned = conn.execute(text("SELECT COUNT(*) FROM assignments WHERE experiment = 'main' AND holdout = :h"),
                               {"h": True}).scalar()
        assert indexed == scanned > 0
        if filled.engine.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM assignments WHERE experiment = 'main' AND holdout")))
            assert "ix_assignments_holdout" in plan, plan


def test_a_patch_counts_no_exposed_unit_or_assignment_again(filled: EventStore) -> None:
    """A patching refresh reads the exposed units' count from the floor its last count left
    (exactly that count) and the holdout's size from its index: no statement counts every
    exposed unit or scans the assignments."""
    from sqlalchemy import event, text

    assert refresh(filled, MAIN).full
    with filled.engine.connect() as conn:
        floors = {r[0] for r in conn.execute(text("SELECT exposed_floor FROM refresh_marks WHERE experiment = 'main'"))}
        exposed = conn.execute(text("SELECT COUNT(*) FROM exposed_units WHERE experiment = 'main'")).scalar()
    assert floors == {exposed}
    filled.log_conversion(unit_id="u0", event="purchase", value=5, timestamp=START + pd.Timedelta(hours=30))
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    event.listen(filled.engine, "before_cursor_execute", seen)
    saved = refresh_module.FULL_SHARE
    try:
        refresh_module.FULL_SHARE = 0.5
        patched = refresh(filled, MAIN)
    finally:
        refresh_module.FULL_SHARE = saved
        event.remove(filled.engine, "before_cursor_execute", seen)
    assert not patched.full and patched.units == 1
    assert not [s for s in statements if "COUNT(*) FROM exposed_units" in s]
    assert not [s for s in statements if "FROM assignments WHERE" in s and "AND holdout" not in s]
    _assert_same(filled, MAIN)

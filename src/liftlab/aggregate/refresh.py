"""Incremental refresh: per-unit metric values kept up to date from the events logged since
the last refresh, so a report costs what is new, not everything ever logged.

GrowthBook and Eppo call this incremental refresh. Per experiment × metric signature (event,
kind, window: `signature`) the store holds each exposed unit's y (its value in the window
after its first exposure) and x (the pre-period), and each global-holdout unit's y (from the
experiment's first send), in the tables of `liftlab.store.unit_values`. A watermark records
the last exposures and conversions row those values have seen.

A refresh finds the units touched since the watermark — the experiment's new exposures (a
first exposure may have moved earlier) and new conversions of its exposed or held-out units
(a late event, or one logged before its unit's exposure, lands here) — deletes their rows,
recomputes them from scratch with the indexed join, and advances the watermark. When more
than `FULL_SHARE` of the units are touched, when the first send moved or the holdout grew,
or when a signature has no watermark yet (a new or edited metric), it rebuilds instead. All
of an experiment's metrics come from ONE pass over exposures ⋈ conversions (a CASE per
metric), not one query per metric.

Everything happens in one write transaction that also reads the sums: two refreshes
serialize, a killed one changes nothing, and the counts read from `exposed_units` belong to
exactly the rows the watermark covers.

- SQLite: `BEGIN IMMEDIATE` takes the database's write lock before the first read, so no
  writer is in flight while the refresh reads `MAX(rowid)`; any row committed later gets a
  larger rowid (rows are never deleted, so rowids only grow).
- PostgreSQL: `seq` comes from a sequence, and a writer that drew a smaller seq may commit
  after one with a larger seq. The refresh therefore first takes
  `LOCK TABLE exposures, conversions IN SHARE ROW EXCLUSIVE MODE`: it waits for every
  transaction holding an insert lock on them to finish and holds new inserts back until it
  commits, and it conflicts with itself, so refreshes serialize. Once it holds the lock, every
  seq drawn so far belongs to a committed (or rolled-back) row, and every seq drawn later is
  larger than `MAX(seq)`. The transaction is REPEATABLE READ with the lock taken before any
  query, so all its reads share one snapshot taken after the lock.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

from liftlab.aggregate.sufficient import ArmStats, HoldoutStats
from liftlab.config.model import Experiment, Metric
from liftlab.stats import Sample
from liftlab.store.event_store import EventStore
from liftlab.store.unit_values import SEQUENCE

DAY_US = 86_400_000_000
#: Above this share of an experiment's units touched, rebuilding is cheaper than patching.
FULL_SHARE = 0.2
_FORMULA = "v1"  # bump when the per-unit formula changes: every stored value is then rebuilt


@dataclass(frozen=True)
class Refresh:
    """What a refresh did: units whose values were recomputed, whether any signature was
    rebuilt in full, and how long it took."""

    units: int
    full: bool
    seconds: float


@dataclass(frozen=True)
class _Spec:
    """One metric signature: what a unit's value depends on."""

    signature: str
    event: str
    kind: str
    window: int  # µs


@dataclass(frozen=True)
class _Mark:
    exposures_seen: int
    conversions_seen: int
    first_send: int | None
    holdout_units: int


def signature(metric: Metric) -> str:
    """A key for the metric's per-unit values: it changes when the metric's event, kind or
    window changes (an edited config never reads values computed for the old one), and two
    metrics measuring the same thing share their values."""
    body = f"{_FORMULA}\x1f{metric.kind}\x1f{metric.event}\x1f{metric.window_days * DAY_US}"
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _specs(metrics: Iterable[Metric]) -> list[_Spec]:
    out: dict[str, _Spec] = {}
    for metric in metrics:
        key = signature(metric)
        out.setdefault(key, _Spec(key, metric.event, metric.kind, metric.window_days * DAY_US))
    return list(out.values())


def refresh(store: EventStore, experiment: Experiment, *, full: bool = False,
            metrics: Iterable[Metric] = ()) -> Refresh:
    """Bring the experiment's materialised values (its metrics', and `metrics`') up to date
    with the store; `full` rebuilds them from scratch."""
    with _locked(store.engine) as conn:
        return _bring_up_to_date(conn, experiment.key, _specs((*experiment.metrics, *metrics)), full)[0]


def materialised_stats(
    store: EventStore, experiment: Experiment, metrics: Iterable[Metric] | None = None, *, full: bool = False,
) -> tuple[dict[str, ArmStats], dict[str, HoldoutStats]]:
    """Refresh, then each metric's `ArmStats` and `HoldoutStats` (by metric key), all read in
    the refresh's transaction: equal to `aggregate` / `holdout_aggregate`'s full queries."""
    chosen = tuple(experiment.metrics if metrics is None else metrics)
    with _locked(store.engine) as conn:
        now = _bring_up_to_date(conn, experiment.key, _specs((*experiment.metrics, *chosen)), full)[1]
        counts = _frame(conn, _COUNTS, {"x": experiment.key})
        held_n = now.holdout_units if now.first_send is not None else 0  # none before the first send
        stats, holdout = {}, {}
        for metric in chosen:
            stats[metric.key] = _arm_stats(conn, experiment.key, metric, counts)
            holdout[metric.key] = _holdout_stats(conn, experiment.key, metric, counts, held_n)
    return stats, holdout


# -- the transaction ---------------------------------------------------------------------------


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """One write transaction holding the lock that keeps writers out (see the module's note)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            driver = conn.connection.dbapi_connection
            mode = driver.isolation_level  # type: ignore[union-attr]
            driver.isolation_level = None  # type: ignore[union-attr]  # we say BEGIN and COMMIT
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.exec_driver_sql("ROLLBACK")
                    raise
                conn.exec_driver_sql("COMMIT")
            finally:
                driver.isolation_level = mode  # type: ignore[union-attr]
        return
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        conn.exec_driver_sql("LOCK TABLE exposures, conversions IN SHARE ROW EXCLUSIVE MODE")
        yield conn


def _scalar(conn: Connection, query: str, params: dict[str, Any]) -> Any:
    return conn.execute(text(query), params).scalar()


def _frame(conn: Connection, query: str, params: dict[str, Any]) -> pd.DataFrame:
    return pd.read_sql_query(text(query), conn, params=params)


def _holdout_size(conn: Connection, experiment: str) -> int:
    return int(_scalar(conn, "SELECT COUNT(*) FROM assignments WHERE experiment = :x AND holdout = :held",
                       {"x": experiment, "held": True}))


# -- bringing values up to date ----------------------------------------------------------------


def _bring_up_to_date(conn: Connection, experiment: str, specs: list[_Spec], full: bool) -> tuple[Refresh, _Mark]:
    """Patch or rebuild each signature whose watermark is behind; what was done, and the
    store's state the values now match."""
    started = time.perf_counter()
    dialect = conn.dialect.name
    seq = SEQUENCE[dialect]
    now = _Mark(
        int(_scalar(conn, f"SELECT COALESCE(MAX({seq}), 0) FROM exposures", {})),
        int(_scalar(conn, f"SELECT COALESCE(MAX({seq}), 0) FROM conversions", {})),
        _scalar(conn, "SELECT MIN(t0) FROM exposed_units WHERE experiment = :x", {"x": experiment}),
        _holdout_size(conn, experiment),
    )
    marks = _marks(conn, experiment)
    groups: dict[_Mark | None, list[_Spec]] = {}
    for spec in specs:
        mark = None if full else marks.get(spec.signature)
        if mark != now:
            groups.setdefault(mark, []).append(spec)
    units, rebuilt = 0, False
    for mark, group in groups.items():
        if mark is None:
            units += _rebuild_exposed(conn, experiment, group, None)
            units += _rebuild_holdout(conn, experiment, group, now.first_send, None)
            rebuilt = True
        else:
            touched = _touched(conn, experiment, group, mark, seq)
            exposed = int(_scalar(conn, "SELECT COUNT(*) FROM exposed_units WHERE experiment = :x", {"x": experiment}))
            patch = touched[0] <= FULL_SHARE * exposed
            units += _rebuild_exposed(conn, experiment, group, "liftlab_touched_exposed" if patch else None)
            patch_holdout = (mark.first_send == now.first_send and mark.holdout_units == now.holdout_units
                             and touched[1] <= FULL_SHARE * now.holdout_units)
            units += _rebuild_holdout(conn, experiment, group, now.first_send,
                                      "liftlab_touched_holdout" if patch_holdout else None)
            rebuilt = rebuilt or not (patch and patch_holdout)
        _save_marks(conn, experiment, group, now)
    if dialect == "sqlite":  # PostgreSQL drops them at commit; free SQLite's now
        for name in ("liftlab_touched", "liftlab_touched_exposed", "liftlab_touched_holdout", "liftlab_wide"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
    return Refresh(units, rebuilt, time.perf_counter() - started), now


def _marks(conn: Connection, experiment: str) -> dict[str, _Mark]:
    rows = conn.execute(text("SELECT signature, exposures_seen, conversions_seen, first_send, holdout_units "
                             "FROM refresh_marks WHERE experiment = :x"), {"x": experiment}).fetchall()
    return {r[0]: _Mark(int(r[1]), int(r[2]), None if r[3] is None else int(r[3]), int(r[4])) for r in rows}


def _save_marks(conn: Connection, experiment: str, group: list[_Spec], now: _Mark) -> None:
    params = [{"x": experiment, "s": spec.signature} for spec in group]
    conn.execute(text("DELETE FROM refresh_marks WHERE experiment = :x AND signature = :s"), params)
    conn.execute(text("INSERT INTO refresh_marks (experiment, signature, exposures_seen, conversions_seen, "
                      "first_send, holdout_units) VALUES (:x, :s, :e, :c, :f, :h)"),
                 [{**p, "e": now.exposures_seen, "c": now.conversions_seen, "f": now.first_send,
                   "h": now.holdout_units} for p in params])


def _temp_table(conn: Connection, name: str, query: str, params: dict[str, Any]) -> None:
    """A temporary table from a query, gone when the transaction ends (PostgreSQL) or replaced
    by the next refresh on this connection (SQLite)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
        conn.execute(text(f"CREATE TEMP TABLE {name} AS {query}"), params)
    else:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        conn.execute(text(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {query}"), params)


def _index(conn: Connection, table: str, columns: str) -> None:
    name = f"ix_{table}"
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"CREATE INDEX temp.{name} ON {table} ({columns})")
    else:
        conn.exec_driver_sql(f"CREATE INDEX {name} ON {table} ({columns})")
        conn.exec_driver_sql(f"ANALYZE {table}")


def _events(group: list[_Spec]) -> tuple[str, dict[str, Any]]:
    """`c.event IN (…)` over the group's events, with its parameters."""
    events = sorted({spec.event for spec in group})
    names = [f"ev{i}" for i in range(len(events))]
    return ", ".join(f":{n}" for n in names), dict(zip(names, events))


def _touched(conn: Connection, experiment: str, group: list[_Spec], mark: _Mark, seq: str) -> tuple[int, int]:
    """Temporary tables of the exposed units (with their first exposure) and the held-out units
    touched since `mark`; how many of each."""
    events, params = _events(group)
    params.update(x=experiment, e=mark.exposures_seen, c=mark.conversions_seen, held=True)
    _temp_table(conn, "liftlab_touched", f"""
        SELECT unit_id FROM exposures WHERE {seq} > :e AND experiment = :x
        UNION SELECT unit_id FROM conversions WHERE {seq} > :c AND event IN ({events})""", params)
    _index(conn, "liftlab_touched", "unit_id")
    # Through the unit's assignment to its exposed_units key (an exposure always carries its
    # unit's sticky segment and arm): index lookups per touched unit, no scan of every unit.
    # CROSS JOIN keeps SQLite's loops in this order (PostgreSQL plans it as an inner join).
    _temp_table(conn, "liftlab_touched_exposed", """
        SELECT f.experiment, f.segment, f.arm, f.unit_id, f.t0
        FROM liftlab_touched t CROSS JOIN assignments a CROSS JOIN exposed_units f
        WHERE a.experiment = :x AND a.unit_id = t.unit_id AND f.experiment = a.experiment
              AND f.segment = a.segment AND f.arm = a.arm AND f.unit_id = a.unit_id""", params)
    _temp_table(conn, "liftlab_touched_holdout", """
        SELECT a.experiment, a.unit_id FROM liftlab_touched t
        JOIN assignments a ON a.experiment = :x AND a.unit_id = t.unit_id WHERE a.holdout = :held""", params)
    return (int(_scalar(conn, "SELECT COUNT(*) FROM liftlab_touched_exposed", {})),
            int(_scalar(conn, "SELECT COUNT(*) FROM liftlab_touched_holdout", {})))


def _per_unit(spec: _Spec, condition: str) -> str:
    """A unit's value over its joined events of `spec`'s event that meet `condition`: 1 when
    any does (conversion), the sum of their values (revenue)."""
    hit = f"c.event = :m{spec.signature}_event AND {condition}"
    if spec.kind == "conversion":
        return f"MAX(CASE WHEN {hit} THEN 1.0 ELSE 0.0 END)"
    return f"SUM(CASE WHEN {hit} THEN c.value ELSE 0.0 END)"


def _spec_params(group: list[_Spec]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for spec in group:
        params[f"m{spec.signature}_event"] = spec.event
        params[f"m{spec.signature}_window"] = spec.window
    return params


def _rebuild_exposed(conn: Connection, experiment: str, group: list[_Spec], touched: str | None) -> int:
    """Recompute the exposed units' rows of the group's signatures: those in the temporary
    table `touched`, or (None) all of them. One pass over exposed_units ⋈ conversions gives
    every signature's y and x; returns the number of units recomputed."""
    events, params = _events(group)
    params.update(_spec_params(group), x=experiment, wmax=max(spec.window for spec in group))
    sigs = [spec.signature for spec in group]
    columns = ", ".join(
        f"{_per_unit(spec, f'c.ts >= f.t0 AND c.ts < f.t0 + :m{spec.signature}_window')} AS y{i}, "
        f"{_per_unit(spec, f'c.ts >= f.t0 - :m{spec.signature}_window AND c.ts < f.t0')} AS x{i}"
        for i, spec in enumerate(group))
    source = touched or "exposed_units"
    by_sig = " AND signature IN ({})".format(", ".join(f":sig{i}" for i in range(len(sigs))))
    params.update({f"sig{i}": s for i, s in enumerate(sigs)})
    if touched is None:
        conn.execute(text(f"DELETE FROM unit_values WHERE experiment = :x{by_sig}"), params)
        units = int(_scalar(conn, "SELECT COUNT(*) FROM exposed_units WHERE experiment = :x", params))
    else:
        conn.execute(text(f"""DELETE FROM unit_values WHERE experiment = :x{by_sig}
            AND (segment, arm, unit_id) IN (SELECT segment, arm, unit_id FROM {touched})"""), params)
        units = int(_scalar(conn, f"SELECT COUNT(*) FROM {touched}", {}))
    _temp_table(conn, "liftlab_wide", f"""
        SELECT f.segment AS segment, f.arm AS arm, f.unit_id AS unit_id, {columns}
        FROM {source} f
        JOIN conversions c ON c.unit_id = f.unit_id AND c.event IN ({events})
             AND c.ts >= f.t0 - :wmax AND c.ts < f.t0 + :wmax
        WHERE f.experiment = :x
        GROUP BY f.segment, f.arm, f.unit_id""", params)
    for i, sig in enumerate(sigs):
        # A unit with y = x = 0 for this signature adds nothing to any sum: no row.
        conn.execute(text(f"""INSERT INTO unit_values (experiment, signature, segment, arm, unit_id, y, x)
            SELECT :x, :sig, segment, arm, unit_id, y{i}, x{i} FROM liftlab_wide
            WHERE y{i} <> 0 OR x{i} <> 0"""), {"x": experiment, "sig": sig})
    return units


def _rebuild_holdout(conn: Connection, experiment: str, group: list[_Spec], send: int | None,
                     touched: str | None) -> int:
    """Recompute the held-out units' rows of the group's signatures (those in `touched`, or
    all), each measured in the window after the first send; none before anything was sent."""
    events, params = _events(group)
    sigs = [spec.signature for spec in group]
    params.update(_spec_params(group), x=experiment, held=True, send=send,
                  wmax=max(spec.window for spec in group), **{f"sig{i}": s for i, s in enumerate(sigs)})
    by_sig = " AND signature IN ({})".format(", ".join(f":sig{i}" for i in range(len(sigs))))
    if touched is None:
        conn.execute(text(f"DELETE FROM holdout_values WHERE experiment = :x{by_sig}"), params)
        units = _holdout_size(conn, experiment)
        source = "assignments"
    else:
        conn.execute(text(f"""DELETE FROM holdout_values WHERE experiment = :x{by_sig}
            AND unit_id IN (SELECT unit_id FROM {touched})"""), params)
        units = int(_scalar(conn, f"SELECT COUNT(*) FROM {touched}", {}))
        source = f"(SELECT a.* FROM {touched} t JOIN assignments a ON a.experiment = t.experiment AND a.unit_id = t.unit_id)"
    if send is None:
        return 0
    columns = ", ".join(f"{_per_unit(spec, f'c.ts < :send + :m{spec.signature}_window')} AS y{i}"
                        for i, spec in enumerate(group))
    _temp_table(conn, "liftlab_wide", f"""
        SELECT a.unit_id AS unit_id, {columns}
        FROM {source} a
        JOIN conversions c ON c.unit_id = a.unit_id AND c.event IN ({events})
             AND c.ts >= :send AND c.ts < :send + :wmax
        WHERE a.experiment = :x AND a.holdout = :held
        GROUP BY a.unit_id""", params)
    for i, sig in enumerate(sigs):
        conn.execute(text(f"""INSERT INTO holdout_values (experiment, signature, unit_id, y)
            SELECT :x, :sig, unit_id, y{i} FROM liftlab_wide WHERE y{i} <> 0"""), {"x": experiment, "sig": sig})
    return units


# -- reading the sums --------------------------------------------------------------------------

_COUNTS = """SELECT f.segment, f.arm, COUNT(*) AS n FROM exposed_units f WHERE f.experiment = :x
    GROUP BY f.segment, f.arm ORDER BY f.segment, f.arm"""


def _arm_stats(conn: Connection, experiment: str, metric: Metric, counts: pd.DataFrame) -> ArmStats:
    """One metric's samples per segment × arm: n from exposed_units, the sums from unit_values."""
    sums = _frame(conn, """
        SELECT segment, arm, SUM(y) AS sum, SUM(y * y) AS sum_sq, SUM(x) AS x_sum,
               SUM(x * x) AS x_sum_sq, SUM(x * y) AS xy_sum
        FROM unit_values WHERE experiment = :x AND signature = :s GROUP BY segment, arm""",
        {"x": experiment, "s": signature(metric)})
    frame = counts.merge(sums, on=["segment", "arm"], how="left").fillna(0.0)
    frame["n"] = frame["n"].astype(int)
    return ArmStats.from_frame(metric.key, frame)


def _holdout_stats(conn: Connection, experiment: str, metric: Metric, counts: pd.DataFrame,
                   held_n: int) -> HoldoutStats:
    """The campaigned units (every exposed unit's y) against the holdout's `held_n` units."""
    params = {"x": experiment, "s": signature(metric)}
    campaigned = conn.execute(text("SELECT COALESCE(SUM(y), 0.0), COALESCE(SUM(y * y), 0.0) FROM unit_values "
                                   "WHERE experiment = :x AND signature = :s"), params).one()
    held = conn.execute(text("SELECT COALESCE(SUM(y), 0.0), COALESCE(SUM(y * y), 0.0) FROM holdout_values "
                             "WHERE experiment = :x AND signature = :s"), params).one()
    n = float(counts["n"].sum()) if len(counts) else 0.0
    return HoldoutStats(metric.key, Sample(n, float(campaigned[0]), float(campaigned[1])),
                        Sample(float(held_n), float(held[0]), float(held[1])))

"""Incremental refresh: per-unit metric values kept up to date from the events logged since
the last refresh, so a report costs what is new, not everything ever logged.

GrowthBook and Eppo call this incremental refresh. Per experiment × metric signature (event,
kind, window: `signature`) the store holds each exposed unit's y (its value in the window
after its first exposure) and x (the pre-period), and each global-holdout unit's y (from the
experiment's first send), in the tables of `liftlab.store.unit_values`. A watermark records
the last exposures and conversions row those values have seen.

A refresh finds the units touched since the watermark — the experiment's new exposures (a
first exposure may have moved earlier) and new conversions of its exposed or held-out units
(a late event, or one logged before its unit's exposure, lands here). A unit with a new
exposure (its first exposure may have moved, or it is new) is recomputed from all its events;
any other touched unit only gains its new conversions, read from the rows after the watermark
(event ids are unique: such a row was never counted), added to its old value (revenue) or
max'ed with it (conversion). Running sums per segment × arm (`value_sums`, `holdout_sums`) lose
each replaced unit's old contribution and gain its new one, in the same transaction, so a
report reads O(segments × arms) rows; the watermark then advances. When more
than `FULL_SHARE` of the units are touched, when the first send moved or the holdout grew,
or when a signature has no watermark yet (a new or edited metric), it rebuilds instead. All
of an experiment's metrics come from ONE pass over exposures ⋈ conversions (a CASE per
metric), not one query per metric.

What a patch reads grows with what is new, not with every unit: the units with a new exposure,
and ONE pass over the new conversions (sorted by unit, so the index lookups walk each index
once in order) that finds each touched unit's assignment, first exposure or holdout, and what
its new rows add. The holdout's size comes from a partial index of the held-out assignments;
the patch-or-rebuild choice from a floor of the exposed units (their count when last counted:
units never leave). The commit writes one page per new unit (a unit's rows of every
signature share a page) and the checkpoint copies those pages: at 1% new units, a third or more
of a patch on SQLite.

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
from liftlab.store.sqlio import write_transaction
from liftlab.store.unit_values import SEQUENCE

DAY_US = 86_400_000_000
#: Above this share of an experiment's units touched, rebuilding is cheaper than patching.
FULL_SHARE = 0.2
_FORMULA = "v3"  # bump when the per-unit formula or what is stored changes: everything is then rebuilt
# (v2: running sums per segment × arm in value_sums / holdout_sums; v3: unit_values keyed with the
# signature last)


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
    if engine.dialect.name == "sqlite":  # BEGIN IMMEDIATE: the write lock before the first read
        with write_transaction(engine) as conn:
            yield conn
        return
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        conn.exec_driver_sql("LOCK TABLE exposures, conversions IN SHARE ROW EXCLUSIVE MODE")
        yield conn


def _scalar(conn: Connection, query: str, params: dict[str, Any]) -> Any:
    return conn.execute(text(query), params).scalar()


def _frame(conn: Connection, query: str, params: dict[str, Any]) -> pd.DataFrame:
    return pd.read_sql_query(text(query), conn, params=params)


def _holdout_size(conn: Connection, experiment: str) -> int:
    """Held-out units: counted in the holdout's partial index (`WHERE holdout` spelled as the
    index spells it, so both databases use it), not over every assignment."""
    return int(_scalar(conn, "SELECT COUNT(*) FROM assignments WHERE experiment = :x AND holdout", {"x": experiment}))


# -- bringing values up to date ----------------------------------------------------------------


def _bring_up_to_date(conn: Connection, experiment: str, specs: list[_Spec], full: bool) -> tuple[Refresh, _Mark]:
    """Patch or rebuild each signature whose watermark is behind; what was done, and the
    store's state the values now match."""
    started = time.perf_counter()
    dialect = conn.dialect.name
    seq = SEQUENCE[dialect]
    marks, floors = _marks(conn, experiment)
    now = _Mark(
        int(_scalar(conn, f"SELECT COALESCE(MAX({seq}), 0) FROM exposures", {})),
        int(_scalar(conn, f"SELECT COALESCE(MAX({seq}), 0) FROM conversions", {})),
        _first_send(conn, experiment, None if full else max(marks.values(), key=lambda m: m.exposures_seen,
                                                           default=None), seq),
        _holdout_size(conn, experiment),
    )
    groups: dict[_Mark | None, list[_Spec]] = {}
    for spec in specs:
        mark = None if full else marks.get(spec.signature)
        if mark != now:
            groups.setdefault(mark, []).append(spec)
    units, rebuilt = 0, False
    for mark, group in groups.items():
        # Exposed units counted at the group's last count: a floor of today's count (a unit,
        # once exposed, stays exposed), enough to choose a patch without counting them again.
        known = [floors.get(spec.signature) for spec in group]
        floor = None if None in known else min(k for k in known if k is not None)
        if mark is None:
            floor = _rebuild_exposed(conn, experiment, group)
            units += floor
            units += _rebuild_holdout(conn, experiment, group, now.first_send)
            rebuilt = True
        else:
            touched = _touched(conn, experiment, group, mark, seq, now.first_send)
            patch = floor is not None and touched[0] <= FULL_SHARE * floor
            if not patch:
                floor = int(_scalar(conn, "SELECT COUNT(*) FROM exposed_units WHERE experiment = :x",
                                    {"x": experiment}))
                patch = touched[0] <= FULL_SHARE * floor
            units += (_patch_exposed(conn, experiment, group, touched[0]) if patch
                      else _rebuild_exposed(conn, experiment, group))
            patch_holdout = (mark.first_send == now.first_send and mark.holdout_units == now.holdout_units
                             and touched[1] <= FULL_SHARE * now.holdout_units)
            units += (_patch_holdout(conn, experiment, group, now.first_send, touched[1]) if patch_holdout
                      else _rebuild_holdout(conn, experiment, group, now.first_send))
            rebuilt = rebuilt or not (patch and patch_holdout)
        _save_marks(conn, experiment, group, now, floor)
    if dialect == "sqlite":  # PostgreSQL drops them at commit; free SQLite's now
        for name in ("liftlab_moved", "liftlab_moved_units", "liftlab_new_rows", "liftlab_arrived",
                     "liftlab_converted", "liftlab_sigs",
                     "liftlab_wide", "liftlab_delta", "liftlab_replace", "liftlab_new"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
    return Refresh(units, rebuilt, time.perf_counter() - started), now


def _first_send(conn: Connection, experiment: str, mark: _Mark | None, seq: str) -> int | None:
    """The experiment's first exposure, MIN(t0): from a watermark, the earlier of the one it
    recorded and the exposures logged since (rows are never deleted, so that is exact);
    without one, from every exposed unit."""
    if mark is None:
        return _scalar(conn, "SELECT MIN(t0) FROM exposed_units WHERE experiment = :x", {"x": experiment})
    since = _scalar(conn, f"SELECT MIN(ts) FROM exposures WHERE {seq} > :e AND experiment = :x",
                    {"e": mark.exposures_seen, "x": experiment})
    known = [int(t) for t in (mark.first_send, since) if t is not None]
    return min(known) if known else None


def _marks(conn: Connection, experiment: str) -> tuple[dict[str, _Mark], dict[str, int | None]]:
    """Each signature's watermark, and the exposed units it last counted."""
    rows = conn.execute(text("SELECT signature, exposures_seen, conversions_seen, first_send, holdout_units, "
                             "exposed_floor FROM refresh_marks WHERE experiment = :x"), {"x": experiment}).fetchall()
    return ({r[0]: _Mark(int(r[1]), int(r[2]), None if r[3] is None else int(r[3]), int(r[4])) for r in rows},
            {r[0]: None if r[5] is None else int(r[5]) for r in rows})


def _save_marks(conn: Connection, experiment: str, group: list[_Spec], now: _Mark, floor: int | None) -> None:
    params = [{"x": experiment, "s": spec.signature} for spec in group]
    conn.execute(text("DELETE FROM refresh_marks WHERE experiment = :x AND signature = :s"), params)
    conn.execute(text("INSERT INTO refresh_marks (experiment, signature, exposures_seen, conversions_seen, "
                      "first_send, holdout_units, exposed_floor) VALUES (:x, :s, :e, :c, :f, :h, :n)"),
                 [{**p, "e": now.exposures_seen, "c": now.conversions_seen, "f": now.first_send,
                   "h": now.holdout_units, "n": floor} for p in params])


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
    _analyze(conn, table)


def _analyze(conn: Connection, table: str) -> None:
    """Row counts of a temporary table for the planner. Without them SQLite takes it for a
    million rows and builds a Bloom filter over the whole table it is joined with (a scan of
    every conversion or assignment, for a few thousand lookups)."""
    conn.exec_driver_sql(f"ANALYZE temp.{table}" if conn.dialect.name == "sqlite" else f"ANALYZE {table}")


def _events(group: list[_Spec]) -> tuple[str, dict[str, Any]]:
    """`c.event IN (…)` over the group's events, with its parameters."""
    events = sorted({spec.event for spec in group})
    names = [f"ev{i}" for i in range(len(events))]
    return ", ".join(f":{n}" for n in names), dict(zip(names, events))


def _touched(conn: Connection, experiment: str, group: list[_Spec], mark: _Mark, seq: str,
             send: int | None) -> tuple[int, int]:
    """Temporary tables of what changed since `mark`: the exposed units with a new exposure
    (`liftlab_moved_units`, with their first exposure) and, in one pass over the new
    conversions, every assigned unit they touch with its new conversions' contributions
    (`liftlab_converted`); how many exposed and held-out units were touched."""
    events, params = _events(group)
    params.update(_spec_params(group))
    params.update(x=experiment, e=mark.exposures_seen, c=mark.conversions_seen,
                  send=0 if send is None else send, wmax=max(spec.window for spec in group))
    # Units with a new exposure: their first exposure may have moved (or is new). Sorted, as
    # the new conversions below: lookups in unit order walk each index once, in order (3x
    # faster than in arrival order at a million units, where the indexes outgrow the cache).
    _temp_table(conn, "liftlab_moved", f"""SELECT DISTINCT unit_id FROM exposures WHERE {seq} > :e AND experiment = :x
        ORDER BY unit_id""", params)
    _index(conn, "liftlab_moved", "unit_id")
    # Through the unit's assignment to its exposed_units key (an exposure always carries its
    # unit's sticky segment and arm): index lookups per touched unit, no scan of every unit.
    # CROSS JOIN keeps SQLite's loops in this order (PostgreSQL plans it as an inner join).
    _temp_table(conn, "liftlab_moved_units", """
        SELECT f.segment, f.arm, f.unit_id, f.t0
        FROM liftlab_moved m CROSS JOIN assignments a CROSS JOIN exposed_units f
        WHERE a.experiment = :x AND a.unit_id = m.unit_id AND f.experiment = a.experiment
              AND f.segment = a.segment AND f.arm = a.arm AND f.unit_id = a.unit_id""", params)
    _analyze(conn, "liftlab_moved_units")
    # The new conversions, read by position and then sorted by unit (sorting in the read lets
    # SQLite scan every conversion in unit order instead), each through its unit's assignment
    # to its first exposure (held-out units are never exposed: t0 NULL). Per unit: how many
    # fall near its first exposure (`hits`) or in the holdout's window after the first send
    # (`held_hits`), and what they add to each signature's y and x (exposed) or y (held out,
    # `h`): one lookup per unit serves both.
    columns = ", ".join(
        f"{_per_unit(spec, f'c.ts >= f.t0 AND c.ts < f.t0 + :m{spec.signature}_window')} AS y{i}, "
        f"{_per_unit(spec, f'c.ts >= f.t0 - :m{spec.signature}_window AND c.ts < f.t0')} AS x{i}, "
        f"{_per_unit(spec, f'c.ts >= :send AND c.ts < :send + :m{spec.signature}_window')} AS h{i}"
        for i, spec in enumerate(group))
    _temp_table(conn, "liftlab_new_rows", f"""
        SELECT unit_id, event, value, ts FROM conversions WHERE {seq} > :c AND event IN ({events})""", params)
    _temp_table(conn, "liftlab_arrived", "SELECT unit_id, event, value, ts FROM liftlab_new_rows ORDER BY unit_id", {})
    _analyze(conn, "liftlab_arrived")
    _temp_table(conn, "liftlab_converted", f"""
        SELECT a.segment AS segment, a.arm AS arm, a.unit_id AS unit_id, a.holdout AS holdout, f.t0 AS t0,
               CASE WHEN EXISTS (SELECT 1 FROM liftlab_moved m WHERE m.unit_id = a.unit_id) THEN 1 ELSE 0 END
                   AS moved,
               SUM(CASE WHEN c.ts >= f.t0 - :wmax AND c.ts < f.t0 + :wmax THEN 1 ELSE 0 END) AS hits,
               SUM(CASE WHEN c.ts >= :send AND c.ts < :send + :wmax THEN 1 ELSE 0 END) AS held_hits,
               {columns}
        FROM liftlab_arrived c CROSS JOIN assignments a
        LEFT JOIN exposed_units f ON f.experiment = a.experiment AND f.segment = a.segment AND f.arm = a.arm
             AND f.unit_id = a.unit_id
        WHERE a.experiment = :x AND a.unit_id = c.unit_id
        GROUP BY a.segment, a.arm, a.unit_id, a.holdout, f.t0""", params)
    moved = int(_scalar(conn, "SELECT COUNT(*) FROM liftlab_moved_units", {}))
    converted = conn.execute(text("""SELECT
        COALESCE(SUM(CASE WHEN t0 IS NOT NULL AND moved = 0 THEN 1 ELSE 0 END), 0),
        COALESCE(SUM(CASE WHEN holdout THEN 1 ELSE 0 END), 0) FROM liftlab_converted""")).one()
    return moved + int(converted[0]), int(converted[1])


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


def _rebuild_exposed(conn: Connection, experiment: str, group: list[_Spec]) -> int:
    """Recompute every exposed unit's rows of the group's signatures and their sums per
    segment × arm from scratch. One pass over exposed_units ⋈ conversions gives every
    signature's y and x; returns the number of units recomputed."""
    events, by_sig, params = _group_params(experiment, group)
    columns = _window_columns(group)
    conn.execute(text(f"DELETE FROM unit_values WHERE experiment = :x{by_sig}"), params)
    conn.execute(text(f"DELETE FROM value_sums WHERE experiment = :x{by_sig}"), params)
    units = int(_scalar(conn, "SELECT COUNT(*) FROM exposed_units WHERE experiment = :x", params))
    _temp_table(conn, "liftlab_wide", f"""
        SELECT f.segment AS segment, f.arm AS arm, f.unit_id AS unit_id, {columns}
        FROM exposed_units f
        JOIN conversions c ON c.unit_id = f.unit_id AND c.event IN ({events})
             AND c.ts >= f.t0 - :wmax AND c.ts < f.t0 + :wmax
        WHERE f.experiment = :x
        GROUP BY f.segment, f.arm, f.unit_id""", params)
    # Every signature's rows in one insert, in the table's key order (the units in
    # liftlab_wide's order, which is its GROUP BY's; the signatures sorted within each unit),
    # so SQLite appends instead of splitting pages. A unit with y = x = 0 for a signature adds
    # nothing to any sum: no row.
    _signature_table(conn, group)
    y = "CASE s.i " + " ".join(f"WHEN {i} THEN w.y{i}" for i in range(len(group))) + " END"
    x = "CASE s.i " + " ".join(f"WHEN {i} THEN w.x{i}" for i in range(len(group))) + " END"
    conn.execute(text(f"""INSERT INTO unit_values (experiment, segment, arm, unit_id, signature, y, x)
        SELECT :x, w.segment, w.arm, w.unit_id, s.signature, {y}, {x}
        FROM liftlab_wide w CROSS JOIN liftlab_sigs s WHERE {y} <> 0 OR {x} <> 0"""), {"x": experiment})
    for i, spec in enumerate(group):
        one = {"x": experiment, "sig": spec.signature}
        conn.execute(text(f"""INSERT INTO value_sums (experiment, signature, segment, arm, sum, sum_sq, x_sum,
                x_sum_sq, xy_sum)
            SELECT :x, :sig, segment, arm, SUM(y{i}), SUM(y{i} * y{i}), SUM(x{i}), SUM(x{i} * x{i}), SUM(x{i} * y{i})
            FROM liftlab_wide GROUP BY segment, arm"""), one)
    return units


def _signature_table(conn: Connection, group: list[_Spec]) -> None:
    """A temporary table of the group's signatures (i: the column suffix), sorted."""
    _temp_table(conn, "liftlab_sigs", "SELECT 0 AS i, 'x' AS signature WHERE 1 = 0", {})
    order = sorted(range(len(group)), key=lambda i: group[i].signature)
    conn.execute(text("INSERT INTO liftlab_sigs (i, signature) VALUES (:i, :s)"),
                 [{"i": i, "s": group[i].signature} for i in order])


def _rebuild_holdout(conn: Connection, experiment: str, group: list[_Spec], send: int | None) -> int:
    """Recompute every held-out unit's rows of the group's signatures and their sums, each
    measured in the window after the first send; none before anything was sent."""
    events, by_sig, params = _group_params(experiment, group)
    params["send"] = send
    conn.execute(text(f"DELETE FROM holdout_values WHERE experiment = :x{by_sig}"), params)
    conn.execute(text(f"DELETE FROM holdout_sums WHERE experiment = :x{by_sig}"), params)
    units = _holdout_size(conn, experiment)
    if send is None:
        return 0
    columns = ", ".join(f"{_per_unit(spec, f'c.ts < :send + :m{spec.signature}_window')} AS y{i}"
                        for i, spec in enumerate(group))
    _temp_table(conn, "liftlab_wide", f"""
        SELECT a.unit_id AS unit_id, {columns}
        FROM assignments a
        JOIN conversions c ON c.unit_id = a.unit_id AND c.event IN ({events})
             AND c.ts >= :send AND c.ts < :send + :wmax
        WHERE a.experiment = :x AND a.holdout
        GROUP BY a.unit_id""", params)
    for i, spec in enumerate(group):
        one = {"x": experiment, "sig": spec.signature}
        conn.execute(text(f"""INSERT INTO holdout_values (experiment, signature, unit_id, y)
            SELECT :x, :sig, unit_id, y{i} FROM liftlab_wide WHERE y{i} <> 0"""), one)
        conn.execute(text(f"""INSERT INTO holdout_sums (experiment, signature, sum, sum_sq)
            SELECT :x, :sig, COALESCE(SUM(y{i}), 0.0), COALESCE(SUM(y{i} * y{i}), 0.0) FROM liftlab_wide"""), one)
    return units

def _combine(spec: _Spec, old: str, delta: str) -> str:
    """A unit's value after new events whose own value is `delta`: added (revenue), or the
    larger of the two (conversion: 1 once any event qualifies)."""
    if spec.kind == "conversion":
        return f"CASE WHEN {delta} > {old} THEN {delta} ELSE {old} END"
    return f"{old} + {delta}"


def _sigs(group: list[_Spec]) -> tuple[str, dict[str, str]]:
    return " AND signature IN ({})".format(", ".join(f":sig{i}" for i in range(len(group)))), \
        {f"sig{i}": spec.signature for i, spec in enumerate(group)}


def _group_params(experiment: str, group: list[_Spec]) -> tuple[str, str, dict[str, Any]]:
    """What a rebuild or patch of the group's signatures binds: the `c.event IN (…)` list, the
    `AND signature IN (…)` condition, and every parameter both use (experiment as :x, each
    spec's event and window, the widest window as :wmax)."""
    events, params = _events(group)
    by_sig, sig_params = _sigs(group)
    params.update(_spec_params(group))
    params.update(sig_params, x=experiment, wmax=max(spec.window for spec in group))
    return events, by_sig, params


def _window_columns(group: list[_Spec]) -> str:
    """Per spec i, a unit's y{i} (window after its first exposure) and x{i} (the pre-period)."""
    return ", ".join(
        f"{_per_unit(spec, f'c.ts >= f.t0 AND c.ts < f.t0 + :m{spec.signature}_window')} AS y{i}, "
        f"{_per_unit(spec, f'c.ts >= f.t0 - :m{spec.signature}_window AND c.ts < f.t0')} AS x{i}"
        for i, spec in enumerate(group))


def _patch_exposed(conn: Connection, experiment: str, group: list[_Spec], units: int) -> int:
    """Bring the touched exposed units' rows and the running sums up to date. A unit with a new
    exposure (its first exposure may have moved, or it is new) is recomputed from all its
    events; any other touched unit only gains its new conversions (event ids are unique, so a
    row after the watermark was never counted): added to its old value (revenue) or max'ed
    (conversion). Each replaced unit's old contribution leaves the sums, its new one enters."""
    events, by_sig, params = _group_params(experiment, group)
    columns = _window_columns(group)
    joined = f"""JOIN conversions c ON c.unit_id = f.unit_id AND c.event IN ({events})
             AND c.ts >= f.t0 - :wmax AND c.ts < f.t0 + :wmax"""
    # Moved units: every event again. The others: only the conversions after the watermark,
    # summed per unit by `_touched` (a unit none of them comes near is left as it is).
    _temp_table(conn, "liftlab_wide", f"""
        SELECT f.segment AS segment, f.arm AS arm, f.unit_id AS unit_id, {columns}
        FROM liftlab_moved_units f {joined}
        GROUP BY f.segment, f.arm, f.unit_id""", params)
    deltas = ", ".join(f"y{i}, x{i}" for i in range(len(group)))
    _temp_table(conn, "liftlab_delta", f"""
        SELECT segment, arm, unit_id, {deltas} FROM liftlab_converted
        WHERE t0 IS NOT NULL AND moved = 0 AND hits > 0""", {})
    _temp_table(conn, "liftlab_replace", """
        SELECT segment, arm, unit_id FROM liftlab_moved_units
        UNION ALL SELECT segment, arm, unit_id FROM liftlab_delta""", {})
    _temp_table(conn, "liftlab_new", """
        SELECT signature, segment, arm, unit_id, y, x FROM unit_values WHERE 1 = 0""", {})
    for i, spec in enumerate(group):
        one = {"x": experiment, "sig": spec.signature}
        conn.execute(text(f"""INSERT INTO liftlab_new (signature, segment, arm, unit_id, y, x)
            SELECT :sig, segment, arm, unit_id, y{i}, x{i} FROM liftlab_wide"""), one)
        conn.execute(text(f"""INSERT INTO liftlab_new (signature, segment, arm, unit_id, y, x)
            SELECT :sig, d.segment, d.arm, d.unit_id, {_combine(spec, 'COALESCE(v.y, 0.0)', f'd.y{i}')},
                   {_combine(spec, 'COALESCE(v.x, 0.0)', f'd.x{i}')}
            FROM liftlab_delta d LEFT JOIN unit_values v ON v.experiment = :x AND v.signature = :sig
                 AND v.segment = d.segment AND v.arm = d.arm AND v.unit_id = d.unit_id"""), one)
    replaced = """(segment, arm, unit_id) IN (SELECT segment, arm, unit_id FROM liftlab_replace)"""
    conn.execute(text(f"""INSERT INTO value_sums (experiment, signature, segment, arm, sum, sum_sq, x_sum,
            x_sum_sq, xy_sum)
        SELECT :x, signature, segment, arm, SUM(s), SUM(s2), SUM(sx), SUM(sx2), SUM(sxy) FROM (
            SELECT signature, segment, arm, y AS s, y * y AS s2, x AS sx, x * x AS sx2, x * y AS sxy
            FROM liftlab_new
            UNION ALL
            SELECT signature, segment, arm, -y, -(y * y), -x, -(x * x), -(x * y) FROM unit_values
            WHERE experiment = :x{by_sig} AND {replaced}) d
        WHERE TRUE GROUP BY signature, segment, arm
        ON CONFLICT (experiment, signature, segment, arm) DO UPDATE SET
            sum = value_sums.sum + excluded.sum, sum_sq = value_sums.sum_sq + excluded.sum_sq,
            x_sum = value_sums.x_sum + excluded.x_sum, x_sum_sq = value_sums.x_sum_sq + excluded.x_sum_sq,
            xy_sum = value_sums.xy_sum + excluded.xy_sum"""), params)
    conn.execute(text(f"DELETE FROM unit_values WHERE experiment = :x{by_sig} AND {replaced}"), params)
    conn.execute(text("""INSERT INTO unit_values (experiment, signature, segment, arm, unit_id, y, x)
        SELECT :x, signature, segment, arm, unit_id, y, x FROM liftlab_new WHERE y <> 0 OR x <> 0"""),
                 {"x": experiment})
    return units


def _patch_holdout(conn: Connection, experiment: str, group: list[_Spec], send: int | None, units: int) -> int:
    """Bring the touched held-out units' rows and sums up to date (the first send did not
    move): each gains only its conversions after the watermark (summed per unit by
    `_touched`), as in `_patch_exposed`."""
    if send is None:
        return units
    by_sig, sig_params = _sigs(group)
    params: dict[str, Any] = {**sig_params, "x": experiment}
    deltas = ", ".join(f"h{i} AS y{i}" for i in range(len(group)))
    _temp_table(conn, "liftlab_delta", f"""
        SELECT unit_id, {deltas} FROM liftlab_converted WHERE holdout AND held_hits > 0""", {})
    _temp_table(conn, "liftlab_new", "SELECT signature, unit_id, y FROM holdout_values WHERE 1 = 0", {})
    for i, spec in enumerate(group):
        conn.execute(text(f"""INSERT INTO liftlab_new (signature, unit_id, y)
            SELECT :sig, d.unit_id, {_combine(spec, 'COALESCE(v.y, 0.0)', f'd.y{i}')}
            FROM liftlab_delta d LEFT JOIN holdout_values v ON v.experiment = :x AND v.signature = :sig
                 AND v.unit_id = d.unit_id"""), {"x": experiment, "sig": spec.signature})
    replaced = "unit_id IN (SELECT unit_id FROM liftlab_delta)"
    conn.execute(text(f"""INSERT INTO holdout_sums (experiment, signature, sum, sum_sq)
        SELECT :x, signature, SUM(s), SUM(s2) FROM (
            SELECT signature, y AS s, y * y AS s2 FROM liftlab_new
            UNION ALL
            SELECT signature, -y, -(y * y) FROM holdout_values WHERE experiment = :x{by_sig} AND {replaced}) d
        WHERE TRUE GROUP BY signature
        ON CONFLICT (experiment, signature) DO UPDATE SET
            sum = holdout_sums.sum + excluded.sum, sum_sq = holdout_sums.sum_sq + excluded.sum_sq"""), params)
    conn.execute(text(f"DELETE FROM holdout_values WHERE experiment = :x{by_sig} AND {replaced}"), params)
    conn.execute(text("""INSERT INTO holdout_values (experiment, signature, unit_id, y)
        SELECT :x, signature, unit_id, y FROM liftlab_new WHERE y <> 0"""), {"x": experiment})
    return units


# -- reading the sums --------------------------------------------------------------------------

_COUNTS = """SELECT f.segment, f.arm, COUNT(*) AS n FROM exposed_units f WHERE f.experiment = :x
    GROUP BY f.segment, f.arm ORDER BY f.segment, f.arm"""


def _arm_stats(conn: Connection, experiment: str, metric: Metric, counts: pd.DataFrame) -> ArmStats:
    """One metric's samples per segment × arm: n from exposed_units, the sums from unit_values."""
    sums = _frame(conn, """SELECT segment, arm, sum, sum_sq, x_sum, x_sum_sq, xy_sum FROM value_sums
        WHERE experiment = :x AND signature = :s""",
        {"x": experiment, "s": signature(metric)})
    frame = counts.merge(sums, on=["segment", "arm"], how="left").fillna(0.0)
    frame["n"] = frame["n"].astype(int)
    return ArmStats.from_frame(metric.key, frame)


def _holdout_stats(conn: Connection, experiment: str, metric: Metric, counts: pd.DataFrame,
                   held_n: int) -> HoldoutStats:
    """The campaigned units (every exposed unit's y) against the holdout's `held_n` units."""
    params = {"x": experiment, "s": signature(metric)}
    campaigned = conn.execute(text("SELECT COALESCE(SUM(sum), 0.0), COALESCE(SUM(sum_sq), 0.0) FROM value_sums "
                                   "WHERE experiment = :x AND signature = :s"), params).one()
    held = conn.execute(text("SELECT COALESCE(SUM(sum), 0.0), COALESCE(SUM(sum_sq), 0.0) FROM holdout_sums "
                             "WHERE experiment = :x AND signature = :s"), params).one()
    n = float(counts["n"].sum()) if len(counts) else 0.0
    return HoldoutStats(metric.key, Sample(n, float(campaigned[0]), float(campaigned[1])),
                        Sample(float(held_n), float(held[0]), float(held[1])))

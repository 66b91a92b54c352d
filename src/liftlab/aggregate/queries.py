"""Sufficient statistics straight from SQL: one GROUP BY per experiment × metric (the full
queries; without a cut-off `aggregate` reads the materialised values of `refresh.py`).

For each exposed, non-holdout unit, y is its value of the metric in the window after its
first exposure — for a conversion metric 1 when it had at least one matching event in
[t0, t0 + window), else 0; for a revenue metric the sum of those events' values — and x is the
same quantity over the pre-period [t0 − window, t0), the CUPED covariate. The query returns
per segment × arm: n, Σy, Σy², Σx, Σx², Σxy, handed on as typed samples (`ArmStats`,
`HoldoutStats`; see `sufficient.py`). Statistics never see a raw event.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import text

from liftlab.aggregate.sufficient import ArmStats, HoldoutStats
from liftlab.config.model import Experiment, Metric
from liftlab.stats import Sample
from liftlab.store.event_store import EventStore

DAY_US = 86_400_000_000
_NONE = Sample(0.0, 0.0, 0.0)
_FAR_FUTURE = 2**62

# Each exposed unit once, at its first exposure, from the table the store's trigger keeps (its
# key starts experiment, segment, arm, unit_id, so these scans stream without sorting).
# Global-holdout units are never exposed (the store refuses to log them), so no join with
# assignments is needed.
_EXPOSED = "f.experiment = :experiment AND f.t0 < :until"
_EVENTS = "c.unit_id = f.unit_id AND c.event = :event AND c.ts < :until"


def _micros(moment: datetime | None) -> int:
    if moment is None:
        return _FAR_FUTURE
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1000)


def _run(
    store: EventStore, query: str, experiment: Experiment, metric: Metric, until: datetime | None,
    extra: dict[str, int] | None = None, *, counts: bool = True,
) -> pd.DataFrame:
    """Run an aggregation query with the experiment's key, the metric's event and window."""
    params = {
        "experiment": experiment.key,
        "event": metric.event,
        "window": metric.window_days * DAY_US,
        "until": _micros(until),
        "held": True,
        **(extra or {}),
    }
    with store.engine.connect() as conn:
        frame = pd.read_sql_query(text(query), conn, params=params)
    if counts:
        frame["n"] = frame["n"].astype(int)
    return frame


def aggregate(
    store: EventStore, experiment: Experiment, metric: Metric, *, until: datetime | None = None
) -> ArmStats:
    """Per segment × arm, one metric's `CovariateSample`: n, Σy, Σy² and the pre-period's
    Σx, Σx², Σxy (`.to_frame()` shows them as a table).

    `until` counts only exposures and conversions before that moment (a look at the data as it
    stood then, for timelines and sequential monitoring): that runs the full query. Without
    it, the sums come from the materialised per-unit values, refreshed first
    (`liftlab.aggregate.refresh`), and equal the full query's.
    """
    if until is not None:
        return full_aggregate(store, experiment, metric, until=until)
    from liftlab.aggregate.refresh import materialised_stats

    return materialised_stats(store, experiment, (metric,))[0][metric.key]


def full_aggregate(
    store: EventStore, experiment: Experiment, metric: Metric, *, until: datetime | None = None
) -> ArmStats:
    """`aggregate` recomputed from every stored event, in one GROUP BY over the join."""
    # Units with no event in [t0 - window, t0 + window) have y = x = 0: they count in n and
    # add nothing to the sums, so only units with events are grouped one by one.
    y = _per_unit(metric.kind, "c.ts >= f.t0")
    x = _per_unit(metric.kind, "c.ts < f.t0")
    query = f"""
    WITH counts AS (
        SELECT f.segment, f.arm, COUNT(*) AS n FROM exposed_units f WHERE {_EXPOSED}
        GROUP BY f.segment, f.arm
    ),
    hits AS (
        SELECT f.segment, f.arm, {y} AS y, {x} AS x
        FROM exposed_units f
        JOIN conversions c ON {_EVENTS} AND c.ts >= f.t0 - :window AND c.ts < f.t0 + :window
        WHERE {_EXPOSED}
        GROUP BY f.segment, f.arm, f.unit_id
    ),
    sums AS (
        SELECT segment, arm, SUM(y) AS s, SUM(y * y) AS s2, SUM(x) AS sx, SUM(x * x) AS sx2,
               SUM(x * y) AS sxy
        FROM hits GROUP BY segment, arm
    )
    SELECT k.segment, k.arm, k.n, COALESCE(s.s, 0.0) AS sum, COALESCE(s.s2, 0.0) AS sum_sq,
           COALESCE(s.sx, 0.0) AS x_sum, COALESCE(s.sx2, 0.0) AS x_sum_sq, COALESCE(s.sxy, 0.0) AS xy_sum
    FROM counts k LEFT JOIN sums s ON s.segment = k.segment AND s.arm = k.arm
    ORDER BY k.segment, k.arm
    """
    return ArmStats.from_frame(metric.key, _run(store, query, experiment, metric, until))


def holdout_aggregate(
    store: EventStore, experiment: Experiment, metric: Metric, *, until: datetime | None = None
) -> HoldoutStats:
    """The programme vs the global holdout: a Sample of the campaigned units and one of the
    holdout (n = 0 when there is none).

    Campaigned units are the experiment's exposed, non-holdout units, each measured in the
    window after its first exposure. Holdout units were never exposed, so they are measured in
    the window after the experiment's first send (its earliest exposure). Without `until` the
    sums come from the materialised values, as in `aggregate`.
    """
    if until is not None:
        return full_holdout_aggregate(store, experiment, metric, until=until)
    from liftlab.aggregate.refresh import materialised_stats

    return materialised_stats(store, experiment, (metric,))[1][metric.key]


def full_holdout_aggregate(
    store: EventStore, experiment: Experiment, metric: Metric, *, until: datetime | None = None
) -> HoldoutStats:
    """`holdout_aggregate` recomputed from every stored event."""
    y = _per_unit(metric.kind, "1 = 1")
    query = f"""
    WITH send AS (SELECT MIN(f.t0) AS t0 FROM exposed_units f WHERE {_EXPOSED}),
    campaigned AS (
        SELECT {y} AS y
        FROM exposed_units f
        JOIN conversions c ON {_EVENTS} AND c.ts >= f.t0 AND c.ts < f.t0 + :window
        WHERE {_EXPOSED}
        GROUP BY f.segment, f.arm, f.unit_id
    ),
    held AS (
        SELECT {y} AS y FROM assignments a CROSS JOIN send s
        JOIN conversions c ON c.unit_id = a.unit_id AND c.event = :event AND c.ts < :until
             AND c.ts >= s.t0 AND c.ts < s.t0 + :window
        WHERE a.experiment = :experiment AND a.holdout = :held
        GROUP BY a.unit_id
    )
    SELECT 'campaigned' AS "group", (SELECT COUNT(*) FROM exposed_units f WHERE {_EXPOSED}) AS n,
           COALESCE(SUM(y), 0.0) AS sum, COALESCE(SUM(y * y), 0.0) AS sum_sq FROM campaigned
    UNION ALL
    SELECT 'holdout',
           CASE WHEN (SELECT t0 FROM send) IS NULL THEN 0 ELSE (
               SELECT COUNT(*) FROM assignments WHERE experiment = :experiment AND holdout = :held) END,
           COALESCE(SUM(y), 0.0), COALESCE(SUM(y * y), 0.0) FROM held
    """
    rows = _run(store, query, experiment, metric, until).set_index("group")
    campaigned, held = (Sample(*(float(rows.loc[g, c]) for c in ("n", "sum", "sum_sq")))
                        for g in ("campaigned", "holdout"))
    return HoldoutStats(metric.key, campaigned, held)


def _per_unit(kind: str, condition: str) -> str:
    """SQL for a unit's value from its joined events that meet `condition`: for a conversion
    metric 1 when any does, else 0; for a revenue metric the sum of their values."""
    if kind == "conversion":
        return f"MAX(CASE WHEN {condition} THEN 1.0 ELSE 0.0 END)"
    return f"SUM(CASE WHEN {condition} THEN c.value ELSE 0.0 END)"


def daily_aggregate(
    store: EventStore, experiment: Experiment, metric: Metric, *, origin: datetime, days: int
) -> tuple[ArmStats, ...]:
    """Samples (n, Σy, Σy²) per segment × arm as they stood at the end of each of `days` days
    from `origin` (midnight UTC): entry d equals `aggregate(until=origin + d + 1 days)`
    without the pre-period sums.

    Two queries instead of one per day: units are counted by the day of their first exposure,
    and each qualifying event adds to the sums on its own day. A revenue unit's y² grows by
    v·(2·Y + v) when an event of value v follows events worth Y, so the squares accumulate
    exactly; a conversion unit counts once, on the day of its first qualifying event.
    """
    day = "CASE WHEN {ts} < :origin THEN 0 ELSE ({ts} - :origin) / :day END"
    step = ("CASE WHEN rank = 1 THEN 1.0 ELSE 0.0 END" if metric.kind == "conversion"
            else "value")
    square = (step if metric.kind == "conversion"
              else "value * (2.0 * (running - value) + value)")
    exposed = f"""
    SELECT f.segment, f.arm, {day.format(ts="f.t0")} AS day, COUNT(*) AS n
    FROM exposed_units f WHERE {_EXPOSED}
    GROUP BY f.segment, f.arm, {day.format(ts="f.t0")}
    """
    events = f"""
    WITH qualifying AS (
        SELECT f.segment, f.arm, f.unit_id, c.ts, c.value,
               ROW_NUMBER() OVER w AS rank, SUM(c.value) OVER w AS running
        FROM exposed_units f
        JOIN conversions c ON {_EVENTS} AND c.ts >= f.t0 AND c.ts < f.t0 + :window
        WHERE {_EXPOSED}
        WINDOW w AS (PARTITION BY f.unit_id ORDER BY c.ts, c.event_id ROWS UNBOUNDED PRECEDING)
    )
    SELECT segment, arm, {day.format(ts="ts")} AS day, SUM({step}) AS sum, SUM({square}) AS sum_sq
    FROM qualifying GROUP BY segment, arm, {day.format(ts="ts")}
    """
    start = _micros(origin)
    extra = {"origin": start, "day": DAY_US}
    until = pd.Timestamp(start * 1000 + days * DAY_US * 1000, tz="UTC").to_pydatetime()
    counts = _run(store, exposed, experiment, metric, until, extra)
    sums = _run(store, events, experiment, metric, until, extra, counts=False)
    increments = _by_day(metric.key, counts, sums, days)
    running, out = ArmStats(metric.key), []
    for increment in increments:  # days combine by addition
        running = running + increment
        out.append(running)
    return tuple(out)


def _by_day(metric: str, counts: pd.DataFrame, sums: pd.DataFrame, days: int) -> list[ArmStats]:
    """Each day's new units and new sums per segment × arm, as one ArmStats per day."""
    increments: list[dict[tuple[str, str], Sample]] = [{} for _ in range(days)]
    for row in counts.to_dict("records"):
        day = int(row["day"])
        if 0 <= day < days:
            key = (str(row["segment"]), str(row["arm"]))
            increments[day][key] = increments[day].get(key, _NONE) + Sample(float(row["n"]), 0.0, 0.0)
    for row in sums.to_dict("records"):
        day = int(row["day"])
        if 0 <= day < days:
            key = (str(row["segment"]), str(row["arm"]))
            added = Sample(0.0, float(row["sum"]), float(row["sum_sq"]))
            increments[day][key] = increments[day].get(key, _NONE) + added
    return [ArmStats(metric, samples) for samples in increments]

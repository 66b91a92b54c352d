"""Sufficient statistics straight from SQL: one GROUP BY per experiment × metric.

For each exposed, non-holdout unit, y is its value of the metric in the window after its
first exposure — for a conversion metric 1 when it had at least one matching event in
[t0, t0 + window), else 0; for a revenue metric the sum of those events' values — and x is the
same quantity over the pre-period [t0 − window, t0), the CUPED covariate. The query returns
per segment × arm: n, Σy, Σy², Σx, Σx², Σxy. Statistics never see a raw event.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import text

from liftlab.config import Experiment, Metric
from liftlab.store import EventStore

DAY_US = 86_400_000_000
_FAR_FUTURE = 2**62

# Each exposed unit once, at its first exposure. Global-holdout units are never in the
# exposures table (the store refuses to log them), so no join with assignments is needed.
_UNITS = """
first AS MATERIALIZED (
    SELECT e.unit_id, MIN(e.segment) AS segment, MIN(e.arm) AS arm, MIN(e.ts) AS t0
    FROM exposures e
    WHERE e.experiment = :experiment AND e.ts < :until
    GROUP BY e.unit_id
)"""


def _value(kind: str, low: str, high: str) -> str:
    """SQL for a unit's metric value from its joined events between two bounds."""
    inside = f"c.ts >= {low} AND c.ts < {high}"
    if kind == "conversion":
        return f"MAX(CASE WHEN {inside} THEN 1.0 ELSE 0.0 END)"
    return f"COALESCE(SUM(CASE WHEN {inside} THEN c.value ELSE 0.0 END), 0.0)"


def _micros(moment: datetime | None) -> int:
    if moment is None:
        return _FAR_FUTURE
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1000)


def _run(
    store: EventStore, query: str, experiment: Experiment, metric: Metric, until: datetime | None
) -> pd.DataFrame:
    """Run an aggregation query with the experiment's key, the metric's event and window."""
    params = {
        "experiment": experiment.key,
        "event": metric.event,
        "window": metric.window_days * DAY_US,
        "until": _micros(until),
    }
    with store.engine.connect() as conn:
        frame = pd.read_sql_query(text(query), conn, params=params)
    frame["n"] = frame["n"].astype(int)
    return frame


def aggregate(
    store: EventStore, experiment: Experiment, metric: Metric, *, until: datetime | None = None
) -> pd.DataFrame:
    """Per segment × arm: n, sum, sum_sq, x_sum, x_sum_sq, xy_sum for one metric.

    `until` counts only exposures and conversions before that moment (a look at the data as it
    stood then, for timelines and sequential monitoring).
    """
    # Units with no event in [t0 - window, t0 + window) have y = x = 0: they count in n and
    # add nothing to the sums, so only units with events are grouped one by one.
    if metric.kind == "conversion":
        y, x = "MAX(CASE WHEN c.ts >= f.t0 THEN 1.0 ELSE 0.0 END)", "MAX(CASE WHEN c.ts < f.t0 THEN 1.0 ELSE 0.0 END)"
    else:
        y, x = "SUM(CASE WHEN c.ts >= f.t0 THEN c.value ELSE 0.0 END)", "SUM(CASE WHEN c.ts < f.t0 THEN c.value ELSE 0.0 END)"
    query = f"""
    WITH {_UNITS},
    counts AS (SELECT segment, arm, COUNT(*) AS n FROM first GROUP BY segment, arm),
    hits AS (
        SELECT f.segment, f.arm, {y} AS y, {x} AS x
        FROM first f
        JOIN conversions c
          ON c.unit_id = f.unit_id AND c.event = :event
         AND c.ts >= f.t0 - :window AND c.ts < f.t0 + :window AND c.ts < :until
        GROUP BY f.unit_id
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
    return _run(store, query, experiment, metric, until)


def holdout_aggregate(
    store: EventStore, experiment: Experiment, metric: Metric, *, until: datetime | None = None
) -> pd.DataFrame:
    """The programme vs the global holdout: rows `campaigned` and `holdout` with n, sum, sum_sq.

    Campaigned units are the experiment's exposed, non-holdout units, each measured in the
    window after its first exposure. Holdout units were never exposed, so they are measured in
    the window after the experiment's first send (its earliest exposure).
    """
    y_campaigned = _value(metric.kind, "f.t0", "f.t0 + :window")
    y_holdout = _value(metric.kind, "s.t0", "s.t0 + :window")
    query = f"""
    WITH {_UNITS},
    send AS (SELECT MIN(ts) AS t0 FROM exposures WHERE experiment = :experiment AND ts < :until),
    campaigned AS (
        SELECT {y_campaigned} AS y FROM first f
        LEFT JOIN conversions c ON c.unit_id = f.unit_id AND c.event = :event
             AND c.ts >= f.t0 AND c.ts < f.t0 + :window AND c.ts < :until
        GROUP BY f.unit_id
    ),
    held AS (
        SELECT {y_holdout} AS y FROM assignments a CROSS JOIN send s
        LEFT JOIN conversions c ON c.unit_id = a.unit_id AND c.event = :event
             AND c.ts >= s.t0 AND c.ts < s.t0 + :window AND c.ts < :until
        WHERE a.experiment = :experiment AND a.holdout = 1 AND s.t0 IS NOT NULL
        GROUP BY a.unit_id
    )
    SELECT 'campaigned' AS "group", COUNT(*) AS n, COALESCE(SUM(y), 0) AS sum,
           COALESCE(SUM(y * y), 0) AS sum_sq FROM campaigned
    UNION ALL
    SELECT 'holdout', COUNT(*), COALESCE(SUM(y), 0), COALESCE(SUM(y * y), 0) FROM held
    """
    return _run(store, query, experiment, metric, until)

"""Analysing an experiment from the event store: SQL sufficient statistics → Report.

`analyze` is the one call an analyst makes: it asks the store for each metric's
segment × arm sufficient statistics (one GROUP BY each, see `aggregate.py`), the global
holdout comparison, and hands them to `report.build_report`. `timeline` gives the same
statistics as they stood at the end of each day, for the cumulative-uplift chart.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd

from liftlab.aggregate.queries import aggregate, daily_aggregate, holdout_aggregate
from liftlab.config.model import Experiment
from liftlab.report.build import Report, build_report
from liftlab.stats import Sample, frequentist
from liftlab.store.event_store import EventStore


def analyze(
    store: EventStore,
    experiment: Experiment,
    *,
    alpha: float = 0.05,
    correction: str = "holm",
    use_cuped: bool = True,
    target_mde: float = 0.10,
    until: datetime | None = None,
) -> Report:
    """The uplift report for `experiment` from what `store` holds.

    CUPED is applied where units have a pre-period (the metric's window before their first
    exposure) with some variation in it; the report says so.
    """
    tables = {m.key: aggregate(store, experiment, m, until=until) for m in experiment.metrics}
    holdout = {
        m.key: holdout_aggregate(store, experiment, m, until=until) for m in experiment.metrics
    }
    return build_report(
        experiment,
        tables,
        holdout_tables=holdout,
        alpha=alpha,
        correction=correction,
        use_cuped=use_cuped,
        target_mde=target_mde,
    )


def timeline(store: EventStore, experiment: Experiment, *, alpha: float = 0.05) -> pd.DataFrame:
    """Cumulative absolute uplift per day since launch: day, segment, arm, metric, abs_uplift,
    low, high — each day counting only exposures and conversions before that day's end.

    Uses the unadjusted Welch interval (not CUPED), the number a team watching day by day saw.
    Two queries per metric however many days (`aggregate.daily_aggregate`).
    """
    window = max(m.window_days for m in experiment.metrics)
    end = experiment.end or (experiment.start + timedelta(days=window))
    last_day = min(end, experiment.start + timedelta(days=window + 7))
    origin = datetime.combine(experiment.start, time.min, tzinfo=UTC)
    days = (last_day - experiment.start).days + 1
    rows = []
    for metric in experiment.metrics:
        daily = daily_aggregate(store, experiment, metric, origin=origin, days=max(days, 0))
        for offset, table in daily.groupby("day", sort=True):
            day = experiment.start + timedelta(days=int(offset))
            for campaign in experiment.campaigns:
                rows.extend(_daily_rows(table, campaign, metric.key, day, alpha))
    frame = pd.DataFrame(rows, columns=["day", "segment", "arm", "metric", "abs_uplift", "low", "high"])
    order = {m.key: i for i, m in enumerate(experiment.metrics)}
    return frame.sort_values(["day", "metric"], key=lambda c: c.map(order) if c.name == "metric" else c,
                             kind="stable", ignore_index=True)


def _daily_rows(table: pd.DataFrame, campaign, metric: str, day, alpha: float) -> list[dict]:  # type: ignore[no-untyped-def]
    segment = table[table["segment"] == campaign.segment].set_index("arm")
    control_key = campaign.control.key
    if control_key not in segment.index:
        return []
    control = Sample(*(float(segment.loc[control_key, c]) for c in ("n", "sum", "sum_sq")))
    rows = []
    for arm in campaign.treatments:
        if arm.key not in segment.index:
            continue
        treatment = Sample(*(float(segment.loc[arm.key, c]) for c in ("n", "sum", "sum_sq")))
        result = frequentist(control, treatment, alpha=alpha)
        rows.append(
            {
                "day": pd.Timestamp(day),
                "segment": campaign.segment,
                "arm": arm.key,
                "metric": metric,
                "abs_uplift": result.abs_uplift,
                "low": result.abs_ci[0],
                "high": result.abs_ci[1],
            }
        )
    return rows

"""Cumulative uplift by day since launch, for the HTML's chart and the review notebook.

Each day's point is `liftlab.stats.compare` (the same call as the report's rows, without
CUPED) on the data as it stood at that day's end — the number a team watching day by day
saw. Two queries per metric however many days (`aggregate.daily_aggregate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from collections.abc import Mapping, Sequence

import pandas as pd

from liftlab.aggregate.queries import daily_aggregate
from liftlab.aggregate.sufficient import ArmStats
from liftlab.config.model import Experiment
from liftlab.stats import Comparison, compare
from liftlab.store.event_store import EventStore


@dataclass(frozen=True)
class TimelinePoint:
    """One segment × arm × metric comparison as it stood at the end of `day`."""

    day: date
    segment: str
    arm: str
    metric: str
    comparison: Comparison


@dataclass(frozen=True)
class Timeline:
    """Every day's comparisons, in day order then the experiment's metric order."""

    points: tuple[TimelinePoint, ...]

    def to_frame(self) -> pd.DataFrame:
        """day, segment, arm, metric, abs_uplift, low, high (the unadjusted Welch interval)."""
        rows = [
            {"day": pd.Timestamp(p.day), "segment": p.segment, "arm": p.arm, "metric": p.metric,
             "abs_uplift": p.comparison.abs_uplift,
             "low": p.comparison.frequentist.abs_ci[0] if p.comparison.frequentist else float("nan"),
             "high": p.comparison.frequentist.abs_ci[1] if p.comparison.frequentist else float("nan")}
            for p in self.points
        ]
        return pd.DataFrame(rows, columns=["day", "segment", "arm", "metric", "abs_uplift", "low", "high"])


def timeline(store: EventStore, experiment: Experiment, *, alpha: float = 0.05) -> Timeline:
    """Each treatment arm vs its control per day, from launch to the end of the longest
    metric window (at most a week past it)."""
    origin, days = timeline_days(experiment)
    daily = {m.key: daily_aggregate(store, experiment, m, origin=origin, days=days) for m in experiment.metrics}
    return timeline_from_daily(experiment, daily, alpha=alpha)


def timeline_days(experiment: Experiment) -> tuple[datetime, int]:
    """The timeline's first midnight (UTC) and its number of days: from launch to the end of
    the longest metric window, at most a week past it."""
    window = max(m.window_days for m in experiment.metrics)
    end = experiment.end or (experiment.start + timedelta(days=window))
    last_day = min(end, experiment.start + timedelta(days=window + 7))
    origin = datetime.combine(experiment.start, time.min, tzinfo=UTC)
    return origin, max((last_day - experiment.start).days + 1, 0)


def timeline_from_daily(
    experiment: Experiment, daily: Mapping[str, Sequence[ArmStats]], *, alpha: float = 0.05
) -> Timeline:
    """The timeline from each metric's samples as they stood at the end of each day (from the
    store's daily queries, or a declared source's `until` looks)."""
    days = min((len(v) for v in daily.values()), default=0)
    points = []
    for offset in range(days):
        day = experiment.start + timedelta(days=offset)
        for metric in experiment.metrics:
            arms = daily[metric.key][offset]
            for campaign in experiment.campaigns:
                control = arms.sample(campaign.segment, campaign.control.key)
                if not control.n:
                    continue
                for arm in campaign.treatments:
                    treatment = arms.sample(campaign.segment, arm.key)
                    if not treatment.n:
                        continue
                    result = compare(control, treatment, kind=metric.kind, alpha=alpha, use_cuped=False)
                    points.append(TimelinePoint(day, campaign.segment, arm.key, metric.key, result))
    return Timeline(tuple(points))

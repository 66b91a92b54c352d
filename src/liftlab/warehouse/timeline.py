"""The cumulative-uplift timeline of an experiment from a declared source.

Each day's samples are the source's full query with `until` at that day's end (one query per
metric per day, each returning one row per segment × arm), handed to the same
`timeline_from_daily` the store's timeline uses.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from liftlab.aggregate.sufficient import ArmStats
from liftlab.config.model import Experiment
from liftlab.config.sources import Source
from liftlab.report.timeline import Timeline, timeline_days, timeline_from_daily
from liftlab.stats import Sample

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
from liftlab.warehouse.analysis import source_aggregate, source_connection


def source_timeline(
    source: Source, experiment: Experiment, *, alpha: float = 0.05, engine: Engine | None = None,
    spark: SparkSession | None = None,
) -> Timeline:
    """Each treatment arm vs its control per day, as `liftlab.report.timeline.timeline` gives
    it from the store (without CUPED: the number a team watching day by day saw)."""
    origin, days = timeline_days(experiment)
    daily: dict[str, list[ArmStats]] = {m.key: [] for m in experiment.metrics}
    with source_connection(source, engine, spark) as conn:
        for day in range(days):
            until = origin + timedelta(days=day + 1)
            for metric in experiment.metrics:
                stats = source_aggregate(conn, source, experiment, metric, until=until)
                daily[metric.key].append(ArmStats(metric.key, {  # the pre-period is not used
                    key: Sample(s.n, s.sum, s.sum_sq) for key, s in stats.samples.items()}))
    return timeline_from_daily(experiment, daily, alpha=alpha)

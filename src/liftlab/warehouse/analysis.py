"""Analysing an experiment where its events live: a declared source → sums in the engine → Report.

`analyze_source` is `liftlab.analyze` for a `Source`: the same typed sufficient statistics
(`ArmStats`, `HoldoutStats`), computed by the engine from the raw relations (`queries.py`,
always the full queries: there is no materialised copy to refresh), handed to the same
`build_report`. Python fetches one row per segment × arm per metric, plus two holdout rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import NoSuchModuleError

from liftlab.aggregate.queries import DAY_US, _micros
from liftlab.aggregate.sufficient import ArmStats, HoldoutStats
from liftlab.config.model import Experiment, Metric
from liftlab.config.sources import Source
from liftlab.config.validation import check_experiment, check_source
from liftlab.errors import LiftlabError
from liftlab.report.build import build_report
from liftlab.report.records import Report
from liftlab.stats import CovariateSample, Sample
from liftlab.warehouse.queries import arm_sums, holdout_sums
from liftlab.warehouse.relations import relation

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from liftlab.warehouse.spark import SparkConnection


def source_engine(source: Source) -> Engine:
    """A SQLAlchemy engine for the source's URL; a URL whose dialect is not installed
    (duckdb:// without `liftlab[duckdb]`) is a LiftlabError naming what to install."""
    try:
        return create_engine(source.url)
    except NoSuchModuleError:
        extra = {"duckdb": "liftlab[duckdb]", "postgresql": "liftlab[postgres]"}.get(source.engine_name)
        fix = f"pip install '{extra}'" if extra else f"install SQLAlchemy's {source.engine_name} dialect"
        raise LiftlabError(f"source {source.name!r}: no SQLAlchemy dialect for "
                           f"{source.engine_name} is installed ({fix})", field="url") from None


@contextmanager
def source_connection(
    source: Source, engine: Engine | None = None, spark: SparkSession | None = None
) -> Iterator[Any]:
    """A connection the analysis queries run on: a SQLAlchemy connection (over `engine`
    when given, else one made and disposed of here), or for a `spark://` source a
    `SparkConnection` over `spark` or the session for its master (`liftlab[spark]`)."""
    if source.engine_name == "spark":
        from liftlab.warehouse.spark import spark_connection

        with spark_connection(source.url, spark) as connection:
            yield connection
        return
    owned = engine is None
    engine = engine if engine is not None else source_engine(source)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        if owned:
            engine.dispose()


def query_params(experiment: Experiment, metric: Metric, until: datetime | None) -> dict[str, Any]:
    """The values of the analysis queries' parameters for one metric (`queries.py`)."""
    return {"experiment": experiment.key, "event": metric.event,
            "window_us": metric.window_days * DAY_US, "until": _micros(until)}


def source_aggregate(
    conn: Connection | SparkConnection, source: Source, experiment: Experiment, metric: Metric, *,
    until: datetime | None = None,
) -> ArmStats:
    """Per segment × arm, one metric's `CovariateSample` computed in the source's engine:
    the numbers `liftlab.aggregate.full_aggregate` gives on the store."""
    statement = arm_sums(relation(source, "exposures"), relation(source, "conversions"), metric.kind)
    samples: dict[tuple[str, str], Sample] = {}
    for row in conn.execute(statement, query_params(experiment, metric, until)).mappings():
        samples[(str(row["segment"]), str(row["arm"]))] = CovariateSample(
            float(row["n"]), *(float(row[k]) for k in ("sum", "sum_sq", "x_sum", "x_sum_sq", "xy_sum")))
    return ArmStats(metric.key, samples)


def source_holdout_aggregate(
    conn: Connection | SparkConnection, source: Source, experiment: Experiment, metric: Metric, *,
    until: datetime | None = None,
) -> HoldoutStats:
    """The programme vs the global holdout in the source's engine, as
    `liftlab.aggregate.full_holdout_aggregate` on the store (holdout n = 0 when the source
    declares no assignments)."""
    assignments = relation(source, "assignments") if source.assignments is not None else None
    statement = holdout_sums(relation(source, "exposures"), relation(source, "conversions"),
                             assignments, metric.kind)
    found = {str(row["role"]): Sample(*(float(row[k]) for k in ("n", "sum", "sum_sq")))
             for row in conn.execute(statement, query_params(experiment, metric, until)).mappings()}
    empty = Sample(0.0, 0.0, 0.0)
    return HoldoutStats(metric.key, found.get("campaigned", empty), found.get("holdout", empty))


def analyze_source(
    source: Source,
    experiment: Experiment,
    *,
    alpha: float = 0.05,
    correction: str = "holm",
    use_cuped: bool = True,
    target_mde: float = 0.10,
    until: datetime | None = None,
    margin: float | None = None,
    expected_shares: Mapping[str, Mapping[str, float]] | None = None,
    allow: Collection[str] = (),
    engine: Engine | None = None,
    project_file: str | Path | None = None,
    spark: SparkSession | None = None,
) -> Report:
    """The uplift report for `experiment` from a declared source, as `liftlab.analyze` gives
    it from the store: only aggregates leave the engine.

    The source and the experiment are validated first (ConfigError with the findings;
    `project_file` lets a source's findings name its file and line). `expected_shares`
    defaults to the experiment's weights (a source keeps no config versions). `engine`
    reuses an open engine (e.g. one DuckDB connection holding registered tables); `spark`
    is the session a `spark://` source runs on (default: the active one, or a new one on
    the URL's master).
    """
    check_experiment(experiment, allow=allow)
    check_source(source, project_file)
    with source_connection(source, engine, spark) as conn:
        stats = {m.key: source_aggregate(conn, source, experiment, m, until=until)
                 for m in experiment.metrics}
        holdout = {m.key: source_holdout_aggregate(conn, source, experiment, m, until=until)
                   for m in experiment.metrics}
    return build_report(
        experiment, stats, holdout=holdout, expected_shares=expected_shares, margin=margin,
        alpha=alpha, correction=correction, use_cuped=use_cuped, target_mde=target_mde,
    )

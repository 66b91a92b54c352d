"""Apache Spark as a source's engine: the session, and the analysis queries run through it.

A source declared with `url = "spark://HOST:PORT"` (a cluster's master) or `"spark://local"`
/ `"spark://local[N]"` (one machine, N cores) runs the same SQLAlchemy Core queries as every
other engine, rendered by liftlab's Spark SQL dialect (`dialects.py`) and executed with
`spark.sql(sql, args=params)`; only the aggregate rows are collected. A session made
elsewhere (Databricks, a notebook) is handed in as it is.

pyspark (extra `liftlab[spark]`) is imported only here, only when a Spark source is used.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.sql import ClauseElement

from liftlab.errors import LiftlabError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Settings every session liftlab starts gets: naive timestamps read as UTC (the store's
#: convention), no web UI, few shuffle partitions (aggregates are small).
SESSION_CONFIG = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
}


def master_of(url: str) -> str:
    """The Spark master of a `spark://` source URL: `spark://local[2]` → `local[2]`,
    `spark://local` → `local[*]`, `spark://host:7077` stays as it is."""
    rest = url.split("://", 1)[1] if "://" in url else url
    if rest == "local":
        return "local[*]"
    if rest.startswith("local["):
        return rest
    return url


def java_missing() -> str | None:
    """Why Spark cannot start here (no Java runtime), or None when it can."""
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return None
    return "Spark needs a Java runtime (java on PATH or JAVA_HOME); none was found"


def quiet_pandas_warning() -> None:
    """pyspark 4.x warns on every pandas conversion that pandas ≥ 3 is not fully supported;
    liftlab's Spark paths are tested on pandas 3 (`tests/test_warehouse_spark*.py`), so the
    warning says nothing to a liftlab user."""
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                            category=FutureWarning)


def spark_session(
    master: str = "local[*]", app_name: str = "liftlab", config: Mapping[str, str] | None = None
) -> SparkSession:
    """The active Spark session, or a new one on `master` with `SESSION_CONFIG` and `config`
    (e.g. `{"spark.driver.memory": "8g"}`, which only a new session takes).

    Python workers run this interpreter (PYSPARK_PYTHON, unless set), so UDFs see the same
    liftlab and numpy as the driver. No Java runtime or no pyspark is a LiftlabError saying
    which (the CLI's exit 2 with that message, not a traceback).
    """
    problem = java_missing()
    if problem is not None:
        raise LiftlabError(problem, field="url")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise LiftlabError("a spark:// source needs pyspark: pip install 'liftlab[spark]'",
                           field="url") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    quiet_pandas_warning()

    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**SESSION_CONFIG, **(config or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


class SparkConnection:
    """The slice of a SQLAlchemy Connection the analysis uses (`execute(...).mappings()`),
    over a Spark session: statements are rendered as Spark SQL and run by `spark.sql`."""

    def __init__(self, session: SparkSession) -> None:
        self.session = session

    def execute(self, statement: ClauseElement, params: Mapping[str, Any] | None = None) -> SparkResult:
        from liftlab.warehouse.dialects import render

        query = render(statement, "spark", dict(params or {}))
        rows = self.session.sql(query.sql, args=query.params).collect()
        return SparkResult([row.asDict() for row in rows])


class SparkResult:
    """Collected rows, read like a SQLAlchemy result's `.mappings()`."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def mappings(self) -> list[dict[str, Any]]:
        return self.rows


@contextmanager
def spark_connection(url: str, session: SparkSession | None = None) -> Iterator[SparkConnection]:
    """A connection to a `spark://` source: over `session` when given, else over the
    active session or a new one on the URL's master (left running: Spark sessions are
    expensive to start and meant to be shared)."""
    yield SparkConnection(session if session is not None else spark_session(master_of(url)))

"""The send list written back where the assignments live: a Spark or DuckDB table, or Parquet.

The list has the columns `liftlab export` writes (`store.export.SEND_COLUMNS`: experiment, unit_id,
segment, arm, channel) and the same rows: treatment customers only, or, `include_all`,
everyone with a `role` (treatment / control / holdout; a holdout customer has an empty arm and
channel). Roles and channels come from the experiment's campaigns as one SQL CASE per column,
so the list is built by the engine from the assignments (`assign_spark` / `assign_duckdb`)
without a row leaving it; the same SQL runs on both engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liftlab.config.model import Experiment
from liftlab.errors import DataError

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import DataFrame as SparkFrame

__all__ = ["WrittenSendList", "send_list", "send_list_sql", "write_send_list"]

_VIEW = "liftlab_assignments"
_LIST = "liftlab_send_list"


@dataclass(frozen=True)
class WrittenSendList:
    """Where a send list went (a table name or a Parquet path) and how many customers it holds."""

    into: str
    customers: int


def _literal(text: str, dialect: str) -> str:
    """`text` as a string literal: DuckDB doubles quotes (standard SQL); Spark SQL escapes
    with backslashes (there, 'a''b' is two adjacent literals: "ab") and formats its text with
    `str.format` when given DataFrames, so braces are doubled too."""
    if dialect == "spark":
        escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("{", "{{").replace("}", "}}")
        return "'" + escaped + "'"
    return "'" + text.replace("'", "''") + "'"


def send_list_sql(experiment: Experiment, assignments: str, *, include_all: bool = False,
                  dialect: str = "duckdb") -> str:
    """The SELECT turning the relation named `assignments` (`assign`'s columns) into the send
    list, for `dialect` ("duckdb" or "spark": the same SQL, literals quoted each one's way).
    A later campaign for a segment wins, as in `export_send_list`; an arm the experiment
    does not declare counts as treatment."""
    def quoted(text: str) -> str:
        return _literal(text, dialect)

    channels: dict[str, str] = {}
    controls: dict[tuple[str, str], bool] = {}
    for campaign in experiment.campaigns:
        channels[campaign.segment] = campaign.channel
        for arm in campaign.arms:
            controls[(campaign.segment, arm.key)] = arm.control
    channel = " ".join(f"WHEN segment = {quoted(s)} THEN {quoted(c)}" for s, c in channels.items())
    control = " OR ".join(f"(segment = {quoted(s)} AND arm = {quoted(a)})"
                          for (s, a), is_control in controls.items() if is_control) or "FALSE"
    role = f"CASE WHEN holdout THEN 'holdout' WHEN {control} THEN 'control' ELSE 'treatment' END"
    columns = [
        "experiment", "unit_id", "segment",
        "CASE WHEN holdout THEN '' ELSE arm END AS arm",
        f"CASE WHEN holdout THEN '' ELSE CASE {channel} ELSE '' END END AS channel",
    ]
    if include_all:
        return f"SELECT {', '.join(columns)}, {role} AS role FROM {assignments}"
    return f"SELECT {', '.join(columns)} FROM {assignments} WHERE {role} = 'treatment'"


def _is_duckdb(relation: Any) -> bool:
    return type(relation).__module__.split(".")[0] in ("duckdb", "_duckdb")


def send_list(experiment: Experiment, assignments: SparkFrame | duckdb.DuckDBPyRelation, *,
              include_all: bool = False) -> SparkFrame | duckdb.DuckDBPyRelation:
    """The send list of `assignments` (from `assign_spark` or `assign_duckdb`), lazy, in the
    same engine: `SEND_COLUMNS`, plus `role` when `include_all`."""
    if _is_duckdb(assignments):
        return assignments.query(_VIEW, send_list_sql(experiment, _VIEW, include_all=include_all))
    return assignments.sparkSession.sql(
        send_list_sql(experiment, "{assignments}", include_all=include_all, dialect="spark"),
        assignments=assignments)


def write_send_list(experiment: Experiment, assignments: SparkFrame | duckdb.DuckDBPyRelation,
                    into: str | Path, *, include_all: bool = False, replace: bool = False) -> WrittenSendList:
    """Write the send list in the engine: `into` ending in `.parquet` is a Parquet path (one
    file on DuckDB, a folder of part files on Spark), anything else a table name.

    An existing table or path is an error unless `replace`. The count comes back from what
    was written (Parquet metadata, or a count of the table).
    """
    target = str(into)
    parquet = target.lower().endswith(".parquet")
    if parquet and Path(target).exists() and not replace:
        raise DataError(f"{target} exists; pass replace=True to overwrite it", field="into")
    frame = send_list(experiment, assignments, include_all=include_all)
    if _is_duckdb(assignments):
        if parquet:
            path = _literal(target, "duckdb")
            frame.query(_LIST, f"COPY (SELECT * FROM {_LIST}) TO {path} (FORMAT parquet)")
            count = frame.query(_LIST, f"SELECT count(*) FROM read_parquet({path})")
        else:
            verb = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE"
            frame.query(_LIST, f"{verb} {target} AS SELECT * FROM {_LIST}")
            count = frame.query(_LIST, f"SELECT count(*) FROM {target}")
        return WrittenSendList(target, int(count.fetchone()[0]))
    writer = frame.write.mode("overwrite" if replace else "errorifexists")
    if parquet:
        writer.parquet(target)
        written = frame.sparkSession.read.parquet(target)
    else:
        writer.saveAsTable(target)
        written = frame.sparkSession.table(target)
    return WrittenSendList(target, written.count())


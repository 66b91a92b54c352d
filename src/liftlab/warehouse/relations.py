"""A declared source's relations as SQLAlchemy Core selectables with liftlab's column names.

Whatever a relation is (a table, a Parquet glob, a SQL query) and whatever its columns are
called, the analysis queries (`queries.py`) read `unit_id`, `ts` (epoch microseconds, as the
store keeps them), `experiment`, `segment`, `arm`, `event`, `value`, `holdout`. Timestamps
stored as TIMESTAMP are converted inside the engine by `EpochMicros`, one construct compiled
per dialect, so the window arithmetic is integer microseconds everywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer, cast, column, null, select, table, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.functions import FunctionElement

from liftlab.config.sources import RelationKind, Source, relation_kind

#: The canonical columns each role reads (assignments: only what the holdout comparison needs).
ROLE_COLUMNS = {
    "exposures": ("unit_id", "timestamp", "experiment", "segment", "arm"),
    "conversions": ("unit_id", "timestamp", "event", "value"),
    "assignments": ("unit_id", "experiment", "holdout"),
    "orders": ("unit_id", "timestamp", "value"),
    "customers": ("unit_id", "email_known"),
    "visits": ("unit_id", "timestamp"),
}


class EpochMicros(FunctionElement[int]):
    """A TIMESTAMP as integer microseconds since 1970-01-01 UTC (a naive timestamp is read
    as UTC), in the engine's own SQL."""

    type = BigInteger()
    name = "epoch_micros"
    inherit_cache = True


@compiles(EpochMicros, "duckdb")
def _duckdb_micros(element: EpochMicros, compiler: Any, **kw: Any) -> str:
    return f"epoch_us({compiler.process(element.clauses, **kw)})"


@compiles(EpochMicros, "postgresql")
def _postgresql_micros(element: EpochMicros, compiler: Any, **kw: Any) -> str:
    # EXTRACT(EPOCH ...) is numeric on PostgreSQL 14+: exact to the microsecond.
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) * 1000000 AS BIGINT)"


@compiles(EpochMicros, "sqlite")
def _sqlite_micros(element: EpochMicros, compiler: Any, **kw: Any) -> str:
    # SQLite keeps timestamps as ISO text; strftime reads whole seconds and milliseconds
    # ('%f' is SS.SSS), so the precision is the millisecond.
    value = compiler.process(element.clauses, **kw)
    return (f"(CAST(strftime('%s', {value}) AS BIGINT) * 1000000"
            f" + CAST(substr(strftime('%f', {value}), 4) AS BIGINT) * 1000)")


@compiles(EpochMicros, "bigquery")
def _bigquery_micros(element: EpochMicros, compiler: Any, **kw: Any) -> str:
    # UNIX_MICROS reads a TIMESTAMP; the CAST also takes a DATETIME column, read as UTC.
    return f"UNIX_MICROS(CAST({compiler.process(element.clauses, **kw)} AS TIMESTAMP))"


@compiles(EpochMicros, "snowflake")
def _snowflake_micros(element: EpochMicros, compiler: Any, **kw: Any) -> str:
    # A TIMESTAMP_NTZ is read as UTC; TIMESTAMP_TZ / _LTZ give their instant's microseconds.
    return f"DATE_PART(epoch_microsecond, {compiler.process(element.clauses, **kw)})"


@compiles(EpochMicros, "spark")
@compiles(EpochMicros, "databricks")
def _spark_micros(element: EpochMicros, compiler: Any, **kw: Any) -> str:
    # Spark 3.1+ and Databricks SQL; a TIMESTAMP_NTZ is read in the session time zone, so a
    # source of naive timestamps runs with spark.sql.session.timeZone = UTC.
    return f"unix_micros({compiler.process(element.clauses, **kw)})"


@compiles(EpochMicros)
def _unsupported_micros(element: EpochMicros, compiler: Any, **kw: Any) -> str:
    raise NotImplementedError(f"no epoch-microseconds construct for {compiler.dialect.name}")


def _raw(source: Source, role: str, relation: str) -> FromClause:
    """The relation as declared, exposing the source's own column names."""
    declared = (getattr(source.columns, key) for key in ROLE_COLUMNS[role])
    names = sorted({name for name in declared if name is not None})
    kind = relation_kind(relation)
    if kind is RelationKind.TABLE:
        schema, _, name = relation.strip().rpartition(".")
        return table(name, *(column(n) for n in names), schema=schema or None).alias(f"{role}_raw")
    if kind is RelationKind.PARQUET and source.engine_name == "spark":
        query = "SELECT * FROM parquet.`{}`".format(relation.strip().replace("`", "``"))
    elif kind is RelationKind.PARQUET:
        quoted = relation.strip().replace("'", "''")
        query = f"SELECT * FROM read_parquet('{quoted}')"
    else:
        query = relation.strip().rstrip(";")
    return text(query).columns(*(column(n) for n in names)).subquery(f"{role}_raw")


def relation(source: Source, role: str) -> FromClause:
    """The `role` relation of `source` ("exposures", "conversions", "assignments", "orders",
    "customers" or "visits") with liftlab's column names and `ts` in epoch microseconds (a
    column declared as None, such as an absent email_known, is NULL)."""
    declared = source.relations()[role]
    raw = _raw(source, role, declared)
    picked: list[ColumnElement[Any]] = []
    for key in ROLE_COLUMNS[role]:
        name = getattr(source.columns, key)
        if name is None:  # an optional column the relation does not have
            picked.append(null().label(key))
            continue
        value: ColumnElement[Any] = raw.c[name]
        if key == "timestamp":
            value = value if source.timestamps == "epoch_us" else EpochMicros(value)
            picked.append(value.label("ts"))
        elif key == "holdout":  # a BOOLEAN or 0/1 integers: 1 for holdout units on every engine
            picked.append(cast(value, Integer).label(key))
        else:
            picked.append(value.label(key))
    return select(*picked).select_from(raw).subquery(role)

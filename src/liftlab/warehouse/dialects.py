"""Rendering the analysis queries for BigQuery, Snowflake and Spark SQL without their drivers.

The queries (`queries.py`) are SQLAlchemy Core; a warehouse's SQLAlchemy package
(sqlalchemy-bigquery, snowflake-sqlalchemy, databricks-sqlalchemy) compiles them when a user
connects with its URL. Those packages import their drivers (the Google Cloud SDK with gRPC,
the Snowflake connector, the Databricks connector with pyarrow and pandas: 20 to 90 MB each),
and none renders for a plain Spark session, so these small dialects render the same
statements with each warehouse's identifier quoting, parameter markers and type names —
enough to read, test and hand the SQL to a Spark session (`spark.sql(sql, args=params)`).
They compile only: they have no driver and cannot connect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.sql import ClauseElement, compiler

from liftlab.config.model import Experiment, Metric
from liftlab.config.sources import Source
from liftlab.warehouse.analysis import query_params
from liftlab.warehouse.queries import arm_sums, holdout_sums
from liftlab.warehouse.relations import relation


class _DottedPreparer(compiler.IdentifierPreparer):
    """Quotes each part of a dotted schema (`project.dataset`, `catalog.schema`) on its own,
    so a relation declared as `a.b.table` stays a three-part name."""

    def quote_schema(self, schema: str) -> str:
        return ".".join(self.quote(part) for part in schema.split("."))

    def format_schema(self, name: str) -> str:
        return self.quote_schema(name)


class _BacktickPreparer(_DottedPreparer):
    """BigQuery and Spark SQL quote identifiers with backticks (a backtick doubled inside)."""

    def __init__(self, dialect: DefaultDialect, **kw: Any) -> None:
        super().__init__(dialect, initial_quote="`", escape_quote="`", **kw)


class _BigQueryPreparer(_BacktickPreparer):
    # GoogleSQL's reserved keywords that could name a column or an alias.
    reserved_words = compiler.RESERVED_WORDS | {
        "all", "and", "any", "array", "as", "asc", "between", "by", "case", "cast", "collate",
        "contains", "create", "cross", "cube", "current", "default", "define", "desc",
        "distinct", "else", "end", "enum", "escape", "except", "exclude", "exists", "extract",
        "false", "fetch", "following", "for", "from", "full", "group", "grouping", "groups",
        "hash", "having", "if", "ignore", "in", "inner", "intersect", "interval", "into", "is",
        "join", "lateral", "left", "like", "limit", "lookup", "merge", "natural", "new", "no",
        "not", "null", "nulls", "of", "on", "or", "order", "outer", "over", "partition",
        "preceding", "proto", "qualify", "range", "recursive", "respect", "right", "rollup",
        "rows", "select", "set", "some", "struct", "tablesample", "then", "to", "treat", "true",
        "unbounded", "union", "unnest", "using", "when", "where", "window", "with", "within",
    }


class _SparkPreparer(_BacktickPreparer):
    # Spark SQL's ANSI-mode reserved keywords that could name a column or an alias (window
    # function names such as rank are not reserved but are quoted too, to stay plain).
    reserved_words = compiler.RESERVED_WORDS | {
        "all", "and", "any", "as", "authorization", "both", "case", "cast", "check", "collate",
        "column", "constraint", "create", "cross", "current", "current_date", "current_time",
        "current_timestamp", "current_user", "distinct", "else", "end", "escape", "except",
        "false", "fetch", "filter", "for", "foreign", "from", "full", "grant", "group", "having",
        "in", "inner", "intersect", "into", "is", "join", "lateral", "leading", "left", "limit",
        "natural", "not", "null", "offset", "on", "only", "or", "order", "outer", "overlaps",
        "primary", "rank", "references", "right", "select", "session_user", "some", "table",
        "then", "time", "to", "trailing", "true", "union", "unique", "unknown", "user", "using",
        "when", "where", "window", "with",
    }


class _BigQueryCompiler(compiler.SQLCompiler):
    """BigQuery's named query parameters are `@name`."""

    def bindparam_string(self, name: str, **kw: Any) -> str:
        rendered = super().bindparam_string(name, **kw)
        return "@" + rendered[1:] if rendered.startswith(":") else rendered


class _BigQueryTypes(compiler.GenericTypeCompiler):
    """GoogleSQL's type names: one integer type, one float type."""

    def visit_INTEGER(self, type_: Any, **kw: Any) -> str:
        return "INT64"

    visit_BIGINT = visit_SMALLINT = visit_INTEGER

    def visit_DOUBLE(self, type_: Any, **kw: Any) -> str:
        return "FLOAT64"

    visit_FLOAT = visit_REAL = visit_DOUBLE_PRECISION = visit_DOUBLE

    def visit_BOOLEAN(self, type_: Any, **kw: Any) -> str:
        return "BOOL"

    def visit_VARCHAR(self, type_: Any, **kw: Any) -> str:
        return "STRING"


class _SparkTypes(compiler.GenericTypeCompiler):
    """Spark SQL's type names (its STRING takes no length)."""

    def visit_DOUBLE_PRECISION(self, type_: Any, **kw: Any) -> str:
        return "DOUBLE"

    def visit_VARCHAR(self, type_: Any, **kw: Any) -> str:
        return "STRING"


class _RenderOnly(DefaultDialect):
    supports_statement_cache = True
    supports_native_boolean = True
    supports_simple_order_by_label = True

    @classmethod
    def import_dbapi(cls) -> Any:
        raise NotImplementedError(
            f"liftlab's {cls.name} dialect only renders SQL; connect with the warehouse's own "
            "SQLAlchemy package")


class BigQueryDialect(_RenderOnly):
    """GoogleSQL as sqlalchemy-bigquery writes it, with `@name` parameters."""

    name = "bigquery"
    paramstyle = "named"
    default_paramstyle = "named"
    statement_compiler = _BigQueryCompiler
    preparer = _BigQueryPreparer
    type_compiler_cls = _BigQueryTypes


class SnowflakeDialect(_RenderOnly):
    """Snowflake SQL with the connector's `%(name)s` parameters (unquoted lower-case names
    resolve to Snowflake's upper-case ones)."""

    name = "snowflake"
    paramstyle = "pyformat"
    default_paramstyle = "pyformat"
    preparer = _DottedPreparer


class SparkDialect(_RenderOnly):
    """Spark SQL (Databricks SQL too): backtick quoting and `:name` parameters, the named
    parameter markers `spark.sql(sql, args=...)` binds (Spark 3.4+)."""

    name = "spark"
    paramstyle = "named"
    default_paramstyle = "named"
    preparer = _SparkPreparer
    type_compiler_cls = _SparkTypes


#: The rendering dialect for each warehouse, by the engine name of its SQLAlchemy URL
#: (`databricks://...` is Spark SQL).
DIALECTS: dict[str, type[DefaultDialect]] = {
    "bigquery": BigQueryDialect,
    "snowflake": SnowflakeDialect,
    "spark": SparkDialect,
    "databricks": SparkDialect,
}


@dataclass(frozen=True)
class RenderedQuery:
    """A statement's SQL for one warehouse and the values of its parameters by name
    (those the caller gave and the query's own constants)."""

    engine: str
    sql: str
    params: dict[str, Any]


def render(
    statement: ClauseElement, engine: str, params: dict[str, Any] | None = None
) -> RenderedQuery:
    """`statement` as `engine` ("bigquery", "snowflake", "spark" or "databricks") runs it,
    with `params` bound to its named parameters (without them, unset ones are None)."""
    try:
        dialect = DIALECTS[engine]()
    except KeyError:
        known = ", ".join(DIALECTS)
        raise ValueError(f"no rendering dialect for {engine!r} (one of {known})") from None
    compiled = statement.compile(dialect=dialect)
    values = compiled.params if params is None else compiled.construct_params(params)
    return RenderedQuery(engine, str(compiled), dict(values))


def analysis_queries(
    source: Source, experiment: Experiment, metric: Metric, engine: str, *,
    until: datetime | None = None,
) -> tuple[RenderedQuery, RenderedQuery]:
    """The two queries `analyze_source` runs for one metric — the per segment × arm sums with
    the pre-period, then the campaigned vs global-holdout rows — rendered for `engine` with
    their parameter values (`until` at the end of a look, as the timeline sets it)."""
    exposures, conversions = relation(source, "exposures"), relation(source, "conversions")
    assignments = relation(source, "assignments") if source.assignments is not None else None
    params = query_params(experiment, metric, until)
    return (render(arm_sums(exposures, conversions, metric.kind), engine, params),
            render(holdout_sums(exposures, conversions, assignments, metric.kind), engine, params))

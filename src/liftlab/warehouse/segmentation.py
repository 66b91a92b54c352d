"""RFM segmentation where the orders live: `segment_customers`, as one SQL query in the engine.

The statement (SQLAlchemy Core, rendered per dialect like `queries.py`) gives every customer
of a source's customers relation the row `liftlab.lifecycle.rfm.segment_customers` gives it,
bit for bit: frequency, monetary, recency_days, the r/f/m scores, segment and stage. Its
first step, each customer's order totals, is a CTE read four times; Spark inlines a CTE into
each reader, so there it is cached as a temporary view first and the statement reads that.

How the scores stay equal to pandas' `rank(method="average", pct=True)`, ties included:
each measure's distinct values are counted (`ties`), and a running sum over them in value
order gives `through`, the last position of a value's tie block. Its average rank is then
(first + last) / 2 = (2·through − ties + 1) / 2 — a half-integer, exact in a double, as
pandas' sum of ranks / ties is — and the score is ceil(5 × (average rank / buyers)), each
operation a double in the order numpy does it, so the same IEEE-754 rounding happens in every
engine. The windows run over distinct values, not over customers. Recency is ranked through
the last order's timestamp, oldest first: recency_days = (as_of − last) / 86 400e6 is strictly
decreasing in it, so ties and order are the same as ranking recency descending (and integer
microseconds compare exactly on every engine). A single order scores F = 1; the rules become
one CASE chain, first match wins; non-buyers are visitors, loyal when their email is known.

Where equality can end: monetary sums are the engine's, equal to pandas' as long as they need
no rounding (whole amounts, or cents kept as integers); with amounts such as 0.1 engines add in
their own order and may differ in the last bit, which can move a tie. SQLite timestamps carry
milliseconds (`relations.EpochMicros`). Orders after `as_of` and orders of customers not in the
customers relation are left out, as `segment_customers` does; unlike it, bad values (a negative
amount, a repeated customer id, an email flag that is not yes/no) are not refused here but
taken as they are (a flag other than true/t/yes/y/1 is "not known").

With `into` (a new table's name, or a `.parquet` path on DuckDB and Spark — Spark writes a
folder of part files) the per-customer rows are written in the engine and only the counts per
segment come back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Double,
    Engine,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    select,
    table,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ClauseElement, ColumnElement, FromClause
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.functions import FunctionElement

from liftlab.config.sources import RelationKind, Source, relation_kind
from liftlab.config.validation import check_source
from liftlab.errors import ConfigError
from liftlab.lifecycle.catalog import STAGE_OF
from liftlab.lifecycle.rfm import DEFAULT_RULES, SegmentRule, _as_of, check_rules
from liftlab.warehouse.analysis import source_connection
from liftlab.warehouse.relations import relation

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The cut-off, epoch microseconds: orders at or before it count.
_AS_OF = bindparam("as_of_us", type_=BigInteger)
_DAY_US = 86_400_000_000
#: How a known email may be written (case and blanks ignored), as `segment_customers` reads
#: it: a BOOLEAN renders 'true', an integer 1 '1', a float 1.0 '1.0' (DuckDB) or '1'.
_YES = ("true", "t", "yes", "y", "1", "1.0")
#: The columns of a segmented customer, in `segment_customers`' order.
COLUMNS = ("customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
           "segment", "stage")


class _Ceil(FunctionElement[float]):
    """The smallest integer ≥ a positive double (SQLite's CEIL needs its math extension)."""

    type = Double()
    name = "ceil"
    inherit_cache = True


@compiles(_Ceil)
def _ceil(element: _Ceil, compiler: Any, **kw: Any) -> str:
    return f"CEIL({compiler.process(element.clauses, **kw)})"


@compiles(_Ceil, "sqlite")
def _sqlite_ceil(element: _Ceil, compiler: Any, **kw: Any) -> str:
    # CAST(x AS INTEGER) truncates a REAL in SQLite: one up when x had a fraction.
    value = compiler.process(element.clauses, **kw)
    return f"(CAST({value} AS INTEGER) + ({value} > CAST({value} AS INTEGER)))"


def _double(value: ColumnElement[Any] | int) -> ColumnElement[float]:
    return cast(value if isinstance(value, ColumnElement) else literal(value, BigInteger), Double)


def _scores(measure: ColumnElement[Any], buyers: FromClause, name: str) -> FromClause:
    """Each distinct value `v` of `measure` among `buyers` and its 1–5 `score`:
    ceil(5 × average rank / buyers), higher values higher (`_score` in rfm.py)."""
    counted = (select(measure.label("v"), func.count().label("ties"))
               .select_from(buyers).group_by(measure).subquery(f"{name}_ties"))
    c = counted.c
    ranked = select(
        c.v, c.ties,
        func.sum(c.ties).over(order_by=c.v, rows=(None, 0)).label("through"),
        func.sum(c.ties).over().label("buyers"),
    ).subquery(f"{name}_ranked")
    r = ranked.c
    average_rank = _double(2 * r.through - r.ties + 1) / _double(2)
    score = cast(_Ceil(average_rank / _double(r.buyers) * _double(5)), Integer)
    unclipped = select(r.v, score.label("score")).subquery(f"{name}_unclipped")
    u = unclipped.c
    clipped = case((u.score < 1, 1), (u.score > 5, 5), else_=u.score)  # as np.clip(…, 1, 5)
    return select(u.v, clipped.label("score")).subquery(f"{name}_scores")


def _in(value: ColumnElement[int], bounds: tuple[int, int]) -> ColumnElement[bool]:
    return and_(value >= bounds[0], value <= bounds[1])


def _first_rule(rules: Sequence[SegmentRule], scored: FromClause) -> ColumnElement[int]:
    """CASE giving each customer an index into the rules' segments then the two visitor ones
    (`_first_rule` in rfm.py): visitors by email, then the first rule a buyer matches."""
    s = scored.c
    whens: list[tuple[ColumnElement[bool], int]] = [
        (and_(s.frequency == 0, s.email_known == 1), len(rules)),
        (s.frequency == 0, len(rules) + 1),
    ]
    for i, rule in enumerate(rules):
        condition = and_(_in(s.r_score, rule.r), _in(s.f_score, rule.f), _in(s.m_score, rule.m))
        if rule.frequency is not None:
            condition = and_(condition, _in(s.frequency, rule.frequency))
        whens.append((condition, i))
    return case(*whens, else_=None)


def _named(chosen: ColumnElement[int], labels: Sequence[str]) -> ColumnElement[str]:
    """`labels[chosen]` as a short CASE on the index."""
    return case({i: label for i, label in enumerate(labels)}, value=chosen, else_=None)


def customer_profiles(source: Source) -> Select[Any]:
    """Each customer with their orders' totals as of `as_of_us` (NULL for non-buyers):
    unit_id, frequency, monetary, last_ts, email_known (1 when known, else 0). Joining after
    the sums leaves out the orders of unknown customers without a join per order."""
    orders, customers = relation(source, "orders"), relation(source, "customers")
    o, c = orders.c, customers.c
    per_unit = (
        select(o.unit_id, func.count().label("frequency"), func.sum(o.value).label("monetary"),
               func.max(o.ts).label("last_ts"))
        .where(o.ts <= _AS_OF)
        .group_by(o.unit_id)
        .subquery("per_unit")
    )
    email = func.lower(func.trim(cast(c.email_known, String)))
    return (
        select(c.unit_id, per_unit.c.frequency, per_unit.c.monetary, per_unit.c.last_ts,
               # Literal markers, not one expanding IN parameter: Spark SQL has no such thing.
               case((email.in_([literal(word) for word in _YES]), 1), else_=0).label("email_known"))
        .select_from(customers.outerjoin(per_unit, per_unit.c.unit_id == c.unit_id))
    )


def segmentation(source: Source, rules: Sequence[SegmentRule] = DEFAULT_RULES,
                 profiles: FromClause | None = None) -> Select[Any]:
    """One row per customer of `source` with `COLUMNS`, as of the `as_of_us` parameter
    (epoch microseconds; orders after it are left out).

    `profiles` is where `customer_profiles` was already materialised (Spark caches it: it
    inlines a CTE into each of its four readers); by default a CTE, which DuckDB, SQLite and
    PostgreSQL compute once.
    """
    profile = profiles if profiles is not None else customer_profiles(source).cte("profile")
    p = profile.c
    buyers = select(p.last_ts, p.frequency, p.monetary).where(p.frequency.is_not(None)).subquery("buyers")
    b = buyers.c
    recency = _scores(b.last_ts, buyers, "recency")  # oldest last order first: see the module
    frequency = _scores(b.frequency, buyers, "frequency")
    monetary = _scores(b.monetary, buyers, "monetary")
    scored = (
        select(
            p.unit_id.label("customer_id"),
            (_double(_AS_OF - p.last_ts) / _double(_DAY_US)).label("recency_days"),
            func.coalesce(p.frequency, 0).label("frequency"),
            _double(p.monetary).label("monetary"),
            func.coalesce(recency.c.score, 0).label("r_score"),
            case((p.frequency == 1, 1), else_=func.coalesce(frequency.c.score, 0)).label("f_score"),
            func.coalesce(monetary.c.score, 0).label("m_score"),
            p.email_known,
        )
        .select_from(
            profile.outerjoin(recency, recency.c.v == p.last_ts)
            .outerjoin(frequency, frequency.c.v == p.frequency)
            .outerjoin(monetary, monetary.c.v == p.monetary)
        )
        .subquery("scored")
    )
    # The rule chain once, as an index; the segment and stage names are looked up from it.
    chosen = select(*scored.c, _first_rule(rules, scored).label("chosen")).subquery("chosen")
    names = [rule.segment for rule in rules] + ["loyal_visitor", "engaged_visitor"]
    k = chosen.c
    return select(*(k[name] for name in COLUMNS[:-2]), _named(k.chosen, names).label("segment"),
                  _named(k.chosen, [STAGE_OF[n] for n in names]).label("stage"))


def latest_activity(source: Source) -> Select[Any]:
    """The latest order or visit (epoch µs; NULL when there is none): the default cut-off,
    over every order, as `segment_customers` takes it."""
    latest = [select(func.max(relation(source, "orders").c.ts)).scalar_subquery().label("orders")]
    if source.visits is not None:
        latest.append(select(func.max(relation(source, "visits").c.ts)).scalar_subquery().label("visits"))
    return select(*latest)


def _micros(stamp: pd.Timestamp) -> int:
    return int(np.datetime64(stamp.to_datetime64(), "us").astype(np.int64))


@dataclass(frozen=True)
class SegmentCount:
    """How many customers one segment holds."""

    segment: str
    stage: str
    customers: int


@dataclass(frozen=True)
class SegmentedTable:
    """Where the per-customer rows were written (`into`), as of when, and the counts per
    segment (largest first): all that comes back from the engine."""

    into: str
    as_of: datetime
    segments: tuple[SegmentCount, ...]

    @property
    def customers(self) -> int:
        """Every customer segmented."""
        return sum(s.customers for s in self.segments)

    def to_frame(self) -> pd.DataFrame:
        """segment, stage, customers, share."""
        frame = pd.DataFrame([(s.segment, s.stage, s.customers) for s in self.segments],
                             columns=["segment", "stage", "customers"])
        frame["share"] = frame["customers"] / max(self.customers, 1)
        return frame


class _CreateTableAs(Executable, ClauseElement):
    """CREATE TABLE name AS SELECT ... in the engine's own SQL."""

    inherit_cache = False

    def __init__(self, name: str, query: Select[Any]) -> None:
        self.name = name
        self.query = query


@compiles(_CreateTableAs)
def _create_table_as(element: _CreateTableAs, compiler: Any, **kw: Any) -> str:
    schema, _, name = element.name.rpartition(".")
    target = compiler.preparer.format_table(table(name, schema=schema or None))
    return f"CREATE TABLE {target} AS {compiler.process(element.query, **kw)}"


class _CopyToParquet(Executable, ClauseElement):
    """DuckDB's COPY (SELECT ...) TO 'path' (FORMAT PARQUET)."""

    inherit_cache = False

    def __init__(self, path: str, query: Select[Any]) -> None:
        self.path = path
        self.query = query


@compiles(_CopyToParquet, "duckdb")
def _copy_to_parquet(element: _CopyToParquet, compiler: Any, **kw: Any) -> str:
    quoted = element.path.replace("'", "''")
    return f"COPY ({compiler.process(element.query, **kw)}) TO '{quoted}' (FORMAT PARQUET)"


def _written(into: str, engine: str) -> FromClause:
    """The segment and stage columns of what `into` names, to count them."""
    columns = (column("segment"), column("stage"))
    if relation_kind(into) is RelationKind.PARQUET:
        if engine == "spark":
            query = "SELECT * FROM parquet.`{}`".format(into.replace("`", "``"))
        else:
            query = "SELECT * FROM read_parquet('{}')".format(into.replace("'", "''"))
        return text(query).columns(*columns).subquery("written")
    schema, _, name = into.rpartition(".")
    return table(name, *columns, schema=schema or None)


def _check_into(source: Source, into: str) -> None:
    kind = relation_kind(into)
    if kind is RelationKind.QUERY or not into.strip():
        raise ConfigError("must be a table name or a .parquet path", field="into")
    if kind is RelationKind.PARQUET and source.engine_name not in ("duckdb", "spark"):
        raise ConfigError(f"a .parquet path needs a duckdb:// or spark:// engine, not "
                          f"{source.engine_name!r}: name a table instead", field="into")


def segment_frame(rows: Sequence[Any]) -> pd.DataFrame:
    """Segmented rows (mappings with `COLUMNS`, as fetched or read back from `into`) typed
    as `segment_customers` types its result."""
    frame = pd.DataFrame([dict(row) for row in rows], columns=list(COLUMNS))
    for name in ("recency_days", "monetary"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    for name in ("frequency", "r_score", "f_score", "m_score"):
        frame[name] = frame[name].astype(np.int64)
    return frame


def _cutoff(conn: Any, source: Source, as_of: date | datetime | str | None) -> pd.Timestamp:
    if as_of is not None:
        return _as_of(as_of)
    found = [v for v in next(iter(conn.execute(latest_activity(source)).mappings())).values() if v is not None]
    return pd.Timestamp(max(int(v) for v in found), unit="us") if found else _as_of(None)


@overload
def segment_source(source: Source, *, as_of: date | datetime | str | None = ...,
                   rules: Sequence[SegmentRule] | None = ..., into: None = ..., engine: Engine | None = ...,
                   spark: SparkSession | None = ..., project_file: str | Path | None = ...) -> pd.DataFrame: ...


@overload
def segment_source(source: Source, *, as_of: date | datetime | str | None = ...,
                   rules: Sequence[SegmentRule] | None = ..., into: str, engine: Engine | None = ...,
                   spark: SparkSession | None = ..., project_file: str | Path | None = ...) -> SegmentedTable: ...


def segment_source(
    source: Source,
    *,
    as_of: date | datetime | str | None = None,
    rules: Sequence[SegmentRule] | None = None,
    into: str | None = None,
    engine: Engine | None = None,
    spark: SparkSession | None = None,
    project_file: str | Path | None = None,
) -> pd.DataFrame | SegmentedTable:
    """RFM segments of a source's customers, computed in its engine.

    Without `into`: one row per customer (ordered by customer_id) with the columns and values
    `segment_customers` gives, `attrs["as_of"]` the cut-off (for data small enough to fetch).
    With `into` — a new table's name, or a `.parquet` path (DuckDB, Spark; replaced if it
    exists) — the rows are written in the engine and a `SegmentedTable` of counts comes back
    (a table in `duckdb:///:memory:` lives as long as the `engine` handed in).
    `as_of` defaults to the latest order or visit; a date means the end of that day.
    """
    rules = tuple(rules) if rules is not None else DEFAULT_RULES
    check_rules(rules)
    check_source(source, project_file)
    for role in ("orders", "customers"):
        if getattr(source, role) is None:
            raise ConfigError(f"source {source.name!r} declares no {role} relation (segmentation needs "
                              "orders and customers)", field=f"source.{source.name}.{role}")
    if into is not None:
        _check_into(source, into)
    with source_connection(source, engine, spark) as conn, ExitStack() as stack:
        cutoff = _cutoff(conn, source, as_of)
        params = {"as_of_us": _micros(cutoff)}
        profiles = (stack.enter_context(_cached_profiles(conn, source, params))
                    if source.engine_name == "spark" else None)
        statement = segmentation(source, rules, profiles)
        if into is None:
            ordered = statement.order_by(statement.selected_columns.customer_id)
            frame = segment_frame(list(conn.execute(ordered, params).mappings()))
            frame.attrs["as_of"] = cutoff.isoformat()
            return frame
        _write(conn, source, statement, params, into)
        written = _written(into, source.engine_name)
        counts = (select(written.c.segment, written.c.stage, func.count().label("customers"))
                  .group_by(written.c.segment, written.c.stage))
        found = [SegmentCount(str(r["segment"]), str(r["stage"]), int(r["customers"]))
                 for r in conn.execute(counts).mappings()]
    found.sort(key=lambda s: (-s.customers, s.segment))
    return SegmentedTable(into, cutoff.to_pydatetime(), tuple(found))


def _write(conn: Any, source: Source, statement: Select[Any], params: dict[str, Any], into: str) -> None:
    """The per-customer rows into a new table or a Parquet file, inside the engine."""
    parquet = relation_kind(into) is RelationKind.PARQUET
    if source.engine_name == "spark":
        from liftlab.warehouse.dialects import render

        query = render(statement, "spark", params)
        rows = conn.session.sql(query.sql, args=query.params)
        if parquet:
            rows.write.mode("overwrite").parquet(into)
        else:
            rows.write.saveAsTable(into)
        return
    conn.execute(_CopyToParquet(into, statement) if parquet else _CreateTableAs(into, statement), params)
    conn.commit()


@contextmanager
def _cached_profiles(conn: Any, source: Source, params: dict[str, Any]) -> Iterator[FromClause]:
    """`customer_profiles` as a cached temporary view of the Spark session, computed once for
    the four readers of the segmentation (dropped afterwards)."""
    from liftlab.warehouse.dialects import render

    query = render(customer_profiles(source), "spark", params)
    rows = conn.session.sql(query.sql, args=query.params).persist()
    view = f"liftlab_customer_profiles_{uuid.uuid4().hex[:12]}"
    rows.createOrReplaceTempView(view)
    try:
        yield table(view, *(column(name) for name in rows.columns))
    finally:
        conn.session.catalog.dropTempView(view)
        rows.unpersist()

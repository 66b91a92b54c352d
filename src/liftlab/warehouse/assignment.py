"""Assignment where the customers already live: Spark (`mapInArrow`) and DuckDB (an Arrow UDF).

Both engines hand Arrow batches of (unit id, segment) to the very function the in-process
path uses, `liftlab.assignment.arms.assign`, so every customer gets the same bucket, arm and
holdout flag as `assign` gives them — GrowthBook's hash over UTF-16 code units, emoji and CJK
ids included — and no unit ever travels to the driver. Per batch, `assign` only sees the
rows of that batch, so what needs the whole table is checked first by one aggregate query in
the engine (`check_customers_spark` / `_duckdb`): missing, blank and duplicate ids and unknown
segments raise the same DataError as `assign` would, naming the field, with a few example
rows. Rows of segments without a campaign are filtered in the engine, never sent to Python.

The result is lazy (a Spark DataFrame, a DuckDB relation; every action re-runs the hashing,
so cache or write it once): write it back with `liftlab.warehouse.send_list.write_send_list`,
or keep transforming it. How many customers
were left out and why (segment without a campaign, outside the audience, outside the layer's
range) is `skipped_spark` / `skipped_duckdb`: the same `assign` per batch, only its counts
coming back, so calling it costs one more pass over the ids.

pyspark and duckdb are imported only by the function that uses them.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from liftlab.assignment.arms import assign
from liftlab.assignment.unit_ids import ID_COLUMNS
from liftlab.config.model import Experiment, Project
from liftlab.config.sources import RelationKind, relation_kind
from liftlab.config.validation import check_experiment
from liftlab.errors import DataError
from liftlab.lifecycle.catalog import SEGMENT_NAMES

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import DataFrame as SparkFrame

__all__ = [
    "SPARK_SCHEMA", "CustomerCounts", "assign_duckdb", "assign_spark", "check_customers_duckdb",
    "check_customers_spark", "skipped_duckdb", "skipped_spark",
]

#: `assign`'s output columns (`ASSIGNMENT_COLUMNS`) as a Spark schema.
SPARK_SCHEMA = ("experiment string, unit_id string, segment string, arm string, "
                "bucket double, holdout boolean")


@functools.cache
def whitespace() -> str:
    """Every character `str.strip` removes: an id made only of these is blank, as `assign`
    sees it (both engines' `translate` deletes them, leaving '' for a blank id)."""
    return "".join(chr(c) for c in range(0x110000) if chr(c).isspace())

_EXAMPLES = 3
_ARROW_SCHEMA = pa.schema([("experiment", pa.string()), ("unit_id", pa.string()), ("segment", pa.string()),
                          ("arm", pa.string()), ("bucket", pa.float64()), ("holdout", pa.bool_())])
_SKIPPED_SCHEMA = pa.schema([("reason", pa.string()), ("customers", pa.int64())])


# ---------------------------------------------------------------------------------------------
# The whole-table checks, one aggregate in the engine


@dataclass(frozen=True)
class CustomerCounts:
    """What one aggregate over the customers found: rows, and rows `assign` would reject."""

    rows: int
    missing_ids: int
    blank_ids: int
    #: Rows beyond the first for each id that appears more than once.
    duplicate_ids: int
    unknown_segments: int


def _known_segments(experiment: Experiment) -> list[str]:
    """Segments `assign` accepts: the lifecycle ones and the experiment's campaign segments."""
    return sorted(set(SEGMENT_NAMES) | set(experiment.segments))


def _raise_for(counts: CustomerCounts, id_column: str, segment_column: str,
               examples: Callable[[str], str]) -> None:
    """DataError for the first problem `assign` would report, in its order; `examples(kind)`
    fetches a few offending rows from the engine (only when there is a problem)."""
    if counts.missing_ids:
        raise DataError(f"{counts.missing_ids} empty unit id(s), e.g. {examples('missing')}",
                        field=id_column)
    if counts.blank_ids:
        raise DataError(f"{counts.blank_ids} blank unit id(s), e.g. {examples('blank')}",
                        field=id_column)
    if counts.duplicate_ids:
        raise DataError(f"{counts.duplicate_ids} duplicate unit id(s): each customer must appear "
                        f"once, e.g. {examples('duplicate')}", field=id_column)
    if counts.unknown_segments:
        raise DataError(f"{counts.unknown_segments} customer(s) with an unknown segment, e.g. "
                        f"{examples('unknown')}", field=segment_column)


def _id_column(columns: list[str], id_column: str | None) -> str:
    """The unit id column: the one named, else the first of `ID_COLUMNS` present."""
    if id_column is None:
        id_column = next((c for c in ID_COLUMNS if c in columns), None)
        if id_column is None:
            raise DataError(f"customers need a unit id column ({' or '.join(ID_COLUMNS)}); "
                            f"got {', '.join(columns)}", field="unit_id")
    elif id_column not in columns:
        raise DataError(f"customers have no column {id_column!r}; got {', '.join(columns)}",
                        field=id_column)
    return id_column


def _check_segment_column(columns: list[str], segment_column: str) -> None:
    if segment_column not in columns:
        raise DataError(f"customers need a {segment_column!r} column; got {', '.join(columns)}",
                        field=segment_column)


def _id_kind(type_name: str, id_column: str) -> str:
    """'text', or 'cast' for ids read as their text (integers in decimal, as `assign` hashes
    them; DuckDB UUIDs as `str(uuid)`), by the id column's engine type; DataError for any
    other, as `assign` refuses decimals (an id read as 1.0 is not the customer "1")."""
    name = type_name.lower()
    if name in ("string", "varchar") or name.startswith(("varchar(", "char(")):
        return "text"
    if name in ("tinyint", "smallint", "int", "integer", "bigint", "hugeint", "utinyint",
                "usmallint", "uinteger", "ubigint", "uhugeint", "byte", "short", "long", "uuid"):
        return "cast"
    if name.startswith(("decimal", "float", "double", "real")):
        raise DataError("unit ids must be strings or integers, not decimals", field=id_column)
    raise DataError(f"unit ids must be strings or integers, got {type_name}", field=id_column)


def _batch_frame(ids: Any, segments: Any) -> pd.DataFrame:
    """A batch as `assign` reads it: `unit_id` and `segment` as pandas' Arrow-backed text."""
    return pd.DataFrame({"unit_id": pd.array(ids, dtype="str"),
                         "segment": pd.array(segments, dtype="str")})


# ---------------------------------------------------------------------------------------------
# Spark


def _spark_customers(customers: SparkFrame, id_column: str | None, segment_column: str) -> SparkFrame:
    """`unit_id` (text; integers as their decimal text) and `segment`, checked for presence
    and id type."""
    from pyspark.sql import functions as F

    columns = list(customers.columns)
    _check_segment_column(columns, segment_column)
    id_column = _id_column(columns, id_column)
    kind = _id_kind(customers.schema[id_column].dataType.simpleString(), id_column)
    unit_id = F.col(id_column) if kind == "text" else F.col(id_column).cast("string")
    return customers.select(unit_id.alias("unit_id"),
                            F.col(segment_column).cast("string").alias("segment"))


def _spark_tests(unit_id: Any, segment: Any, experiment: Experiment) -> dict[str, Any]:
    """The per-row tests of `assign`'s checks, as Spark columns over text `unit_id`/`segment`."""
    from pyspark.sql import functions as F

    return {
        "missing": unit_id.isNull(),
        "blank": unit_id.isNotNull() & (F.translate(unit_id, whitespace(), "") == ""),
        "unknown": segment.isNull() | ~segment.isin(_known_segments(experiment)),
    }


def check_customers_spark(experiment: Experiment, customers: SparkFrame, *,
                          id_column: str | None = None, segment_column: str = "segment") -> CustomerCounts:
    """Count, in one Spark aggregate, the rows `assign` would reject; DataError (with up to
    three example rows, fetched only then) for the first problem found."""
    from pyspark.sql import functions as F

    id_column = _id_column(list(customers.columns), id_column)
    frame = _spark_customers(customers, id_column, segment_column)
    unit_id = F.col("unit_id")
    tests = _spark_tests(unit_id, F.col("segment"), experiment)
    # Rows per id first (one hash aggregate, partial on each partition), then the totals: the
    # id tests run once per distinct id, and duplicates are the rows beyond each id's first.
    per_id = frame.groupBy("unit_id").agg(F.count(F.lit(1)).alias("n"),
                                          F.sum(tests["unknown"].cast("long")).alias("unknown"))
    n = F.col("n")
    row = per_id.agg(
        F.sum(n).alias("rows"),
        F.sum(F.when(tests["missing"], n).otherwise(0)).alias("missing_ids"),
        F.sum(F.when(tests["blank"], n).otherwise(0)).alias("blank_ids"),
        F.sum(F.when(unit_id.isNotNull() & (n > 1), n - 1).otherwise(0)).alias("duplicate_ids"),
        F.sum("unknown").alias("unknown_segments"),
    ).collect()[0]
    counts = CustomerCounts(**{key: int(value or 0) for key, value in row.asDict().items()})

    def examples(kind: str) -> str:
        if kind == "duplicate":
            rows = (frame.groupBy("unit_id").count().where(F.col("count") > 1)
                    .limit(_EXAMPLES).collect())
            return "; ".join(f"{id_column} {r['unit_id']!r} ({r['count']} rows)" for r in rows)
        # The same test on the caller's own columns, so the examples show the rows as given.
        own = _spark_tests(F.col(id_column).cast("string"), F.col(segment_column).cast("string"),
                           experiment)
        rows = customers.where(own[kind]).limit(_EXAMPLES).collect()
        return "; ".join(str(r.asDict()) for r in rows)

    _raise_for(counts, id_column, segment_column, examples)
    return counts


def _arrow_batch(batch: pa.RecordBatch) -> pd.DataFrame:
    return _batch_frame(batch.column("unit_id"), batch.column("segment"))


def _assign_batches(experiment: Experiment, project: Project | None,
                    batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """`assign` on each Arrow batch (runs on the Spark workers). `mapInArrow`, not
    `mapInPandas`: pyspark's own pandas conversion costs more than the hashing."""
    for batch in batches:
        assigned = assign(experiment, _arrow_batch(batch), project).assignments
        # A Table, not a RecordBatch: `assign`'s text columns may be chunked Arrow arrays.
        yield from pa.Table.from_pandas(assigned, schema=_ARROW_SCHEMA, preserve_index=False).to_batches()


def _skipped_batches(experiment: Experiment, project: Project | None,
                     batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """`assign`'s skipped counts per Arrow batch, one row per reason (runs on the workers)."""
    for batch in batches:
        skipped = assign(experiment, _arrow_batch(batch), project).skipped
        yield pa.RecordBatch.from_pydict({"reason": list(skipped), "customers": list(skipped.values())},
                                         schema=_SKIPPED_SCHEMA)


def assign_spark(experiment: Experiment, customers: SparkFrame, project: Project | None = None, *,
                 id_column: str | None = None, segment_column: str = "segment",
                 check_customers: bool = True) -> SparkFrame:
    """`assign` on a Spark DataFrame: a lazy DataFrame with `assign`'s columns (experiment,
    unit_id, segment, arm, bucket, holdout), one row per customer assigned.

    The experiment is validated (ConfigError) and the customers checked in the engine
    (`check_customers_spark`, one aggregate job: DataError naming the field) before the
    frame is returned; the hashing runs in `mapInArrow` on the workers when the frame is
    used. `id_column` defaults to the first of unit_id / customer_id, as `assign` reads;
    integer ids are hashed as their decimal text, as `assign` does. `check_customers=False`
    skips the aggregate when the caller has run `check_customers_spark` on these customers
    already (e.g. before assigning several experiments on one table).
    """
    check_experiment(experiment, project=project)
    if check_customers:
        check_customers_spark(experiment, customers, id_column=id_column, segment_column=segment_column)
    frame = _spark_customers(customers, id_column, segment_column)
    # A segment without a campaign is never assigned: those rows need not reach Python.
    in_campaign = frame.where(frame["segment"].isin(list(experiment.segments)))
    return in_campaign.mapInArrow(functools.partial(_assign_batches, experiment, project), SPARK_SCHEMA)


def skipped_spark(experiment: Experiment, customers: SparkFrame, project: Project | None = None, *,
                  id_column: str | None = None, segment_column: str = "segment",
                  check_customers: bool = True) -> dict[str, int]:
    """Customers `assign_spark` leaves out, by reason — the keys of `assign`'s `skipped`.

    `assign` runs per batch on the workers and only (reason, count) rows come back, summed
    by one GROUP BY: O(reasons) rows reach the driver, at the cost of one more hashing pass.
    """
    from pyspark.sql import functions as F

    check_experiment(experiment, project=project)
    if check_customers:
        check_customers_spark(experiment, customers, id_column=id_column, segment_column=segment_column)
    frame = _spark_customers(customers, id_column, segment_column)
    counts = (frame.mapInArrow(functools.partial(_skipped_batches, experiment, project),
                                "reason string, customers long")
              .groupBy("reason").agg(F.sum("customers").alias("customers")).collect())
    return _in_assign_order({row["reason"]: int(row["customers"]) for row in counts})


def _in_assign_order(skipped: Mapping[str, int]) -> dict[str, int]:
    """Reasons in the order `assign` adds them: campaign segment, audience, layer."""
    order = ("segment without a campaign", "not in the campaign's audience")
    return dict(sorted(skipped.items(), key=lambda item: (order + (item[0],)).index(item[0])))


# ---------------------------------------------------------------------------------------------
# DuckDB

_UDF_NUMBERS = itertools.count(1)
#: The name the customers relation goes by inside liftlab's queries over it.
_VIEW = "liftlab_customers"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_relation(connection: duckdb.DuckDBPyConnection,
                    customers: duckdb.DuckDBPyRelation | str) -> duckdb.DuckDBPyRelation:
    """A relation for `customers`: as given, or a query, a Parquet path/glob or a table name
    (the rule of a source's relations, `relation_kind`)."""
    if not isinstance(customers, str):
        return customers
    kind = relation_kind(customers)
    if kind is RelationKind.QUERY:
        return connection.sql(customers)
    if kind is RelationKind.PARQUET:
        return connection.read_parquet(customers)
    return connection.table(customers)


def _duckdb_customers(relation: duckdb.DuckDBPyRelation, id_column: str | None,
                      segment_column: str) -> tuple[str, str]:
    """(the id column's name, SQL selecting `unit_id` as text and `segment` from `customers`)."""
    columns = list(relation.columns)
    _check_segment_column(columns, segment_column)
    id_column = _id_column(columns, id_column)
    kind = _id_kind(str(relation.types[columns.index(id_column)]), id_column)
    unit_id = _quoted(id_column) if kind == "text" else f"CAST({_quoted(id_column)} AS VARCHAR)"
    return id_column, (f"SELECT {unit_id} AS unit_id, CAST({_quoted(segment_column)} AS VARCHAR) "
                       f"AS segment FROM {_VIEW}")


def _duckdb_tests(unit_id: str, segment: str, experiment: Experiment) -> dict[str, str]:
    """The per-row tests of `assign`'s checks, as DuckDB SQL over text `unit_id`/`segment`."""
    known = ", ".join(_literal(s) for s in _known_segments(experiment))
    return {
        "missing": f"{unit_id} IS NULL",
        "blank": f"translate({unit_id}, {_literal(whitespace())}, '') = ''",
        "unknown": f"({segment} IS NULL OR {segment} NOT IN ({known}))",
    }


def check_customers_duckdb(experiment: Experiment, relation: duckdb.DuckDBPyRelation, *,
                           id_column: str | None = None, segment_column: str = "segment") -> CustomerCounts:
    """Count, in one DuckDB aggregate, the rows `assign` would reject; DataError (with up to
    three example rows, fetched only then) for the first problem found."""
    id_column, select = _duckdb_customers(relation, id_column, segment_column)
    tests = _duckdb_tests("unit_id", "segment", experiment)
    found = relation.query(_VIEW, f"""
        SELECT count(*), count(*) FILTER (WHERE {tests['missing']}),
               count(*) FILTER (WHERE {tests['blank']}),
               count(unit_id) - count(DISTINCT unit_id), count(*) FILTER (WHERE {tests['unknown']})
        FROM ({select})""").fetchone()
    counts = CustomerCounts(*(int(n or 0) for n in found))

    def examples(kind: str) -> str:
        if kind == "duplicate":
            rows = relation.query(_VIEW, f"""
                SELECT unit_id, count(*) FROM ({select}) GROUP BY unit_id HAVING count(*) > 1
                LIMIT {_EXAMPLES}""").fetchall()
            return "; ".join(f"{id_column} {unit!r} ({n} rows)" for unit, n in rows)
        # The same test on the caller's own columns, so the examples show the rows as given.
        own = _duckdb_tests(f"CAST({_quoted(id_column)} AS VARCHAR)",
                            f"CAST({_quoted(segment_column)} AS VARCHAR)", experiment)
        picked = relation.query(_VIEW, f"SELECT * FROM {_VIEW} WHERE {own[kind]} "
                                             f"LIMIT {_EXAMPLES}")
        return "; ".join(str(dict(zip(picked.columns, row))) for row in picked.fetchall())

    _raise_for(counts, id_column, segment_column, examples)
    return counts


def _assign_arrow(experiment: Experiment, project: Project | None,
                  ids: pa.Array, segments: pa.Array) -> pa.StructArray:
    """DuckDB's vectorised UDF: `assign` on one chunk of (unit_id, segment); per row the
    struct (arm, bucket, holdout), NULL for a customer the experiment leaves out."""
    batch = _batch_frame(ids, segments)
    assigned = assign(experiment, batch, project).assignments
    # `assign` keeps the order of the rows it assigns; ids are unique, so each finds its row.
    source = np.arange(len(batch), dtype=np.int64)
    if len(assigned) < len(batch):
        row_of = pd.Index(batch["unit_id"]).get_indexer(assigned["unit_id"])
        source[:] = -1
        source[row_of] = np.arange(len(assigned))
    pick = pa.array(source, mask=source < 0)
    return pa.StructArray.from_arrays(
        [pa.array(assigned["arm"].array).cast(pa.string()).take(pick),
         pa.array(assigned["bucket"].to_numpy(), type=pa.float64()).take(pick),
         pa.array(assigned["holdout"].to_numpy(), type=pa.bool_()).take(pick)],
        names=["arm", "bucket", "holdout"],
        mask=pa.array(source < 0),
    )


def assign_duckdb(connection: duckdb.DuckDBPyConnection, experiment: Experiment,
                  customers: duckdb.DuckDBPyRelation | str, project: Project | None = None, *,
                  id_column: str | None = None, segment_column: str = "segment",
                  check_customers: bool = True) -> duckdb.DuckDBPyRelation:
    """`assign` in DuckDB: a lazy relation with `assign`'s columns (experiment, unit_id,
    segment, arm, bucket, holdout), one row per customer assigned.

    `customers` is a relation, a query, a Parquet path/glob or a table name. The experiment
    is validated (ConfigError) and the customers checked by one aggregate
    (`check_customers_duckdb`: DataError naming the field) first. The arms come from a
    vectorised Arrow UDF registered on `connection` (`liftlab_assign_N`), evaluated once per
    row (declared with side effects: without, DuckDB evaluates it once for the filter and
    again for the columns). `check_customers=False` skips the aggregate when the caller has
    run `check_customers_duckdb` on these customers already.
    """
    import duckdb

    check_experiment(experiment, project=project)
    relation = duckdb_relation(connection, customers)
    if check_customers:
        check_customers_duckdb(experiment, relation, id_column=id_column, segment_column=segment_column)
    _, select = _duckdb_customers(relation, id_column, segment_column)
    # A segment without a campaign is never assigned: those rows need not reach Python.
    campaigns = ", ".join(_literal(segment) for segment in experiment.segments)
    name = f"liftlab_assign_{next(_UDF_NUMBERS)}"
    text = duckdb.sqltype("VARCHAR")
    connection.create_function(
        name, functools.partial(_assign_arrow, experiment, project), [text, text],
        duckdb.struct_type({"arm": text, "bucket": duckdb.sqltype("DOUBLE"),
                            "holdout": duckdb.sqltype("BOOLEAN")}),
        type="arrow", null_handling="special", side_effects=True,
    )
    return relation.query(_VIEW, f"""
        WITH in_campaign AS MATERIALIZED (SELECT * FROM ({select}) WHERE segment IN ({campaigns}))
        SELECT {_literal(experiment.key)} AS experiment, unit_id, segment,
               a.arm AS arm, a.bucket AS bucket, a.holdout AS holdout
        FROM (SELECT unit_id, segment, {name}(unit_id, segment) AS a FROM in_campaign)
        WHERE a IS NOT NULL""")


def skipped_duckdb(connection: duckdb.DuckDBPyConnection, experiment: Experiment,
                   customers: duckdb.DuckDBPyRelation | str, project: Project | None = None, *,
                   id_column: str | None = None, segment_column: str = "segment",
                   check_customers: bool = True, batch_rows: int = 1_000_000) -> dict[str, int]:
    """Customers `assign_duckdb` leaves out, by reason — the keys of `assign`'s `skipped`.

    DuckDB runs in this process: the (unit_id, segment) columns stream through `assign` in
    Arrow batches of `batch_rows`, only the counts are kept (one more hashing pass).
    """
    check_experiment(experiment, project=project)
    relation = duckdb_relation(connection, customers)
    if check_customers:
        check_customers_duckdb(experiment, relation, id_column=id_column, segment_column=segment_column)
    _, select = _duckdb_customers(relation, id_column, segment_column)
    total: Counter[str] = Counter()
    reader = relation.query(_VIEW, select).to_arrow_reader(batch_rows)
    for batch in reader:
        total.update(assign(experiment, _batch_frame(batch.column(0), batch.column(1)), project).skipped)
    return _in_assign_order(total)

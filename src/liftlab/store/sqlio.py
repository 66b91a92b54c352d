"""SQL plumbing for the store: fast reads and duplicate-skipping bulk inserts, any dialect.

Statements are compiled by SQLAlchemy for the store's dialect and run straight on the DBAPI
cursor: the driver's speed without SQLAlchemy's per-row objects, and the dialect's own SQL.
Bulk event inserts take a chunk as columns: SQLite binds them row by row in one executemany,
PostgreSQL takes one array per column; exposures merge their units' first exposures in the
same transaction (`insert_exposures`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, Table, bindparam, text
from sqlalchemy.sql.elements import TextClause

from liftlab.errors import StoreError

# Above this share of an experiment's assignments, a batch reads them all in one scan;
# below it, it looks up its own units by key.
SCAN_SHARE = 0.25
KEYS_PER_QUERY = 5_000

LOOKUP_COLUMNS = ("experiment", "unit_id", "segment_stored", "arm_stored", "holdout", "version")


def stored_assignments(conn: Connection, experiments: np.ndarray, units: np.ndarray,
                        seen: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The stored assignments of these (experiment, unit) pairs — after a scan, all of the
    experiment's — as columns experiment, unit_id, segment_stored, arm_stored, holdout and
    version (the config version each unit was assigned under).

    A batch holding a good share of an experiment's units reads all of its assignments in one
    scan; a smaller one looks its units up by primary key, a few thousand per query. `seen`
    keeps what scans read: an assignment never changes once stored, so a unit found there
    needs no query again (one not found may have been assigned since, and is looked up).
    """
    parts = [pd.DataFrame(columns=list(LOOKUP_COLUMNS))]
    for key in pd.unique(experiments):
        wanted = units[experiments == key]  # made distinct only where a lookup needs it
        if seen is not None and key in seen:
            wanted = pd.unique(wanted)
            cached = seen[key]
            hit = positions(wanted, cached["unit_id"])
            parts.append(cached.iloc[hit[hit >= 0]].reset_index(drop=True).assign(experiment=key))
            wanted = wanted[hit < 0]
        if not len(wanted):
            continue
        found = _query_assignments(conn, key, wanted)
        if found.attrs.get("scanned") and seen is not None:
            seen[key] = found
        parts.append(found.assign(experiment=key))
    if len(parts) == 2:  # one experiment (the usual batch): no copy of a million rows by concat
        return parts[1][list(LOOKUP_COLUMNS)]
    frame = pd.concat(parts, ignore_index=True)
    return frame[list(LOOKUP_COLUMNS)]


def positions(values: np.ndarray, keys: Any) -> np.ndarray:
    """For each of `values` (Python strings), its position in the distinct strings `keys`
    (an array, a Series or an Arrow array), or -1.

    Arrow hashes the UTF-8 bytes in one C++ pass (about 3x pandas' lookup of Python strings);
    text Arrow cannot hold (a lone surrogate, which the checks refuse anyway) goes the pandas way.
    """
    try:
        found = pc.index_in(pa.array(values, type=pa.large_string()), value_set=_arrow_text(keys))
    except (UnicodeEncodeError, pa.ArrowException):
        return pd.Index(np.asarray(keys, dtype=object), dtype=object).get_indexer(values)
    return found.fill_null(-1).to_numpy().astype(np.intp)


def _arrow_text(values: Any) -> pa.Array:
    """Text as an Arrow large_string array: Arrow-backed columns without a copy of their bytes."""
    if isinstance(values, pd.Series):
        values = values.array
    if isinstance(values, pa.ChunkedArray | pa.Array):
        array = values
    elif hasattr(values, "__arrow_array__"):
        array = pa.array(values)
    else:
        array = pa.array(np.asarray(values, dtype=object), type=pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.large_string() else array.cast(pa.large_string())


def _query_assignments(conn: Connection, key: str, wanted: np.ndarray) -> pd.DataFrame:
    """One experiment's assignments of `wanted` units (or all of them, when that is cheaper:
    then `attrs["scanned"]` is set). `wanted` may repeat units: a batch large enough to scan
    never pays for making a million ids distinct."""
    select = "SELECT unit_id, segment, arm, holdout, version FROM assignments WHERE experiment = :e"
    # Counting an experiment's assignments costs a scan, so a few units skip straight to keys.
    total = len(wanted) if len(wanted) <= KEYS_PER_QUERY else conn.execute(
        text("SELECT COUNT(*) FROM assignments WHERE experiment = :e"), {"e": key}).scalar_one()
    scan = len(wanted) > KEYS_PER_QUERY and len(wanted) >= SCAN_SHARE * total
    if scan and conn.dialect.name == "sqlite":
        found = _scan_sqlite(conn, key)
        if found is not None:
            found.attrs["scanned"] = True
            return found
    if not scan:
        wanted = pd.unique(wanted)
    if scan:  # PostgreSQL, or a SQLite table `_scan_sqlite` cannot aggregate
        scanned = select.replace("FROM assignments", "FROM assignments NOT INDEXED") \
            if conn.dialect.name == "sqlite" else select
        rows = fetch_rows(conn, text(scanned).bindparams(e=key))
    else:
        by_key = text(select + " AND unit_id IN :units").bindparams(bindparam("units", expanding=True))
        rows = []
        for begin in range(0, len(wanted), KEYS_PER_QUERY):
            chosen = list(wanted[begin:begin + KEYS_PER_QUERY])
            rows.extend(fetch_rows(conn, by_key.bindparams(e=key, units=chosen)))
    units, segments, arms, holdouts, versions = (list(column) for column in zip(*rows)) if rows else [[]] * 5
    found = _lookup_frame(*(pa.array(c, type=pa.large_string()) for c in (units, segments, arms)),
                          np.array(holdouts, dtype=bool), pd.array(versions, dtype="Int64"))
    found.attrs["scanned"] = scan
    return found


# A unit separator joins each column's values: SQLite builds one text per column in C, and
# Arrow cuts it up, so a million assignments become arrays without a Python object per value.
# SQLite steps every aggregate of a query with the same rows in the same order, so the i-th
# piece of each column belongs to the same unit. Three small fields travel as one integer,
# 4 * version (-1: none) + 2 * (arm is NULL: the global holdout) + holdout. The whole table
# is read in storage order: SQLite would otherwise walk the primary-key index and fetch each
# row from the table, one page read per unit.
_SEPARATOR = 0x1F
_SCAN = """SELECT COUNT(*), CAST(group_concat(unit_id, char(31)) AS BLOB),
    CAST(group_concat(segment, char(31)) AS BLOB), CAST(group_concat(ifnull(arm, ''), char(31)) AS BLOB),
    CAST(group_concat(4 * ifnull(version, -1) + 2 * (arm IS NULL) + (holdout <> 0), char(31)) AS BLOB)
    FROM assignments NOT INDEXED WHERE experiment = ?"""


def _scan_sqlite(conn: Connection, key: str) -> pd.DataFrame | None:
    """All of one experiment's assignments read from SQLite as Arrow-backed columns, or None
    when a value holds the separator or the texts outgrow SQLite's limit (then rows are read)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        count, units, segments, arms, flags = cursor.execute(_SCAN, (key,)).fetchone()
    except conn.dialect.loaded_dbapi.DataError:  # "string or blob too big"
        return None
    finally:
        cursor.close()
    if not count:
        empty = pa.array([], type=pa.large_string())
        return _lookup_frame(empty, empty, empty, np.zeros(0, dtype=bool), pd.array([], dtype="Int64"))
    columns = [_split(joined, count) for joined in (units, segments, arms, flags)]
    if any(column is None for column in columns):
        return None
    flag = columns[3].cast(pa.int64()).to_numpy()
    version = pd.array(flag >> 2, dtype="Int64")  # -4 … -1 >> 2 is -1: no version
    version[flag < 0] = pd.NA
    arm = pc.if_else(pa.array(flag & 2 != 0), pa.scalar(None, pa.large_string()), columns[2])
    return _lookup_frame(columns[0], columns[1], arm, (flag & 1).astype(bool), version)


def _lookup_frame(units: pa.Array, segments: pa.Array, arms: pa.Array, holdout: np.ndarray,
                  version: Any) -> pd.DataFrame:
    """Looked-up assignments in one shape whichever way they were read: text columns backed by
    Arrow (their bytes shared, not copied; a NULL arm is missing), holdout bool, version Int64."""
    text_columns = {name: pd.Series(pd.arrays.ArrowExtensionArray(array))
                    for name, array in (("unit_id", units), ("segment_stored", segments), ("arm_stored", arms))}
    return pd.DataFrame({**text_columns, "holdout": holdout, "version": version})


def _split(joined: bytes, count: int) -> pa.Array | None:
    """`count` texts joined by the separator, as an Arrow array (None when the pieces are not
    `count`: a value held the separator)."""
    raw = np.frombuffer(joined, dtype=np.uint8)
    cut = raw == _SEPARATOR
    ends = np.flatnonzero(cut)
    if len(ends) != count - 1:
        return None
    offsets = np.empty(count + 1, dtype=np.int64)
    offsets[0], offsets[-1] = 0, len(raw) - len(ends)
    offsets[1:-1] = ends - np.arange(len(ends))  # each earlier separator dropped from the bytes
    array = pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(raw[~cut]))
    array.validate(full=True)  # UTF-8, as SQLite's text is
    return array


def fetch_rows(conn: Connection, statement: TextClause) -> list[tuple[Any, ...]]:
    """All rows of a bound statement as plain tuples, straight from the DBAPI cursor.

    Skipping SQLAlchemy's Row objects makes million-row reads several times faster; the
    statement is still compiled for the store's dialect and parameter style.
    """
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    args = tuple(params[name] for name in compiled.positiontup or ()) if compiled.positional else params
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), args)
        return cursor.fetchall()
    finally:
        cursor.close()


def insert_ignoring(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> int:
    """Insert rows (tuples in `columns` order), skipping any whose primary key is stored
    already; returns how many were new.

    The Core statement `INSERT … ON CONFLICT DO NOTHING` is compiled once for the dialect and
    run as one DBAPI executemany: the driver's speed, the dialect's SQL.
    """
    if not rows:
        return 0
    dialect = conn.dialect
    if dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    compiled = dialect_insert(table).on_conflict_do_nothing().compile(dialect=dialect, column_keys=list(columns))
    if compiled.positional:
        order = [columns.index(name) for name in compiled.positiontup or ()]
        params: list[Any] = rows if order == list(range(len(columns))) else [tuple(r[i] for i in order) for r in rows]
    else:
        params = [dict(zip(columns, r)) for r in rows]
    result = conn.exec_driver_sql(str(compiled), params)
    if dialect.supports_sane_multi_rowcount and result.rowcount >= 0:
        return int(result.rowcount)
    raise StoreError(f"the {dialect.name} driver does not report how many rows an insert stored")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's write lock from its first statement.

    SQLite's driver begins a deferred transaction, which reads before it locks: a chunk that
    reads the table's last rowid and then inserts could be overtaken by another writer in
    between. So on SQLite the transaction is opened by hand with BEGIN IMMEDIATE (which waits
    on the busy timeout like any write). PostgreSQL's rows lock as they are written.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as conn:
        driver = conn.connection.dbapi_connection
        mode = driver.isolation_level  # type: ignore[union-attr]
        driver.isolation_level = None  # type: ignore[union-attr]  # we say BEGIN and COMMIT
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        finally:
            driver.isolation_level = mode  # type: ignore[union-attr]


def insert_columns(conn: Connection, table: Table, names: Sequence[str], columns: Sequence[Sequence[Any]]) -> int:
    """Insert a chunk given as one sequence per column (in `names` order), skipping rows whose
    primary key is stored already; returns how many were new.

    SQLite: one executemany over the columns zipped row by row as the driver binds them (no
    list of row tuples is built). PostgreSQL: one statement over one array per column
    (`unnest`), a single round trip instead of a statement per row.
    """
    if not len(columns[0]):
        return 0
    listed = ", ".join(names)
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(names))
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(f"INSERT INTO {table.name} ({listed}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                               zip(*columns))
            return int(cursor.rowcount)
        finally:
            cursor.close()
    arrays = ", ".join(f"%(c{i})s::{table.c[name].type.compile(dialect=conn.dialect)}[]"
                       for i, name in enumerate(names))
    params = {f"c{i}": list(column) for i, column in enumerate(columns)}
    statement = (f"INSERT INTO {table.name} ({listed}) SELECT * FROM unnest({arrays}) ORDER BY 1 "
                 "ON CONFLICT DO NOTHING")
    return int(conn.exec_driver_sql(statement, params).rowcount)


def key_order(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The row order that sorts `frame`'s text `columns` as the databases' binary collation
    does (by UTF-8 bytes), computed by Arrow in C++ rather than by comparing Python strings.

    A column of a few distinct values (experiment, segment, arm) is sorted as the rank of its
    value among them (Python orders text by code point, which is the UTF-8 bytes' order), so
    Arrow compares integers there and strings only for the ids.
    """
    keys = {}
    for name in columns:
        values = frame[name].to_numpy(dtype=object)
        if len(set(values[:1_000].tolist())) <= 100:
            codes, uniques = pd.factorize(values)
            if len(uniques) <= 1_000:
                rank = np.argsort(np.argsort(np.asarray(uniques, dtype=object), kind="stable"))
                keys[name] = pa.array(rank[codes])
                continue
        keys[name] = pa.array(values, type=pa.large_string())
    return pc.sort_indices(pa.table(keys), sort_keys=[(name, "ascending") for name in keys]).to_numpy()


# `exposed_units`' key: a chunk of exposures stored in this order merges its units' first
# exposures into that table in key order, one pass through its B-tree instead of a random
# page per unit (7x less time for a million new units; the event-id index, taking the
# rows in random order instead, slows by a few percent).
FIRST_EXPOSURE_KEY = ("experiment", "segment", "arm", "unit_id")
EXPOSURE_FIELDS = ("event_id", "experiment", "unit_id", "segment", "arm", "channel", "ts")

# PostgreSQL: the chunk arrives as one array per column (a single round trip, no per-row
# statement), its new rows come back from RETURNING, and their units' first exposures are
# merged in by the same statement.
_PG_EXPOSURES = """WITH stored AS (
    INSERT INTO exposures (event_id, experiment, unit_id, segment, arm, channel, ts)
    SELECT * FROM unnest(%(event_id)s::varchar[], %(experiment)s::varchar[], %(unit_id)s::varchar[],
                         %(segment)s::varchar[], %(arm)s::varchar[], %(channel)s::varchar[],
                         %(ts)s::bigint[])
    ORDER BY 1
    ON CONFLICT (event_id) DO NOTHING
    RETURNING experiment, segment, arm, unit_id, ts
), first AS ({first})
SELECT COUNT(*) FROM stored"""


def insert_exposures(conn: Connection, columns: Sequence[Sequence[Any]]) -> int:
    """Store a chunk of exposures (one sequence per column, in `EXPOSURE_FIELDS` order),
    skipping event ids already stored, and merge the new rows' first exposures into
    `exposed_units`; returns how many were new. Run it inside `write_transaction`: the rows
    and their units' first exposures commit together, and only rows actually stored count
    (a duplicate event id with another timestamp moves no t0).
    """
    from liftlab.store.schema import FIRST_EXPOSURES, ExposureRecord

    if not len(columns[0]):
        return 0
    if conn.dialect.name != "sqlite":
        statement = _PG_EXPOSURES.format(first=FIRST_EXPOSURES["postgresql"])
        params = dict(zip(EXPOSURE_FIELDS, (list(c) for c in columns)))
        return int(conn.exec_driver_sql(statement, params).scalar_one())
    # The write lock is held since BEGIN IMMEDIATE, so the rows this insert adds are the ones
    # above the largest rowid now (SQLite numbers a new row max(rowid) + 1).
    low = conn.exec_driver_sql("SELECT COALESCE(MAX(rowid), 0) FROM exposures").scalar_one()
    inserted = insert_columns(conn, ExposureRecord.__table__, EXPOSURE_FIELDS, columns)
    if inserted:
        conn.exec_driver_sql(FIRST_EXPOSURES["sqlite"], {"low": low})
    return inserted

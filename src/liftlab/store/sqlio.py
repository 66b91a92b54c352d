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
            hit = cached.index.get_indexer(wanted)
            parts.append(cached.iloc[hit[hit >= 0]].reset_index().assign(experiment=key))
            wanted = wanted[hit < 0]
        if not len(wanted):
            continue
        found = _query_assignments(conn, key, wanted)
        if found.attrs.get("scanned") and seen is not None:
            seen[key] = found.set_index("unit_id")
        parts.append(found.assign(experiment=key))
    if len(parts) == 2:  # one experiment (the usual batch): no copy of a million rows by concat
        return parts[1][list(LOOKUP_COLUMNS)]
    frame = pd.concat(parts, ignore_index=True)
    return frame[list(LOOKUP_COLUMNS)]


def _query_assignments(conn: Connection, key: str, wanted: np.ndarray) -> pd.DataFrame:
    """One experiment's assignments of `wanted` units (or all of them, when that is cheaper:
    then `attrs["scanned"]` is set). `wanted` may repeat units: a batch large enough to scan
    never pays for making a million ids distinct."""
    select = "SELECT unit_id, segment, arm, holdout, version FROM assignments WHERE experiment = :e"
    # Counting an experiment's assignments costs a scan, so a few units skip straight to keys.
    total = len(wanted) if len(wanted) <= KEYS_PER_QUERY else conn.execute(
        text("SELECT COUNT(*) FROM assignments WHERE experiment = :e"), {"e": key}).scalar_one()
    scan = len(wanted) > KEYS_PER_QUERY and len(wanted) >= SCAN_SHARE * total
    if not scan:
        wanted = pd.unique(wanted)
    if scan:
        # SQLite would walk the primary-key index and fetch each row from the table, one page
        # read per unit; the whole table in storage order is several times faster.
        scanned = select.replace("FROM assignments", "FROM assignments NOT INDEXED") \
            if conn.dialect.name == "sqlite" else select
        rows = fetch_rows(conn, text(scanned).bindparams(e=key))
    else:
        by_key = text(select + " AND unit_id IN :units").bindparams(bindparam("units", expanding=True))
        rows = []
        for begin in range(0, len(wanted), KEYS_PER_QUERY):
            chosen = list(wanted[begin:begin + KEYS_PER_QUERY])
            rows.extend(fetch_rows(conn, by_key.bindparams(e=key, units=chosen)))
    # Column by column, kept as Python objects: no per-row array and no string-dtype copy.
    table = list(zip(*rows)) if rows else [()] * 5
    found = pd.DataFrame({name: pd.Series(np.array(column, dtype=object), dtype=object)
                          for name, column in zip(("unit_id", "segment_stored", "arm_stored", "holdout",
                                                   "version"), table)})
    found.attrs["scanned"] = scan
    return found


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
    does (by UTF-8 bytes), computed by Arrow in C++ rather than by comparing Python strings."""
    table = pa.table({c: pa.array(frame[c].to_numpy(dtype=object), type=pa.string()) for c in columns})
    return pc.sort_indices(table, sort_keys=[(c, "ascending") for c in columns]).to_numpy()


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

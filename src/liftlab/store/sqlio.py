"""SQL plumbing for the store: fast reads and duplicate-skipping bulk inserts, any dialect.

Statements are compiled by SQLAlchemy for the store's dialect and run straight on the DBAPI
cursor: the driver's speed without SQLAlchemy's per-row objects, and the dialect's own SQL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, bindparam, text
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
        wanted = pd.unique(units[experiments == key])
        if seen is not None and key in seen:
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
    frame = pd.concat(parts, ignore_index=True)
    return frame[list(LOOKUP_COLUMNS)]


def _query_assignments(conn: Connection, key: str, wanted: np.ndarray) -> pd.DataFrame:
    """One experiment's assignments of `wanted` units (or all of them, when that is cheaper:
    then `attrs["scanned"]` is set)."""
    select = "SELECT unit_id, segment, arm, holdout, version FROM assignments WHERE experiment = :e"
    # Counting an experiment's assignments costs a scan, so a few units skip straight to keys.
    total = len(wanted) if len(wanted) <= KEYS_PER_QUERY else conn.execute(
        text("SELECT COUNT(*) FROM assignments WHERE experiment = :e"), {"e": key}).scalar_one()
    scan = len(wanted) > KEYS_PER_QUERY and len(wanted) >= SCAN_SHARE * total
    if scan:
        rows = fetch_rows(conn, text(select).bindparams(e=key))
    else:
        by_key = text(select + " AND unit_id IN :units").bindparams(bindparam("units", expanding=True))
        rows = []
        for begin in range(0, len(wanted), KEYS_PER_QUERY):
            chosen = list(wanted[begin:begin + KEYS_PER_QUERY])
            rows.extend(fetch_rows(conn, by_key.bindparams(e=key, units=chosen)))
    table = np.array(rows, dtype=object).reshape(-1, 5)
    found = pd.DataFrame({"unit_id": table[:, 0], "segment_stored": table[:, 1], "arm_stored": table[:, 2],
                          "holdout": table[:, 3], "version": table[:, 4]})
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

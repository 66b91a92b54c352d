"""The event store: experiments, sticky assignments, exposures, conversions, quarantine.

SQLite by default (one file, WAL mode, a busy timeout so several processes can log at once),
through sqlmodel / SQLAlchemy. Tables are declared once as sqlmodel models; bulk logging
compiles one SQLAlchemy Core insert for the store's dialect and runs it as a DBAPI
`executemany`, one transaction per chunk, never object-by-object ORM adds.

The database keeps each unit's first exposure (`exposed_units`) itself, with a trigger on
`exposures`: every writer, liftlab or not, keeps it right, and the aggregation reads one row
per unit instead of grouping every exposure again.

Every event has an `event_id` (derived from its content when the source has none), and
inserts ignore ids already stored: loading the same file twice counts nothing twice. A row
that fails validation is kept out of the event tables and written to `quarantine` with its
reason and line; the valid rows beside it are stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Connection, Engine, Table, bindparam, event, inspect, text
from sqlalchemy.sql.elements import TextClause
from sqlmodel import Field, SQLModel, create_engine

from liftlab.config import Experiment
from liftlab.errors import StoreError
from liftlab.events import (
    CONVERSION_COLUMNS,
    EXPOSURE_COLUMNS,
    Checked,
    check_conversions,
    check_exposures,
)

CHUNK_ROWS = 50_000


class ExperimentRecord(SQLModel, table=True):
    """One registered version of an experiment's config."""

    __tablename__ = "experiments"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True)
    version: int
    config: str
    config_hash: str
    registered_at: str


class AssignmentRecord(SQLModel, table=True):
    """A customer's sticky arm in one experiment (arm is null for the global holdout)."""

    __tablename__ = "assignments"
    experiment: str = Field(primary_key=True)
    unit_id: str = Field(primary_key=True)
    segment: str
    arm: str | None = None
    bucket: float | None = None
    holdout: bool = False
    assigned_at: int = Field(sa_type=BigInteger)  # epoch µs: 64-bit on every database


class ExposureRecord(SQLModel, table=True):
    """A customer entering a campaign's audience (control included), at `ts` (epoch µs)."""

    __tablename__ = "exposures"
    event_id: str = Field(primary_key=True)
    experiment: str
    unit_id: str
    segment: str
    arm: str
    channel: str
    ts: int = Field(sa_type=BigInteger)


class ExposedUnitRecord(SQLModel, table=True):
    """A unit's first exposure in an experiment: kept by a trigger on `exposures`."""

    __tablename__ = "exposed_units"
    __table_args__ = {"sqlite_with_rowid": False}
    # Keyed in the order the aggregation groups by, so it streams through the table unsorted.
    # A unit's segment and arm are fixed by its sticky assignment, so the key names one unit.
    experiment: str = Field(primary_key=True)
    segment: str = Field(primary_key=True)
    arm: str = Field(primary_key=True)
    unit_id: str = Field(primary_key=True)
    t0: int = Field(sa_type=BigInteger)


class ConversionRecord(SQLModel, table=True):
    """A shop event (purchase, visit …) with its value, at `ts` (epoch µs)."""

    __tablename__ = "conversions"
    event_id: str = Field(primary_key=True)
    unit_id: str
    event: str
    value: float
    ts: int = Field(sa_type=BigInteger)


class QuarantineRecord(SQLModel, table=True):
    """A rejected row: what it was, where it came from, and why it was refused."""

    __tablename__ = "quarantine"
    id: int | None = Field(default=None, primary_key=True)
    kind: str
    source: str | None = None
    line: int | None = None
    reason: str
    payload: str
    at: str
    # The same bad row of the same source loaded again is not quarantined twice.
    row_key: str | None = None


# A unit's events in a time range are read from this index alone, in unit order.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_conversions_window ON conversions (unit_id, event, ts, value)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ix_quarantine_row ON quarantine (row_key)",
)

# Each stored exposure moves its unit's first exposure earlier, never later. A duplicate that
# the insert skips fires nothing, and MIN is idempotent, so re-loading changes nothing.
_FIRST_EXPOSURE = {
    "sqlite": (
        """CREATE TRIGGER IF NOT EXISTS exposures_first AFTER INSERT ON exposures BEGIN
            INSERT INTO exposed_units (experiment, unit_id, segment, arm, t0)
            VALUES (NEW.experiment, NEW.unit_id, NEW.segment, NEW.arm, NEW.ts)
            ON CONFLICT (experiment, segment, arm, unit_id) DO UPDATE SET t0 = excluded.t0
            WHERE excluded.t0 < exposed_units.t0;
        END""",
    ),
    "postgresql": (
        """CREATE OR REPLACE FUNCTION liftlab_first_exposure() RETURNS trigger AS $$
        BEGIN
            INSERT INTO exposed_units (experiment, unit_id, segment, arm, t0)
            VALUES (NEW.experiment, NEW.unit_id, NEW.segment, NEW.arm, NEW.ts)
            ON CONFLICT (experiment, segment, arm, unit_id) DO UPDATE SET t0 = LEAST(exposed_units.t0, EXCLUDED.t0);
            RETURN NULL;
        END $$ LANGUAGE plpgsql""",
        "DROP TRIGGER IF EXISTS exposures_first ON exposures",
        """CREATE TRIGGER exposures_first AFTER INSERT ON exposures
        FOR EACH ROW EXECUTE FUNCTION liftlab_first_exposure()""",
    ),
}
_BACKFILL = """INSERT INTO exposed_units (experiment, unit_id, segment, arm, t0)
    SELECT experiment, unit_id, segment, arm, MIN(ts) FROM exposures
    GROUP BY experiment, segment, arm, unit_id"""

# Above this share of an experiment's assignments, a batch reads them all in one scan;
# below it, it looks up its own units by key.
_SCAN_SHARE = 0.25
_KEYS_PER_QUERY = 5_000


@dataclass(frozen=True)
class RegisterResult:
    """Whether a config was new, the same as the stored one, or changed (a new version)."""

    key: str
    status: str  # "new" | "unchanged" | "changed"
    version: int
    config_hash: str


@dataclass(frozen=True)
class AssignmentCounts:
    """Sticky save: new rows, rows already stored with the same arm, and rows whose stored arm
    differs from the one offered now (kept as stored, reported here)."""

    inserted: int
    unchanged: int
    conflicting: int
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogCounts:
    """What one logging call did: stored, already there, refused (with the first reasons)."""

    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def __add__(self, other: LogCounts) -> LogCounts:
        reasons = (self.reasons + other.reasons)[:10]
        return LogCounts(
            self.inserted + other.inserted,
            self.duplicates + other.duplicates,
            self.rejected + other.rejected,
            reasons,
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# SQLite's default page cache (2 MiB) makes every index insert re-read its pages from the OS;
# 64 MiB keeps a million-row index's hot pages in memory (1.5x faster bulk loads here).
SQLITE_CACHE_KIB = 65_536


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


class EventStore:
    """The experiment database. `EventStore("sqlite:///liftlab.db")` creates it if needed."""

    def __init__(self, url: str = "sqlite:///liftlab.db") -> None:
        self.url = url
        self._seen: dict[str, pd.DataFrame] = {}  # assignments read by scans (they never change)
        try:
            self.engine: Engine = create_engine(url, connect_args=self._connect_args(url))
        except Exception as exc:  # noqa: BLE001 — any driver error becomes one clear line
            raise StoreError(f"cannot open event store {url!r}: {exc}") from None
        dialect = self.engine.dialect.name
        if dialect not in _FIRST_EXPOSURE:
            raise StoreError(f"cannot open event store {url!r}: liftlab's store runs on SQLite or "
                             f"PostgreSQL, not {dialect}")
        if dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._create_schema(dialect)
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"cannot open event store {url!r}: {exc}") from None

    def _create_schema(self, dialect: str) -> None:
        """Tables, indexes and the first-exposure trigger; idempotent, and it upgrades a store
        made before `exposed_units` existed by filling that table from its exposures."""
        with self.engine.begin() as conn:
            upgrading = conn.dialect.has_table(conn, "exposures") and not conn.dialect.has_table(
                conn, "exposed_units")
            SQLModel.metadata.create_all(conn)
            if "row_key" not in {c["name"] for c in inspect(conn).get_columns("quarantine")}:
                conn.exec_driver_sql("ALTER TABLE quarantine ADD COLUMN row_key VARCHAR")
            for statement in _INDEXES + _FIRST_EXPOSURE[dialect]:
                conn.exec_driver_sql(statement)
            if upgrading:
                conn.exec_driver_sql(_BACKFILL)

    @staticmethod
    def _connect_args(url: str) -> dict[str, Any]:
        return {"timeout": 60} if url.startswith("sqlite") else {}

    # -- experiments ---------------------------------------------------------------------------

    def register_experiment(self, experiment: Experiment) -> RegisterResult:
        """Store the experiment's config; a changed config becomes a new version."""
        config = json.dumps(experiment.to_dict(), sort_keys=True)
        digest = hashlib.sha256(config.encode()).hexdigest()
        with self.engine.begin() as conn:
            row = conn.execute(
                text("SELECT version, config_hash FROM experiments WHERE key = :k "
                     "ORDER BY version DESC LIMIT 1"),
                {"k": experiment.key},
            ).first()
            if row is not None and row.config_hash == digest:
                return RegisterResult(experiment.key, "unchanged", row.version, digest)
            version = 1 if row is None else row.version + 1
            conn.execute(
                text("INSERT INTO experiments (key, version, config, config_hash, registered_at) "
                     "VALUES (:k, :v, :c, :h, :t)"),
                {"k": experiment.key, "v": version, "c": config, "h": digest, "t": _now()},
            )
        return RegisterResult(experiment.key, "new" if row is None else "changed", version, digest)

    def experiment_config(self, key: str) -> dict[str, Any]:
        """The latest registered config of `key` as a dict; StoreError when unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT config FROM experiments WHERE key = :k ORDER BY version DESC LIMIT 1"),
                {"k": key},
            ).first()
        if row is None:
            raise StoreError(f"experiment {key!r} is not registered in {self.url}")
        return json.loads(row.config)

    # -- assignments ---------------------------------------------------------------------------

    def save_assignments(self, assignments: pd.DataFrame) -> AssignmentCounts:
        """Insert new assignments; never change a stored one (sticky), count those that differ."""
        columns = ["experiment", "unit_id", "segment", "arm", "bucket", "holdout"]
        missing = [c for c in columns if c not in assignments.columns]
        if missing:
            raise StoreError(f"assignments need columns {', '.join(missing)}", field=missing[0])
        frame = pd.DataFrame({
            "experiment": assignments["experiment"].astype(str).to_numpy(dtype=object),
            "unit_id": assignments["unit_id"].astype(str).to_numpy(dtype=object),
            "segment": assignments["segment"].astype(str).to_numpy(dtype=object),
            "arm": pd.Series([None if pd.isna(a) else str(a) for a in assignments["arm"]], dtype=object),
            "bucket": pd.Series([None if pd.isna(b) else float(b) for b in assignments["bucket"]], dtype=object),
            "holdout": assignments["holdout"].astype(bool).to_numpy(),
        })
        frame["assigned_at"] = int(pd.Timestamp.now(tz="UTC").value // 1000)
        with self.engine.connect() as conn:
            stored = _stored_assignments(conn, frame["experiment"].to_numpy(), frame["unit_id"].to_numpy())
        keyed = frame.merge(stored, on=["experiment", "unit_id"], how="left", suffixes=("", "_stored"))
        known = keyed["segment_stored"].notna().to_numpy()
        fresh = frame[~known]
        inserted = 0
        for start in range(0, len(fresh), CHUNK_ROWS):
            chunk = fresh.iloc[start:start + CHUNK_ROWS]
            rows = list(zip(*(chunk[c].tolist() for c in frame.columns)))
            with self.engine.begin() as conn:
                # A unit another process saved meanwhile is skipped here, never overwritten.
                inserted += _insert_ignoring(conn, AssignmentRecord.__table__, tuple(frame.columns), rows)
        old = keyed[known]
        same = (old["arm"].fillna("") == old["arm_stored"].fillna("")).to_numpy() & (
            old["holdout"].astype(bool) == old["holdout_stored"].astype(bool)).to_numpy()
        conflicts = tuple(
            f"{unit}: stays in {was or 'holdout'}, config says {now or 'holdout'}"
            for unit, was, now in zip(old["unit_id"][~same][:5], old["arm_stored"][~same][:5],
                                      old["arm"][~same][:5])
        )
        return AssignmentCounts(inserted, int(same.sum()), int((~same).sum()), conflicts)

    def assignments(self, experiment_key: str) -> pd.DataFrame:
        """The stored assignments of one experiment (the columns `assign()` produces)."""
        with self.engine.connect() as conn:
            frame = pd.read_sql_query(
                text("SELECT experiment, unit_id, segment, arm, bucket, holdout FROM assignments "
                     "WHERE experiment = :k ORDER BY unit_id"),
                conn,
                params={"k": experiment_key},
            )
        frame["holdout"] = frame["holdout"].astype(bool)
        return frame

    # -- events --------------------------------------------------------------------------------

    def log_exposures(
        self, data: pd.DataFrame | Iterable[Mapping[str, Any]], *, source: str | None = None,
        first_line: int = 2, lines: Sequence[int] | None = None,
    ) -> LogCounts:
        """Store exposures in bulk. Each must agree with the unit's stored assignment.

        `source` and the rows' lines (`lines`, or counted from `first_line`) name where a
        rejected row came from in the quarantine.
        """
        frame = _frame(data)
        known = self._assignment_lookup(frame)
        checked = check_exposures(frame, known, first_line=first_line, lines=_lines(lines))
        return self._store(checked, "exposures", EXPOSURE_COLUMNS, "exposure", source)

    def log_conversions(
        self, data: pd.DataFrame | Iterable[Mapping[str, Any]], *, source: str | None = None,
        first_line: int = 2, lines: Sequence[int] | None = None,
    ) -> LogCounts:
        """Store shop events (purchases, visits …) in bulk."""
        checked = check_conversions(_frame(data), first_line=first_line, lines=_lines(lines))
        return self._store(checked, "conversions", CONVERSION_COLUMNS, "conversion", source)

    def log_exposure(self, **fields: Any) -> LogCounts:
        """Store one exposure (same rules as the bulk path)."""
        return self.log_exposures([fields], first_line=1)

    def log_conversion(self, **fields: Any) -> LogCounts:
        """Store one conversion (same rules as the bulk path)."""
        return self.log_conversions([fields], first_line=1)

    def reject(self, kind: str, rejected: pd.DataFrame, *, source: str | None = None) -> LogCounts:
        """Quarantine rows that could not even be read as records (columns line, reason,
        payload): a line of a file that is not valid JSON, or has the wrong number of fields."""
        self._quarantine(kind, rejected, source)
        return LogCounts(rejected=len(rejected), reasons=_reasons(rejected))

    def _assignment_lookup(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The stored assignments of the batch's units, and (in `attrs`) which of the batch's
        experiments are registered."""
        if "experiment" not in frame or "unit_id" not in frame:
            lookup = pd.DataFrame(columns=list(_LOOKUP_COLUMNS))
            lookup.attrs["registered"] = set()
            return lookup
        keys = frame[["experiment", "unit_id"]].dropna()
        with self.engine.connect() as conn:
            lookup = _stored_assignments(conn, keys["experiment"].astype(str).to_numpy(dtype=object),
                                         keys["unit_id"].astype(str).to_numpy(dtype=object), self._seen)
            rows = conn.execute(text("SELECT DISTINCT key FROM experiments")).fetchall()
        lookup.attrs["registered"] = {r.key for r in rows}
        return lookup

    def _store(
        self, checked: Checked, table: str, columns: tuple[str, ...], kind: str, source: str | None
    ) -> LogCounts:
        good = checked.valid  # in event-id order: each chunk walks the primary key in order
        target = SQLModel.metadata.tables[table]
        inserted = 0
        for start in range(0, len(good), CHUNK_ROWS):
            chunk = good.iloc[start:start + CHUNK_ROWS]
            rows = list(zip(*(chunk[c].tolist() for c in columns)))
            with self.engine.begin() as conn:
                inserted += _insert_ignoring(conn, target, columns, rows)
        self._quarantine(kind, checked.rejected, source)
        return LogCounts(inserted, len(good) - inserted, len(checked.rejected), _reasons(checked.rejected))

    def _quarantine(self, kind: str, rejected: pd.DataFrame, source: str | None) -> None:
        if not len(rejected):
            return
        stamp = _now()
        columns = ("kind", "source", "line", "reason", "payload", "at", "row_key")
        rows = [
            (kind, source, int(line), reason, payload, stamp,
             hashlib.sha256(f"{kind}\x1f{source}\x1f{line}\x1f{payload}".encode()).hexdigest())
            for line, reason, payload in zip(rejected["line"], rejected["reason"], rejected["payload"])
        ]
        with self.engine.begin() as conn:
            _insert_ignoring(conn, QuarantineRecord.__table__, columns, rows)

    def quarantine(self) -> pd.DataFrame:
        """Every rejected row with its kind, source, line and reason."""
        with self.engine.connect() as conn:
            return pd.read_sql_query(text("SELECT * FROM quarantine ORDER BY id"), conn)

    def count(self, table: str) -> int:
        """Rows in one of the store's tables."""
        if table not in ("experiments", "assignments", "exposures", "conversions", "quarantine"):
            raise StoreError(f"no table {table!r}")
        with self.engine.connect() as conn:
            return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())


def _lines(lines: Sequence[int] | None) -> np.ndarray | None:
    return None if lines is None else np.asarray(lines, dtype=np.int64)


def _reasons(rejected: pd.DataFrame, keep: int = 5) -> tuple[str, ...]:
    """The first few rejections as 'line N: reason'."""
    return tuple(f"line {line}: {reason}" for line, reason in
                 zip(rejected["line"][:keep], rejected["reason"][:keep]))


def _frame(data: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    return pd.DataFrame(list(data))


_LOOKUP_COLUMNS = ("experiment", "unit_id", "segment_stored", "arm_stored", "holdout")


def _stored_assignments(conn: Connection, experiments: np.ndarray, units: np.ndarray,
                        seen: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The stored assignments of these (experiment, unit) pairs: columns experiment, unit_id,
    segment_stored, arm_stored, holdout.

    A batch holding a good share of an experiment's units reads all of its assignments in one
    scan; a smaller one looks its units up by primary key, a few thousand per query. `seen`
    keeps what scans read: an assignment never changes once stored, so a unit found there
    needs no query again (one not found may have been assigned since, and is looked up).
    """
    parts = [pd.DataFrame(columns=list(_LOOKUP_COLUMNS))]
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
            found = found[found["unit_id"].isin(wanted)]
        parts.append(found.assign(experiment=key))
    frame = pd.concat(parts, ignore_index=True)
    return frame[list(_LOOKUP_COLUMNS)]


def _query_assignments(conn: Connection, key: str, wanted: np.ndarray) -> pd.DataFrame:
    """One experiment's assignments of `wanted` units (or all of them, when that is cheaper:
    then `attrs["scanned"]` is set)."""
    select = "SELECT unit_id, segment, arm, holdout FROM assignments WHERE experiment = :e"
    # Counting an experiment's assignments costs a scan, so a few units skip straight to keys.
    total = len(wanted) if len(wanted) <= _KEYS_PER_QUERY else conn.execute(
        text("SELECT COUNT(*) FROM assignments WHERE experiment = :e"), {"e": key}).scalar_one()
    scan = len(wanted) > _KEYS_PER_QUERY and len(wanted) >= _SCAN_SHARE * total
    if scan:
        rows = _fetch(conn, text(select).bindparams(e=key))
    else:
        by_key = text(select + " AND unit_id IN :units").bindparams(bindparam("units", expanding=True))
        rows = []
        for begin in range(0, len(wanted), _KEYS_PER_QUERY):
            chosen = list(wanted[begin:begin + _KEYS_PER_QUERY])
            rows.extend(_fetch(conn, by_key.bindparams(e=key, units=chosen)))
    table = np.array(rows, dtype=object).reshape(-1, 4)
    found = pd.DataFrame({"unit_id": table[:, 0], "segment_stored": table[:, 1], "arm_stored": table[:, 2],
                          "holdout": table[:, 3]})
    found.attrs["scanned"] = scan
    return found


def _fetch(conn: Connection, statement: TextClause) -> list[tuple[Any, ...]]:
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


def _insert_ignoring(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> int:
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

"""The event store: experiments, sticky assignments, exposures, conversions, quarantine.

SQLite by default (one file, WAL mode, a busy timeout so several processes can log at once),
through sqlmodel / SQLAlchemy, so any SQLAlchemy URL works. Tables are declared once as
sqlmodel models; bulk logging goes through the DBAPI `executemany` inside one SQLAlchemy
transaction per chunk, never object-by-object ORM adds.

Every event has an `event_id` (derived from its content when the source has none), and
inserts ignore ids already stored: loading the same file twice counts nothing twice. A row
that fails validation is kept out of the event tables and written to `quarantine` with its
reason and line; the valid rows beside it are stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, event, text
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
    assigned_at: int


class ExposureRecord(SQLModel, table=True):
    """A customer entering a campaign's audience (control included), at `ts` (epoch µs)."""

    __tablename__ = "exposures"
    event_id: str = Field(primary_key=True)
    experiment: str = Field(index=True)
    unit_id: str
    segment: str
    arm: str
    channel: str
    ts: int


class ConversionRecord(SQLModel, table=True):
    """A shop event (purchase, visit …) with its value, at `ts` (epoch µs)."""

    __tablename__ = "conversions"
    event_id: str = Field(primary_key=True)
    unit_id: str
    event: str
    value: float
    ts: int


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


# Covering indexes for the aggregation query: each unit's first exposure (with its segment and
# arm) and its events in a time range are read from the index alone, in unit order.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_exposures_first ON exposures (experiment, unit_id, ts, segment, arm)",
    "CREATE INDEX IF NOT EXISTS ix_conversions_window ON conversions (unit_id, event, ts, value)",
)


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class EventStore:
    """The experiment database. `EventStore("sqlite:///liftlab.db")` creates it if needed."""

    def __init__(self, url: str = "sqlite:///liftlab.db") -> None:
        self.url = url
        try:
            self.engine: Engine = create_engine(url, connect_args=self._connect_args(url))
        except Exception as exc:  # noqa: BLE001 — any driver error becomes one clear line
            raise StoreError(f"cannot open event store {url!r}: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            SQLModel.metadata.create_all(self.engine)
            with self.engine.begin() as conn:
                for statement in _INDEXES:
                    conn.exec_driver_sql(statement)
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"cannot open event store {url!r}: {exc}") from None

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
        frame = assignments[columns]
        stamp = int(pd.Timestamp.now(tz="UTC").value // 1000)
        inserted = unchanged = conflicting = 0
        conflicts: list[str] = []
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start:start + CHUNK_ROWS]
            rows = list(
                zip(
                    chunk["experiment"].astype(str),
                    chunk["unit_id"].astype(str),
                    chunk["segment"].astype(str),
                    [None if pd.isna(a) else str(a) for a in chunk["arm"]],
                    [None if pd.isna(b) else float(b) for b in chunk["bucket"]],
                    chunk["holdout"].astype(bool).astype(int),
                    [stamp] * len(chunk),
                )
            )
            with self.engine.begin() as conn:
                conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS stage_assignments "
                                     "(experiment TEXT, unit_id TEXT, segment TEXT, arm TEXT, "
                                     "bucket REAL, holdout INTEGER, assigned_at INTEGER)")
                conn.exec_driver_sql("DELETE FROM stage_assignments")
                conn.exec_driver_sql("INSERT INTO stage_assignments VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                stored = conn.exec_driver_sql(
                    "SELECT s.unit_id, a.arm, s.arm, a.holdout, s.holdout FROM stage_assignments s "
                    "JOIN assignments a ON a.experiment = s.experiment AND a.unit_id = s.unit_id"
                ).fetchall()
                before = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
                conn.exec_driver_sql("INSERT OR IGNORE INTO assignments (experiment, unit_id, "
                                     "segment, arm, bucket, holdout, assigned_at) "
                                     "SELECT * FROM stage_assignments")
                inserted += conn.exec_driver_sql("SELECT total_changes()").scalar_one() - before
            for unit, old_arm, new_arm, old_hold, new_hold in stored:
                if old_arm == new_arm and bool(old_hold) == bool(new_hold):
                    unchanged += 1
                else:
                    conflicting += 1
                    if len(conflicts) < 5:
                        conflicts.append(f"{unit}: stays in {old_arm or 'holdout'}, config says "
                                         f"{new_arm or 'holdout'}")
        return AssignmentCounts(inserted, unchanged, conflicting, tuple(conflicts))

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
        first_line: int = 2,
    ) -> LogCounts:
        """Store exposures in bulk. Each must agree with the unit's stored assignment."""
        frame = _frame(data)
        experiments = frame["experiment"].dropna().astype(str).unique().tolist() if "experiment" in frame else []
        known = self._assignment_lookup(experiments)
        checked = check_exposures(frame, known, first_line=first_line)
        return self._store(checked, "exposures", EXPOSURE_COLUMNS, "exposure", source)

    def log_conversions(
        self, data: pd.DataFrame | Iterable[Mapping[str, Any]], *, source: str | None = None,
        first_line: int = 2,
    ) -> LogCounts:
        """Store shop events (purchases, visits …) in bulk."""
        checked = check_conversions(_frame(data), first_line=first_line)
        return self._store(checked, "conversions", CONVERSION_COLUMNS, "conversion", source)

    def log_exposure(self, **fields: Any) -> LogCounts:
        """Store one exposure (same rules as the bulk path)."""
        return self.log_exposures([fields], first_line=1)

    def log_conversion(self, **fields: Any) -> LogCounts:
        """Store one conversion (same rules as the bulk path)."""
        return self.log_conversions([fields], first_line=1)

    def _assignment_lookup(self, experiments: list[str]) -> pd.DataFrame:
        if not experiments:
            return pd.DataFrame(columns=["experiment", "unit_id", "segment_stored", "arm_stored", "holdout"])
        marks = ", ".join(f":e{i}" for i in range(len(experiments)))
        with self.engine.connect() as conn:
            frame = pd.read_sql_query(
                text(f"SELECT experiment, unit_id, segment AS segment_stored, arm AS arm_stored, "
                     f"holdout FROM assignments WHERE experiment IN ({marks})"),
                conn,
                params={f"e{i}": e for i, e in enumerate(experiments)},
            )
        registered = self._registered(experiments)
        frame.attrs["registered"] = registered
        return frame

    def _registered(self, keys: list[str]) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT DISTINCT key FROM experiments")).fetchall()
        return {r.key for r in rows} & set(keys)

    def _store(
        self, checked: Checked, table: str, columns: tuple[str, ...], kind: str, source: str | None
    ) -> LogCounts:
        # Sorted by id, each chunk walks the primary-key B-tree in order instead of at random.
        good = checked.valid.sort_values("event_id", ignore_index=True)
        placeholders = ", ".join("?" for _ in columns)
        statement = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
        inserted = 0
        for start in range(0, len(good), CHUNK_ROWS):
            chunk = good.iloc[start:start + CHUNK_ROWS]
            rows = list(zip(*(chunk[c].tolist() for c in columns)))
            with self.engine.begin() as conn:
                before = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
                conn.exec_driver_sql(statement, rows)
                inserted += conn.exec_driver_sql("SELECT total_changes()").scalar_one() - before
        rejected = checked.rejected
        if len(rejected):
            stamp = _now()
            rows = [
                (kind, source, int(line), reason, payload, stamp)
                for line, reason, payload in zip(rejected["line"], rejected["reason"], rejected["payload"])
            ]
            with self.engine.begin() as conn:
                conn.exec_driver_sql(
                    "INSERT INTO quarantine (kind, source, line, reason, payload, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
        reasons = tuple(
            f"line {line}: {reason}" for line, reason in zip(rejected["line"][:5], rejected["reason"][:5])
        )
        return LogCounts(inserted, len(good) - inserted, len(rejected), reasons)

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


def _frame(data: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    return pd.DataFrame(list(data))

"""The event store's tables, indexes and first-exposure upsert, as one schema.

Tables are sqlmodel models. Each unit's first exposure (`exposed_units`) is merged in by the
same transaction that stores its exposures (`FIRST_EXPOSURES`), so every writer keeps it right
and the aggregation reads one row per unit. `create_schema` is idempotent and upgrades a
store made by an earlier version (it drops the per-row trigger that once did this job).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, inspect, text
from sqlmodel import Field, SQLModel

from liftlab.store import unit_values  # the materialised values' tables (incremental refresh)
from liftlab.store.sqlio import write_transaction


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
    # The experiment's config version the unit was assigned under (its weights, its dates).
    version: int | None = None


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
    """A unit's first exposure in an experiment: merged in with each chunk of `exposures`."""

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


# ix_conversions_window: a unit's events in a time range, read from the index alone in unit
# order. The unique ones make a repeated row (quarantine) or a raced version (experiments) fail.
INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_conversions_window ON conversions (unit_id, event, ts, value)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ix_quarantine_row ON quarantine (row_key)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ix_experiments_version ON experiments (key, version)",
)

# Each unit's first exposure is kept by the logging path itself: every chunk of exposures and
# one set-based upsert of its units commit together (`FIRST_EXPOSURES`, run by `sqlio`).
# Earlier versions kept it with a per-row trigger, which doubled the cost of a bulk insert;
# opening a store drops that trigger (and PostgreSQL's function), once, under the schema lock.
RETIRED_TRIGGER = {
    "sqlite": ("DROP TRIGGER IF EXISTS exposures_first",),
    "postgresql": (
        # Checked before dropping: DROP TRIGGER locks the table even when there is nothing to
        # drop, and every opener runs this.
        """DO $do$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'exposures_first'
                       AND tgrelid = 'exposures'::regclass) THEN
                DROP TRIGGER exposures_first ON exposures;
            END IF;
            IF to_regprocedure('liftlab_first_exposure()') IS NOT NULL THEN
                DROP FUNCTION liftlab_first_exposure();
            END IF;
        END $do$""",
    ),
}

# The first exposures of the rows a chunk stored, merged into `exposed_units` in one statement:
# a unit's t0 only ever moves earlier, and MIN is idempotent, so re-loading changes nothing.
# SQLite reads the chunk back by rowid (`:low`, the largest rowid before the chunk, read inside
# the chunk's write transaction): only rows the insert kept count, so a duplicate event id
# with another timestamp moves nothing. No GROUP BY there: SQLite's upsert takes a unit's rows
# one after another, MIN-ing each in, and grouping first costs a sort that doubles the work.
# PostgreSQL's upsert may not touch a row twice, so it groups the rows its insert returned.
FIRST_EXPOSURES = {
    "sqlite": """INSERT INTO exposed_units (experiment, segment, arm, unit_id, t0)
        SELECT experiment, segment, arm, unit_id, ts FROM exposures WHERE rowid > :low
        ON CONFLICT (experiment, segment, arm, unit_id) DO UPDATE SET t0 = excluded.t0
        WHERE excluded.t0 < exposed_units.t0""",
    "postgresql": """INSERT INTO exposed_units (experiment, segment, arm, unit_id, t0)
        SELECT experiment, segment, arm, unit_id, MIN(ts) FROM stored
        GROUP BY experiment, segment, arm, unit_id ORDER BY experiment, segment, arm, unit_id
        ON CONFLICT (experiment, segment, arm, unit_id)
        DO UPDATE SET t0 = LEAST(exposed_units.t0, EXCLUDED.t0)""",
}
SCHEMA_LOCK = 0x6C69_6674  # "lift": the advisory lock key for schema changes on PostgreSQL
BACKFILL = """INSERT INTO exposed_units (experiment, unit_id, segment, arm, t0)
    SELECT experiment, unit_id, segment, arm, MIN(ts) FROM exposures
    GROUP BY experiment, segment, arm, unit_id"""


# SQLite's default page cache (2 MiB) makes every index insert re-read its pages from the OS;
# 64 MiB keeps a million-row index's hot pages in memory (1.5x faster bulk loads here).
SQLITE_CACHE_KIB = 65_536


# A new store's page size: 8 KiB pages hold twice the keys of SQLite's default 4 KiB, so a
# bulk load splits half as many index pages and each commit writes fewer of them (15-20%
# less time in the database for a million exposures). It takes effect only when the file is
# created; an existing store keeps its pages.
SQLITE_PAGE_BYTES = 8192


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_BYTES}")  # before WAL: it fixes a new file's pages
    # Switching a new file to WAL can answer "database is locked" at once, without waiting on
    # the busy handler, while another process is switching it too: try again briefly.
    for attempt in range(50):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.05 * (attempt + 1))
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's write lock from its first statement, so
    processes opening a new store at the same moment build its schema one after another.

    PostgreSQL takes an advisory lock. SQLite's driver would run each DDL statement on its own
    after a check made without the lock (two openers both see no table, and the second
    CREATE fails), so the transaction is opened by hand with BEGIN IMMEDIATE.
    """
    with write_transaction(engine) as conn:
        if engine.dialect.name != "sqlite":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
        yield conn


def create_schema(conn: Connection, dialect: str) -> None:
    """Tables and indexes, the old first-exposure trigger dropped; idempotent, and it upgrades
    a store made before `exposed_units` (or the quarantine's `row_key`, or the assignments'
    `version`) existed. Run it inside `schema_transaction`."""
    upgrading = conn.dialect.has_table(conn, "exposures") and not conn.dialect.has_table(conn, "exposed_units")
    SQLModel.metadata.create_all(conn)
    if "row_key" not in {c["name"] for c in inspect(conn).get_columns("quarantine")}:
        conn.exec_driver_sql("ALTER TABLE quarantine ADD COLUMN row_key VARCHAR")
    if "version" not in {c["name"] for c in inspect(conn).get_columns("assignments")}:
        conn.exec_driver_sql("ALTER TABLE assignments ADD COLUMN version INTEGER")
        backfill_versions(conn)
    for statement in INDEXES + RETIRED_TRIGGER[dialect]:
        conn.exec_driver_sql(statement)
    if upgrading:
        conn.exec_driver_sql(BACKFILL)
    # Incremental refresh: PostgreSQL's row positions (`seq`) for the watermarks.
    unit_values.upgrade(conn, dialect)


def backfill_versions(conn: Connection) -> None:
    """Give each assignment of an older store the version it was assigned under: the latest
    version registered at or before its `assigned_at` (registration comes first in `assign`),
    the first version for anything older. One UPDATE per registered version."""
    from datetime import datetime

    rows = conn.exec_driver_sql("SELECT key, version, registered_at FROM experiments ORDER BY key, version").fetchall()
    for key, version, registered_at in rows:
        since = int(datetime.fromisoformat(registered_at).timestamp() * 1_000_000)
        first = version == min(v for k, v, _ in rows if k == key)
        condition = "" if first else " AND assigned_at >= :since"
        conn.execute(text(f"UPDATE assignments SET version = :v WHERE experiment = :k{condition}"),
                     {"v": version, "k": key, "since": since})

"""The event store: experiments, sticky assignments, exposures, conversions, quarantine.

SQLite by default (one file, WAL mode, a busy timeout so several processes can log at once)
or PostgreSQL, through sqlmodel / SQLAlchemy. The tables and the upsert that keeps each
unit's first exposure live in `schema.py`; the compiled, dialect-aware bulk SQL in `sqlio.py`;
the exposure-date rule in `exposure_dates.py`; the SRM's expected shares across config
versions in `shares.py`; the records handed back in `records.py`.
Bulk logging runs one DBAPI `executemany` per chunk (PostgreSQL: one statement over column
arrays), one transaction each with its units' first exposures, never object-by-object ORM adds.

Every event has an `event_id` (derived from its content when the source has none), and
inserts ignore ids already stored: loading the same file twice counts nothing twice. A row
that fails validation is kept out of the event tables and written to `quarantine` with its
reason and line; the valid rows beside it are stored.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import SingletonThreadPool
from sqlmodel import SQLModel, create_engine

from liftlab.config.model import Experiment
from liftlab.config.validation import check_experiment
from liftlab.errors import StoreError
from liftlab.store.events import (
    CONVERSION_COLUMNS,
    EXPOSURE_COLUMNS,
    REQUIRED_FIELDS,
    Checked,
    check_conversions,
    check_exposures,
)
from liftlab.store.exposure_dates import outside_dates, version_windows, without_outside
from liftlab.store.ingest import read_batches, records_frame
from liftlab.store.records import AssignmentCounts, ExperimentVersion, LogCounts, RegisterResult
from liftlab.store.schema import (
    RETIRED_TRIGGER,
    AssignmentRecord,
    QuarantineRecord,
    create_schema,
    schema_transaction,
    sqlite_pragmas,
)
from liftlab.store.shares import mix_arm_shares
from liftlab.store.sqlio import (
    LOOKUP_COLUMNS,
    insert_columns,
    insert_exposures,
    insert_ignoring,
    stored_assignments,
    write_transaction,
)
from liftlab.store.urls import parse_store_url, shown

CHUNK_ROWS = 200_000
# From this many rows a batch's assignments are read on a second thread (smaller batches read
# them in a few milliseconds, less than starting a thread).
THREADED_ROWS = 10_000


def _masked(exc: BaseException, url: URL) -> str:
    """A driver's message with the URL's password (should it quote it) masked."""
    message = str(exc)
    return message.replace(url.password, "***") if url.password else message


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class EventStore:
    """The experiment database. `EventStore("sqlite:///liftlab.db")` creates it if needed."""

    def __init__(self, url: str = "sqlite:///liftlab.db") -> None:
        parsed = parse_store_url(url)  # refuses bare paths and other dialects, driver unloaded
        self.url = url
        #: The URL as messages print it: the password masked.
        self.shown_url = shown(parsed)
        self._seen: dict[str, pd.DataFrame] = {}  # assignments read by scans (they never change)
        try:
            self.engine: Engine = create_engine(parsed, connect_args=self._connect_args(parsed.get_backend_name()))
        except Exception as exc:  # noqa: BLE001 — any driver error becomes one clear line
            raise StoreError(f"cannot open event store {self.shown_url}: {_masked(exc, parsed)}") from None
        # An in-memory SQLite database lives in one connection per thread (SingletonThreadPool):
        # another thread would open an empty one, so such a store reads on the calling thread.
        self._shared_connections = not isinstance(self.engine.pool, SingletonThreadPool)
        dialect = self.engine.dialect.name
        if dialect not in RETIRED_TRIGGER:
            raise StoreError(f"cannot open event store {self.shown_url}: liftlab's store runs on SQLite or "
                             f"PostgreSQL, not {dialect}")
        if dialect == "sqlite":
            event.listen(self.engine, "connect", sqlite_pragmas)
        try:
            with schema_transaction(self.engine) as conn:
                create_schema(conn, dialect)
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"cannot open event store {self.shown_url}: {_masked(exc, parsed)}") from None

    @staticmethod
    def _connect_args(backend: str) -> dict[str, Any]:
        return {"timeout": 60} if backend == "sqlite" else {}

    # -- experiments ---------------------------------------------------------------------------

    def register_experiment(self, experiment: Experiment, *, allow: Collection[str] = ()) -> RegisterResult:
        """Store the experiment's config; a changed config becomes a new version.

        Safe when several processes register at once: (key, version) is unique, so a process
        that loses the race for a version reads again and finds the config stored. An
        experiment that fails validation is refused (ConfigError with its findings); `allow`
        names rules the caller overrides on purpose (see `check_experiment`).
        """
        check_experiment(experiment, allow=allow)
        config = json.dumps(experiment.to_dict(), sort_keys=True)
        digest = hashlib.sha256(config.encode()).hexdigest()
        for _ in range(20):
            try:
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
            except IntegrityError:
                continue  # another process stored this version first: look again
            return RegisterResult(experiment.key, "new" if row is None else "changed", version, digest)
        raise StoreError(f"could not register {experiment.key!r}: its versions kept changing under us")

    def experiment_config(self, key: str) -> dict[str, Any]:
        """The latest registered config of `key` as a dict; StoreError when unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT config FROM experiments WHERE key = :k ORDER BY version DESC LIMIT 1"),
                {"k": key},
            ).first()
        if row is None:
            raise StoreError(f"experiment {key!r} is not registered in {self.shown_url}")
        return json.loads(row.config)

    # -- assignments ---------------------------------------------------------------------------

    def save_assignments(self, assignments: pd.DataFrame, *, version: int | None = None) -> AssignmentCounts:
        """Insert new assignments; never change a stored one (sticky), count those that differ.

        New rows record the config `version` they were assigned under (default: the latest
        registered version of their experiment; none when it is not registered), which is
        what the expected arm shares and the exposure dates are read from.
        """
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
        if version is not None:
            frame["version"] = int(version)
        else:
            latest = {key: self.latest_version(key) for key in pd.unique(frame["experiment"])}
            frame["version"] = pd.Series([latest[k] for k in frame["experiment"]], dtype=object)
        with self.engine.connect() as conn:
            stored = stored_assignments(conn, frame["experiment"].to_numpy(), frame["unit_id"].to_numpy())
        keyed = frame.merge(stored, on=["experiment", "unit_id"], how="left", suffixes=("", "_stored"))
        known = keyed["segment_stored"].notna().to_numpy()
        fresh = frame[~known]
        inserted = 0
        for start in range(0, len(fresh), CHUNK_ROWS):
            chunk = fresh.iloc[start:start + CHUNK_ROWS]
            rows = list(zip(*(chunk[c].tolist() for c in frame.columns)))
            with self._writing(f"{len(rows):,} assignments") as conn:
                # A unit another process saved meanwhile is skipped here, never overwritten.
                inserted += insert_ignoring(conn, AssignmentRecord.__table__, tuple(frame.columns), rows)
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
        """The stored assignments of one experiment, one row per unit, sorted by unit_id.

        Columns: `experiment`, `unit_id`, `segment`, `arm` (None for the global holdout),
        `bucket` (the unit's hash position in [0, 1)), `holdout` (bool: in the global holdout,
        gets no campaign) and `version` (the config version it was assigned under; None for
        rows saved without a registered experiment). Empty when nothing is stored.
        """
        with self.engine.connect() as conn:
            frame = pd.read_sql_query(
                text("SELECT experiment, unit_id, segment, arm, bucket, holdout, version FROM assignments "
                     "WHERE experiment = :k ORDER BY unit_id"),
                conn,
                params={"k": experiment_key},
            )
        frame["holdout"] = frame["holdout"].astype(bool)
        frame["version"] = frame["version"].astype("Int64")
        return frame

    # -- versions ------------------------------------------------------------------------------

    def latest_version(self, key: str) -> int | None:
        """The newest registered version of `key`, or None when it is not registered."""
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT MAX(version) FROM experiments WHERE key = :k"),
                                {"k": key}).scalar_one()

    def latest_config(self, key: str) -> dict[str, Any] | None:
        """The newest registered config of `key`, or None when it is not registered."""
        versions = self.experiment_versions(key)
        return versions[-1].config if versions else None

    def experiment_versions(self, key: str) -> tuple[ExperimentVersion, ...]:
        """Every registered version of `key`, oldest first, with the units assigned under each."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT version, registered_at, config_hash, config FROM experiments "
                     "WHERE key = :k ORDER BY version"), {"k": key}).fetchall()
            counts = dict(conn.execute(
                text("SELECT version, COUNT(*) FROM assignments WHERE experiment = :k GROUP BY version"),
                {"k": key}).fetchall())
        return tuple(ExperimentVersion(r.version, r.registered_at, r.config_hash, json.loads(r.config),
                                       int(counts.get(r.version, 0))) for r in rows)

    def expected_arm_shares(self, experiment_key: str, *, population: str = "exposed") -> dict[str, dict[str, float]]:
        """Per segment, each arm's expected share among the segment's non-holdout units.

        Each unit's arm was drawn with the weights of the version it was assigned under, so
        the expectation mixes the versions' weights by how many units each assigned:
        share(arm) = Σ_v n_v · w_v(arm) / Σ_v n_v, counted over exposed units (`"exposed"`:
        the analysis population, what the SRM check compares with) or over all assigned ones
        (`"assigned"`). A segment with no units gets the latest version's weights; a unit
        stored without a version counts under the latest one. StoreError for an experiment
        that is not registered.
        """
        if population not in ("exposed", "assigned"):
            raise StoreError(f"population must be 'exposed' or 'assigned', not {population!r}",
                             field="population")
        with self.engine.connect() as conn:  # the configs only: no count of assignments per version
            versions = {int(r[0]): json.loads(r[1]) for r in conn.execute(
                text("SELECT version, config FROM experiments WHERE key = :k"), {"k": experiment_key})}
        if not versions:
            raise StoreError(f"experiment {experiment_key!r} is not registered in {self.shown_url}")
        if population == "assigned":
            query = ("SELECT segment, version, COUNT(*) AS n FROM assignments WHERE experiment = :k "
                     "AND holdout = :f GROUP BY segment, version")
        elif len(versions) == 1:
            # One version: every unit was assigned under it (a unit without one counts under the
            # latest, the same), so no per-unit join with assignments: exposed units per segment.
            query = ("SELECT segment, NULL AS version, COUNT(*) AS n FROM exposed_units "
                     "WHERE experiment = :k GROUP BY segment")
        else:
            query = ("SELECT a.segment, a.version, COUNT(*) AS n FROM exposed_units u JOIN assignments a "
                     "ON a.experiment = u.experiment AND a.unit_id = u.unit_id "
                     "WHERE u.experiment = :k AND a.holdout = :f GROUP BY a.segment, a.version")
        with self.engine.connect() as conn:
            counts = conn.execute(text(query), {"k": experiment_key, "f": False}).fetchall()
        return mix_arm_shares(versions, counts)

    # -- events --------------------------------------------------------------------------------

    def log_exposures(
        self, data: pd.DataFrame | Iterable[Mapping[str, Any]], *, source: str | None = None,
        first_line: int = 2, lines: Sequence[int] | None = None, date_format: str | None = None,
    ) -> LogCounts:
        """Store exposures in bulk. Each must agree with the unit's stored assignment.

        `data` is a DataFrame or any iterable of records (read RECORDS_PER_BATCH at a time, so a
        generator of millions never sits in memory whole). `source` and the rows' lines
        (`lines`, or counted from `first_line`) name where a rejected row came from. Timestamps
        are ISO 8601 (naive = UTC) or epoch seconds, or text in `date_format` (e.g. '%d.%m.%Y').
        """
        total = LogCounts()
        with ExitStack() as stack:
            reader: ThreadPoolExecutor | None = None
            for frame, at in _paused_gc(_batches(data, first_line, lines)):
                # A big batch's stored assignments are read and matched on a reader thread
                # while the checks that need none run here; the rows come in first-exposure
                # key order, the order `_store` inserts them in.
                threaded = len(frame) >= THREADED_ROWS and self._shared_connections
                if reader is None and threaded:
                    reader = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="liftlab-assignments"))
                read = _Remembered(self._assignment_lookup)
                checked = check_exposures(frame, read, lines=at, date_format=date_format, order="key",
                                          reader=reader if threaded else None)
                if not _inside_every_version(self.engine, checked.valid):
                    outside, _ = outside_dates(self.engine, checked.valid, read.last)
                    if outside.any():  # rare: find those rows' lines, quarantine them, check the rest
                        checked = without_outside(self.engine, frame, at, read.last, date_format)
                total = total + self._store(checked, "exposures", EXPOSURE_COLUMNS, "exposure", source)
        return total

    def log_conversions(
        self, data: pd.DataFrame | Iterable[Mapping[str, Any]], *, source: str | None = None,
        first_line: int = 2, lines: Sequence[int] | None = None, date_format: str | None = None,
    ) -> LogCounts:
        """Store shop events (purchases, visits …) in bulk; `data` as for `log_exposures`."""
        total = LogCounts()
        for frame, at in _paused_gc(_batches(data, first_line, lines)):
            checked = check_conversions(frame, lines=at, date_format=date_format)
            total = total + self._store(checked, "conversions", CONVERSION_COLUMNS, "conversion", source)
        return total

    def log_file(
        self, kind: str, path: str | Path, *, fmt: str | None = None,
        progress: Callable[[int, int], None] | None = None, date_format: str | None = None,
    ) -> LogCounts:
        """Log a CSV or JSON Lines file of `kind` "exposures" or "conversions", batch by batch.

        Lines that are not records (broken JSON, a wrong CSV field count, bad UTF-8) are
        quarantined beside the rows the checks refuse; `progress(bytes_read, rows)` is called
        after each batch. DataError when the file cannot be read at all.
        """
        if kind not in REQUIRED_FIELDS:
            raise StoreError(f"kind must be 'exposures' or 'conversions', not {kind!r}", field="kind")
        path = Path(path)
        log = self.log_exposures if kind == "exposures" else self.log_conversions
        total, rows = LogCounts(), 0
        for batch in read_batches(path, fmt, required=REQUIRED_FIELDS[kind]):
            total = total + log(batch.rows, source=str(path), lines=batch.lines, date_format=date_format)
            total = total + self.reject(kind.removesuffix("s"), batch.broken, source=str(path))
            rows += len(batch.rows) + len(batch.broken)
            if progress is not None:
                progress(batch.position, rows)
        return total

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

    def _assignment_lookup(self, experiment: np.ndarray, unit: np.ndarray) -> pd.DataFrame:
        """The stored assignments of the batch's (experiment, unit) texts (blank ones are
        missing values: skipped), and (in `attrs`) which experiments are registered."""
        present = (experiment != "") & (unit != "")
        with self.engine.connect() as conn:
            lookup = stored_assignments(conn, experiment[present], unit[present], self._seen)
            rows = conn.execute(text("SELECT DISTINCT key FROM experiments")).fetchall()
        lookup.attrs["registered"] = {r.key for r in rows}
        return lookup

    def _store(
        self, checked: Checked, table: str, columns: tuple[str, ...], kind: str, source: str | None
    ) -> LogCounts:
        # Exposures come in first-exposure key order (see FIRST_EXPOSURE_KEY), conversions in
        # event-id order: each chunk walks its table's B-tree in order. A chunk binds slices.
        good = checked.valid
        values = [good[c].tolist() for c in columns]
        target = SQLModel.metadata.tables[table]
        inserted = 0
        for start in range(0, len(good), CHUNK_ROWS):
            chunk = [v[start:start + CHUNK_ROWS] for v in values]
            what = (f"{len(chunk[0]):,} {table} (rows {start + 1:,}–{start + len(chunk[0]):,} of "
                    f"{len(good):,}; earlier chunks are stored)")
            if table == "exposures":  # the rows and their units' first exposures, together
                with self._writing(what, immediate=True) as conn:
                    inserted += insert_exposures(conn, chunk)
            else:
                with self._writing(what) as conn:
                    inserted += insert_columns(conn, target, columns, chunk)
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
        with self._writing(f"{len(rows):,} quarantined rows") as conn:
            insert_ignoring(conn, QuarantineRecord.__table__, columns, rows)

    @contextmanager
    def _writing(self, what: str, *, immediate: bool = False) -> Iterator[Connection]:
        """One write transaction (`immediate`: holding the write lock from its start, see
        `write_transaction`); a database error (locked, read-only, disk full …) becomes a
        StoreError that says what was not written. Committed chunks stay: a re-run completes."""
        try:
            with (write_transaction(self.engine) if immediate else self.engine.begin()) as conn:
                yield conn
        except (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:  # bulk inserts run on the driver
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"could not write {what} to {self.shown_url}: {cause}") from None

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


RECORDS_PER_BATCH = 200_000


def _batches(
    data: pd.DataFrame | Iterable[Mapping[str, Any]], first_line: int, lines: Sequence[int] | None
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """(rows, their source lines): a DataFrame whole, an iterable of records in slices."""
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index(drop=True)
        at = np.arange(first_line, first_line + len(frame)) if lines is None else np.asarray(lines, dtype=np.int64)
        yield frame, at
        return
    records = iter(data)
    given = None if lines is None else iter(lines)
    line = first_line
    while True:
        chunk = list(itertools.islice(records, RECORDS_PER_BATCH))
        if not chunk:
            return
        if given is None:
            at = np.arange(line, line + len(chunk))
        else:
            at = np.fromiter(itertools.islice(given, len(chunk)), dtype=np.int64, count=len(chunk))
        line += len(chunk)
        yield records_frame(chunk), at


def _paused_gc(batches: Iterator[tuple[pd.DataFrame, np.ndarray]]) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """The batches, with Python's cycle collector paused while each is checked and stored.

    A batch creates millions of short-lived strings and row tuples, none of them in reference
    cycles; each few hundred allocations would otherwise start a collection that walks them
    all again (a fifth of a bulk load's time). The collector is on between batches and after.
    """
    for batch in batches:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            yield batch
        finally:
            if was_enabled:
                gc.enable()


class _Remembered:
    """A function that keeps its last result (`last`): the assignments a check read, used
    again for the rare exposures outside the experiment's dates."""

    def __init__(self, function: Callable[..., pd.DataFrame]) -> None:
        self.function = function
        self.last = pd.DataFrame(columns=list(LOOKUP_COLUMNS))

    def __call__(self, *args: Any) -> pd.DataFrame:
        self.last = self.function(*args)
        return self.last


def _inside_every_version(engine: Engine, valid: pd.DataFrame) -> bool:
    """True when each experiment's exposures all fall inside the dates of every one of its
    versions: then none is outside its unit's version, and the per-row check is skipped."""
    if not len(valid):
        return True
    spans = valid.groupby("experiment", sort=False)["ts"].agg(["min", "max"])
    windows = version_windows(engine, spans.index)
    if not len(windows):
        return False  # let the full check decide
    bounds = windows.groupby("experiment")[["low", "high"]].agg({"low": "max", "high": "min"})
    joined = spans.join(bounds, how="left")
    return bool((joined["low"].notna() & (joined["min"] >= joined["low"])
                 & (joined["max"] < joined["high"])).all())


def _reasons(rejected: pd.DataFrame, keep: int = 5) -> tuple[str, ...]:
    """The first few rejections as 'line N: reason'."""
    return tuple(f"line {line}: {reason}" for line, reason in
                 zip(rejected["line"][:keep], rejected["reason"][:keep]))

"""Materialised per-unit metric values and their watermarks: the tables behind incremental refresh.

`unit_values` holds, per experiment × exposed unit × metric signature, the unit's in-window
value y and pre-period value x (only units with a qualifying event; everyone else has
y = x = 0 and is counted from `exposed_units`). `holdout_values` holds the global-holdout
units' y, measured from the experiment's first send. `value_sums` and `holdout_sums` hold
their running sums per segment × arm (what a report reads). `refresh_marks` records, per experiment
× signature, the last exposures and conversions row the values have seen, and the first send
and holdout size they were built for (`liftlab.aggregate.refresh` keeps all three).

A row's position in `exposures` and `conversions` is its SQLite rowid; PostgreSQL has none,
so `upgrade` gives both tables a `seq` identity column (and an index, for "rows after the
watermark").
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Connection, inspect
from sqlmodel import Field, SQLModel

#: The expression for a row's position in `exposures` / `conversions`, by dialect.
SEQUENCE = {"sqlite": "rowid", "postgresql": "seq"}


class UnitValueRecord(SQLModel, table=True):
    """One exposed unit's value of one metric signature: y in its window, x in the pre-period."""

    __tablename__ = "unit_values"
    __table_args__ = {"sqlite_with_rowid": False}
    # Keyed like `exposed_units` with the signature LAST (`KEY`): a unit's rows of every
    # signature sit side by side, so a refresh that writes a new unit's values dirties one page,
    # not one per signature (the commit writes, and checkpoints, every page it dirtied).
    experiment: str = Field(primary_key=True)
    segment: str = Field(primary_key=True)
    arm: str = Field(primary_key=True)
    unit_id: str = Field(primary_key=True)
    signature: str = Field(primary_key=True)
    y: float
    x: float


class HoldoutValueRecord(SQLModel, table=True):
    """One global-holdout unit's value of one metric signature, in the window after the first send."""

    __tablename__ = "holdout_values"
    __table_args__ = {"sqlite_with_rowid": False}
    experiment: str = Field(primary_key=True)
    signature: str = Field(primary_key=True)
    unit_id: str = Field(primary_key=True)
    y: float


class ValueSumRecord(SQLModel, table=True):
    """Per experiment × signature × segment × arm, the sums of its exposed units' values (n comes
    from `exposed_units`): what `analyze` reads, O(segments × arms) rows, kept by the refresh
    with each touched unit's old contribution taken out and its new one added."""

    __tablename__ = "value_sums"
    experiment: str = Field(primary_key=True)
    signature: str = Field(primary_key=True)
    segment: str = Field(primary_key=True)
    arm: str = Field(primary_key=True)
    sum: float
    sum_sq: float
    x_sum: float
    x_sum_sq: float
    xy_sum: float


class HoldoutSumRecord(SQLModel, table=True):
    """Per experiment × signature, the sums of the global-holdout units' values (Σy, Σy²)."""

    __tablename__ = "holdout_sums"
    experiment: str = Field(primary_key=True)
    signature: str = Field(primary_key=True)
    sum: float
    sum_sq: float


class RefreshMarkRecord(SQLModel, table=True):
    """How far an experiment × signature's values are up to date (the watermark)."""

    __tablename__ = "refresh_marks"
    experiment: str = Field(primary_key=True)
    signature: str = Field(primary_key=True)
    exposures_seen: int = Field(sa_type=BigInteger)  # last exposures row (rowid / seq) included
    conversions_seen: int = Field(sa_type=BigInteger)
    first_send: int | None = Field(default=None, sa_type=BigInteger)  # MIN(t0) the holdout was measured from
    holdout_units: int = Field(sa_type=BigInteger)  # holdout assignments when built
    # Exposed units when last counted (a rebuild counts them): a floor of the current count,
    # as a unit once exposed stays exposed; the refresh chooses a patch by it, without a scan.
    exposed_floor: int | None = Field(default=None, sa_type=BigInteger)


#: `unit_values`' primary key, in order.
KEY = ("experiment", "segment", "arm", "unit_id", "signature")
#: The holdout's units of an experiment, read from an index of the held-out 10 % alone: the
#: holdout's size and units without a scan of every assignment (assignments are never
#: updated or deleted, so the index is all a count needs).
HOLDOUT_INDEX = "CREATE INDEX IF NOT EXISTS ix_assignments_holdout ON assignments (experiment, unit_id) WHERE holdout"


def upgrade(conn: Connection, dialect: str) -> None:
    """Bring an older store's refresh tables up to this version: the holdout index; a
    `unit_values` keyed in an earlier order is dropped with every materialised value and
    watermark (they are a cache: the next refresh rebuilds them). On PostgreSQL, a `seq`
    identity column (indexed) on exposures and conversions; existing rows are numbered when it
    is added. SQLite's rowid needs nothing."""
    conn.exec_driver_sql(HOLDOUT_INDEX)
    if "exposed_floor" not in {c["name"] for c in inspect(conn).get_columns("refresh_marks")}:
        conn.exec_driver_sql("ALTER TABLE refresh_marks ADD COLUMN exposed_floor BIGINT")
    if tuple(inspect(conn).get_pk_constraint("unit_values")["constrained_columns"]) != KEY:
        for table in ("refresh_marks", "value_sums", "holdout_values", "holdout_sums"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
        UnitValueRecord.__table__.drop(conn)  # type: ignore[attr-defined]
        UnitValueRecord.__table__.create(conn)  # type: ignore[attr-defined]
    if dialect != "postgresql":
        return
    for table in ("exposures", "conversions"):
        if "seq" not in {c["name"] for c in inspect(conn).get_columns(table)}:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN seq BIGINT GENERATED BY DEFAULT AS IDENTITY")
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS ix_{table}_seq ON {table} (seq)")

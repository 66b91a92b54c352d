"""Declared sources: where an experiment's events live when they are not in the liftlab store.

A source names an engine (a SQLAlchemy URL such as `duckdb:///:memory:`), the relations that
hold exposures, conversions and, optionally, assignments and the orders, customers and visits
that RFM segmentation reads (each a table name, a Parquet glob or a SQL query) and which of
their columns mean what. GrowthBook and Eppo are declared the
same way: the tool runs SQL in the warehouse and only aggregates come back
(`liftlab.warehouse`). This module is declaration only: it imports no database library, so
`liftlab validate` stays light.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum

#: How a relation's timestamp column is stored: a TIMESTAMP, or integer epoch microseconds
#: (what the liftlab store keeps).
TIMESTAMP_KINDS = ("timestamp", "epoch_us")
#: Engines liftlab runs sources on (the URL's scheme before any "+driver"); `spark://HOST:PORT`
#: or `spark://local[N]` is a Spark master (liftlab.warehouse.spark).
ENGINES = ("duckdb", "sqlite", "postgresql", "spark")
#: Engines that read Parquet globs as relations.
PARQUET_ENGINES = ("duckdb", "spark")
#: Engines that are declared the same way but not run yet (the warehouses' SQL is rendered
#: and compile-tested: liftlab.warehouse.dialects, docs/scale.md).
COMING = ("bigquery", "snowflake", "databricks")


class RelationKind(Enum):
    """What a relation string names: the rule is in `relation_kind`."""

    TABLE = "table"
    PARQUET = "parquet"
    QUERY = "query"


def relation_kind(relation: str) -> RelationKind:
    """A relation that starts with SELECT or WITH is a SQL query; one ending in `.parquet`
    (a path, globs allowed) is Parquet; anything else is a table name (`schema.table` too)."""
    stripped = relation.strip()
    first = stripped.split(None, 1)[0].lower() if stripped else ""
    if first in ("select", "with") or stripped.startswith("("):
        return RelationKind.QUERY
    if stripped.lower().endswith(".parquet"):
        return RelationKind.PARQUET
    return RelationKind.TABLE


@dataclass(frozen=True)
class Columns:
    """Which column of the relations holds each value liftlab reads; the defaults are the
    liftlab store's own names, so the store itself can be declared as a source."""

    unit_id: str = "unit_id"
    timestamp: str = "ts"
    experiment: str = "experiment"
    segment: str = "segment"
    arm: str = "arm"
    event: str = "event"
    value: str = "value"
    holdout: str = "holdout"
    #: The customers' yes/no column saying their email is known (None: the customers
    #: relation has none, and every non-buyer is an engaged visitor).
    email_known: str | None = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The keys of a `[source.NAME.columns]` table."""
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class Source:
    """Events that stay in their engine: exposures (unit_id, timestamp, experiment, segment,
    arm), conversions (unit_id, timestamp, event, value) and assignments (unit_id,
    experiment, holdout; only the global holdout comparison reads them). RFM segmentation
    (`liftlab.warehouse.segmentation`) reads orders (unit_id, timestamp, value: the amount),
    customers (unit_id, optionally email_known) and, for the default cut-off only, visits
    (unit_id, timestamp).

    `timestamps` says how both timestamp columns are stored ("timestamp" or "epoch_us");
    they are converted to epoch microseconds inside the engine. Parquet paths are used as
    given (the project file resolves relative ones against its folder).
    """

    name: str
    url: str
    exposures: str
    conversions: str
    assignments: str | None = None
    columns: Columns = field(default_factory=Columns)
    timestamps: str = "timestamp"
    orders: str | None = None
    customers: str | None = None
    visits: str | None = None

    @property
    def engine_name(self) -> str:
        """The URL's engine: `postgresql` for `postgresql+psycopg://...`."""
        return self.url.split(":", 1)[0].split("+", 1)[0].lower()

    def relations(self) -> dict[str, str]:
        """The declared relations by role (the optional ones only when declared)."""
        declared = {"exposures": self.exposures, "conversions": self.conversions}
        for role in ("assignments", "orders", "customers", "visits"):
            if getattr(self, role) is not None:
                declared[role] = getattr(self, role)
        return declared

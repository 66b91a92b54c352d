"""Warehouse-native: segmentation, assignment and analysis where the data already live.

A `Source` (declared in Python or as `[source.NAME]` in liftlab.toml) names an engine (a
SQLAlchemy URL or a Spark master) and the relations holding exposures, conversions,
assignments, orders and customers. `analyze_source` runs the analysis queries there
(`queries.py`, one SQLAlchemy Core definition rendered per dialect) and builds the same Report
as `liftlab.analyze` from the aggregates that come back; `segment_source` computes the RFM
segments in the engine (`segmentation.py`); `assign_spark` / `assign_duckdb` assign customers
with the same hash as `liftlab.assign` inside Spark and DuckDB (`assignment.py`) and
`write_send_list` writes the send list back (`send_list.py`).
"""

from __future__ import annotations

from liftlab.config.sources import Columns, Source
from liftlab.warehouse.analysis import analyze_source, source_aggregate, source_holdout_aggregate
from liftlab.warehouse.assignment import assign_duckdb, assign_spark, skipped_duckdb, skipped_spark
from liftlab.warehouse.segmentation import segment_source
from liftlab.warehouse.send_list import write_send_list

__all__ = [
    "Columns", "Source", "analyze_source", "assign_duckdb", "assign_spark", "segment_source",
    "skipped_duckdb", "skipped_spark", "source_aggregate", "source_holdout_aggregate",
    "write_send_list",
]

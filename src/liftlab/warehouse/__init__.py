"""Warehouse-native analysis: the store's queries run where the events already live.

A `Source` (declared in Python or as `[source.NAME]` in liftlab.toml) names an engine and the
relations holding exposures, conversions and assignments; `analyze_source` runs the analysis
queries there (`queries.py`, one SQLAlchemy Core definition rendered per dialect) and builds
the same Report as `liftlab.analyze` from the aggregates that come back.
"""

from __future__ import annotations

from liftlab.config.sources import Columns, Source
from liftlab.warehouse.analysis import analyze_source, source_aggregate, source_holdout_aggregate

__all__ = ["Columns", "Source", "analyze_source", "source_aggregate", "source_holdout_aggregate"]

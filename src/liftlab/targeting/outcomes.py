"""Each exposed customer's metric values, read from the store's materialised per-unit values.

The analysis population and windows are the store's: `liftlab.aggregate.refresh` keeps, per
exposed unit and metric, the value y in the window after its first exposure (the numbers
every report sums). Targeting needs them unit by unit, so this asks for the same rows instead
of re-deriving windows: exposed units with no qualifying event have no row and y = 0.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text

from liftlab.config.model import Experiment, Metric
from liftlab.store.event_store import EventStore

_UNITS = "SELECT unit_id, segment, arm FROM exposed_units WHERE experiment = :x"
_VALUES = "SELECT unit_id, y FROM unit_values WHERE experiment = :x AND signature = :s"


def unit_outcomes(store: EventStore, experiment: Experiment, metrics: tuple[Metric, ...] | None = None) -> pd.DataFrame:
    """unit_id, segment, arm and one column per metric key (its in-window value), one row per
    exposed unit of `experiment`, sorted by unit_id. The stored values are refreshed first."""
    from liftlab.aggregate.refresh import refresh, signature

    chosen = experiment.metrics if metrics is None else metrics
    refresh(store, experiment, metrics=chosen)
    with store.engine.connect() as conn:
        units = pd.read_sql_query(text(_UNITS), conn, params={"x": experiment.key})
        for metric in chosen:
            values = pd.read_sql_query(text(_VALUES), conn, params={"x": experiment.key, "s": signature(metric)})
            column = units["unit_id"].map(values.set_index("unit_id")["y"]) if len(values) else 0.0
            units[metric.key] = pd.Series(column, index=units.index, dtype="float64").fillna(0.0)
    units["unit_id"] = units["unit_id"].astype(str)
    return units.sort_values("unit_id", ignore_index=True)

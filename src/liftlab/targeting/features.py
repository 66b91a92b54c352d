"""The feature matrix an uplift model reads: RFM values and scores, tenure, channel, extras.

One row per customer, numbers only. Text columns (a channel, a region) become one 0/1 column
per value (one-hot), so every learner — trees or linear — reads the same matrix. A missing
number (a visitor has no recency or spend) is filled with the column's median and flagged in
a `<column>_missing` indicator column: trees and linear models then both see "unknown" as its
own signal instead of a made-up value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from liftlab.errors import DataError

#: The id columns a features table may key its customers by, in order of preference.
ID_COLUMNS: tuple[str, ...] = ("unit_id", "customer_id")
#: What `segment_customers` writes: used whenever present.
RFM_COLUMNS: tuple[str, ...] = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score")
#: Used when the table has them.
OPTIONAL_COLUMNS: tuple[str, ...] = ("tenure_days", "channel")
#: Longest list of distinct values a text column may have before it is refused as an id-like column.
MAX_LEVELS = 50


@dataclass(frozen=True)
class FeatureMatrix:
    """Customers' ids, the numeric matrix (rows = customers) and its column names."""

    unit_ids: np.ndarray
    values: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.unit_ids)

    def take(self, rows: np.ndarray) -> FeatureMatrix:
        """The customers at `rows` (positions or a boolean mask)."""
        return FeatureMatrix(self.unit_ids[rows], self.values[rows], self.names)


def id_column(table: pd.DataFrame, *, source: str = "features") -> str:
    """The table's id column (`unit_id`, else `customer_id`); DataError naming the table."""
    for column in ID_COLUMNS:
        if column in table.columns:
            return column
    raise DataError(f"has no id column (needs one of {', '.join(ID_COLUMNS)}; "
                    f"it has {_listed(table.columns)})", file=source, field="unit_id")


def feature_matrix(
    table: pd.DataFrame, extra: Sequence[str] = (), *, source: str = "features"
) -> FeatureMatrix:
    """The features of every customer in `table`: its RFM and optional columns, plus `extra`.

    DataError naming `source` and the columns when an extra column is absent, when no feature
    column is present at all, when an id repeats, or when a text column looks like an id
    (more than `MAX_LEVELS` distinct values would make one column per customer).
    """
    key = id_column(table, source=source)
    missing = [c for c in extra if c not in table.columns]
    if missing:
        raise DataError(f"has no column {_listed(missing)} (it has {_listed(table.columns)})",
                        file=source, field=missing[0])
    chosen = [c for c in (*RFM_COLUMNS, *OPTIONAL_COLUMNS) if c in table.columns]
    chosen += [c for c in extra if c not in chosen and c != key]
    if not chosen:
        raise DataError(f"has no feature column (expected the RFM columns {_listed(RFM_COLUMNS)} "
                        f"as `liftlab segment` writes them, or extra columns; it has {_listed(table.columns)})",
                        file=source)
    ids = table[key].astype(str).to_numpy(dtype=object)
    repeated = pd.Series(ids).duplicated().to_numpy()
    if repeated.any():
        raise DataError(f"{int(repeated.sum())} repeated id(s), e.g. {ids[repeated][0]!r}",
                        file=source, field=key)
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for column in chosen:
        values, labels = _encoded(table[column], column, source)
        blocks.append(values)
        names.extend(labels)
    matrix = np.column_stack(blocks) if blocks else np.empty((len(table), 0))
    return FeatureMatrix(ids, np.ascontiguousarray(matrix, dtype=np.float64), tuple(names))


def _encoded(column: pd.Series, name: str, source: str) -> tuple[np.ndarray, list[str]]:
    """A column as numeric block(s): numbers (median-filled, with a missing flag when needed)
    or one-hot text."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype(float).to_numpy()[:, None], [name]
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            raise DataError(f"{int(np.isinf(values).sum())} infinite value(s)", file=source, field=name)
        gap = np.isnan(values)
        if not gap.any():
            return values[:, None], [name]
        fill = float(np.median(values[~gap])) if (~gap).any() else 0.0
        return np.column_stack([np.where(gap, fill, values), gap.astype(float)]), [name, f"{name}_missing"]
    text = column.astype("string").fillna("(missing)")
    levels = sorted(text.unique())
    if len(levels) > MAX_LEVELS:
        raise DataError(f"text column with {len(levels)} distinct values (at most {MAX_LEVELS}: "
                        "is it an id?)", file=source, field=name)
    codes = pd.Categorical(text, categories=levels).codes
    return np.eye(len(levels))[codes], [f"{name}={level}" for level in levels]


def _listed(columns: Sequence[object] | pd.Index) -> str:
    return ", ".join(repr(str(c)) for c in columns)

"""The customers' unit id column, checked and held as strings for hashing.

Ids are kept as Arrow strings whenever they can be (an Arrow-backed `str` column as is,
integers cast to their decimal text, Python strings converted once), so hashing, filtering and
the output column work on buffers, not on a Python object per customer. Ids Arrow cannot hold
(lone surrogates: not UTF-8) stay a numpy object array of Python strings.

Checks, each a DataError with sample rows: a missing column, nulls, decimals, blank ids (only
whitespace, as `str.strip` sees it) and duplicates (equal ids have equal FNV-1a hashes: sorting
those numbers finds the few candidate rows, which are then compared as strings).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from liftlab.assignment.hashing import fnv1a32_many
from liftlab.assignment.id_buffers import arrow_buffers
from liftlab.errors import DataError

#: Accepted names for the unit id column, first match wins.
ID_COLUMNS = ("unit_id", "customer_id")

#: Ids as Arrow strings, or Python strings in an object array when Arrow cannot hold them.
UnitIds = pa.ChunkedArray | np.ndarray


def sample_rows(frame: pd.DataFrame, mask: np.ndarray, limit: int = 3) -> str:
    """A few rows picked by `mask`, for error messages."""
    rows = frame[mask].head(limit)
    return "; ".join(f"row {i}: {dict(r)}" for i, r in zip(rows.index, rows.to_dict("records")))


def unit_ids(customers: pd.DataFrame) -> tuple[str, UnitIds, np.ndarray]:
    """The id column's name, its values as strings and their `fnv1a32` hashes (uint32, which
    a version 1 bucket continues); DataError for nulls, blanks, floats or duplicates."""
    column = next((c for c in ID_COLUMNS if c in customers.columns), None)
    if column is None:
        raise DataError(
            f"customers need a unit id column ({' or '.join(ID_COLUMNS)}); "
            f"got {', '.join(map(str, customers.columns))}",
            field="unit_id",
        )
    raw = customers[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} empty unit id(s), e.g. {sample_rows(customers, missing)}",
            field=column,
        )
    if pd.api.types.is_float_dtype(raw):
        raise DataError("unit ids must be strings or integers, not decimals", field=column)
    ids = _as_strings(raw)
    blank = _blank(ids)
    if blank.any():
        raise DataError(
            f"{int(blank.sum())} blank unit id(s), e.g. {sample_rows(customers, blank)}",
            field=column,
        )
    hashes = fnv1a32_many(ids)
    duplicated = _duplicated(ids, hashes)
    if duplicated is not None:
        raise DataError(
            f"{int(duplicated.sum()) - _distinct(ids, duplicated)} duplicate unit id(s): "
            f"each customer must appear once, e.g. {sample_rows(customers, duplicated)}",
            field=column,
        )
    return column, ids, hashes


def take(ids: UnitIds, mask: np.ndarray) -> UnitIds:
    """The ids where `mask` is true."""
    if mask.all():
        return ids
    if isinstance(ids, pa.ChunkedArray):
        return ids.filter(pa.array(mask))
    return ids[mask]


def as_column(ids: UnitIds) -> pd.api.extensions.ExtensionArray | pd.Series:
    """The ids as a DataFrame column: pandas' `str` dtype, without a copy, when Arrow; else
    Python strings kept as objects (ids with a lone surrogate, which no Arrow column holds —
    left to pandas, the column would be inferred as Arrow text and fail)."""
    if isinstance(ids, pa.ChunkedArray):
        return pd.array(ids, dtype="str")
    return pd.Series(ids, dtype=object, copy=False)


def _as_strings(raw: pd.Series) -> UnitIds:
    """Arrow strings where possible: integers as their decimal text, exactly as `str(int)`."""
    if isinstance(raw.array, pd.arrays.ArrowExtensionArray):
        arrow = pa.array(raw.array)  # the column's own Arrow data, no copy
        if pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type):
            return arrow if isinstance(arrow, pa.ChunkedArray) else pa.chunked_array([arrow])
    if pd.api.types.is_integer_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return pa.chunked_array([pa.array(raw.to_numpy()).cast(pa.large_string())])
    if pd.api.types.is_string_dtype(raw) and raw.dtype == object:
        values = raw.to_numpy(dtype=object)
    else:
        values = raw.astype(str).to_numpy(dtype=object)
    try:
        return pa.chunked_array([pa.array(values, type=pa.large_string())])
    except (UnicodeEncodeError, pa.ArrowException):
        return values


def _blank(ids: UnitIds) -> np.ndarray:
    """True where an id is empty or only whitespace (`not id.strip()`).

    An id starting with a visible ASCII character (0x21-0x7E) is not blank: only the others are
    looked at one by one.
    """
    if not isinstance(ids, pa.ChunkedArray):
        return np.fromiter((not v.strip() for v in ids), dtype=bool, count=len(ids))
    parts = []
    for array in ids.chunks:
        data, offsets = arrow_buffers(array)
        starts = offsets[:-1]
        lengths = np.diff(offsets)
        first = data[np.minimum(starts, max(data.size - 1, 0))] if data.size else lengths * 0
        maybe = (lengths == 0) | (first < 0x21) | (first > 0x7E)
        blank = np.zeros(len(array), dtype=bool)
        rows = np.flatnonzero(maybe)
        if rows.size:
            values = array.take(pa.array(rows)).to_pylist()
            blank[rows] = [not v.strip() for v in values]
        parts.append(blank)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def _duplicated(ids: UnitIds, hashes: np.ndarray) -> np.ndarray | None:
    """Mask of every row whose id appears more than once, or None when all are distinct.

    Copies of one id share its hash, so only rows whose hash occurs twice (about n²/2³³ pairs
    by chance: ~100 for a million ids) are compared as strings.
    """
    ordered = np.sort(hashes)
    clashes = ordered[1:][ordered[1:] == ordered[:-1]]
    if clashes.size == 0:
        return None
    rows = np.flatnonzero(np.isin(hashes, clashes))
    if isinstance(ids, pa.ChunkedArray):
        values = pd.Series(ids.take(pa.array(rows)).to_pylist(), dtype=object)
    else:
        values = pd.Series(ids[rows], dtype=object)
    duplicated = np.zeros(len(ids), dtype=bool)
    duplicated[rows] = values.duplicated(keep=False).to_numpy()
    return duplicated if duplicated.any() else None


def _distinct(ids: UnitIds, mask: np.ndarray) -> int:
    """How many distinct ids the rows under `mask` hold."""
    values = take(ids, mask)
    return len(set(values.to_pylist() if isinstance(values, pa.ChunkedArray) else values))

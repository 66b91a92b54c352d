"""Which customer placed each order: customer ids matched in their own type, not as text.

Two ids are the same customer when their text (`str(id)`) is the same — the rule segmentation
has always used, so that a customers file and an orders file read with different types still
match. Turning ten million ids into Python strings to apply it is most of the cost, though,
and it is needed only when the two columns differ in type:

- both integer columns (any width, nullable or not, no missing value): compared as int64,
  because two integers are equal exactly when their decimal text is;
- both text columns (pandas' string dtype, or object columns holding only `str`): compared
  as Arrow strings, in Arrow's hash tables over contiguous UTF-8 buffers;
- anything else (floats, booleans, dates, mixed objects, int against text): compared as the
  text `Series.astype(str)` writes, as before.

A key column is an int64 numpy array, an Arrow string array, or (text Arrow cannot hold, such
as lone surrogates) an object array of `str`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Keys: TypeAlias = "np.ndarray | pa.Array"

_INT64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True)
class IdKeys:
    """The customers' and the orders' ids in one comparable form; `complete` when the type
    check proved that neither column has a missing id (so nobody needs to scan for one)."""

    customers: Keys
    orders: Keys
    complete: bool


def id_keys(customer_ids: pd.Series, order_ids: pd.Series) -> IdKeys:
    """Both id columns in one comparable form, equal exactly where their text is equal."""
    integers = _integers(customer_ids), _integers(order_ids)
    if integers[0] is not None and integers[1] is not None:
        return IdKeys(integers[0], integers[1], complete=True)
    if _is_text(customer_ids) and _is_text(order_ids):
        return IdKeys(*_text_keys(customer_ids, order_ids), complete=True)
    return IdKeys(*_text_keys(customer_ids.astype(str), order_ids.astype(str)), complete=False)


@dataclass(frozen=True)
class Located:
    """Which customers repeat an id seen higher up (`duplicated`), and for each order the row
    of its customer, -1 when unknown (`rows`; None when an id repeats: no row is then *the*
    customer's)."""

    duplicated: np.ndarray
    rows: np.ndarray | None


def locate(keys: IdKeys) -> Located:
    """One hash table over the customers' ids answers both: repeats and each order's row."""
    n = len(keys.customers)
    if isinstance(keys.customers, pa.Array):
        # Customers and orders looked up in one pass (a chunked array: nothing is copied).
        found = pc.index_in(pa.chunked_array([keys.customers, keys.orders]), value_set=keys.customers)
        positions = found.fill_null(-1).to_numpy().astype(np.intp, copy=False)
        duplicated = positions[:n] != np.arange(n)
        return Located(duplicated, None if duplicated.any() else positions[n:])
    # dtype pinned: pandas would otherwise turn an object array of str into Arrow strings.
    index = pd.Index(keys.customers, dtype=keys.customers.dtype)
    duplicated = index.duplicated()  # builds the index's hash table, which get_indexer reuses
    if duplicated.any():
        return Located(duplicated, None)
    return Located(duplicated, index.get_indexer(pd.Index(keys.orders, dtype=keys.orders.dtype)))


def describe(keys: Keys, mask: np.ndarray) -> tuple[int, str]:
    """How many distinct ids `mask` picks, and the first one as text."""
    if isinstance(keys, pa.Array):
        picked = keys.filter(pa.array(mask))
        return pc.count_distinct(picked).as_py(), str(picked[0].as_py())
    picked = keys[mask]
    return len(pd.unique(picked)), str(picked[0])


def _integers(ids: pd.Series) -> np.ndarray | None:
    """The ids as int64, or None unless every one is an integer that fits."""
    dtype = ids.dtype
    if not pd.api.types.is_integer_dtype(dtype) or ids.hasnans:
        return None
    values = ids.to_numpy(dtype=getattr(dtype, "numpy_dtype", dtype))
    if values.dtype == np.uint64 and len(values) and values.max() > _INT64_MAX:
        return None
    return values.astype(np.int64, copy=False)


def _is_text(ids: pd.Series) -> bool:
    """True for a column of `str` values only (no missing value, no other type)."""
    if isinstance(ids.dtype, pd.StringDtype):
        return not ids.hasnans
    return ids.dtype == object and pd.api.types.infer_dtype(ids, skipna=False) == "string"


def _text_keys(customer_ids: pd.Series, order_ids: pd.Series) -> tuple[Keys, Keys]:
    """Both columns as Arrow strings, or as object arrays when Arrow cannot hold the text."""
    try:
        return _arrow(customer_ids), _arrow(order_ids)
    except (pa.ArrowException, UnicodeError):
        return customer_ids.to_numpy(dtype=object), order_ids.to_numpy(dtype=object)


def _arrow(ids: pd.Series) -> pa.Array:
    array = ids.array
    text = pa.array(array) if hasattr(array, "__arrow_array__") else pa.array(ids.to_numpy(), type=pa.large_string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return text.cast(pa.large_string())

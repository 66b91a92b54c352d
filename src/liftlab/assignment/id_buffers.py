"""Unit ids as chunks of UTF-16 code units in one buffer plus offsets, ready for vectorised hashing.

Hashing millions of ids costs little; turning them into code units one Python string at a time
costs most. So ids are read the way they are stored:

- Arrow strings (pandas' Arrow-backed `str` columns, `pyarrow` arrays) already are one
  contiguous UTF-8 buffer with offsets: read in place, no Python object per id. An ASCII chunk's
  bytes are its code units; otherwise they are decoded with numpy (`utf16`).
- Python strings (lists, object arrays and columns) are joined and encoded once per chunk —
  ASCII as bytes, anything else as UTF-32 code points, lone surrogates kept (`surrogatepass`).

Either way a chunk is a few tens of thousands of rows, so its arrays stay in cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from liftlab.assignment.utf16 import utf16_from_code_points, utf16_from_utf8
from liftlab.errors import DataError

CHUNK_ROWS = 1 << 16


@dataclass(frozen=True)
class UnitChunk:
    """Rows `start`… of a batch: their code units end to end, and where each row's begin."""

    start: int
    #: uint8 when the chunk is ASCII (a byte is a code unit), else uint16.
    units: np.ndarray
    #: int64, one more than the rows: row i is units[offsets[i]:offsets[i + 1]].
    offsets: np.ndarray

    @property
    def rows(self) -> int:
        return self.offsets.size - 1


IdBatch = Iterable[str] | np.ndarray | pd.Series | pd.Index | pa.Array | pa.ChunkedArray


def code_unit_chunks(
    unit_ids: IdBatch, chunk_rows: int = CHUNK_ROWS
) -> tuple[int, Iterator[UnitChunk]]:
    """How many ids there are, and their code units chunk by chunk, in order.

    DataError when an id is not a string (checked before the first chunk for Arrow input,
    chunk by chunk for Python strings).
    """
    arrow = _arrow_strings(unit_ids)
    if arrow is not None:
        return len(arrow), _arrow_chunks(arrow, chunk_rows)
    values = _python_strings(unit_ids)
    return len(values), _python_chunks(values, chunk_rows)


def _arrow_strings(unit_ids: Any) -> pa.ChunkedArray | None:
    """The ids as an Arrow string array when they are stored as one, else None."""
    if isinstance(unit_ids, (pd.Series | pd.Index)):
        unit_ids = unit_ids.array
    if isinstance(unit_ids, pd.arrays.ArrowExtensionArray):
        unit_ids = pa.array(unit_ids)  # zero-copy: the column's own Arrow data
    if isinstance(unit_ids, pa.Array):
        unit_ids = pa.chunked_array([unit_ids])
    if not isinstance(unit_ids, pa.ChunkedArray):
        return None
    kind = unit_ids.type
    if pa.types.is_dictionary(kind) and _is_text(kind.value_type):
        kind = kind.value_type
        unit_ids = unit_ids.cast(kind)
    if pa.types.is_string_view(kind):
        unit_ids = unit_ids.cast(pa.large_string())
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise DataError(f"unit ids must be strings, got Arrow type {kind}", field="unit_id")
    if unit_ids.null_count:
        raise DataError(
            f"unit ids must be strings, got {unit_ids.null_count} null(s)", field="unit_id"
        )
    return unit_ids


def arrow_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """An Arrow string array's UTF-8 bytes (uint8) and its n + 1 offsets into them, no copy."""
    _, offset_buffer, data_buffer = array.buffers()
    wide = pa.types.is_large_string(array.type)
    offsets = np.frombuffer(offset_buffer, dtype=np.int64 if wide else np.int32)
    offsets = offsets[array.offset : array.offset + len(array) + 1]
    if data_buffer is None:
        return np.zeros(0, dtype=np.uint8), offsets
    return np.frombuffer(data_buffer, dtype=np.uint8), offsets


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _arrow_chunks(ids: pa.ChunkedArray, chunk_rows: int) -> Iterator[UnitChunk]:
    start = 0
    for array in ids.chunks:
        data, offsets = arrow_buffers(array)
        for first in range(0, len(array), chunk_rows):
            bounds = offsets[first : first + chunk_rows + 1].astype(np.int64)
            chunk = data[bounds[0] : bounds[-1]]
            bounds -= bounds[0]
            if chunk.size and chunk.max() >= 0x80:
                units, bounds = utf16_from_utf8(chunk, bounds)
            else:
                units = chunk
            yield UnitChunk(start + first, units, bounds)
        start += len(array)


def _python_strings(unit_ids: Any) -> list[Any]:
    if isinstance(unit_ids, (pd.Series | pd.Index | np.ndarray)):
        return unit_ids.tolist()
    return list(unit_ids)


def _python_chunks(values: list[Any], chunk_rows: int) -> Iterator[UnitChunk]:
    for first in range(0, len(values), chunk_rows):
        part = values[first : first + chunk_rows]
        try:
            joined = "".join(part)
        except TypeError:
            bad = next(v for v in part if not isinstance(v, str))
            raise DataError(
                f"unit ids must be strings, got {type(bad).__name__} {bad!r}", field="unit_id"
            ) from None
        offsets = np.zeros(len(part) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, part), dtype=np.int64, count=len(part)), out=offsets[1:])
        if joined.isascii():
            units = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
        else:
            points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            units, offsets = utf16_from_code_points(points, offsets)
        yield UnitChunk(first, units, offsets)

"""Deterministic bucketing, GrowthBook-compatible: the same customer, the same bucket, anywhere.

`fnv1a32` is 32-bit FNV-1a (offset basis 2166136261, prime 16777619) over a string's UTF-16
code units, as JavaScript's `charCodeAt` loop sees them: an ASCII id hashes its bytes, a BMP
character (é, 中) its code point, and an astral one (😀) its two surrogates. Then

    version 2:  bucket = fnv1a32(str(fnv1a32(salt + unit_id))) % 10000 / 10000
    version 1:  bucket = fnv1a32(unit_id + salt) % 1000 / 1000

exactly as GrowthBook's SDKs compute `hash(seed, value, version)` (its JS SDK's `hash()`,
and the Python SDK's `gbhash` from growthbook 4). `bucket_many` is the vectorised form for
batches of millions: the same arithmetic on uint32 arrays, chunked to stay in cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from liftlab.errors import DataError

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
HASH_VERSIONS = (1, 2)
_MASK = 0xFFFFFFFF
_CHUNK = 1 << 15  # rows per chunk: a 32k × width uint32 block stays in L2 cache


def code_units(text: str) -> Sequence[int]:
    """The UTF-16 code units JavaScript sees in `text` (lone surrogates pass through)."""
    if text.isascii():
        return text.encode("ascii")
    return memoryview(text.encode("utf-16-le", "surrogatepass")).cast("H")


def fnv1a32(text: str, state: int = FNV_OFFSET) -> int:
    """32-bit FNV-1a of `text`'s UTF-16 code units, continuing from `state`."""
    for unit in code_units(text):
        state = ((state ^ unit) * FNV_PRIME) & _MASK
    return state


def bucket(salt: str, unit_id: str, version: int = 2) -> float:
    """The unit's position in [0, 1) for `salt`: GrowthBook's `hash(salt, unit_id, version)`."""
    if version == 2:
        return fnv1a32(str(fnv1a32(salt + unit_id))) % 10000 / 10000
    if version == 1:
        return fnv1a32(unit_id + salt) % 1000 / 1000
    raise ValueError(f"hash version must be 1 or 2, got {version!r}")


# ---------------------------------------------------------------------------------------------
# Vectorised batch path


def _as_strings(unit_ids: Iterable[str] | np.ndarray | pd.Series) -> list[str]:
    if isinstance(unit_ids, (pd.Series | pd.Index, np.ndarray)):
        values = unit_ids.tolist()
    else:
        values = list(unit_ids)
    return values


def _unit_matrix(ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-16 code units of each id as rows of a zero-padded uint32 matrix, plus lengths.

    Built from one joined buffer (one encode call for the whole batch), not per id.
    """
    n = len(ids)
    if n == 0:
        return np.zeros((0, 0), dtype=np.uint32), np.zeros(0, dtype=np.int64)
    try:
        joined = "".join(ids)
    except TypeError:
        bad = next(i for i in ids if not isinstance(i, str))
        raise DataError(
            f"unit ids must be strings, got {type(bad).__name__} {bad!r}", field="unit_id"
        ) from None
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=n)
    if joined.isascii():
        flat = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).astype(np.uint32)
    else:
        flat16 = np.frombuffer(joined.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)
        if flat16.size != lengths.sum():
            # Astral characters take two code units: count them per id.
            lengths = np.fromiter(
                (len(s.encode("utf-16-le", "surrogatepass")) // 2 for s in ids), np.int64, n
            )
        flat = flat16.astype(np.uint32)
    width = int(lengths.max()) if n else 0
    matrix = np.zeros((n, width), dtype=np.uint32)
    matrix[np.arange(width) < lengths[:, None]] = flat
    return matrix, lengths


def _fnv_rows(matrix: np.ndarray, lengths: np.ndarray, state: np.ndarray) -> None:
    """FNV-1a over each row's first `lengths[i]` code units, updating `state` in place.

    Rows are visited in descending length order so the live rows of column j are a prefix:
    plain slices, no masks, no per-step allocation.
    """
    if matrix.shape[1] == 0:
        return
    order = np.argsort(-lengths, kind="stable")
    ordered = matrix[order]
    h = state[order]
    # live[j]: how many rows are longer than j code units.
    live = np.searchsorted(-lengths[order], -np.arange(1, matrix.shape[1] + 1), side="right")
    prime = np.uint32(FNV_PRIME)
    for column in range(matrix.shape[1]):
        k = int(live[column])
        if k == 0:
            break
        head = h[:k]
        np.bitwise_xor(head, ordered[:k, column], out=head)
        np.multiply(head, prime, out=head)
    state[order] = h


def _fnv_constant(state: np.ndarray, text: str) -> None:
    """Continue every state with the same string (a salt), in place."""
    prime = np.uint32(FNV_PRIME)
    for unit in code_units(text):
        np.bitwise_xor(state, np.uint32(unit), out=state)
        np.multiply(state, prime, out=state)


_POW10 = np.array([10**k for k in range(11)], dtype=np.uint64)


def _fnv_decimal(values: np.ndarray) -> np.ndarray:
    """fnv1a32(str(v)) for each uint32 `v`: hash its decimal digits, most significant first.

    Each number is scaled to ten digits (w = v·10^(10-d)), so digit j from the left is
    (w // 10^(9-j)) % 10 for every row at once — division by a scalar, which numpy turns into
    a multiply. Rows with fewer than ten digits stop updating after their last digit.
    """
    n = values.size
    v = values.astype(np.uint64)
    digits = np.ones(n, dtype=np.int64)
    for k in range(1, 10):
        digits += v >= _POW10[k]
    scaled = v * _POW10[10 - digits]
    state = np.full(n, FNV_OFFSET, dtype=np.uint32)
    prime = np.uint32(FNV_PRIME)
    wide = np.empty(n, dtype=np.uint64)
    digit = np.empty(n, dtype=np.uint32)
    updated = np.empty(n, dtype=np.uint32)
    all_ten = bool((digits == 10).all())
    for j in range(10):
        np.floor_divide(scaled, _POW10[9 - j], out=wide)
        np.remainder(wide, np.uint64(10), out=wide)
        wide += np.uint64(48)  # the digit's character code
        digit[:] = wide
        if j == 0 or all_ten:  # every number has a first digit
            np.bitwise_xor(state, digit, out=state)
            np.multiply(state, prime, out=state)
        else:
            np.bitwise_xor(state, digit, out=updated)
            np.multiply(updated, prime, out=updated)
            np.copyto(state, updated, where=digits > j)
    return state


def bucket_many(
    salt: str, unit_ids: Iterable[str] | np.ndarray | pd.Series, version: int = 2
) -> np.ndarray:
    """`bucket(salt, id, version)` for every id, as a float64 array, vectorised.

    Gives exactly the scalar result for every id, ASCII or not. Ids must be strings.
    """
    if version not in HASH_VERSIONS:
        raise ValueError(f"hash version must be 1 or 2, got {version!r}")
    ids = _as_strings(unit_ids)
    out = np.empty(len(ids), dtype=np.float64)
    prefix = np.uint32(fnv1a32(salt)) if version == 2 else np.uint32(FNV_OFFSET)
    with np.errstate(over="ignore"):
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            matrix, lengths = _unit_matrix(chunk)
            state = np.full(len(chunk), prefix, dtype=np.uint32)
            _fnv_rows(matrix, lengths, state)
            if version == 2:
                state = _fnv_decimal(state)
                out[start:start + len(chunk)] = (state % 10000) / 10000
            else:
                _fnv_constant(state, salt)
                out[start:start + len(chunk)] = (state % 1000) / 1000
    return out

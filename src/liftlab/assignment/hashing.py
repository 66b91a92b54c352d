"""Deterministic bucketing, GrowthBook-compatible: the same customer, the same bucket, anywhere.

`fnv1a32` is 32-bit FNV-1a (offset basis 2166136261, prime 16777619) over a string's UTF-16
code units, as JavaScript's `charCodeAt` loop sees them: an ASCII id hashes its bytes, a BMP
character (é, 中) its code point, and an astral one (😀) its two surrogates. Then

    version 2:  bucket = fnv1a32(str(fnv1a32(salt + unit_id))) % 10000 / 10000
    version 1:  bucket = fnv1a32(unit_id + salt) % 1000 / 1000

exactly as GrowthBook's SDKs compute `hash(seed, value, version)` (its JS SDK's `hash()`,
and the Python SDK's `gbhash` from growthbook 4). `bucket_many` is the vectorised form for
batches of millions: the same arithmetic on uint32 arrays, one array operation per code unit
position over a chunk of ids read straight from their buffers (`id_buffers`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from liftlab.assignment.id_buffers import IdBatch, UnitChunk, code_unit_chunks

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
HASH_VERSIONS = (1, 2)
_MASK = 0xFFFFFFFF


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
# One id, several salts: the real-time path

_LANE = 64  # bits per state in `Seeds`: a 32-bit state times the 25-bit prime fits


@dataclass(frozen=True)
class Seeds:
    """Several (salt, version) hashes of one id in a single pass over its code units.

    `Seeds.of(pairs).buckets(unit_id)` equals `tuple(bucket(s, unit_id, v) for s, v in pairs)`.
    Each hash's FNV state is a 64-bit lane of one Python int: XOR with the unit repeated in
    every lane and the multiply by the prime (< 2^25) never carry across lanes, so one
    big-integer step advances all of them. Salts are folded in once: a version 2 hash starts
    from fnv1a32(salt); a version 1 hash appends the salt's code units after the id.
    """

    pairs: tuple[tuple[str, int], ...]
    #: The lanes' starting states, and one mask keeping each lane's low 32 bits.
    start: int
    mask: int
    #: unit × (1 in every lane), precomputed for ASCII units.
    spread: tuple[int, ...]
    #: Per lane: its version and (version 1) the salt to append, as `suffix_step` gives it.
    tails: tuple[tuple[int, tuple[int, int, list[int]]], ...]

    @staticmethod
    @functools.lru_cache(maxsize=256)
    def of(pairs: tuple[tuple[str, int], ...]) -> Seeds:
        """The prepared form of `pairs` (cached: salts rarely change)."""
        start = ones = mask = 0
        tails = []
        for lane, (salt, version) in enumerate(pairs):
            if version not in HASH_VERSIONS:
                raise ValueError(f"hash version must be 1 or 2, got {version!r}")
            state = fnv1a32(salt) if version == 2 else FNV_OFFSET
            start |= state << (_LANE * lane)
            ones |= 1 << (_LANE * lane)
            mask |= _MASK << (_LANE * lane)
            tails.append((version, _scalar_suffix(salt) if version == 1 else (0, 0, [])))
        spread = tuple(unit * ones for unit in range(128))
        return Seeds(pairs, start, mask, spread, tuple(tails))

    def buckets(self, unit_id: str) -> tuple[float, ...]:
        """`bucket(salt, unit_id, version)` for each pair, in order."""
        state, mask, spread = self.start, self.mask, self.spread
        if unit_id.isascii():
            for unit in unit_id.encode("ascii"):
                state = (state ^ spread[unit]) * FNV_PRIME & mask
        else:
            ones = spread[1]
            for unit in code_units(unit_id):
                state = (state ^ unit * ones) * FNV_PRIME & mask
        # Below, states are masked once at the end: XOR with a unit only touches low bits and
        # a product's low 32 bits depend only on the factors' low 32 bits.
        whole, hundreds, ones = _decimal_lists()
        out = []
        for version, (bits, multiplier, table) in self.tails:
            lane = state & _MASK
            state >>= _LANE
            if version == 2:  # fnv1a32(str(lane)), as _fnv_decimal does it
                if lane < _SPLIT:
                    lane = whole[lane]
                else:
                    high, low = divmod(lane, _SPLIT)
                    low, last = divmod(low, 100)
                    d0, d1, d2 = hundreds[low]
                    d3, d4 = ones[last]
                    p = FNV_PRIME  # five FNV steps, unrolled: the hottest lines of assign_one
                    lane = (((((whole[high] ^ d0) * p ^ d1) * p ^ d2) * p ^ d3) * p ^ d4) * p
                    lane &= _MASK
                out.append(lane % 10000 / 10000)
            else:  # the salt appended, in one step
                lane = ((lane >> bits << bits) * multiplier + table[lane & ((1 << bits) - 1)])
                out.append((lane & _MASK) % 1000 / 1000)
        return tuple(out)


def _scalar_suffix(salt: str) -> tuple[int, int, list[int]]:
    bits, multiplier, table = suffix_step(salt)
    return bits, multiplier, table.tolist()


@functools.cache
def _decimal_lists() -> tuple[list[int], list[tuple[int, ...]], list[tuple[int, ...]]]:
    """For the scalar path: fnv1a32(str(x)) for x < 10^5, and the character codes of x's
    three (x < 1000) and two (x < 100) zero-padded digits."""
    return (
        _decimal_tables()[0].tolist(),
        [tuple(b"%03d" % x) for x in range(1000)],
        [tuple(b"%02d" % x) for x in range(100)],
    )


# ---------------------------------------------------------------------------------------------
# Vectorised batch path


def _fnv_rows(chunk: UnitChunk, state: np.ndarray) -> None:
    """FNV-1a over each row's code units, updating `state` (one uint32 per row) in place.

    Rows of one length (zero-padded codes, UUIDs) are a 2-D view of the buffer: transposed
    once, each code unit position is a contiguous row. Otherwise rows are visited longest
    first, so the rows still running at position j are a prefix: plain slices, no masks.
    """
    lengths = np.diff(chunk.offsets)
    if lengths.size == 0:
        return
    prime = np.uint32(FNV_PRIME)
    width = int(lengths[0])
    if (lengths == width).all():
        if width == 0:
            return
        first = int(chunk.offsets[0])
        block = chunk.units[first : first + lengths.size * width].reshape(-1, width)
        for column in np.ascontiguousarray(block.T):
            np.bitwise_xor(state, column, out=state)
            np.multiply(state, prime, out=state)
        return
    longest = int(lengths.max())
    # Radix sort on small keys; "stable" so equal lengths keep their order (any order works).
    key = (longest - lengths).astype(np.uint16 if longest < 1 << 16 else np.int64)
    order = np.argsort(key, kind="stable")
    ranked = lengths[order]
    live = np.searchsorted(-ranked, -np.arange(1, longest + 1), side="right")
    starts = chunk.offsets[:-1][order]
    h = state[order]
    units = np.empty(lengths.size, dtype=chunk.units.dtype)
    for position in range(longest):
        k = int(live[position])
        # Unit `position` of each row: gather from the buffer shifted by `position` (a view).
        np.take(chunk.units[position:], starts[:k], out=units[:k], mode="clip")
        np.bitwise_xor(h[:k], units[:k], out=h[:k])
        np.multiply(h[:k], prime, out=h[:k])
    state[order] = h


@functools.lru_cache(maxsize=256)
def suffix_step(text: str) -> tuple[int, int, np.ndarray]:
    """FNV-1a continued over a fixed `text`, as one step: (bits b, multiplier, table).

    A unit below 2^b only XORs the low b bits, so writing s = high·2^b + low, hashing `text`
    from s gives high·2^b·P^n + g(low) mod 2^32 (n units, P the prime): the high part is only
    multiplied, and g (table[low]) is FNV-1a over `text` from the state `low` alone. One
    multiply-add and a lookup in a 2^b table replace n steps.
    """
    units = list(code_units(text))
    bits = 8 if all(unit < 256 for unit in units) else 16
    table = np.arange(1 << bits, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for unit in units:
            table = (table ^ np.uint32(unit)) * np.uint32(FNV_PRIME)
    return bits, pow(FNV_PRIME, len(units), 1 << 32), table


def _fnv_constant(state: np.ndarray, text: str) -> None:
    """Continue every state with the same string (a salt), in place (see `suffix_step`)."""
    bits, multiplier, table = suffix_step(text)
    low = table.take(state & np.uint32((1 << bits) - 1))
    np.bitwise_and(state, np.uint32(_MASK ^ ((1 << bits) - 1)), out=state)
    np.multiply(state, np.uint32(multiplier), out=state)
    np.add(state, low, out=state)


_POW10 = np.array([10**k for k in range(11)], dtype=np.uint64)


def _fnv_decimal_by_digits(values: np.ndarray) -> np.ndarray:
    """fnv1a32(str(v)) for each uint32 `v`, one decimal digit at a time (builds the tables).

    Each number is scaled to ten digits (w = v·10^(10-d)), so digit j from the left is
    (w // 10^(9-j)) % 10 for every row at once. Rows with fewer than ten digits stop updating
    after their last digit.
    """
    n = values.size
    v = values.astype(np.uint64)
    digits = np.ones(n, dtype=np.int64)
    for k in range(1, 10):
        digits += v >= _POW10[k]
    scaled = v * _POW10[10 - digits]
    state = np.full(n, FNV_OFFSET, dtype=np.uint32)
    prime = np.uint32(FNV_PRIME)
    for j in range(10):
        digit = ((scaled // _POW10[9 - j]) % np.uint64(10) + np.uint64(48)).astype(np.uint32)
        updated = (state ^ digit) * prime
        np.copyto(state, updated, where=digits > j)
    return state


_SPLIT = 100_000  # a uint32 is at most 42949 × 10^5 + 99999: a high and a low part


@functools.cache
def _decimal_tables() -> tuple[np.ndarray, np.ndarray]:
    """fnv1a32(str(x)) for x < 10^5, and x's five zero-padded digit characters packed in a
    uint64 (byte k is the k-th digit from the left): 0.4 MB and 0.8 MB, built once."""
    x = np.arange(_SPLIT, dtype=np.uint32)
    with np.errstate(over="ignore"):
        whole = _fnv_decimal_by_digits(x)
    packed = np.zeros(_SPLIT, dtype=np.uint64)
    for k in range(5):
        digit = (x // 10 ** (4 - k)) % 10 + ord("0")
        packed |= digit.astype(np.uint64) << np.uint64(8 * k)
    return whole, packed


def _fnv_decimal(values: np.ndarray) -> np.ndarray:
    """fnv1a32(str(v)) for each uint32 `v`, exactly, without a division per digit.

    v = high·10^5 + low. For high > 0, str(v) is str(high) followed by low's five digits with
    leading zeros: the state after str(high) comes from a table, then five FNV steps with
    low's digits from a second table. For high = 0 (v < 10^5), str(v) = str(low): one lookup.
    """
    whole, packed = _decimal_tables()
    high = values // np.uint32(_SPLIT)
    low = values - high * np.uint32(_SPLIT)
    state = whole.take(high)
    digits = packed.take(low).view(np.uint8).reshape(-1, 8)
    prime = np.uint32(FNV_PRIME)
    for k in range(5):
        np.bitwise_xor(state, digits[:, k], out=state)
        np.multiply(state, prime, out=state)
    short = np.flatnonzero(high == 0)
    if short.size:
        state[short] = whole.take(low[short])
    return state


def bucket_many(salt: str, unit_ids: IdBatch, version: int = 2) -> np.ndarray:
    """`bucket(salt, id, version)` for every id, as a float64 array, vectorised.

    Gives exactly the scalar result for every id, ASCII or not. Ids must be strings: a list,
    numpy or pandas column of Python strings, or Arrow strings (pandas' Arrow-backed `str`
    columns, `pyarrow` arrays), which are read from their buffers without a copy per id.
    """
    if version not in HASH_VERSIONS:
        raise ValueError(f"hash version must be 1 or 2, got {version!r}")
    return _buckets(salt, *code_unit_chunks(unit_ids), version)


def bucket_many_v1_from_hashes(salt: str, hashes: np.ndarray) -> np.ndarray:
    """`bucket(salt, id, 1)` for every id from its `fnv1a32(id)`: version 1 hashes id + salt,
    so it continues the id's own hash with the salt's code units."""
    state = hashes.astype(np.uint32)  # a copy: the caller's hashes stay as they are
    with np.errstate(over="ignore"):
        _fnv_constant(state, salt)
    return (state % np.uint32(1000)) / 1000


def _buckets(salt: str, n: int, chunks: Iterable[UnitChunk], version: int) -> np.ndarray:
    """`bucket_many` over ids already cut into chunks of code units."""
    out = np.empty(n, dtype=np.float64)
    prefix = np.uint32(fnv1a32(salt)) if version == 2 else np.uint32(FNV_OFFSET)
    with np.errstate(over="ignore"):
        for chunk in chunks:
            state = np.full(chunk.rows, prefix, dtype=np.uint32)
            _fnv_rows(chunk, state)
            rows = out[chunk.start : chunk.start + chunk.rows]
            if version == 2:
                np.divide(_fnv_decimal(state) % np.uint32(10000), 10000, out=rows)
            else:
                _fnv_constant(state, salt)
                np.divide(state % np.uint32(1000), 1000, out=rows)
    return out


def fnv1a32_many(unit_ids: IdBatch) -> np.ndarray:
    """`fnv1a32(id)` for every id (uint32): equal ids, equal values, e.g. to find duplicates by
    sorting numbers instead of hashing strings into a table."""
    n, chunks = code_unit_chunks(unit_ids)
    out = np.empty(n, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for chunk in chunks:
            state = out[chunk.start : chunk.start + chunk.rows]
            state.fill(FNV_OFFSET)
            _fnv_rows(chunk, state)
    return out

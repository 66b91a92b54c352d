"""bucket() is GrowthBook's hash, for every id: ASCII, accents, CJK, emoji, lone surrogates."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from liftlab import DataError
from liftlab.assignment.hashing import bucket, bucket_many, fnv1a32

growthbook = pytest.importorskip("growthbook.core")


def reference_fnv(text: str) -> int:
    """FNV-1a over UTF-16 code units, written from the spec without `encode`: astral code
    points are split into surrogates by arithmetic, as JavaScript stores them."""
    h = 0x811C9DC5
    for char in text:
        point = ord(char)
        if point > 0xFFFF:
            point -= 0x10000
            units = [0xD800 + (point >> 10), 0xDC00 + (point & 0x3FF)]
        else:
            units = [point]
        for unit in units:
            h ^= unit
            h = (h * 0x01000193) % 2**32
    return h


def reference_bucket(salt: str, unit_id: str, version: int) -> float:
    if version == 2:
        return reference_fnv(str(reference_fnv(salt + unit_id))) % 10000 / 10000
    return reference_fnv(unit_id + salt) % 1000 / 1000


# Vectors derived by hand from the formula (and confirmed by GrowthBook's SDKs):
# v1 "a" with empty salt: fnv1a32("a") = 0xE40C292C = 3826002220 → 3826002220 % 1000 = 220.
VECTORS = [
    ("", "a", 1, 0.22),
    ("", "b", 1, 0.077),
    ("b", "a", 1, 0.946),
    ("ef", "d", 1, 0.652),
    ("", "123", 1, 0.011),
    ("", "a", 2, 0.0216),
    ("b", "a", 2, 0.665),
    ("asdf", "8952klfjas09ujkasdf", 2, 0.5491),
]

ALPHABET = "abcXYZ019-_@. /éüßñ中文字한글😀🎉👍🏽\u0301\u200d\ud800\udfff\x00"
ids_strategy = st.text(alphabet=st.characters(codec=None), max_size=24)


def random_ids(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 16))) for _ in range(n)]


def test_fnv_known_value() -> None:
    assert fnv1a32("a") == 0xE40C292C == reference_fnv("a")
    assert fnv1a32("") == 2166136261


@pytest.mark.parametrize(("salt", "unit_id", "version", "expected"), VECTORS)
def test_vectors(salt: str, unit_id: str, version: int, expected: float) -> None:
    assert bucket(salt, unit_id, version) == expected
    assert bucket_many(salt, [unit_id], version)[0] == expected


def test_non_ascii_uses_utf16_code_units() -> None:
    # 'é' is one code unit (0xE9), not its two UTF-8 bytes; '😀' is two surrogates.
    assert fnv1a32("é") == ((0x811C9DC5 ^ 0xE9) * 0x01000193) % 2**32
    assert fnv1a32("😀") == fnv1a32("\ud83d\ude00")
    assert fnv1a32("😀") != fnv1a32("\U0001f600".encode("utf-8").decode("latin-1"))


@pytest.mark.parametrize("version", [1, 2])
def test_scalar_and_batch_match_growthbook_sdk_and_reference(version: int) -> None:
    ids = random_ids(5_000, seed=version)
    for salt in ("winback-2026q4", "sält-😀", ""):
        sdk = np.array([growthbook.gbhash(salt, i, version) for i in ids])
        ours = np.array([bucket(salt, i, version) for i in ids])
        reference = np.array([reference_bucket(salt, i, version) for i in ids])
        np.testing.assert_array_equal(ours, sdk)
        np.testing.assert_array_equal(ours, reference)
        np.testing.assert_array_equal(bucket_many(salt, ids, version), sdk)


def test_batch_equals_scalar_on_100k_ids_with_emoji_and_cjk() -> None:
    ids = random_ids(100_000, seed=7) + [f"C{i:07d}" for i in range(1_000)] + ["x" * 300]
    # Lone surrogates cannot be UTF-8 (Arrow), so pandas 3 needs an object column for them;
    # the surrogate-free ids also go through an Arrow-backed column.
    valid = [i for i in ids if not any("\ud800" <= c <= "\udfff" for c in i)]
    for version in (1, 2):
        batch = bucket_many("exp", pd.Series(ids, dtype=object), version)
        scalar = np.array([bucket("exp", i, version) for i in ids])
        np.testing.assert_array_equal(batch, scalar)
        arrow = bucket_many("exp", pd.Series(valid, dtype="str"), version)
        np.testing.assert_array_equal(arrow, [bucket("exp", i, version) for i in valid])


@settings(max_examples=200, deadline=None)
@given(salt=ids_strategy, unit_ids=st.lists(ids_strategy, min_size=1, max_size=30))
def test_property_batch_equals_scalar(salt: str, unit_ids: list[str]) -> None:
    for version in (1, 2):
        expected = [bucket(salt, i, version) for i in unit_ids]
        assert bucket_many(salt, unit_ids, version).tolist() == expected
        assert expected == [reference_bucket(salt, i, version) for i in unit_ids]


def test_uniform_over_100_buckets() -> None:
    ids = [f"customer-{i}" for i in range(1_000_000)]
    positions = bucket_many("uniformity", ids)
    counts = np.bincount((positions * 100).astype(int), minlength=100)
    assert counts.size == 100
    assert stats.chisquare(counts).pvalue > 0.001
    assert positions.min() >= 0 and positions.max() < 1


def test_two_salts_are_independent() -> None:
    ids = [f"u{i}" for i in range(200_000)]
    a = (bucket_many("salt-a", ids) * 10).astype(int)
    b = (bucket_many("salt-b", ids) * 10).astype(int)
    table = np.zeros((10, 10))
    np.add.at(table, (a, b), 1)
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_empty_batch_and_bad_input() -> None:
    assert bucket_many("s", []).shape == (0,)
    with pytest.raises(DataError, match="must be strings"):
        bucket_many("s", ["a", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="version"):
        bucket("s", "a", 3)

"""bucket_many on every input form (Arrow-backed, object, list, pyarrow, chunked, sliced),
equal to the scalar bucket() for any text; the real-time Seeds and the decimal tables too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liftlab import DataError
from liftlab.assignment import hashing
from liftlab.assignment.hashing import (
    Seeds,
    bucket,
    bucket_many,
    bucket_many_v1_from_hashes,
    fnv1a32,
    fnv1a32_many,
)
from liftlab.assignment.id_buffers import code_unit_chunks
from liftlab.assignment.utf16 import utf16_from_utf8

# st.text() leaves out surrogates (Arrow holds UTF-8 only) but has astral characters.
arrow_text = st.text(max_size=20)
any_text = st.text(alphabet=st.characters(codec=None), max_size=20)  # lone surrogates too
mixed_batch = st.lists(
    st.one_of(arrow_text, st.sampled_from(["", "a", "cust-000000001", "é", "中", "😀", "👍🏽"])),
    max_size=40,
)


def scalar(salt: str, ids: list[str], version: int) -> list[float]:
    return [bucket(salt, i, version) for i in ids]


@settings(max_examples=150, deadline=None)
@given(salt=any_text, ids=mixed_batch, cut=st.integers(0, 40), rows=st.integers(1, 7))
def test_every_input_form_equals_scalar(salt: str, ids: list[str], cut: int, rows: int) -> None:
    cut = min(cut, len(ids))
    whole = pa.array(ids, type=pa.large_string())
    forms = {
        "list": ids,
        "object column": pd.Series(ids, dtype=object),
        "object array": np.array(ids, dtype=object),
        "Arrow-backed str column": pd.Series(ids, dtype="str"),
        "string[pyarrow] column": pd.Series(ids, dtype="string[pyarrow]"),
        "pyarrow string": pa.array(ids, type=pa.string()),
        "pyarrow string_view": pa.array(ids, type=pa.string_view()),
        "pyarrow dictionary": pa.array(ids, type=pa.large_string()).dictionary_encode(),
        "chunked": pa.chunked_array([whole[:cut], whole[cut:]], type=pa.large_string()),
        "sliced": pa.array(["pad"] + ids + ["pad"], type=pa.large_string())[1 : len(ids) + 1],
    }
    for version in (1, 2):
        expected = scalar(salt, ids, version)
        for name, form in forms.items():
            assert bucket_many(salt, form, version).tolist() == expected, name
        if version == 1:  # version 1 continues the id's own hash
            assert bucket_many_v1_from_hashes(salt, fnv1a32_many(whole)).tolist() == expected
        # Chunk boundaries anywhere: a few rows per chunk.
        for form in (ids, whole):
            got = hashing._buckets(salt, *code_unit_chunks(form, rows), version)
            assert got.tolist() == expected


@settings(max_examples=150, deadline=None)
@given(salt=any_text, ids=st.lists(any_text, max_size=30), rows=st.integers(1, 5))
def test_python_strings_with_lone_surrogates_equal_scalar(
    salt: str, ids: list[str], rows: int
) -> None:
    for version in (1, 2):
        expected = scalar(salt, ids, version)
        assert bucket_many(salt, ids, version).tolist() == expected
        got = hashing._buckets(salt, *code_unit_chunks(ids, rows), version)
        assert got.tolist() == expected


def test_long_batches_of_one_length_and_of_many_lengths() -> None:
    rng = np.random.default_rng(3)
    uuids = [f"{x:032x}"[:8] + "-" + f"{x:032x}"[8:12] + "-9abc-def0-123456789abc"
             for x in rng.integers(0, 2**62, 70_000)]
    mixed = [f"customer-{x}" for x in rng.integers(0, 10**9, 70_000)] + ["é中😀" * 7, ""]
    for ids in (uuids, mixed):
        for version in (1, 2):
            expected = np.array(scalar("exp", ids, version))
            arrow = pd.Series(ids, dtype="str")
            np.testing.assert_array_equal(bucket_many("exp", arrow, version), expected)
            np.testing.assert_array_equal(bucket_many("exp", ids, version), expected)


def test_utf16_units_from_utf8_bytes() -> None:
    texts = ["", "a", "é", "中", "😀", "a😀é中", "👍🏽x", "\U0010ffff", "\u07ff\u0800\uffff"]
    array = pa.array(texts, type=pa.large_string())
    _, offsets, data = array.buffers()
    units, unit_offsets = utf16_from_utf8(
        np.frombuffer(data, np.uint8), np.frombuffer(offsets, np.int64)
    )
    for i, text in enumerate(texts):
        expected = list(memoryview(text.encode("utf-16-le")).cast("H"))
        assert units[unit_offsets[i] : unit_offsets[i + 1]].tolist() == expected


@pytest.mark.parametrize(
    "value", [0, 1, 9, 10, 99, 12345, 99_999, 100_000, 100_001, 999_999_999, 10**9, 2**32 - 1]
)
def test_decimal_step_at_digit_boundaries(value: int) -> None:
    with np.errstate(over="ignore"):
        got = hashing._fnv_decimal(np.array([value], dtype=np.uint32))
    assert int(got[0]) == fnv1a32(str(value))


def test_decimal_step_on_many_values() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate(
        [rng.integers(0, 2**32, 20_000), rng.integers(0, 200_000, 2_000)]
    ).astype(np.uint32)
    with np.errstate(over="ignore"):
        got = hashing._fnv_decimal(values)
    assert got.tolist() == [fnv1a32(str(int(v))) for v in values]


def ids_with_small_first_hash(salt: str, count: int) -> list[str]:
    """Ids whose fnv1a32(salt + id) is below 10^5: the decimal step's one-lookup branch."""
    candidates = [f"u{i}" for i in range(600_000)]
    state = np.full(len(candidates), fnv1a32(salt), dtype=np.uint32)
    with np.errstate(over="ignore"):
        for chunk in code_unit_chunks(candidates)[1]:
            hashing._fnv_rows(chunk, state[chunk.start : chunk.start + chunk.rows])
    found = [candidates[i] for i in np.flatnonzero(state < 100_000)[:count]]
    assert found, "no candidate id with a small first hash"
    return found


def test_small_first_hash_takes_the_short_decimal_path() -> None:
    ids = ids_with_small_first_hash("exp", 5)
    assert all(fnv1a32("exp" + i) < 100_000 for i in ids)
    expected = scalar("exp", ids, 2)
    assert bucket_many("exp", ids, 2).tolist() == expected
    assert [Seeds.of((("exp", 2),)).buckets(i)[0] for i in ids] == expected


@settings(max_examples=300, deadline=None)
@given(
    unit_id=any_text,
    pairs=st.lists(st.tuples(any_text, st.sampled_from([1, 2])), min_size=1, max_size=4),
)
def test_seeds_equal_scalar_buckets(unit_id: str, pairs: list[tuple[str, int]]) -> None:
    seeds = Seeds.of(tuple(pairs))
    assert seeds.buckets(unit_id) == tuple(bucket(s, unit_id, v) for s, v in pairs)


def test_non_strings_and_nulls_are_refused() -> None:
    with pytest.raises(DataError, match="must be strings"):
        bucket_many("s", pd.Series(["a", None], dtype="str"))
    with pytest.raises(DataError, match="must be strings"):
        bucket_many("s", pa.array([1, 2]))
    with pytest.raises(DataError, match="must be strings"):
        bucket_many("s", pd.Series(["a", 3], dtype=object))
    with pytest.raises(ValueError, match="version"):
        bucket_many("s", ["a"], 3)
    with pytest.raises(ValueError, match="version"):
        Seeds.of((("s", 0),))


def test_fnv1a32_many_equals_fnv1a32_whatever_the_form() -> None:
    ids = ["a", "b", "a", "é", "😀", "", "é", "cust-000000001"]
    hashes = fnv1a32_many(ids)
    assert hashes.dtype == np.uint32
    assert hashes.tolist() == [fnv1a32(i) for i in ids]
    np.testing.assert_array_equal(hashes, fnv1a32_many(pd.Series(ids, dtype="str")))

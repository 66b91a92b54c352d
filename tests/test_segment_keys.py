"""Segmentation keyed by the ids' own type: integer ids and the same ids as text give the same
segments and scores; ids of different types still match by their text, as they always did."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liftlab import DataError
from liftlab.lifecycle.keys import describe, id_keys, locate
from liftlab.lifecycle.rfm import segment_customers

AS_OF = pd.Timestamp("2026-10-01")
COLUMNS = ["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "segment", "stage"]


def _segment(customers: pd.DataFrame, orders: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = segment_customers(customers, orders, as_of=AS_OF)
    return result, [str(w.message) for w in caught]


shops = st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(-2**62, 2**62), min_size=n, max_size=n, unique=True),
    st.lists(st.tuples(st.integers(0, n + 2), st.integers(0, 900), st.integers(0, 50_000)), max_size=120),
    st.lists(st.booleans(), min_size=n, max_size=n),
))


@settings(max_examples=60, deadline=None)
@given(shops, st.sampled_from(["int64", "int32", "Int64", "uint64"]), st.sampled_from(["str", "object"]))
def test_property_integer_and_text_ids_give_the_same_segments(
    shop: tuple[list[int], list[tuple[int, int, int]], list[bool]], int_dtype: str, text_dtype: str,
) -> None:
    ids, rows, email = shop
    if int_dtype == "int32":
        ids = [i % 2**31 for i in ids]
    if int_dtype == "uint64":
        ids = [abs(i) for i in ids]
    ids = list(dict.fromkeys(ids))  # the narrowing above may have made two equal
    email = email[: len(ids)]
    # An order's owner past the end is a customer nobody knows (a distinct id, not in ids).
    stranger = max(ids) + 1
    owners = [ids[k] if k < len(ids) else stranger + k for k, _, _ in rows]
    when = [AS_OF - pd.Timedelta(hours=h) for _, h, _ in rows]
    amounts = [cents / 100 for _, _, cents in rows]

    def tables(customer_ids: pd.Series, order_ids: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (pd.DataFrame({"customer_id": customer_ids, "email_known": email}),
                pd.DataFrame({"customer_id": order_ids, "ordered_at": pd.Series(when, dtype="datetime64[us]"),
                              "amount": pd.Series(amounts, dtype=float)}))

    as_int, int_notes = _segment(*tables(pd.Series(ids, dtype=int_dtype),
                                         pd.Series(owners, dtype="uint64" if int_dtype == "uint64" else "int64")))
    as_text, text_notes = _segment(*tables(pd.Series([str(i) for i in ids], dtype=text_dtype),
                                           pd.Series([str(i) for i in owners], dtype=text_dtype)))
    pd.testing.assert_frame_equal(as_int[COLUMNS], as_text[COLUMNS])
    assert int_notes == text_notes and as_int.attrs == as_text.attrs
    # Integer ids stay integers in the output, text stays text: the caller's ids come back.
    assert as_int["customer_id"].tolist() == ids and as_text["customer_id"].tolist() == [str(i) for i in ids]


def test_integer_ids_come_back_as_integers() -> None:
    customers = pd.DataFrame({"customer_id": np.array([30, 10, 20], dtype=np.int64)})
    orders = pd.DataFrame({"customer_id": [10, 10, 30], "ordered_at": [AS_OF] * 3, "amount": [5.0, 7.0, 1.0]})
    result, notes = _segment(customers, orders)
    assert result["customer_id"].dtype == np.int64 and result["customer_id"].tolist() == [30, 10, 20]
    assert result["frequency"].tolist() == [1, 2, 0] and notes == []


def test_ids_of_different_types_match_by_their_text_as_before() -> None:
    customers = pd.DataFrame({"customer_id": [1, 2, 3]})
    text_orders = pd.DataFrame({"customer_id": ["1", "3", "3"], "ordered_at": [AS_OF] * 3, "amount": [1.0] * 3})
    result, _ = _segment(customers, text_orders)
    assert result["frequency"].tolist() == [1, 0, 2]
    # 1.0 is written "1.0", not "1": float order ids do not match integer customers.
    float_orders = text_orders.assign(customer_id=[1.0, 3.0, 3.0])
    result, notes = _segment(customers, float_orders)
    assert result["frequency"].tolist() == [0, 0, 0]
    assert notes == ["3 order(s) from 2 customer(s) not in customers were left out, e.g. '1.0'"]


def test_unknown_integer_ids_are_named_as_text_in_the_warning() -> None:
    customers = pd.DataFrame({"customer_id": [1, 2]})
    orders = pd.DataFrame({"customer_id": [2, 99, 99, 7], "ordered_at": [AS_OF] * 4, "amount": [1.0] * 4})
    _, notes = _segment(customers, orders)
    assert notes == ["3 order(s) from 2 customer(s) not in customers were left out, e.g. '99'"]


@pytest.mark.parametrize("dtype", ["int64", "str", "object"])
def test_duplicate_ids_name_their_line_whatever_the_type(dtype: str) -> None:
    values = [5, 6, 5, 7, 6] if dtype == "int64" else ["5", "6", "5", "7", "6"]
    ids = pd.Series(values, dtype=dtype)
    orders = pd.DataFrame({"customer_id": ids[:1], "ordered_at": [AS_OF], "amount": [1.0]})
    with pytest.raises(DataError, match=r"customer_id: 2 duplicate \(lines 4, 6") as raised:
        segment_customers(pd.DataFrame({"customer_id": ids}), orders)
    assert raised.value.field == "customers"


@pytest.mark.parametrize(("customers", "orders", "same_type"), [
    (pd.Series([3, 1, 2]), pd.Series([2, 9, 3], dtype="int32"), True),
    (pd.Series(["c", "a", "b"], dtype="str"), pd.Series(["b", "z", "c"], dtype=object), True),
    (pd.Series([3, 1, 2]), pd.Series(["2", "9", "3"], dtype=object), False),  # matched as text
])
def test_keys_match_and_describe(customers: pd.Series, orders: pd.Series, same_type: bool) -> None:
    keys = id_keys(customers, orders)
    # Same-type ids need no scan for missing values (their type check proved there are none).
    assert keys.complete == same_type
    if pd.api.types.is_integer_dtype(orders.dtype):
        assert isinstance(keys.customers, np.ndarray) and keys.customers.dtype == np.int64
    located = locate(keys)
    assert located.rows is not None and located.rows.tolist() == [2, -1, 0]
    assert not located.duplicated.any()
    assert describe(keys.orders, located.rows < 0) == (1, str(orders.iloc[1]))
    repeated = locate(id_keys(pd.concat([customers, customers.iloc[:1]], ignore_index=True), orders))
    assert repeated.duplicated.tolist() == [False, False, False, True] and repeated.rows is None

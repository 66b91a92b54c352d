"""Segmentation: every segment reachable, monotone rules, as_of, bad input, CLI."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from liftlab import ConfigError, DataError
from liftlab.cli import cli
from liftlab.lifecycle.catalog import SEGMENT_NAMES
from liftlab.lifecycle.rfm import (
    DEFAULT_RULES,
    DEFAULT_RULES_FILE,
    VALUE_ORDER,
    SegmentRule,
    _apply_rules,
    load_rules,
    segment_customers,
)

AS_OF = pd.Timestamp("2026-10-01")


def _shop(profiles: dict[str, tuple[int, int, float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """customer -> (days since last order, orders, spend per order); 0 orders = visitor."""
    customers = pd.DataFrame({"customer_id": list(profiles), "email_known": [c.startswith("mail") for c in profiles]})
    rows = []
    for cid, (days, count, spend) in profiles.items():
        for k in range(count):
            rows.append({"customer_id": cid, "ordered_at": AS_OF - pd.Timedelta(days=days + 20 * k), "amount": spend})
    return customers, pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount"])


def test_default_rules_equal_the_toml_file() -> None:
    assert load_rules(DEFAULT_RULES_FILE) == DEFAULT_RULES
    assert {r.segment for r in DEFAULT_RULES} | {"engaged_visitor", "loyal_visitor"} == set(SEGMENT_NAMES)
    assert set(VALUE_ORDER) == set(SEGMENT_NAMES)


def test_hand_built_customers_land_in_each_of_the_11_segments() -> None:
    # A population spread so that quantile scores come out as intended for the named few.
    profiles = {f"fill{i}": (int(d), int(c), float(s)) for i, (d, c, s) in enumerate(
        itertools.product([5, 40, 100, 200, 400], [1, 2, 3, 5, 8], [10, 40, 80, 150, 400]))}
    named = {
        "champion": (2, 12, 500.0), "loyal": (90, 12, 200.0), "potential_loyalist": (3, 3, 300.0),
        "cant_lose": (500, 12, 500.0), "at_risk": (500, 3, 150.0), "first_time": (3, 1, 50.0),
        "recent": (3, 2, 10.0), "promising": (90, 2, 10.0), "hibernating": (500, 1, 10.0),
        "engaged_visitor": (0, 0, 0.0), "mail_loyal_visitor": (0, 0, 0.0),
    }
    customers, orders = _shop({**profiles, **named})
    result = segment_customers(customers, orders, as_of=AS_OF).set_index("customer_id")
    for cid in named:
        expected = "loyal_visitor" if cid == "mail_loyal_visitor" else cid
        assert result.loc[cid, "segment"] == expected, (cid, result.loc[cid].to_dict())
    assert set(result["segment"]) == set(SEGMENT_NAMES)
    assert result["stage"].notna().all()


def test_default_rules_are_monotone_over_every_score_triple() -> None:
    points = [(r, f, m, one) for r, f, m in itertools.product(range(1, 6), repeat=3)
              for one in (True, False) if not (one and f > 1)]
    r, f, m, one = (np.array(x) for x in zip(*points))
    segments = _apply_rules(DEFAULT_RULES, r, f, m, np.where(one, 1, 2))
    rank = np.array([VALUE_ORDER.index(s) for s in segments])
    for i, a in enumerate(points):
        for j, b in enumerate(points):
            if b[0] >= a[0] and b[1] >= a[1] and b[2] >= a[2] and (a[3] or not b[3]):
                assert rank[j] >= rank[i], (a, segments[i], b, segments[j])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 600), st.integers(0, 6), st.integers(1, 500)), min_size=5, max_size=60))
def test_property_one_segment_each_and_monotone_end_to_end(rows: list[tuple[int, int, int]]) -> None:
    customers, orders = _shop({f"c{i}": (d, c, float(s)) for i, (d, c, s) in enumerate(rows)})
    result = segment_customers(customers, orders, as_of=AS_OF)
    assert len(result) == len(rows) and result["segment"].isin(SEGMENT_NAMES).all()
    buyers = result[result["frequency"] > 0]
    rank = buyers["segment"].map(VALUE_ORDER.index).to_numpy()
    # The rules read the raw order count too (first_time is exactly one order), so "at least as
    # good" means every score and the order count at least as high.
    scores = buyers[["r_score", "f_score", "m_score", "frequency"]].to_numpy()
    better = (scores[:, None, :] >= scores[None, :, :]).all(axis=2)
    assert (rank[:, None] >= rank[None, :])[better].all()


def test_as_of_in_the_past_ignores_later_orders() -> None:
    customers, orders = _shop({"a": (5, 3, 50.0), "b": (200, 2, 20.0)})
    past = segment_customers(customers, orders, as_of="2026-06-01").set_index("customer_id")
    # Only orders on or before 2026-06-01 count: a's orders are 5, 25, 45 days before 2026-10-01.
    assert past.loc["a", "frequency"] == 0
    assert past.loc["b", "frequency"] == 2
    assert past.attrs["as_of"].startswith("2026-06-01")


def test_orders_of_unknown_customers_are_counted_not_silently_dropped() -> None:
    customers, orders = _shop({"a": (5, 1, 50.0)})
    orders.loc[len(orders)] = ["ghost", AS_OF, 10.0]
    with pytest.warns(UserWarning, match="1 order"):
        result = segment_customers(customers, orders, as_of=AS_OF)
    assert "ghost" in result.attrs["warnings"][0]


@pytest.mark.parametrize(
    ("column", "value", "pattern"),
    [("amount", -5.0, "negative"), ("amount", np.nan, "missing"), ("ordered_at", "soon", "not ISO 8601")],
)
def test_bad_orders_name_column_and_csv_line(column: str, value: object, pattern: str) -> None:
    customers, orders = _shop({"a": (5, 2, 50.0)})
    orders = orders.astype(object)
    orders.loc[1, column] = value
    with pytest.raises(DataError, match=pattern) as raised:
        segment_customers(customers, orders)
    # Data row 1 is the CSV's line 3 (line 1 is the header), not "row 1".
    assert raised.value.field == "orders" and f"{column}: 1 {pattern}" in str(raised.value)
    assert "line 3" in str(raised.value) and "row 1" not in str(raised.value)


def test_missing_columns_and_bad_rules(tmp_path: Path) -> None:
    customers, orders = _shop({"a": (5, 2, 50.0)})
    with pytest.raises(DataError, match="amount") as raised:
        segment_customers(customers, orders.drop(columns=["amount"]))
    assert raised.value.field == "orders"
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\nsegment = "whales"\n')
    with pytest.raises(ConfigError, match="whales"):
        load_rules(rules)
    rules.write_text('[[rules]]\nsegment = "champion"\nr = [4, 5]\n')
    with pytest.raises(ConfigError, match="catch-all"):
        load_rules(rules)
    custom = (SegmentRule("champion", r=(5, 5)), SegmentRule("hibernating"))
    result = segment_customers(customers, orders, rules=custom)
    assert set(result["segment"]) <= {"champion", "hibernating"}


def test_cli_segment(tmp_path: Path) -> None:
    customers, orders = _shop({"a": (5, 3, 50.0), "b": (300, 1, 20.0), "c": (0, 0, 0.0)})
    customers.to_csv(tmp_path / "customers.csv", index=False)
    orders.to_csv(tmp_path / "orders.csv", index=False)
    out = tmp_path / "segments.csv"
    args = ["segment", "--customers", str(tmp_path / "customers.csv"), "--orders", str(tmp_path / "orders.csv"),
            "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Lifecycle segments" in result.output and "wrote 3 customers" in result.output
    written = pd.read_csv(out)
    assert len(written) == 3 and written.set_index("customer_id").loc["c", "segment"] == "engaged_visitor"
    orders.loc[0, "amount"] = -1
    orders.to_csv(tmp_path / "orders.csv", index=False)
    bad = CliRunner().invoke(cli, args)
    assert bad.exit_code == 2 and "orders.csv" in bad.output and "Traceback" not in bad.output


@pytest.mark.parametrize("values, expected", [
    (["yes", "no", "NO ", ""], [True, False, False, False]),
    (["True", "false", "Y", "n"], [True, False, True, False]),
    ([1, 0, 1, None], [True, False, True, False]),
    ([True, False, None, True], [True, False, False, True]),
])
def test_email_known_is_read_as_yes_or_no_never_as_non_empty(values: list[object], expected: list[bool]) -> None:
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "email_known": values})
    orders = pd.DataFrame(columns=["customer_id", "ordered_at", "amount"])
    result = segment_customers(customers, orders, as_of=AS_OF)
    assert list(result["segment"] == "loyal_visitor") == expected


@pytest.mark.parametrize("value", ["maybe", 2, "ja"])
def test_email_known_that_is_neither_yes_nor_no_is_refused_with_its_line(value: object) -> None:
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "email_known": ["yes", value, "no"]})
    orders = pd.DataFrame(columns=["customer_id", "ordered_at", "amount"])
    with pytest.raises(DataError, match=r"email_known.*yes/no") as raised:
        segment_customers(customers, orders, as_of=AS_OF)
    assert "3" in str(raised.value)  # data row 2 is CSV line 3

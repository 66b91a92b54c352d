"""assign(): holdout first, layers exclusive, arms by weight; batch and real-time agree."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liftlab import Arm, Campaign, DataError, Experiment, Metric, Project
from liftlab.assignment.arms import assign, assign_one

growthbook = pytest.importorskip("growthbook.core")

PROJECT = Project(holdout_fraction=0.05, holdout_salt="global")


def experiment(key: str = "exp", layer: str | None = None, layer_range=(0.0, 1.0), weights=(0.2, 0.3, 0.5)) -> Experiment:
    arms = [Arm("control", weights[0], control=True)] + [
        Arm(f"t{i}", w) for i, w in enumerate(weights[1:], start=1)
    ]
    return Experiment(
        key=key, start=date(2026, 1, 1), layer=layer, layer_range=layer_range,
        metrics=(Metric("purchase", "conversion"),),
        campaigns=(Campaign("at_risk", arms=arms), Campaign("champion", arms=arms)),
    )


def customers(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    segments = rng.choice(["at_risk", "champion", "hibernating"], size=n)
    return pd.DataFrame({"unit_id": [f"c{i}" for i in range(n)], "segment": segments})


def test_one_row_per_customer_in_a_campaign_segment() -> None:
    people = customers(10_000)
    result = assign(experiment(), people, PROJECT)
    frame = result.assignments
    assert list(frame.columns) == ["experiment", "unit_id", "segment", "arm", "bucket", "holdout"]
    assert frame["unit_id"].is_unique
    in_campaign = people["segment"].isin(["at_risk", "champion"])
    assert set(frame["unit_id"]) == set(people.loc[in_campaign, "unit_id"])
    assert result.skipped == {"segment without a campaign": int((~in_campaign).sum())}


def test_weight_shares_within_three_standard_errors() -> None:
    frame = assign(experiment(), customers(300_000), Project()).assignments
    n = len(frame)
    for arm, weight in (("control", 0.2), ("t1", 0.3), ("t2", 0.5)):
        share = (frame["arm"] == arm).mean()
        assert abs(share - weight) < 3 * np.sqrt(weight * (1 - weight) / n), arm


def test_arms_match_growthbook_ranges_and_choice() -> None:
    exp = experiment(weights=(0.1, 0.25, 0.65))
    frame = assign(exp, customers(20_000), Project()).assignments
    ranges = growthbook.getBucketRanges(3, 1, [0.1, 0.25, 0.65])
    keys = ["control", "t1", "t2"]
    for unit_id, arm in zip(frame["unit_id"], frame["arm"]):
        n = growthbook.gbhash("exp", unit_id, 2)
        assert keys[growthbook.chooseVariation(n, ranges)] == arm


def test_holdout_customers_appear_in_no_campaign() -> None:
    people = customers(50_000)
    frame = assign(experiment(), people, PROJECT).assignments
    held = frame[frame["holdout"]]
    assert held["arm"].isna().all()
    assert abs(len(held) / len(frame) - 0.05) < 3 * np.sqrt(0.05 * 0.95 / len(frame))
    other = assign(experiment("other"), people, PROJECT).assignments
    # The same customers are held out of every experiment.
    assert set(other.loc[other["holdout"], "unit_id"]) == set(held["unit_id"])
    assert other.loc[other["holdout"], "arm"].isna().all()


def test_layer_split_is_exclusive_and_matches_growthbook_namespaces() -> None:
    people = customers(40_000)
    a = assign(experiment("a", "email", (0.0, 0.4)), people, PROJECT)
    b = assign(experiment("b", "email", (0.4, 1.0)), people, PROJECT)
    ids_a, ids_b = set(a.assignments["unit_id"]), set(b.assignments["unit_id"])
    assert not ids_a & ids_b
    eligible = set(people.loc[people["segment"] != "hibernating", "unit_id"])
    assert ids_a | ids_b == eligible
    for unit_id in list(ids_a)[:2_000]:
        assert growthbook.inNamespace(unit_id, ("email", 0.0, 0.4))
    assert any("outside layer" in reason for reason in a.skipped)


def test_assign_one_equals_batch() -> None:
    exp = experiment("rt", "email", (0.0, 0.7))
    people = customers(5_000)
    frame = assign(exp, people, PROJECT).assignments.set_index("unit_id")
    for unit_id, segment in zip(people["unit_id"], people["segment"]):
        one = assign_one(exp, unit_id, segment, PROJECT)
        if unit_id in frame.index:
            row = frame.loc[unit_id]
            assert one is not None
            arm = None if pd.isna(row["arm"]) else row["arm"]
            assert (one.arm, one.bucket, one.holdout) == (arm, row["bucket"], row["holdout"])
        else:
            assert one is None


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=12).filter(str.strip), min_size=1, max_size=40, unique=True),
    weight=st.floats(0.05, 0.95),
)
def test_property_every_customer_gets_exactly_one_arm(ids: list[str], weight: float) -> None:
    exp = experiment(weights=(weight, 1 - weight))
    people = pd.DataFrame({"unit_id": ids, "segment": "at_risk"})
    frame = assign(exp, people, PROJECT).assignments
    assert sorted(frame["unit_id"]) == sorted(ids)
    assert (frame["arm"].notna() ^ frame["holdout"]).all()
    assert frame["arm"].dropna().isin(["control", "t1"]).all()


def test_deterministic_whatever_the_row_order() -> None:
    people = customers(2_000)
    first = assign(experiment(), people, PROJECT).assignments.sort_values("unit_id", ignore_index=True)
    shuffled = assign(experiment(), people.sample(frac=1, random_state=3), PROJECT).assignments
    pd.testing.assert_frame_equal(first, shuffled.sort_values("unit_id", ignore_index=True))


@pytest.mark.parametrize(
    ("frame", "pattern"),
    [
        (pd.DataFrame({"unit_id": ["a", None], "segment": ["at_risk"] * 2}), "empty unit id"),
        (pd.DataFrame({"unit_id": ["a", "  "], "segment": ["at_risk"] * 2}), "blank unit id"),
        (pd.DataFrame({"unit_id": ["a", "a"], "segment": ["at_risk"] * 2}), "duplicate unit id"),
        (pd.DataFrame({"unit_id": ["a", "b"], "segment": ["at_risk", "whales"]}), "unknown segment"),
        (pd.DataFrame({"id": ["a"], "segment": ["at_risk"]}), "unit id column"),
        (pd.DataFrame({"unit_id": ["a"]}), "'segment' column"),
        (pd.DataFrame({"unit_id": [1.5], "segment": ["at_risk"]}), "not decimals"),
    ],
)
def test_bad_input_is_a_clear_error(frame: pd.DataFrame, pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        assign(experiment(), frame, PROJECT)


def test_integer_ids_hash_as_their_decimal_string() -> None:
    frame = assign(experiment(), pd.DataFrame({"customer_id": [17, 42], "segment": "at_risk"}), Project())
    assert frame.assignments["unit_id"].tolist() == ["17", "42"]
    assert assign_one(experiment(), "17", "at_risk").arm == frame.assignments["arm"].iloc[0]  # type: ignore[union-attr]


def test_assign_one_rejects_empty_ids() -> None:
    with pytest.raises(DataError):
        assign_one(experiment(), "", "at_risk")
    assert assign_one(experiment(), "x", "hibernating") is None

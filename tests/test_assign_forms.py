"""assign() gives the same frame whatever the columns' storage (Arrow-backed, object, integer,
categorical), row for row what assign_one gives; its checks hold on every path."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liftlab import Arm, Campaign, ConfigError, DataError, Experiment, Metric, Project
from liftlab.assignment import arms, unit_ids
from liftlab.assignment.arms import assign, assign_one

PROJECT = Project(holdout_fraction=0.1, holdout_salt="global")
SEGMENTS = ["at_risk", "champion", "hibernating"]


def experiment(layer: str | None = "email", layer_range=(0.1, 0.8)) -> Experiment:
    arms_ = (Arm("control", 0.3, control=True), Arm("offer", 0.7))
    return Experiment(
        key="forms", start=date(2026, 1, 1), layer=layer, layer_range=layer_range,
        metrics=(Metric("purchase", "conversion"),),
        campaigns=(Campaign("at_risk", arms=arms_), Campaign("champion", arms=arms_[::-1])),
    )


def visible(text: str) -> bool:
    return bool(text.strip())


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=14).filter(visible), max_size=60, unique=True),
    picks=st.lists(st.sampled_from(SEGMENTS), min_size=60, max_size=60),
    layer=st.booleans(),
)
def test_same_frame_from_every_column_storage(
    ids: list[str], picks: list[str], layer: bool
) -> None:
    exp = experiment("email" if layer else None)
    segments = picks[: len(ids)]
    storages = [("str", "str"), (object, object), ("string[pyarrow]", "category"),
                ("string[python]", "string[pyarrow]")]
    frames = [
        assign(exp, pd.DataFrame({"unit_id": pd.Series(ids, dtype=id_type),
                                  "segment": pd.Series(segments, dtype=segment_type)}),
               PROJECT).assignments
        for id_type, segment_type in storages
    ]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])
    assert frames[0]["unit_id"].dtype == "str" and frames[0]["arm"].dtype == "str"
    by_id = frames[0].set_index("unit_id")
    for unit_id, segment in zip(ids, segments):
        one = assign_one(exp, unit_id, segment, PROJECT)
        if one is None:
            assert unit_id not in by_id.index
        else:
            row = by_id.loc[unit_id]
            arm = None if pd.isna(row["arm"]) else row["arm"]
            assert (one.arm, one.bucket, one.holdout, one.segment) == (
                arm, row["bucket"], row["holdout"], row["segment"]
            )


@pytest.mark.parametrize("dtype", ["int64", "uint64", "Int64", "int32"])
def test_integer_ids_equal_their_decimal_text(dtype: str) -> None:
    numbers = [0, 7, 42, 123_456_789_012, 2**31 - 1] if dtype != "uint64" else [0, 2**64 - 1, 5]
    if dtype == "int32":
        numbers = [-5, 0, 2**31 - 1]
    elif dtype in ("int64", "Int64"):
        numbers = [*numbers, -3]
    people = pd.DataFrame({"customer_id": pd.Series(numbers, dtype=dtype), "segment": "at_risk"})
    text = pd.DataFrame({"customer_id": [str(n) for n in numbers], "segment": "at_risk"})
    exp = experiment(layer=None)
    pd.testing.assert_frame_equal(assign(exp, people, PROJECT).assignments,
                                  assign(exp, text, PROJECT).assignments)


BLANKS = ["", " ", "\t", "\n", "\x1c", "\x1f", "\u00a0", "\u3000", "\u2028", " \t "]
NOT_BLANK = ["a", " a", "a ", "é", "中", "😀", "\u200b", "-", "~"]


@pytest.mark.parametrize("dtype", ["str", object])
def test_blank_ids_are_exactly_those_strip_empties(dtype: object) -> None:
    exp = experiment(layer=None)
    fine = pd.DataFrame({"unit_id": pd.Series(NOT_BLANK, dtype=dtype), "segment": "at_risk"})
    assert len(assign(exp, fine, PROJECT).assignments) == len(NOT_BLANK)
    # "\u200b" (zero-width space) is not whitespace to Python, so not blank.
    for blank in BLANKS:
        people = pd.DataFrame({"unit_id": pd.Series(["a", blank, "b"], dtype=dtype),
                               "segment": "at_risk"})
        with pytest.raises(DataError, match="1 blank unit id"):
            assign(exp, people, PROJECT)


@pytest.mark.parametrize("dtype", ["str", object])
def test_duplicates_are_counted_as_before(dtype: object) -> None:
    people = pd.DataFrame({"unit_id": pd.Series(["a", "b", "a", "c", "a", "b"], dtype=dtype),
                           "segment": "at_risk"})
    with pytest.raises(DataError, match="3 duplicate unit id"):
        assign(experiment(), people, PROJECT)


def test_a_hash_collision_is_not_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unit_ids, "fnv1a32_many", lambda ids: np.zeros(len(ids), dtype=np.uint32))
    distinct = pd.DataFrame({"unit_id": ["a", "b", "c"], "segment": "at_risk"})
    assert len(assign(experiment(layer=None), distinct, PROJECT).assignments) == 3
    twice = pd.DataFrame({"unit_id": ["a", "b", "a"], "segment": "at_risk"})
    with pytest.raises(DataError, match="1 duplicate unit id"):
        assign(experiment(layer=None), twice, PROJECT)
    # Only the two copies of "c3" share a hash: they alone are compared, and caught.
    some = [f"c{i}" for i in range(40)]
    hashes = np.arange(40, dtype=np.uint32)
    hashes[39] = 3
    monkeypatch.setattr(unit_ids, "fnv1a32_many", lambda ids: hashes)
    people = pd.DataFrame({"unit_id": some[:39] + ["c3"], "segment": "at_risk"})
    with pytest.raises(DataError, match=r"1 duplicate unit id.*'c3'"):
        assign(experiment(layer=None), people, PROJECT)


@pytest.mark.parametrize("dtype", ["str", object, "category"])
def test_missing_or_unknown_segments_are_refused(dtype: object) -> None:
    for segment in (None, "whales"):
        people = pd.DataFrame({"unit_id": ["a", "b"],
                               "segment": pd.Series(["at_risk", segment], dtype=dtype)})
        with pytest.raises(DataError, match="1 customer.* unknown segment"):
            assign(experiment(), people, PROJECT)


def test_lifecycle_segment_without_campaign_is_skipped() -> None:
    people = pd.DataFrame({"unit_id": ["a", "b", "c"],
                           "segment": ["at_risk", "hibernating", "hibernating"]})
    result = assign(experiment(layer=None), people, PROJECT)
    assert result.skipped == {"segment without a campaign": 2}
    assert result.assignments["unit_id"].tolist() == ["a"]


def test_assign_one_plan_is_cached_per_object_and_never_for_an_invalid_one() -> None:
    exp = experiment()
    first = assign_one(exp, "cust-1", "at_risk", PROJECT)
    assert arms._cached_plan(exp, PROJECT) is arms._cached_plan(exp, PROJECT)
    assert assign_one(replace(exp), "cust-1", "at_risk", PROJECT) == first
    broken = replace(exp, campaigns=(Campaign("at_risk", arms=(Arm("control", 0.5, control=True),
                                                               Arm("offer", 0.7))),))
    for _ in range(2):
        with pytest.raises(ConfigError):
            assign_one(broken, "cust-1", "at_risk", PROJECT)


def test_assign_one_with_an_unhashable_declaration_still_answers() -> None:
    arm_list = [Arm("control", 0.3, control=True), Arm("offer", 0.7)]
    listed = Campaign("at_risk", arms=arm_list)  # type: ignore[arg-type]
    exp = replace(experiment(layer=None), campaigns=(listed,))
    one = assign_one(exp, "cust-1", "at_risk", PROJECT)
    frame = assign(exp, pd.DataFrame({"unit_id": ["cust-1"], "segment": "at_risk"}), PROJECT)
    assert one is not None and one.bucket == frame.assignments["bucket"].iloc[0]


def test_ids_with_a_lone_surrogate_are_assigned_as_assign_one_does() -> None:
    """A JSON "\\ud800" id hashes as GrowthBook's JavaScript would; no Arrow column holds it, so
    the unit_id column stays Python strings instead of failing to build the frame."""
    ids = ["a", "\ud800x", "b\udfff", "c"]
    frame = assign(experiment(layer=None), pd.DataFrame({
        "unit_id": pd.Series(ids, dtype=object), "segment": ["at_risk"] * 4}), PROJECT).assignments
    assert list(frame["unit_id"]) == ids and frame["unit_id"].dtype == object
    for row in frame.itertuples():
        one = assign_one(experiment(layer=None), row.unit_id, "at_risk", PROJECT)
        assert one is not None and (one.arm, one.bucket, one.holdout) == (
            None if pd.isna(row.arm) else row.arm, row.bucket, row.holdout)

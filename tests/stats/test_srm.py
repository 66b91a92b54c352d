"""Sample ratio mismatch against scipy's chi-square goodness-of-fit test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from liftlab.errors import LiftlabError
from liftlab.stats import srm

pytestmark = pytest.mark.filterwarnings("error")


@pytest.mark.parametrize(
    ("counts", "weights"),
    [
        ([5000, 5100], [0.5, 0.5]),
        ([1000, 2150, 1980], [0.2, 0.4, 0.4]),
        ([50, 61, 40, 49], [1, 1, 1, 1]),
    ],
)
def test_matches_scipy_chisquare(counts: list[int], weights: list[float]) -> None:
    res = srm(counts, weights)
    expected = np.sum(counts) * np.asarray(weights) / np.sum(weights)
    ref = stats.chisquare(counts, expected)
    assert res.chi2 == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert res.df == len(counts) - 1


def test_flags_a_real_mismatch_at_the_default_threshold() -> None:
    assert not srm([10_000, 10_150], [0.5, 0.5]).flagged  # p ≈ 0.29
    res = srm([10_000, 10_600], [0.5, 0.5])  # p ≈ 3e-5
    assert res.flagged and res.p_value < 0.001 and res.threshold == 0.001


def test_weight_scale_does_not_matter() -> None:
    assert srm([300, 720], [30, 70]).p_value == pytest.approx(
        srm([300, 720], [0.3, 0.7]).p_value, rel=1e-12
    )


def test_zero_weight_and_zero_count_arm_drops_out() -> None:
    res = srm([500, 520, 0], [0.5, 0.5, 0.0])
    assert res.df == 1 and res.p_value == pytest.approx(srm([500, 520], [0.5, 0.5]).p_value)


def test_units_in_a_zero_weight_arm_are_a_certain_mismatch() -> None:
    res = srm([500, 520, 3], [0.5, 0.5, 0.0])
    assert res.flagged and res.p_value == 0.0 and math.isinf(res.chi2)
    assert "weight 0" in res.notes[0]


def test_no_units_and_single_arm() -> None:
    empty = srm([0, 0], [0.5, 0.5])
    assert empty.p_value == 1.0 and not empty.flagged and empty.notes
    single = srm([40, 0], [1.0, 0.0])
    assert single.p_value == 1.0 and single.df == 0 and single.notes


def test_bad_input_is_a_liftlab_error() -> None:
    with pytest.raises(LiftlabError, match="weight"):
        srm([1, 2], [0.5])
    with pytest.raises(LiftlabError, match="weights"):
        srm([1, 2], [0.0, 0.0])
    with pytest.raises(LiftlabError, match="counts"):
        srm([-1, 2], [0.5, 0.5])


def test_aa_false_positive_rate_at_the_threshold() -> None:
    """20,000 multinomial draws of correct assignment: flagged ≈ 0.1% (sd 0.022 points)."""
    rng = np.random.default_rng(0)
    counts = rng.multinomial(30_000, [0.2, 0.3, 0.5], size=20_000)
    flagged = np.mean([srm(row, [0.2, 0.3, 0.5]).flagged for row in counts[:2000]])
    assert flagged <= 0.004
    # the vectorised equivalent of the same test over all 20,000
    expected = 30_000 * np.array([0.2, 0.3, 0.5])
    p = stats.chi2.sf(((counts - expected) ** 2 / expected).sum(axis=1), 2)
    assert np.mean(p < 0.001) <= 0.002


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 1)), min_size=1, max_size=6))
def test_never_crashes_on_valid_input(arms: list[tuple[int, float]]) -> None:
    counts, weights = zip(*arms, strict=True)
    if sum(weights) <= 0:
        return
    res = srm(counts, weights)
    assert 0.0 <= res.p_value <= 1.0
    assert res.to_dict()["observed"] == [float(c) for c in counts]

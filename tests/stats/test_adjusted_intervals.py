"""Adjusted intervals: consistent with the adjusted p-values, and they keep their promise.

Holm/Bonferroni: family-wise coverage ≥ 95% (simulation). BH: Benjamini–Yekutieli
false-coverage rate ≤ 5% (simulation). For every method: the interval excludes 0 if and only
if the adjusted p-value is below α (hypothesis, random inputs).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from liftlab.errors import LiftlabError
from liftlab.stats import (
    Sample,
    adjust,
    adjusted_intervals,
    adjusted_levels,
    frequentist,
    interval_at,
)

pytestmark = pytest.mark.filterwarnings("error")

METHODS = ["holm", "bh", "bonferroni", "none"]


def p_of(estimate: np.ndarray, se: np.ndarray, df: np.ndarray) -> np.ndarray:
    return 2 * stats.t.sf(np.abs(estimate) / se, df)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-6, 6), st.floats(0.2, 3), st.sampled_from([3.0, 30.0, math.inf])),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from(METHODS),
    st.floats(0.01, 0.2),
)
def test_interval_excludes_zero_iff_adjusted_p_is_below_alpha(
    rows: list[tuple[float, float, float]], method: str, alpha: float
) -> None:
    est, se, df = (np.array(col) for col in zip(*rows))
    p = p_of(est, se, df)
    res = adjusted_intervals(est, se, df, p, method=method, alpha=alpha)  # type: ignore[arg-type]
    for (low, high), p_adj, p_raw, level, at_zero in zip(
        res.intervals, res.p_adjusted, p, res.levels, res.bounded_at_zero
    ):
        assume(abs(p_adj - alpha) > 1e-9 * alpha)  # exactly on the boundary: either way
        assume(abs(p_raw - level) > 1e-9 * level)
        assume(p_raw > 1e-300)  # an underflowed p-value carries no level information
        one_side = low >= 0 or high <= 0
        assert one_side == (p_adj < alpha), (low, high, p_adj)
        if not at_zero:  # strictly, except Holm-only rejections (bound at 0 by design)
            assert (low > 0 or high < 0) == (p_adj < alpha), (low, high, p_adj)
        else:
            assert method == "holm" and 0.0 in (low, high) and p_adj < alpha


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(60, 3000), st.integers(1, 60), st.integers(60, 3000), st.integers(1, 60)
        ),
        min_size=2,
        max_size=12,
    ),
    st.sampled_from(["holm", "bh"]),
)
def test_relative_intervals_agree_with_adjusted_relative_p(
    rows: list[tuple[int, int, int, int]], method: str
) -> None:
    """Straight from `frequentist`: rel_uplift, rel_se (log scale), df, rel_p_value."""
    # Arms where everyone converted have no spread: a zero-width [0, 0] at p = 1, no test.
    assume(all(cc < nc and ct < nt for nc, cc, nt, ct in rows))
    results = [
        frequentist(Sample.from_conversions(nc, cc), Sample.from_conversions(nt, ct))
        for nc, cc, nt, ct in rows
    ]
    res = adjusted_intervals(
        [r.rel_uplift for r in results],
        [r.rel_se for r in results],
        [r.df for r in results],
        [r.rel_p_value for r in results],
        method=method,  # type: ignore[arg-type]
        relative=True,
    )
    for (low, high), p_adj in zip(res.intervals, res.p_adjusted):
        assume(abs(p_adj - 0.05) > 1e-9)
        assert low > -1.0
        assert (low >= 0 or high <= 0) == (p_adj < 0.05)


def test_levels_in_closed_form() -> None:
    p = np.array([0.001, 0.014, 0.02, 0.3, np.nan])
    levels, adjusted = adjusted_levels(p, "bonferroni", 0.05)
    assert levels[:4] == pytest.approx([0.0125] * 4) and math.isnan(levels[4])
    assert adjusted[:4] == pytest.approx([0.004, 0.056, 0.08, 1.0])
    # Holm: p̃ = (0.004, 0.042, 0.042, 0.3); 0.014 and 0.02 are Holm-but-not-Bonferroni rejections
    levels, adjusted = adjusted_levels(p, "holm", 0.05)
    assert adjusted[:4] == pytest.approx([0.004, 0.042, 0.042, 0.3])
    assert levels[:4] == pytest.approx([0.0125] * 4)
    est = stats.norm.isf(p[:4] / 2)  # z estimates with se 1 giving these p-values
    res = adjusted_intervals(est, np.ones(4), math.inf, p[:4], method="holm")
    assert res.bounded_at_zero == (False, True, True, False)
    bonferroni = interval_at(est, 1.0, math.inf, 0.0125)
    assert res.intervals[0] == pytest.approx((bonferroni[0][0], bonferroni[1][0]))
    assert res.intervals[1] == pytest.approx((0.0, bonferroni[1][1]))
    assert bonferroni[0][1] < 0 < bonferroni[1][1]
    # BH: p̃ = (0.004, 0.0267, 0.0267, 0.3): R = 3 selected at 3·0.05/4, the other at 4·0.05/4
    levels, _ = adjusted_levels(p, "bh", 0.05)
    assert levels[:4] == pytest.approx([0.0375, 0.0375, 0.0375, 0.05])
    # an interval at a level is scipy's t interval
    low, high = interval_at(1.3, 0.4, 17.0, 0.0125)
    assert (low, high) == pytest.approx(stats.t.interval(1 - 0.0125, 17.0, loc=1.3, scale=0.4))
    low, high = interval_at(0.2, 0.1, math.inf, 0.05, relative=True)
    assert (low, high) == pytest.approx(
        tuple(np.expm1(stats.norm.interval(0.95, loc=math.log(1.2), scale=0.1)))
    )


def test_degenerate_and_bad_input() -> None:
    res = adjusted_intervals([1.0, 2.0], [0.5, 0.0], [10.0, 10.0], [math.nan, 0.0], method="holm")
    assert math.isnan(res.intervals[0][0]) and res.intervals[1] == (2.0, 2.0)
    assert res.notes and res.to_dict()["levels"][1] == 0.05
    assert res.to_dict()["bounded_at_zero"] == [False, False]
    assert adjusted_intervals([], [], [], [], method="bh").intervals == ()
    with pytest.raises(LiftlabError, match="method"):
        adjusted_levels([0.1], "sidak")  # type: ignore[arg-type]


# --- simulation: what the intervals promise --------------------------------------------------

FAMILIES = 4_000


def families(m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half the comparisons null, the rest with effects of 1.5–5 standard errors (where Holm
    rejects what Bonferroni does not); Welch-like df between 20 and inf."""
    rng = np.random.default_rng(seed)
    effects = np.zeros(m)
    effects[m // 2 :] = np.linspace(1.5, 5.0, m - m // 2) * rng.choice([-1, 1], m - m // 2)
    df = np.where(np.arange(m) % 3 == 0, 20.0, np.where(np.arange(m) % 3 == 1, 200.0, np.inf))
    noise = rng.standard_normal((FAMILIES, m))
    finite = np.isfinite(df)
    chi2 = rng.chisquare(df[finite], (FAMILIES, int(finite.sum())))
    noise[:, finite] /= np.sqrt(chi2 / df[finite])
    estimates = effects + noise  # t-distributed with df (normal where df = inf)
    return effects, estimates, df


def growthbook_style_levels(p: np.ndarray, alpha: float) -> np.ndarray:
    """α·p_i/p̃_i for every comparison (the candidate the brief named), for comparison."""
    adjusted = adjust(p, "holm")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(adjusted > 0, alpha * p / adjusted, alpha / p.size)


@pytest.mark.parametrize(("m", "seed"), [(6, 11), (20, 12)])
def test_holm_intervals_have_family_wise_coverage(m: int, seed: int) -> None:
    """Measured (these seeds, 4,000 families): m = 6: liftlab 95.0%, Bonferroni 95.0%,
    α·p/p̃ everywhere 92.5%; m = 20: 95.4% / 95.4% / 85.8%. (Theory for independent
    comparisons: Bonferroni 1 - (1 - α/m)^m = 95.1%.)"""
    effects, estimates, df = families(m, seed)
    se = np.ones(m)
    covered = {"liftlab": [], "bonferroni": [], "alpha_p_over_p_adj": []}
    for row in estimates:
        p = p_of(row, se, df)
        holm = adjusted_intervals(row, se, df, p, method="holm")
        low, high = np.array(holm.intervals).T
        covered["liftlab"].append(bool(np.all((low <= effects) & (effects <= high))))
        for name, levels in (
            ("bonferroni", adjusted_levels(p, "bonferroni")[0]),
            ("alpha_p_over_p_adj", growthbook_style_levels(p, 0.05)),
        ):
            low, high = interval_at(row, se, df, levels)
            covered[name].append(bool(np.all((low <= effects) & (effects <= high))))
    coverage = {name: float(np.mean(v)) for name, v in covered.items()}
    print(m, coverage)
    # 4,000 families: sd of a 95% rate is 0.34 points
    assert coverage["liftlab"] >= 0.95
    assert coverage["bonferroni"] >= 0.95
    assert coverage["liftlab"] >= coverage["bonferroni"] - 0.005
    assert coverage["alpha_p_over_p_adj"] < coverage["liftlab"]


def test_bh_intervals_hold_the_false_coverage_rate() -> None:
    """Benjamini–Yekutieli: E[non-covering selected / max(R, 1)] ≤ α. Measured: 3.7%
    (m = 20, these seeds); unadjusted 95% intervals on the same selections: 6.1%."""
    effects, estimates, df = families(20, 13)
    se = np.ones(20)
    fcr, naive = [], []
    for row in estimates:
        p = p_of(row, se, df)
        levels, adjusted = adjusted_levels(p, "bh")
        selected = adjusted < 0.05
        low, high = interval_at(row, se, df, levels)
        miss = ~((low <= effects) & (effects <= high))
        fcr.append((miss & selected).sum() / max(selected.sum(), 1))
        low, high = interval_at(row, se, df, np.full(20, 0.05))
        miss = ~((low <= effects) & (effects <= high))
        naive.append((miss & selected).sum() / max(selected.sum(), 1))
    print("FCR", np.mean(fcr), "naive", np.mean(naive))
    assert np.mean(fcr) <= 0.05
    assert np.mean(naive) > np.mean(fcr)

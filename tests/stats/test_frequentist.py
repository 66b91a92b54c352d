"""Frequentist engine against scipy, statsmodels and GrowthBook's gbstats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats import proportion as sm_proportion

from liftlab.errors import LiftlabError
from liftlab.stats import Sample, frequentist, frequentist_batch

pytestmark = pytest.mark.filterwarnings("error")

# GrowthBook reference numbers: gbstats 0.8.0 (PyPI), run in a throwaway venv outside the repo,
# `TwoSidedTTest(stat_a, stat_b, FrequentistConfig(difference_type=..., alpha=0.05))
# .compute_result()` with a = control, b = treatment. Only the numbers are copied here.
GB_REVENUE = {
    "control": Sample(4800, 61234.5, 2.95e6),  # SampleMeanStatistic(n, sum, sum_squares)
    "treatment": Sample(5120, 70111.25, 3.41e6),
    "absolute": {
        "expected": 0.9364160156249994,
        "ci": (0.08733359391110829, 1.7854984373388905),
        "p_value": 0.03065568937951002,
    },
    "relative": {
        "expected": 0.07340301423217299,
        "ci": (0.004351052347825721, 0.14245497611652025),
        "p_value": 0.03721135729567249,
    },
}
GB_CONVERSION = {
    "control": Sample.from_conversions(12000, 612),  # ProportionStatistic(n, sum)
    "treatment": Sample.from_conversions(11875, 689),
    "absolute": {
        "expected": 0.007021052631578949,
        "ci": (0.0012610843945001018, 0.012781020868657796),
        "p_value": 0.016892898149490687,
    },
    "relative": {
        "expected": 0.13766769865841078,
        "ci": (0.01721541518657696, 0.25811998213024456),
        "p_value": 0.02508700201745051,
    },
}


def log_ratio_reference(control: Sample, treatment: Sample, alpha: float = 0.05) -> dict:
    """The log-ratio relative interval in closed form, with scipy's Welch df and t quantile."""
    m_c, m_t = float(control.mean), float(treatment.mean)
    v_c, v_t = float(control.variance) / float(control.n), float(treatment.variance) / float(
        treatment.n
    )
    # Welch–Satterthwaite degrees of freedom, by hand
    df = (v_t + v_c) ** 2 / (v_t**2 / (float(treatment.n) - 1) + v_c**2 / (float(control.n) - 1))
    log_ratio, se = math.log(m_t / m_c), math.sqrt(v_t / m_t**2 + v_c / m_c**2)
    q = stats.t.ppf(1 - alpha / 2, df)
    return {
        "ci": (math.expm1(log_ratio - q * se), math.expm1(log_ratio + q * se)),
        "se": se,
        "p_value": 2 * stats.t.sf(abs(log_ratio) / se, df),
    }


def test_matches_growthbook_on_a_revenue_metric() -> None:
    """Same formulas as gbstats for sample-mean metrics: agreement to floating-point noise.

    The relative interval is liftlab's own (log ratio, see the module docstring), so it is
    checked against the closed form instead of gbstats' ratio-scale delta method."""
    control, treatment = GB_REVENUE["control"], GB_REVENUE["treatment"]
    res = frequentist(control, treatment)
    gb_abs, gb_rel = GB_REVENUE["absolute"], GB_REVENUE["relative"]
    assert res.abs_uplift == pytest.approx(gb_abs["expected"], rel=1e-12)
    assert res.abs_ci == pytest.approx(gb_abs["ci"], rel=1e-10)
    assert res.p_value == pytest.approx(gb_abs["p_value"], rel=1e-10)
    assert res.rel_uplift == pytest.approx(gb_rel["expected"], rel=1e-12)
    ref = log_ratio_reference(control, treatment)
    assert res.rel_ci == pytest.approx(ref["ci"], rel=1e-10)
    assert res.rel_se == pytest.approx(ref["se"], rel=1e-12)
    assert res.rel_p_value == pytest.approx(ref["p_value"], rel=1e-10)
    # at this size the log-ratio and gbstats' delta-method intervals nearly agree
    assert res.rel_ci == pytest.approx(gb_rel["ci"], abs=0.003)
    assert res.rel_p_value == pytest.approx(gb_rel["p_value"], rel=0.2)


def test_relative_interval_agrees_with_statsmodels_log_ratio() -> None:
    """statsmodels' log interval for a ratio of proportions uses (1-p)/(n p) and z; liftlab
    the n-1 variance and Welch t — with 20,000 per arm, equal to ~1e-3."""
    res = frequentist(Sample.from_conversions(20000, 1000), Sample.from_conversions(21000, 1134))
    low, high = sm_proportion.confint_proportions_2indep(
        1134, 21000, 1000, 20000, method="log", compare="ratio"
    )
    ref = sm_proportion.test_proportions_2indep(
        1134, 21000, 1000, 20000, method="log", compare="ratio"
    )
    assert res.rel_ci == pytest.approx((low - 1, high - 1), rel=2e-3)
    assert res.rel_p_value == pytest.approx(ref.pvalue, rel=2e-3)


def test_small_counts_keep_the_relative_interval_above_minus_100_percent() -> None:
    """The reported case: a handful of conversions, +415% — the ratio-scale delta method gave a
    lower bound of -219%; the log-ratio interval stays in (-100%, ∞) and agrees in sign with
    the absolute interval."""
    res = frequentist(Sample.from_conversions(300, 2), Sample.from_conversions(290, 10))
    assert res.rel_uplift == pytest.approx(10 / 290 / (2 / 300) - 1)
    assert -1.0 < res.rel_ci[0] < res.rel_uplift < res.rel_ci[1]
    assert res.rel_ci == pytest.approx(
        log_ratio_reference(Sample.from_conversions(300, 2), Sample.from_conversions(290, 10))[
            "ci"
        ],
        rel=1e-10,
    )


def test_treatment_mean_zero_leaves_the_relative_interval_undefined() -> None:
    res = frequentist(Sample.from_conversions(400, 6), Sample.from_conversions(400, 0))
    assert res.rel_uplift == -1.0
    assert math.isnan(res.rel_ci[0]) and math.isnan(res.rel_ci[1]) and math.isnan(res.rel_p_value)
    assert any("treatment mean is 0" in note for note in res.notes)
    assert math.isfinite(res.abs_ci[0])


def test_matches_growthbook_on_a_conversion_metric_up_to_the_variance_denominator() -> None:
    """gbstats uses p(1-p) for proportions, liftlab s² = n·p(1-p)/(n-1): ~1/n apart (n ≈ 12,000)."""
    res = frequentist(GB_CONVERSION["control"], GB_CONVERSION["treatment"])
    gb_abs, gb_rel = GB_CONVERSION["absolute"], GB_CONVERSION["relative"]
    assert res.abs_uplift == pytest.approx(gb_abs["expected"], rel=1e-12)
    assert res.rel_uplift == pytest.approx(gb_rel["expected"], rel=1e-12)
    assert res.abs_ci == pytest.approx(gb_abs["ci"], rel=5e-4)
    assert res.p_value == pytest.approx(gb_abs["p_value"], rel=1e-3)
    ref = log_ratio_reference(GB_CONVERSION["control"], GB_CONVERSION["treatment"])
    assert res.rel_ci == pytest.approx(ref["ci"], rel=1e-10)
    assert res.rel_p_value == pytest.approx(ref["p_value"], rel=1e-10)


def test_matches_scipy_welch_on_raw_values() -> None:
    rng = np.random.default_rng(7)
    control_values = rng.gamma(0.4, 25.0, size=700) * (rng.random(700) < 0.3)
    treatment_values = rng.gamma(0.4, 28.0, size=950) * (rng.random(950) < 0.3)
    res = frequentist(
        Sample.from_values(control_values), Sample.from_values(treatment_values), alpha=0.1
    )
    ref = stats.ttest_ind(treatment_values, control_values, equal_var=False)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert res.df == pytest.approx(ref.df, rel=1e-9)
    assert res.abs_ci == pytest.approx(tuple(ref.confidence_interval(0.9)), rel=1e-9)
    assert res.abs_uplift / res.abs_se == pytest.approx(ref.statistic, rel=1e-9)


def test_matches_scipy_ttest_ind_from_stats() -> None:
    control, treatment = Sample.from_moments(300, 4.2, 9.0), Sample.from_moments(410, 4.9, 12.5)
    ref = stats.ttest_ind_from_stats(4.9, math.sqrt(12.5), 410, 4.2, 3.0, 300, equal_var=False)
    res = frequentist(control, treatment)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert res.abs_uplift / res.abs_se == pytest.approx(ref.statistic, rel=1e-10)


def test_conversions_agree_with_statsmodels_wald_test() -> None:
    """statsmodels' Wald test uses z and p(1-p)/n; with 20,000 per arm t≈z and n/(n-1)≈1."""
    res = frequentist(Sample.from_conversions(20000, 1000), Sample.from_conversions(21000, 1134))
    ref = sm_proportion.test_proportions_2indep(
        1134, 21000, 1000, 20000, method="wald", compare="diff"
    )
    low, high = sm_proportion.confint_proportions_2indep(
        1134, 21000, 1000, 20000, method="wald", compare="diff"
    )
    assert res.p_value == pytest.approx(ref.pvalue, rel=2e-3)
    assert res.abs_ci == pytest.approx((low, high), rel=1e-3)


def test_result_carries_inputs_and_is_json_ready() -> None:
    res = frequentist(Sample.from_conversions(1000, 50), Sample.from_conversions(1000, 65))
    assert (res.n_control, res.n_treatment) == (1000.0, 1000.0)
    assert (res.mean_control, res.mean_treatment) == (0.05, 0.065)
    record = res.to_dict()
    assert record["abs_ci"] == list(res.abs_ci) and record["notes"] == []
    assert all(isinstance(v, (float, int, str, list)) for v in record.values())


def test_batch_equals_scalar() -> None:
    n = np.array([100.0, 2000.0, 15.0])
    control = Sample(n, np.array([12.0, 300.5, 2.0]), np.array([40.0, 900.0, 3.0]))
    treatment = Sample(n + 5, np.array([15.0, 340.0, 4.0]), np.array([50.0, 1100.0, 6.5]))
    batch = frequentist_batch(control, treatment)
    for i in range(3):
        one = frequentist(
            Sample(n[i], control.sum[i], control.sum_sq[i]),
            Sample(n[i] + 5, treatment.sum[i], treatment.sum_sq[i]),
        )
        assert one.abs_ci == (batch["abs_low"][i], batch["abs_high"][i])
        assert one.rel_p_value == batch["rel_p_value"][i]


def test_bad_alpha_is_a_liftlab_error() -> None:
    with pytest.raises(LiftlabError, match="alpha"):
        frequentist(Sample(10, 1, 1), Sample(10, 2, 2), alpha=1.5)


# --- degenerate input: clear results, no exceptions, no RuntimeWarnings (filterwarnings=error)


def test_empty_arm() -> None:
    res = frequentist(Sample(0, 0, 0), Sample.from_conversions(50, 5))
    assert math.isnan(res.abs_uplift) and math.isnan(res.abs_ci[0])
    assert res.p_value == 1.0
    assert any("control has no units" in note for note in res.notes)


def test_single_unit_arm() -> None:
    res = frequentist(Sample.from_values([3.0]), Sample.from_values([1.0, 2.0, 4.0]))
    assert res.abs_uplift == pytest.approx(-2 / 3)
    assert math.isnan(res.abs_ci[0]) and math.isnan(res.abs_ci[1])
    assert res.p_value == 1.0
    assert any("fewer than 2 units" in note for note in res.notes)


def test_zero_conversions_in_both_arms() -> None:
    res = frequentist(Sample.from_conversions(500, 0), Sample.from_conversions(480, 0))
    assert res.abs_uplift == 0.0 and res.abs_ci == (0.0, 0.0) and res.p_value == 1.0
    assert math.isnan(res.rel_uplift) and math.isnan(res.rel_p_value)
    assert "no variation in either arm: the interval has zero width" in res.notes
    assert "control mean is 0: relative uplift is undefined" in res.notes


def test_zero_conversions_in_control_only() -> None:
    res = frequentist(Sample.from_conversions(500, 0), Sample.from_conversions(500, 9))
    ref = stats.ttest_ind(np.r_[np.ones(9), np.zeros(491)], np.zeros(500), equal_var=False)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert math.isnan(res.rel_uplift) and math.isnan(res.rel_ci[0])


def test_zero_variance_with_different_means() -> None:
    res = frequentist(Sample.from_values([2.0] * 10), Sample.from_values([3.0] * 12))
    assert res.abs_ci == (1.0, 1.0) and res.p_value == 0.0
    assert res.rel_ci == pytest.approx((0.5, 0.5))


@settings(max_examples=200, deadline=None)
@given(
    n_c=st.integers(0, 5000),
    n_t=st.integers(0, 5000),
    rate_c=st.floats(0, 1),
    rate_t=st.floats(0, 1),
    alpha=st.floats(0.001, 0.5),
)
def test_properties_for_any_conversion_counts(
    n_c: int, n_t: int, rate_c: float, rate_t: float, alpha: float
) -> None:
    """Never raises; p in [0, 1]; p < alpha exactly when the interval excludes 0."""
    res = frequentist(
        Sample.from_conversions(n_c, round(rate_c * n_c)),
        Sample.from_conversions(n_t, round(rate_t * n_t)),
        alpha=alpha,
    )
    assert 0.0 <= res.p_value <= 1.0
    low, high = res.abs_ci
    if not math.isnan(low):
        assert low <= res.abs_uplift <= high
        if res.p_value < alpha * (1 - 1e-9):
            assert low > 0 or high < 0
        elif res.p_value > alpha * (1 + 1e-9):
            assert low <= 0 <= high
    rel_low, rel_high = res.rel_ci
    if not math.isnan(rel_low):
        assert -1.0 <= rel_low <= res.rel_uplift <= rel_high
        if res.rel_p_value < alpha * (1 - 1e-9):
            assert rel_low > 0 or rel_high < 0
        elif res.rel_p_value > alpha * (1 + 1e-9):
            assert rel_low <= 0 <= rel_high

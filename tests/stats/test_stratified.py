"""Stratified pooled comparison: closed form, coverage, and Simpson's paradox."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from liftlab.errors import LiftlabError
from liftlab.stats import Sample, frequentist, stratified, stratified_batch

pytestmark = pytest.mark.filterwarnings("error")

# Simpson: segment A (baseline 20%) keeps a 50% control; segment B (baseline 2%) only 10%.
# The campaign adds +1 point in both.
CONTROLS = [Sample.from_conversions(5000, 1000), Sample.from_conversions(1000, 20)]
TREATMENTS = [Sample.from_conversions(5000, 1050), Sample.from_conversions(9000, 270)]


def test_matches_the_closed_form_by_hand() -> None:
    res = stratified(CONTROLS, TREATMENTS)
    w = np.array([10000, 10000]) / 20000
    p_c, p_t = np.array([0.2, 0.02]), np.array([0.21, 0.03])
    n_c, n_t = np.array([5000, 1000]), np.array([5000, 9000])
    v_c = p_c * (1 - p_c) * n_c / (n_c - 1) / n_c  # n-1 variance of a 0/1 metric, over n
    v_t = p_t * (1 - p_t) * n_t / (n_t - 1) / n_t
    diff = float(w @ (p_t - p_c))
    var = float(w**2 @ (v_t + v_c))
    df = var**2 / float(((w**2 * v_t) ** 2 / (n_t - 1) + (w**2 * v_c) ** 2 / (n_c - 1)).sum())
    q = stats.t.ppf(0.975, df)
    assert res.abs_uplift == pytest.approx(0.01, rel=1e-12)
    assert res.abs_ci == pytest.approx((diff - q * math.sqrt(var), diff + q * math.sqrt(var)))
    assert res.p_value == pytest.approx(2 * stats.t.sf(diff / math.sqrt(var), df), rel=1e-9)
    m_c, m_t = float(w @ p_c), float(w @ p_t)
    assert res.rel_uplift == pytest.approx(m_t / m_c - 1)
    log_se = math.sqrt(float(w**2 @ v_t) / m_t**2 + float(w**2 @ v_c) / m_c**2)
    assert res.rel_se == pytest.approx(log_se, rel=1e-12)
    expected = np.expm1(math.log(m_t / m_c) + np.array([-q, q]) * log_se)
    assert res.rel_ci == pytest.approx(tuple(expected), rel=1e-10)


def test_one_stratum_is_the_plain_welch_comparison() -> None:
    one = stratified([CONTROLS[0]], [TREATMENTS[0]])
    ref = frequentist(CONTROLS[0], TREATMENTS[0])
    assert one.abs_ci == pytest.approx(ref.abs_ci, rel=1e-12)
    assert one.rel_ci == pytest.approx(ref.rel_ci, rel=1e-12)
    assert one.p_value == pytest.approx(ref.p_value, rel=1e-12)


def test_simpsons_paradox_biases_the_naive_pool_but_not_the_stratified_one() -> None:
    """Expected values: naive pooled = 1320/14000 - 1020/6000 = -7.6 points (the campaign
    looks harmful); stratified = +1.0 point, the truth. Simulated, 10,000 reports."""
    naive = frequentist(sum(CONTROLS), sum(TREATMENTS))
    assert naive.abs_uplift == pytest.approx(1320 / 14000 - 1020 / 6000)
    assert naive.abs_ci[1] < 0  # confidently wrong
    rng = np.random.default_rng(17)
    sims = 10_000
    controls, treatments = [], []
    for n_c, n_t, rate in ((5000, 5000, 0.20), (1000, 9000, 0.02)):
        c = rng.binomial(n_c, rate, sims).astype(float)
        t = rng.binomial(n_t, rate + 0.01, sims).astype(float)
        controls.append(Sample(np.full(sims, float(n_c)), c, c))
        treatments.append(Sample(np.full(sims, float(n_t)), t, t))
    out = stratified_batch(controls, treatments)
    naive_pool = sum(treatments).mean - sum(controls).mean
    assert abs(np.mean(naive_pool) + 0.076) < 0.001
    assert abs(np.mean(out["abs_uplift"]) - 0.01) < 0.0002  # sd of the mean ≈ 0.00005
    covered = (out["abs_low"] <= 0.01) & (0.01 <= out["abs_high"])
    truth_rel = (0.5 * 0.21 + 0.5 * 0.03) / (0.5 * 0.20 + 0.5 * 0.02) - 1
    rel_covered = (out["rel_low"] <= truth_rel) & (truth_rel <= out["rel_high"])
    # measured (seed 17): 94.86% absolute, 94.80% relative
    assert 0.94 <= np.mean(covered) <= 0.96
    assert 0.94 <= np.mean(rel_covered) <= 0.96


def test_coverage_on_skewed_revenue_strata() -> None:
    """Three strata of lognormal spend with zeros, unequal sizes and control shares."""
    rng = np.random.default_rng(23)
    sims, truth = 10_000, 0.0
    controls, treatments = [], []
    for n_c, n_t, buy in ((800, 3200, 0.3), (2500, 2500, 0.1), (600, 5400, 0.05)):
        for arm, n in ((controls, n_c), (treatments, n_t)):
            buyers = rng.binomial(n, buy, sims)
            spend = rng.lognormal(3.0, 0.8, int(buyers.sum()))
            which = np.repeat(np.arange(sims), buyers)
            arm.append(
                Sample(
                    np.full(sims, float(n)),
                    np.bincount(which, spend, sims),
                    np.bincount(which, spend**2, sims),
                )
            )
    out = stratified_batch(controls, treatments)
    # measured (seed 23): 94.75% absolute, 94.70% relative
    assert 0.94 <= np.mean((out["abs_low"] <= truth) & (truth <= out["abs_high"])) <= 0.96
    assert 0.94 <= np.mean((out["rel_low"] <= truth) & (truth <= out["rel_high"])) <= 0.96
    assert np.all(out["rel_low"] > -1)


def test_empty_strata_are_left_out_with_a_note_and_weights_can_be_given() -> None:
    res = stratified(CONTROLS + [Sample(0, 0, 0)], TREATMENTS + [Sample.from_conversions(50, 3)])
    assert res.abs_uplift == pytest.approx(0.01) and res.n_treatment == 14000
    assert res.notes == ("stratum 2 left out: an arm has fewer than 2 units",)
    only_b = stratified(CONTROLS, TREATMENTS, weights=[0.0, 1.0])
    assert only_b.abs_uplift == pytest.approx(0.01) and only_b.mean_control == pytest.approx(0.02)
    nothing = stratified([Sample(0, 0, 0)], [Sample(1, 1, 1)])
    assert math.isnan(nothing.abs_uplift) and nothing.p_value == 1.0
    assert "undefined" in nothing.notes[-1]
    with pytest.raises(LiftlabError, match="weights"):
        stratified(CONTROLS, TREATMENTS, weights=[1.0])
    with pytest.raises(LiftlabError, match="stratum"):
        stratified(CONTROLS, TREATMENTS[:1])

"""Empirical-Bayes shrinkage: τ² against statsmodels, and lower MSE when segments look alike."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from liftlab.stats import shrink

pytestmark = pytest.mark.filterwarnings("error")


def test_tau2_and_grand_mean_match_statsmodels_dersimonian_laird() -> None:
    rng = np.random.default_rng(5)
    se = rng.uniform(0.005, 0.03, 11)
    theta = rng.normal(0.02, 0.015, 11) + rng.normal(0, se)
    res = shrink(theta, se)
    ref = combine_effects(theta, se**2, method_re="dl")
    assert res.tau2 == pytest.approx(ref.tau2, rel=1e-8, abs=1e-12)
    assert res.tau2 > 0
    assert res.grand_mean == pytest.approx(ref.mean_effect_re, rel=1e-8)
    assert res.grand_mean_se == pytest.approx(ref.sd_eff_w_re, rel=1e-8)
    # shrunken estimate in closed form, with μ₂ = τ² floored at 2Σs⁴ / (KΣs²)
    assert res.mu2 == pytest.approx(max(res.tau2, 2 * np.sum(se**4) / (11 * np.sum(se**2))), rel=1e-12)
    b = res.mu2 / (res.mu2 + se**2)
    assert np.array(res.estimates) == pytest.approx(res.grand_mean + b * (theta - res.grand_mean))
    assert np.array(res.shrinkage) == pytest.approx(b)


def test_degenerate_inputs() -> None:
    res = shrink([0.01, math.nan, 0.03, 0.02, 0.05], [0.01, 0.01, 0.0, 0.02, 0.01])
    assert math.isnan(res.estimates[1]) and math.isnan(res.estimates[2])
    assert "left out" in res.notes[0]
    two = shrink([0.01, 0.03], [0.01, 0.02])
    assert two.estimates == (0.01, 0.03) and two.shrinkage == (1.0, 1.0)
    assert math.isnan(two.tau2) and any("no shrinkage" in n for n in two.notes)
    alike = shrink([0.02, 0.021, 0.019], [0.01, 0.01, 0.01])
    # τ² = 0, but μ₂ is floored at 2·3·1e-8 / (3·3e-4): B = (2/3e4) / (2/3e4 + 1e-4) = 0.4
    assert alike.tau2 == 0 and alike.mu2 == pytest.approx(2 / 3e4)
    assert alike.estimates == pytest.approx([0.02, 0.0204, 0.0196]) and alike.shrinkage == pytest.approx([0.4] * 3)
    assert shrink([], []).estimates == ()
    assert alike.to_dict()["intervals"][0] == list(alike.intervals[0])


def simulate(spread: float, seed: int, reps: int = 1000, *, two_point: bool = False) -> dict[str, float]:
    """11 segments, standard errors 0.005–0.03 (small and large segments), true effects
    N(0.02, spread²) — or, with `two_point`, 0.02 ± spread with equal chance (far from normal)."""
    rng = np.random.default_rng(seed)
    se = np.geomspace(0.005, 0.03, 11)
    raw_err, shrunk_err, covered = [], [], []
    for _ in range(reps):
        if two_point:
            truth = 0.02 + spread * rng.choice([-1.0, 1.0], 11)
        else:
            truth = rng.normal(0.02, spread, 11)
        theta = truth + rng.normal(0, se)
        res = shrink(theta, se)
        raw_err.append((theta - truth) ** 2)
        shrunk_err.append((np.array(res.estimates) - truth) ** 2)
        low, high = np.array(res.intervals).T
        covered.append((low <= truth) & (truth <= high))
    return {
        "mse_ratio": float(np.mean(shrunk_err) / np.mean(raw_err)),
        "coverage": float(np.mean(covered)),
    }


def test_shrinkage_lowers_mse_and_its_intervals_cover_whether_segments_are_alike_or_not() -> None:
    """Measured (these seeds, 1,000 reports of 11 segments = 11,000 intervals each; coverage's
    standard error ≈ 0.2 points): true-effect sd 0.005 (alike): MSE ratio 0.142, coverage 98.9%;
    sd 0.10 (very different, ≫ the standard errors): 0.978, 94.7%; sd 0.015 (in between): 0.409,
    96.8%; no spread at all: 0.098, 99.2%; two-point effects 0.02 ± 0.01: 0.258, 98.2%.

    The plug-in normal intervals this replaced covered 83.6% and 89.1% in the first and third
    cases: τ² is estimated noisily and often truncated at 0. The robust intervals (AKP 2022)
    hold their level in every case, at the price of width where segments are alike."""
    alike, different, between = (simulate(0.005, 1), simulate(0.10, 2), simulate(0.015, 3))
    identical, bimodal = simulate(0.0, 4), simulate(0.01, 5, two_point=True)
    print(alike, different, between, identical, bimodal)
    assert alike["mse_ratio"] < 0.25 and identical["mse_ratio"] < 0.25
    assert different["mse_ratio"] <= 1.05
    assert between["mse_ratio"] < 0.6 and bimodal["mse_ratio"] < 0.9
    for case in (alike, between, identical, bimodal):
        assert case["coverage"] >= 0.95
    assert different["coverage"] >= 0.94  # hardly shrunk: the raw intervals' 95%, within noise

"""Calibration by simulation: A/A false-positive rate, interval coverage, P(beat) uniformity.

Every check is one vectorised call over 10,000 simulated experiments (fixed seeds). Binomial
noise: for a true rate of 5% over 10,000 experiments the standard deviation is
√(0.05·0.95/10⁴) = 0.22 points, so the band [0.04, 0.06] (and 94–96% for coverage) is ±4.6 sd —
a correct engine passes for any seed, a miscalibrated one (say 6.5%) cannot.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from liftlab.stats import Sample, bayesian_batch, frequentist_batch

pytestmark = pytest.mark.filterwarnings("error")

EXPERIMENTS = 10_000
CONVERSION_RATE = 0.05
ARM_SIZE = 4_000
# Skewed revenue: 10% of customers buy, spend lognormal(μ=3, σ=1); 90% zeros.
BUY_RATE, LOG_MU, LOG_SIGMA, REVENUE_ARM = 0.10, 3.0, 1.0, 10_000
REVENUE_MEAN = BUY_RATE * np.exp(LOG_MU + LOG_SIGMA**2 / 2)


def conversion_arm(rng: np.random.Generator, rate: float, n: int = ARM_SIZE) -> Sample:
    conversions = rng.binomial(n, rate, size=EXPERIMENTS).astype(float)
    return Sample(np.full(EXPERIMENTS, float(n)), conversions, conversions)


def revenue_arm(rng: np.random.Generator, lift: float = 0.0, n: int = REVENUE_ARM) -> Sample:
    """Sufficient statistics of EXPERIMENTS arms, drawing spend only for the buyers."""
    buyers = rng.binomial(n, BUY_RATE, size=EXPERIMENTS)
    spend = rng.lognormal(LOG_MU, LOG_SIGMA, size=int(buyers.sum())) * (1 + lift)
    which = np.repeat(np.arange(EXPERIMENTS), buyers)
    total = np.bincount(which, weights=spend, minlength=EXPERIMENTS)
    total_sq = np.bincount(which, weights=spend**2, minlength=EXPERIMENTS)
    return Sample(np.full(EXPERIMENTS, float(n)), total, total_sq)


@pytest.fixture(scope="module")
def conversion_aa() -> tuple[Sample, Sample]:
    rng = np.random.default_rng(20240601)
    return conversion_arm(rng, CONVERSION_RATE), conversion_arm(rng, CONVERSION_RATE)


@pytest.fixture(scope="module")
def revenue_aa() -> tuple[Sample, Sample]:
    rng = np.random.default_rng(20240602)
    return revenue_arm(rng), revenue_arm(rng)


@pytest.fixture(scope="module")
def conversion_lift() -> tuple[Sample, Sample, float, float]:
    """Planted effect: 5% → 5.5% (absolute +0.005, relative +10%)."""
    rng = np.random.default_rng(20240603)
    treated = CONVERSION_RATE * 1.10
    return (
        conversion_arm(rng, CONVERSION_RATE),
        conversion_arm(rng, treated),
        treated - CONVERSION_RATE,
        0.10,
    )


@pytest.fixture(scope="module")
def revenue_lift() -> tuple[Sample, Sample, float, float]:
    """Planted effect: every buyer spends 8% more."""
    rng = np.random.default_rng(20240604)
    return revenue_arm(rng), revenue_arm(rng, lift=0.08), 0.08 * REVENUE_MEAN, 0.08


def covered(low: np.ndarray, high: np.ndarray, truth: float) -> float:
    return float(np.mean((low <= truth) & (truth <= high)))


@pytest.mark.parametrize("data", ["conversion_aa", "revenue_aa"])
def test_aa_false_positive_rate(data: str, request: pytest.FixtureRequest) -> None:
    control, treatment = request.getfixturevalue(data)
    out = frequentist_batch(control, treatment, alpha=0.05)
    # measured (these seeds): conversion 0.0522 abs / 0.0547 rel; revenue 0.0486 / 0.0503.
    # The delta-method relative test runs ~0.3-0.5 points hot at ~200 conversions per arm.
    assert 0.04 <= np.mean(out["p_value"] < 0.05) <= 0.06
    assert 0.04 <= np.mean(out["rel_p_value"] < 0.05) <= 0.06


@pytest.mark.parametrize("data", ["conversion_lift", "revenue_lift"])
def test_frequentist_intervals_cover_planted_effect(
    data: str, request: pytest.FixtureRequest
) -> None:
    control, treatment, abs_truth, rel_truth = request.getfixturevalue(data)
    out = frequentist_batch(control, treatment, alpha=0.05)
    assert 0.94 <= covered(out["abs_low"], out["abs_high"], abs_truth) <= 0.96
    assert 0.94 <= covered(out["rel_low"], out["rel_high"], rel_truth) <= 0.96


@pytest.mark.parametrize(
    ("data", "kind"), [("conversion_lift", "conversion"), ("revenue_lift", "revenue")]
)
def test_credible_intervals_cover_planted_effect(
    data: str, kind: str, request: pytest.FixtureRequest
) -> None:
    """With a flat (or uniform) prior, 95% credible intervals have ~95% frequentist coverage."""
    control, treatment, abs_truth, rel_truth = request.getfixturevalue(data)
    out = bayesian_batch(control, treatment, kind=kind)
    assert 0.94 <= covered(out["abs_low"], out["abs_high"], abs_truth) <= 0.96
    assert 0.94 <= covered(out["rel_low"], out["rel_high"], rel_truth) <= 0.96


@pytest.mark.parametrize(
    ("data", "kind"), [("conversion_aa", "conversion"), ("revenue_aa", "revenue")]
)
def test_prob_beat_control_is_uniform_under_the_null(
    data: str, kind: str, request: pytest.FixtureRequest
) -> None:
    """KS test against U(0, 1). With 10,000 draws the 1% critical value of D is 0.0163, so any
    miscalibration bigger than ~1.6 points of probability fails."""
    control, treatment = request.getfixturevalue(data)
    prob = bayesian_batch(control, treatment, kind=kind)["prob_beat_control"]
    result = stats.kstest(prob, "uniform")
    assert result.pvalue > 0.01, result
    # and P(beat) > 0.95 happens ~5% of the time, as a one-sided test at 5% would
    assert 0.04 <= np.mean(prob > 0.95) <= 0.06

"""Sequential testing: gbstats agreement, and honest error rates for teams who peek daily."""

from __future__ import annotations

import math

import numpy as np
import pytest

from liftlab.errors import LiftlabError
from liftlab.stats import Sample, frequentist, frequentist_batch, sequential, sequential_batch

pytestmark = pytest.mark.filterwarnings("error")

LOOKS, PER_LOOK, EXPERIMENTS = 20, 250, 4_000  # 20 daily looks, +250 customers per arm each


def test_matches_growthbook_sequential_engine() -> None:
    """gbstats 0.8.0 SequentialTwoSidedTTest(a, b, SequentialConfig(difference_type=...,
    sequential_tuning_parameter=5000)); numbers copied from a throwaway venv."""
    res = sequential(Sample(4800, 61234.5, 2.95e6), Sample(5120, 70111.25, 3.41e6), tuning=5000)
    assert res.abs_ci == pytest.approx((-0.38944303954742754, 2.2622750707974264), rel=1e-10)
    assert res.p_value == pytest.approx(0.4546924547818421, rel=1e-10)
    # the relative sequence is liftlab's log-ratio one: closed form below, near gbstats'
    control, treatment = Sample(4800, 61234.5, 2.95e6), Sample(5120, 70111.25, 3.41e6)
    m_c, m_t = float(control.mean), float(treatment.mean)
    log_ratio = math.log(m_t / m_c)
    var = float(treatment.variance) / (5120 * m_t**2) + float(control.variance) / (4800 * m_c**2)
    n, alpha = 4800 + 5120, 0.05
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / 5000
    half = math.sqrt(var * n) * math.sqrt(
        2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha)
    )
    p = math.sqrt(1 + n * rho2) * math.exp(-(log_ratio**2) * n * rho2 / (2 * var * (1 + n * rho2)))
    assert res.rel_ci == pytest.approx(
        (math.expm1(log_ratio - half), math.expm1(log_ratio + half)), rel=1e-10
    )
    assert res.rel_p_value == pytest.approx(min(p, 1.0), rel=1e-10)
    assert res.rel_ci == pytest.approx((-0.03442299488126627, 0.18122902334561225), abs=0.01)
    assert res.rel_p_value == pytest.approx(0.5314017451882416, abs=0.1)


def test_confidence_sequence_is_wider_than_the_fixed_interval_and_consistent() -> None:
    control, treatment = Sample.from_conversions(5000, 250), Sample.from_conversions(5000, 300)
    seq, fixed = sequential(control, treatment, tuning=10_000), frequentist(control, treatment)
    assert seq.abs_ci[0] < fixed.abs_ci[0] and seq.abs_ci[1] > fixed.abs_ci[1]
    assert seq.p_value > fixed.p_value
    assert (seq.p_value < 0.05) == (seq.abs_ci[0] > 0 or seq.abs_ci[1] < 0)


def test_tuning_is_the_sample_size_where_the_sequence_is_tightest() -> None:
    """At N = 20,000 units, of all tunings the one equal to 20,000 gives the narrowest sequence
    (ρ from the paper's closed-form approximation, so allow ±30% around the optimum)."""
    tunings = np.geomspace(1_000, 400_000, 300)
    widths = [
        np.diff(
            sequential(
                Sample.from_moments(10_000, 1.0, 4.0),
                Sample.from_moments(10_000, 1.1, 4.0),
                tuning=t,
            ).abs_ci
        )[0]
        for t in tunings
    ]
    best = tunings[int(np.argmin(widths))]
    assert 20_000 / 1.3 <= best <= 20_000 * 1.3


def peeking_experiments(seed: int, effect: float = 0.0) -> tuple[Sample, Sample]:
    """Cumulative conversion counts at each look: arrays of shape (EXPERIMENTS, LOOKS)."""
    rng = np.random.default_rng(seed)
    control = rng.binomial(PER_LOOK, 0.05, size=(EXPERIMENTS, LOOKS)).cumsum(axis=1).astype(float)
    treatment = (
        rng.binomial(PER_LOOK, 0.05 + effect, size=(EXPERIMENTS, LOOKS))
        .cumsum(axis=1)
        .astype(float)
    )
    n = np.broadcast_to(PER_LOOK * np.arange(1.0, LOOKS + 1), (EXPERIMENTS, LOOKS))
    return Sample.from_conversions(n, control), Sample.from_conversions(n, treatment)


def peeking_revenue(seed: int) -> tuple[Sample, Sample]:
    """A/A revenue (10% buyers, lognormal spend), cumulative per look."""
    rng = np.random.default_rng(seed)
    arms = []
    for _ in range(2):
        buyers = rng.binomial(PER_LOOK, 0.10, size=EXPERIMENTS * LOOKS)
        spend = rng.lognormal(3.0, 1.0, size=int(buyers.sum()))
        which = np.repeat(np.arange(EXPERIMENTS * LOOKS), buyers)
        total = (
            np.bincount(which, spend, EXPERIMENTS * LOOKS)
            .reshape(EXPERIMENTS, LOOKS)
            .cumsum(axis=1)
        )
        total_sq = (
            np.bincount(which, spend**2, EXPERIMENTS * LOOKS)
            .reshape(EXPERIMENTS, LOOKS)
            .cumsum(axis=1)
        )
        n = np.broadcast_to(PER_LOOK * np.arange(1.0, LOOKS + 1), (EXPERIMENTS, LOOKS))
        arms.append(Sample(n, total, total_sq))
    return arms[0], arms[1]


@pytest.mark.parametrize("simulate", [peeking_experiments, peeking_revenue])
def test_peeking_daily_keeps_the_false_positive_rate(simulate) -> None:  # type: ignore[no-untyped-def]
    """4,000 A/A experiments, 20 looks each, stop at the first p < 0.05.

    Naive fixed-horizon p-values then reject far too often (measured ≈ 0.25); always-valid
    p-values stay below 0.05 (measured ≈ 0.01). Binomial sd at 0.05 over 4,000 runs: 0.34 points.
    """
    control, treatment = simulate(7)
    naive = frequentist_batch(control, treatment)["p_value"]
    always_valid = sequential_batch(control, treatment, tuning=2 * PER_LOOK * LOOKS)["p_value"]
    naive_fpr = np.mean((naive < 0.05).any(axis=1))
    sequential_fpr = np.mean((always_valid < 0.05).any(axis=1))
    assert naive_fpr > 0.15
    assert sequential_fpr <= 0.05
    # a single fixed-horizon look at the end is still calibrated
    assert 0.04 <= np.mean(naive[:, -1] < 0.05) <= 0.06


def test_confidence_sequence_covers_at_every_look() -> None:
    """Time-uniform coverage: the 95% sequence holds the true effect at all 20 looks ≥ 95%."""
    control, treatment = peeking_experiments(8, effect=0.01)
    out = sequential_batch(control, treatment, tuning=2 * PER_LOOK * LOOKS)
    always = ((out["abs_low"] <= 0.01) & (0.01 <= out["abs_high"])).all(axis=1)
    assert np.mean(always) >= 0.95


def test_degenerate_input_and_bad_tuning() -> None:
    res = sequential(Sample(0, 0, 0), Sample.from_conversions(10, 1))
    assert res.p_value == 1.0 and math.isnan(res.abs_ci[0]) and res.notes
    flat = sequential(Sample.from_conversions(100, 0), Sample.from_conversions(100, 0))
    assert flat.p_value == 1.0 and flat.abs_ci == (0.0, 0.0) and math.isnan(flat.rel_p_value)
    with pytest.raises(LiftlabError, match="tuning"):
        sequential(Sample.from_conversions(10, 1), Sample.from_conversions(10, 2), tuning=0)

"""Power calculations against statsmodels and by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.power import NormalIndPower, normal_sample_size_one_tail

from liftlab.errors import LiftlabError
from liftlab.stats import Sample, frequentist_batch, mde, sample_size

pytestmark = pytest.mark.filterwarnings("error")


@pytest.mark.parametrize("ratio", [1.0, 2.0, 0.5])
def test_revenue_sample_size_matches_normal_ind_power(ratio: float) -> None:
    """statsmodels also counts the far tail (≈1e-6 of power here): rel=1e-4 before rounding."""
    res = sample_size(25.0, 0.04, kind="revenue", sd=60.0, ratio=ratio)
    ref = NormalIndPower().solve_power(effect_size=1.0 / 60.0, alpha=0.05, power=0.8, ratio=ratio)
    assert res.n_control == pytest.approx(ref, rel=1e-4, abs=1.0)
    assert res.n_treatment == math.ceil(ratio * res.n_control)
    assert res.abs_effect == pytest.approx(1.0) and res.rel_effect == pytest.approx(0.04)


def test_conversion_sample_size_matches_statsmodels_unpooled_formula() -> None:
    """n = ((z_α/2 + z_β)·σ/δ)², σ² = p₁(1-p₁) + p₂(1-p₂)/r (statsmodels' generic one-tail)."""
    p1, p2, ratio = 0.05, 0.055, 1.5
    sigma = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / ratio)
    ref = normal_sample_size_one_tail(p2 - p1, 0.8, 0.05 / 2, std_null=sigma, std_alternative=sigma)
    res = sample_size(0.05, 0.10, ratio=ratio)
    assert res.n_control == math.ceil(ref)
    absolute = sample_size(0.05, 0.005, relative=False, ratio=ratio)
    assert (absolute.n_control, absolute.n_treatment) == (res.n_control, res.n_treatment)


def test_mde_for_revenue_matches_normal_ind_power() -> None:
    res = mde(4000, 6000, 25.0, kind="revenue", sd=60.0)
    effect = NormalIndPower().solve_power(nobs1=4000, alpha=0.05, power=0.8, ratio=1.5)
    assert res.absolute == pytest.approx(effect * 60.0, rel=1e-5)
    assert res.relative == pytest.approx(res.absolute / 25.0)


@settings(max_examples=100, deadline=None)
@given(
    baseline=st.floats(0.005, 0.6),
    n_control=st.integers(200, 10**6),
    ratio=st.floats(0.2, 5.0),
    power=st.floats(0.5, 0.95),
)
def test_mde_and_sample_size_round_trip(
    baseline: float, n_control: int, ratio: float, power: float
) -> None:
    n_treatment = ratio * n_control
    effect = mde(n_control, n_treatment, baseline, power=power)
    if baseline + effect.absolute >= 1:
        return
    back = sample_size(baseline, effect.absolute, relative=False, power=power, ratio=ratio)
    assert back.n_control == pytest.approx(n_control, rel=1e-6, abs=1)


def test_planned_sample_size_gives_the_promised_power() -> None:
    """Simulate 10,000 experiments at the planned size: rejection rate ≈ 80% (sd 0.4 points)."""
    plan = sample_size(0.05, 0.10, power=0.8)
    rng = np.random.default_rng(9)
    control = rng.binomial(plan.n_control, 0.05, 10_000).astype(float)
    treatment = rng.binomial(plan.n_treatment, 0.055, 10_000).astype(float)
    out = frequentist_batch(
        Sample.from_conversions(np.full(10_000, float(plan.n_control)), control),
        Sample.from_conversions(np.full(10_000, float(plan.n_treatment)), treatment),
    )
    assert 0.78 <= np.mean(out["p_value"] < 0.05) <= 0.82


def test_bad_arguments_are_liftlab_errors() -> None:
    with pytest.raises(LiftlabError, match="sd"):
        sample_size(20.0, 0.05, kind="revenue")
    with pytest.raises(LiftlabError, match="rate"):
        sample_size(1.5, 0.05)
    with pytest.raises(LiftlabError, match="mde"):
        sample_size(0.9, 0.2)
    with pytest.raises(LiftlabError, match="power"):
        mde(100, 100, 0.1, power=1.0)
    with pytest.raises(LiftlabError, match="unit"):
        mde(0, 100, 0.1)

"""Bayesian engine against exact sums, numerical integration, Monte Carlo and gbstats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from liftlab.errors import LiftlabError
from liftlab.stats import BetaPrior, NormalPrior, Sample, bayesian, bayesian_batch, prob_best
from liftlab.stats.bayesian import beta_comparison

pytestmark = pytest.mark.filterwarnings("error")


def evan_miller(a_c: float, b_c: float, a_t: float, b_t: float) -> float:
    """Exact P(p_t > p_c) for integer a_t (Evan Miller, "Formulas for Bayesian A/B testing")."""
    i = np.arange(int(a_t))
    log_terms = (
        special.betaln(a_c + i, b_c + b_t)
        - np.log(b_t + i)
        - special.betaln(1 + i, b_t)
        - special.betaln(a_c, b_c)
    )
    return float(np.exp(log_terms).sum())


def loss_by_quad(a_c: float, b_c: float, a_t: float, b_t: float) -> float:
    """E[max(p_c - p_t, 0)] by adaptive quadrature over p_c's bulk."""
    mean_t = a_t / (a_t + b_t)

    def integrand(c: float) -> float:
        inner = c * stats.beta.cdf(c, a_t, b_t) - mean_t * stats.beta.cdf(c, a_t + 1, b_t)
        return stats.beta.pdf(c, a_c, b_c) * inner

    upper = stats.beta.isf(1e-14, a_c, b_c)
    return integrate.quad(integrand, 0, upper, limit=400, epsabs=1e-15, epsrel=1e-10)[0]


CASES = [
    (1, 1, 1, 1),
    (613, 11389, 690, 11187),
    (1, 1001, 1, 1),
    (1, 1, 1, 1001),
    (3, 98, 30, 71),
    (1, 101, 2, 1000),
    (50, 50, 60, 40),
    (1, 20001, 3, 20000),
    (2000, 38000, 2100, 37900),
    (400, 100, 1, 1),
]


@pytest.mark.parametrize("params", CASES)
def test_prob_beat_control_equals_the_exact_sum(params: tuple[int, int, int, int]) -> None:
    prob, _ = beta_comparison(*params)
    assert float(prob) == pytest.approx(evan_miller(*params), abs=1e-9)


@pytest.mark.parametrize("params", CASES)
def test_expected_loss_equals_adaptive_quadrature(params: tuple[int, int, int, int]) -> None:
    _, loss = beta_comparison(*params)
    assert float(loss) == pytest.approx(loss_by_quad(*params), rel=1e-6, abs=1e-13)


def test_exact_agreement_on_random_counts() -> None:
    rng = np.random.default_rng(11)
    n = rng.integers(1, 3000, size=(60, 2))
    conversions = rng.integers(0, n + 1)
    a, b = 1.0 + conversions, 1.0 + n - conversions
    prob, _ = beta_comparison(a[:, 0], b[:, 0], a[:, 1], b[:, 1])
    exact = [evan_miller(a[i, 0], b[i, 0], a[i, 1], b[i, 1]) for i in range(60)]
    assert prob == pytest.approx(exact, abs=1e-9)


def test_conversion_result_against_monte_carlo() -> None:
    """1,000,000 posterior draws: MC standard error ≈ 2.5e-4 for probabilities; tolerance 4 se."""
    res = bayesian(Sample.from_conversions(4000, 200), Sample.from_conversions(4100, 236))
    rng = np.random.default_rng(3)
    control = rng.beta(201, 3801, 1_000_000)
    treatment = rng.beta(237, 3865, 1_000_000)
    assert res.prob_beat_control == pytest.approx(np.mean(treatment > control), abs=1e-3)
    assert res.expected_loss == pytest.approx(np.mean(np.maximum(control - treatment, 0)), rel=0.02)
    # normal approximation to the difference / log-ratio: quantiles within 2% of the width
    width = res.credible_interval[1] - res.credible_interval[0]
    mc = np.quantile(treatment - control, [0.025, 0.975])
    assert res.credible_interval == pytest.approx(tuple(mc), abs=0.02 * width)
    rel_width = res.rel_credible_interval[1] - res.rel_credible_interval[0]
    mc_rel = np.quantile(treatment / control - 1, [0.025, 0.975])
    assert res.rel_credible_interval == pytest.approx(tuple(mc_rel), abs=0.02 * rel_width)


# GrowthBook reference: gbstats 0.8.0, EffectBayesianABTest(a, b, EffectBayesianConfig(
# difference_type=..., prior_effect=GaussianPrior(...), prior_type="relative")); numbers only.
GB_CONTROL, GB_TREATMENT = Sample(4800, 61234.5, 2.95e6), Sample(5120, 70111.25, 3.41e6)
GB_FLAT = {
    "abs_ci": (0.08743734679705484, 1.7853946844529438),
    "chance_to_win": 0.984684091410747,
    "risk_treatment": 0.0023582925382026774,
    "rel_ci": (0.004359490092080642, 0.14244653837226534),
}
GB_PROPER = {
    "expected": 0.8396174436735178,
    "abs_ci": (0.03571548205745578, 1.6435194052895796),
    "chance_to_win": 0.9796729506021719,
    "risk_treatment": 0.003067360059060693,
    "rel_expected": 0.06529972946407292,
    "rel_ci": (0.00017863446026691876, 0.1304208244678789),
}


def log_ratio_credible_interval(
    control: Sample, treatment: Sample, prior: NormalPrior | None = None, alpha: float = 0.05
) -> tuple[float, float]:
    """Closed form: normal likelihood of log(μ_t/μ_c), the relative prior moved to the log
    scale by the delta method, conjugate update, exp(quantiles) - 1."""
    m_c, m_t = float(control.mean), float(treatment.mean)
    estimate = math.log(m_t) - math.log(m_c)
    variance = float(treatment.variance) / (float(treatment.n) * m_t**2) + float(
        control.variance
    ) / (float(control.n) * m_c**2)
    if prior is not None:
        prior_mean = math.log(1 + prior.mean)
        prior_var = prior.variance / (1 + prior.mean) ** 2
        precision = 1 / variance + 1 / prior_var
        estimate = (estimate / variance + prior_mean / prior_var) / precision
        variance = 1 / precision
    z = stats.norm.ppf(1 - alpha / 2)
    return (
        math.expm1(estimate - z * math.sqrt(variance)),
        math.expm1(estimate + z * math.sqrt(variance)),
    )


def test_revenue_matches_growthbook_with_a_flat_prior() -> None:
    """Absolute-difference chance to win, risk (loss of shipping treatment) and intervals."""
    res = bayesian(GB_CONTROL, GB_TREATMENT, kind="revenue")
    assert res.prob_beat_control == pytest.approx(GB_FLAT["chance_to_win"], rel=1e-10)
    assert res.expected_loss == pytest.approx(GB_FLAT["risk_treatment"], rel=1e-8)
    assert res.credible_interval == pytest.approx(GB_FLAT["abs_ci"], rel=1e-10)
    # the relative interval is liftlab's log-scale one; near gbstats' at this size
    expected = log_ratio_credible_interval(GB_CONTROL, GB_TREATMENT)
    assert res.rel_credible_interval == pytest.approx(expected, rel=1e-10)
    assert res.rel_credible_interval == pytest.approx(GB_FLAT["rel_ci"], abs=0.003)


def test_revenue_matches_growthbook_with_a_normal_prior() -> None:
    """GaussianPrior(mean=0, variance=0.01, proper=True) on the relative effect."""
    res = bayesian(GB_CONTROL, GB_TREATMENT, kind="revenue", prior=NormalPrior(0.0, 0.01))
    assert res.abs_uplift == pytest.approx(GB_PROPER["expected"], rel=1e-10)
    assert res.prob_beat_control == pytest.approx(GB_PROPER["chance_to_win"], rel=1e-10)
    assert res.expected_loss == pytest.approx(GB_PROPER["risk_treatment"], rel=1e-8)
    assert res.credible_interval == pytest.approx(GB_PROPER["abs_ci"], rel=1e-10)
    assert res.rel_uplift == pytest.approx(GB_PROPER["rel_expected"], rel=1e-10)
    expected = log_ratio_credible_interval(GB_CONTROL, GB_TREATMENT, NormalPrior(0.0, 0.01))
    assert res.rel_credible_interval == pytest.approx(expected, rel=1e-10)
    assert res.rel_credible_interval == pytest.approx(GB_PROPER["rel_ci"], abs=0.003)
    assert res.rel_credible_interval[0] < res.rel_uplift < res.rel_credible_interval[1]


def test_informative_beta_prior_shifts_the_posterior() -> None:
    flat = bayesian(Sample.from_conversions(100, 5), Sample.from_conversions(100, 9))
    sceptical = bayesian(
        Sample.from_conversions(100, 5), Sample.from_conversions(100, 9), prior=BetaPrior(50, 950)
    )
    assert sceptical.prob_beat_control < flat.prob_beat_control
    a_c, b_c, a_t, b_t = 55, 1045, 59, 1041
    assert sceptical.prob_beat_control == pytest.approx(evan_miller(a_c, b_c, a_t, b_t), abs=1e-9)


def test_prob_best_two_arms_equals_prob_beat_control() -> None:
    control, treatment = Sample.from_conversions(1000, 50), Sample.from_conversions(1000, 60)
    best = prob_best([control, treatment]).probabilities
    assert best[1] == pytest.approx(bayesian(control, treatment).prob_beat_control, abs=1e-8)
    revenue = [Sample.from_moments(800, 10.0, 400.0), Sample.from_moments(900, 11.0, 420.0)]
    best = prob_best(revenue, kind="revenue").probabilities
    assert best[1] == pytest.approx(bayesian(*revenue, kind="revenue").prob_beat_control, abs=1e-8)


def test_prob_best_three_arms_against_monte_carlo() -> None:
    """2,000,000 draws per arm: MC standard error ≤ 3.5e-4; tolerance 2e-3."""
    arms = [
        Sample.from_conversions(1000, 50),
        Sample.from_conversions(1000, 60),
        Sample.from_conversions(1000, 55),
    ]
    res = prob_best(arms)
    rng = np.random.default_rng(5)
    draws = np.stack([rng.beta(1 + c, 1 + 1000 - c, 2_000_000) for c in (50, 60, 55)])
    mc = np.bincount(draws.argmax(axis=0), minlength=3) / 2_000_000
    assert res.probabilities == pytest.approx(tuple(mc), abs=2e-3)
    assert sum(res.probabilities) == pytest.approx(1.0, abs=1e-12)


def test_prob_best_revenue_against_closed_form_for_three_arms() -> None:
    """For normal posteriors P(arm 0 best) is a bivariate normal orthant probability."""
    arms = [
        Sample.from_moments(500, 10.4, 300.0),
        Sample.from_moments(600, 10.0, 280.0),
        Sample.from_moments(550, 9.7, 320.0),
    ]
    res = prob_best(arms, kind="revenue")
    means = np.array([10.4, 10.0, 9.7])
    var = np.array([300 / 500, 280 / 600, 320 / 550])
    # X0 - X1 > 0 and X0 - X2 > 0
    cov = np.array([[var[0] + var[1], var[0]], [var[0], var[0] + var[2]]])
    exact = stats.multivariate_normal(mean=[0, 0], cov=cov).cdf(means[0] - means[1:])
    assert res.probabilities[0] == pytest.approx(exact, abs=1e-5)


def test_batch_equals_scalar() -> None:
    n = np.array([500.0, 900.0])
    control, treatment = (
        Sample.from_conversions(n, np.array([20.0, 40.0])),
        Sample.from_conversions(n, np.array([31.0, 38.0])),
    )
    batch = bayesian_batch(control, treatment)
    for i in range(2):
        one = bayesian(
            Sample.from_conversions(n[i], control.sum[i]),
            Sample.from_conversions(n[i], treatment.sum[i]),
        )
        assert one.prob_beat_control == pytest.approx(batch["prob_beat_control"][i], abs=1e-14)


def test_kind_and_prior_are_checked() -> None:
    with pytest.raises(LiftlabError, match="kind='revenue'"):
        bayesian(Sample.from_values([1.5, 20.0]), Sample.from_values([3.0, 0.0]))
    with pytest.raises(LiftlabError, match="prior"):
        bayesian(
            Sample.from_conversions(10, 1), Sample.from_conversions(10, 2), prior=NormalPrior()
        )
    with pytest.raises(LiftlabError, match="kind"):
        bayesian(Sample.from_conversions(10, 1), Sample.from_conversions(10, 2), kind="ratio")  # type: ignore[arg-type]


# --- degenerate input


def test_empty_conversion_arm_keeps_the_prior() -> None:
    res = bayesian(Sample(0, 0, 0), Sample(0, 0, 0))
    assert res.prob_beat_control == pytest.approx(0.5, abs=1e-12)
    assert res.expected_loss == pytest.approx(1 / 6, rel=1e-9)  # E|U1 - U2| / 2 for uniforms
    assert "control has no units: its posterior is the prior" in res.notes


def test_zero_conversions_everywhere() -> None:
    res = bayesian(Sample.from_conversions(2000, 0), Sample.from_conversions(2000, 0))
    assert res.prob_beat_control == pytest.approx(0.5, abs=1e-12)
    assert all(math.isfinite(v) for v in (*res.credible_interval, *res.rel_credible_interval))


def test_revenue_with_a_single_unit() -> None:
    res = bayesian(Sample.from_values([4.0]), Sample.from_values([1.0, 5.0]), kind="revenue")
    assert res.prob_beat_control == 0.5 and math.isnan(res.expected_loss)
    assert math.isnan(res.credible_interval[0])
    assert any("fewer than 2 units" in note for note in res.notes)


def test_revenue_with_zero_variance_and_zero_control() -> None:
    res = bayesian(
        Sample.from_values([0.0] * 5),
        Sample.from_values([2.0] * 5),
        kind="revenue",
        prior=NormalPrior(),
    )
    assert res.prob_beat_control == 1.0 and res.expected_loss == 0.0
    assert res.credible_interval == (2.0, 2.0)
    assert math.isnan(res.rel_credible_interval[0])
    assert any("relative prior cannot be scaled" in note for note in res.notes)


@settings(max_examples=150, deadline=None)
@given(
    n_c=st.integers(0, 20000),
    n_t=st.integers(0, 20000),
    rate_c=st.floats(0, 1),
    rate_t=st.floats(0, 1),
)
def test_probabilities_are_probabilities(n_c: int, n_t: int, rate_c: float, rate_t: float) -> None:
    res = bayesian(
        Sample.from_conversions(n_c, round(rate_c * n_c)),
        Sample.from_conversions(n_t, round(rate_t * n_t)),
    )
    assert 0.0 <= res.prob_beat_control <= 1.0
    assert 0.0 <= res.expected_loss <= 1.0
    low, high = res.credible_interval
    assert low <= res.abs_uplift <= high
    swapped = bayesian(
        Sample.from_conversions(n_t, round(rate_t * n_t)),
        Sample.from_conversions(n_c, round(rate_c * n_c)),
    )
    assert res.prob_beat_control + swapped.prob_beat_control == pytest.approx(1.0, abs=1e-7)

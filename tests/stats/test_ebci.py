"""Robust empirical-Bayes critical values (Armstrong, Kolesár & Plagborg-Møller 2022): the
worst-case miss probability against a brute-force search over two-point laws, and the critical
value against its defining equation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from liftlab.stats.ebci import critical_value, exact_critical_value, miss_probability, worst_miss


def brute_worst_miss(t: float, chi: float) -> float:
    """max over two-point laws of b² (u1 ≤ t ≤ u2, mean t) of the average miss, on a grid."""
    us = np.linspace(0.0, (chi + 8) ** 2, 40_001)
    g = miss_probability(np.sqrt(us), chi)
    low, high = us <= t, us >= t
    u1, u2 = np.meshgrid(us[low][::10], us[high][::10], indexing="ij")
    g1, g2 = np.meshgrid(g[low][::10], g[high][::10], indexing="ij")
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(u2 > u1, (t - u1) / (u2 - u1), 1.0)
    return float(max(miss_probability(np.sqrt(t), chi), np.nanmax((1 - p) * g1 + p * g2)))


def test_miss_probability_is_the_normal_tail_pair() -> None:
    assert miss_probability(0.0, 1.959963984540054) == pytest.approx(0.05, abs=1e-12)
    assert miss_probability(1.0, 2.0) == pytest.approx(special.ndtr(-3.0) + special.ndtr(-1.0), abs=1e-15)


@pytest.mark.parametrize("t", [0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 10.0])
def test_worst_miss_equals_a_brute_force_search_and_the_critical_value_solves_it(t: float) -> None:
    chi = float(exact_critical_value(t))
    assert float(worst_miss(t, chi)) == pytest.approx(0.05, abs=1e-9)
    assert brute_worst_miss(t, chi) == pytest.approx(0.05, abs=2e-5)  # grid of the search
    assert chi > float(special.ndtri(0.975))  # bias always costs width


def test_critical_value_limits_and_its_spline() -> None:
    z = float(special.ndtri(0.975))
    assert float(critical_value(0.0)) == pytest.approx(z, rel=1e-12)
    # large t: the worst case puts mass t/χ² far out, so cva ≈ √(t/α) (Chebyshev), not √t + z
    assert float(critical_value(1e4)) == pytest.approx(np.sqrt(1e4 / 0.05), rel=0.02)
    ts = np.exp(np.random.default_rng(3).uniform(np.log(1e-7), np.log(1e11), 200))
    assert critical_value(ts) == pytest.approx(exact_critical_value(ts), rel=1e-4)
    wider = np.sort(ts[ts > 1e-5])
    assert np.all(np.diff(critical_value(wider)) > 0)  # more bias, wider
    assert float(critical_value(1.0, alpha=0.1)) < float(critical_value(1.0, alpha=0.05))

"""Qini curve, Qini area, uplift at k% and the profit policy against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from liftlab.targeting.bootstrap import curve_draws
from liftlab.targeting.evaluation import evaluate_ranking
from liftlab.targeting.policy import choose_policy

# Ten customers; scores put them in the order written (highest first), arms alternate.
SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
TREATED = np.array([True, False] * 5)
OUTCOME = np.array([1, 0, 1, 0, 0, 0, 1, 1, 0, 1], dtype=float)
SHARES = np.round(np.arange(1, 11) / 10, 1)
# Shuffled input order: the functions must rank by score, not trust the row order.
SHUFFLE = np.random.default_rng(3).permutation(10)


def _by_hand() -> tuple[list[float | None], float]:
    """u(k/10) for k = 1..10 as treated mean − control mean over the top k rows, and u(1)."""
    uplift: list[float | None] = []
    for k in range(1, 11):
        t = [y for y, a in zip(OUTCOME[:k], TREATED[:k]) if a]
        c = [y for y, a in zip(OUTCOME[:k], TREATED[:k]) if not a]
        uplift.append(sum(t) / len(t) - sum(c) / len(c) if t and c else None)
    return uplift, uplift[-1]  # type: ignore[return-value]


def test_hand_values_written_out() -> None:
    uplift, average = _by_hand()
    # Top 2: treated {1}, control {0}; top 8: treated {1,1,0,1}, control {0,0,0,1}; all: 3/5 − 2/5.
    assert uplift[0] is None
    assert uplift[1] == 1.0 and uplift[7] == pytest.approx(0.5) and average == pytest.approx(0.2)


def test_uplift_at_k_and_qini_area_match_the_hand_computation() -> None:
    uplift, average = _by_hand()
    # Gain above random at each share (random's where the top has no control), trapezoids from 0.
    above = [0.0] + [(s * u - s * average) if u is not None else 0.0 for s, u in zip(SHARES, uplift)]
    area = sum((above[i] + above[i + 1]) / 2 * 0.1 for i in range(10))
    assert area == pytest.approx(0.199333, abs=1e-6)

    result = evaluate_ranking(SCORE[SHUFFLE], TREATED[SHUFFLE], {"y": OUTCOME[SHUFFLE]}, k=0.3,
                              shares=SHARES, replicates=50)[0]
    assert result.qini_area == pytest.approx(area, abs=1e-12)
    assert result.uplift_at_k == pytest.approx(uplift[2], abs=1e-12)  # top 30%: 1 − 0
    assert result.average_uplift == pytest.approx(average, abs=1e-12)
    assert result.gain[7] == pytest.approx(0.8 * 0.5, abs=1e-12)
    assert result.random_gain[4] == pytest.approx(0.5 * 0.2, abs=1e-12)
    assert result.gain[0] == pytest.approx(0.1 * 0.2, abs=1e-12)  # no control in the top 10%: random's
    # Sending to the top 30% of these 10: 10 × 0.3 × 1 = 3 extra; a random 30%: 10 × 0.3 × 0.2;
    # everyone: 10 × 0.2.
    assert result.incremental_at_k == pytest.approx(3.0, abs=1e-12)
    assert result.incremental_random == pytest.approx(0.6, abs=1e-12)
    assert result.incremental_everyone == pytest.approx(2.0, abs=1e-12)
    scaled = evaluate_ranking(SCORE, TREATED, {"y": OUTCOME}, shares=SHARES, replicates=10, population=1000)[0]
    assert scaled.incremental_at_k == pytest.approx(300.0) and scaled.population == 1000
    low, high = result.qini_area_ci
    assert low <= result.qini_area <= high


def test_a_ranking_in_reverse_has_a_negative_area_and_random_order_about_zero() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    treated = rng.random(n) < 0.5
    x = rng.random(n)
    outcome = (rng.random(n) < 0.1 + 0.1 * x * treated).astype(float)
    good = evaluate_ranking(x, treated, {"y": outcome}, replicates=100)[0]
    bad = evaluate_ranking(-x, treated, {"y": outcome}, replicates=100)[0]
    chance = evaluate_ranking(rng.random(n), treated, {"y": outcome}, replicates=100)[0]
    assert good.heterogeneity and good.qini_area > 0 > bad.qini_area
    assert not chance.heterogeneity
    # Linear effect 0.1·x: the top 30% has x ≥ 0.7, true uplift 0.085 on average.
    assert good.uplift_at_k == pytest.approx(0.085, abs=0.02)


def test_policy_profit_by_share_matches_the_hand_computation() -> None:
    uplift, average = _by_hand()
    population, margin, cost = 10, 1.0, 0.1
    by_hand = [0.0] + [population * (margin * s * (u if u is not None else average) - cost * s)
                       for s, u in zip(SHARES, uplift)]
    best = int(np.argmax(by_hand))
    assert best == 7 and by_hand[best] == pytest.approx(4.55)

    draws = curve_draws(SCORE[SHUFFLE], TREATED[SHUFFLE], OUTCOME[SHUFFLE][:, None], SHARES, replicates=50)
    policy = choose_policy(draws, 0, cost_per_contact=cost, margin=margin, population=population,
                           heterogeneity=True)
    assert policy.recommended and policy.share == pytest.approx(0.7)
    assert policy.profit_curve == pytest.approx(by_hand, abs=1e-12)
    assert policy.everyone_profit == pytest.approx(by_hand[-1], abs=1e-12)  # 10 × (0.2 − 0.1)
    assert policy.gain_over_everyone == pytest.approx(4.55 - 1.0, abs=1e-12)
    assert policy.gain_over_random == pytest.approx(4.55 - 0.7 * 1.0, abs=1e-12)
    assert policy.threshold == pytest.approx(SCORE[6])  # the 7th customer is the last one sent to


def test_no_heterogeneity_or_no_margin_means_no_policy() -> None:
    draws = curve_draws(SCORE, TREATED, OUTCOME[:, None], SHARES, replicates=20)
    flat = choose_policy(draws, 0, cost_per_contact=0.1, margin=1.0, population=10, heterogeneity=False)
    assert not flat.recommended and "no usable heterogeneity" in flat.note
    unpriced = choose_policy(draws, 0, cost_per_contact=0.1, margin=None, population=10, heterogeneity=True)
    assert not unpriced.recommended and unpriced.profit is None and "margin" in unpriced.note
    no_revenue = choose_policy(draws, None, cost_per_contact=0.1, margin=0.3, population=10, heterogeneity=True)
    assert not no_revenue.recommended and "revenue" in no_revenue.note


def test_an_arm_missing_entirely_gives_none_with_a_note() -> None:
    result = evaluate_ranking(SCORE, np.ones(10, dtype=bool), {"y": OUTCOME}, replicates=10)[0]
    assert result.qini_area is None and result.average_uplift is None and "control" in result.note

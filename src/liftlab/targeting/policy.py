"""The targeting policy: to how many of the segment, ranked by predicted uplift, to send.

Sending to the top share φ of a segment of N customers costs N·φ·cost_per_contact and adds
N·g(φ) revenue (the revenue Qini gain, `qini.gain`), so its expected profit is
P(φ) = N·(margin·g(φ) − cost·φ), and P(0) = 0 (send to nobody). The policy is the φ on the
grid that maximises P; its interval is the percentile interval of the maximiser over the
bootstrap replicates. The current policy — the campaign as run, everyone in the segment — is
φ = 1, and random targeting at the same φ earns φ·P(1): the gains over both come with
paired bootstrap intervals.

Choosing φ and measuring P(φ) on the same customers flatters P(φ) a little (the maximum of
noisy values); the paired intervals and the heterogeneity gate keep that honest enough for a
decision, and the next experiment (`liftlab target --next`) measures it cleanly.

A policy is recommended only when the ranking shows usable heterogeneity (its Qini area's
interval excludes zero): otherwise ranking customers is no better than drawing them at random.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from liftlab.targeting.bootstrap import CurveDraws, percentile_interval
from liftlab.targeting.evaluation import Interval, finite_interval, finite_number
from liftlab.targeting.qini import gain

NO_HETEROGENEITY = "no usable heterogeneity: the Qini area's interval includes zero, so no policy is recommended"


@dataclass(frozen=True)
class Policy:
    """The profit-maximising share of the segment to send to, and what it earns.

    `threshold` is the predicted uplift of the last customer sent to (send when a customer's
    predicted uplift is at least this). Money is in the revenue metric's currency over a
    segment of `population` customers. `recommended` is False (with a `note`) when the ranking
    shows no usable heterogeneity, or when the profit cannot be computed (numbers None).
    """

    recommended: bool
    population: int
    share: float | None = None
    share_ci: Interval | None = None
    threshold: float | None = None
    profit: float | None = None
    profit_ci: Interval | None = None
    everyone_profit: float | None = None
    everyone_profit_ci: Interval | None = None
    gain_over_everyone: float | None = None
    gain_over_everyone_ci: Interval | None = None
    gain_over_random: float | None = None
    gain_over_random_ci: Interval | None = None
    shares: tuple[float, ...] = ()
    profit_curve: tuple[float, ...] = ()
    profit_low: tuple[float, ...] = ()
    profit_high: tuple[float, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The headline numbers (not the curve), JSON-ready."""
        return {key: getattr(self, key) for key in (
            "recommended", "population", "share", "share_ci", "threshold", "profit", "profit_ci",
            "everyone_profit", "everyone_profit_ci", "gain_over_everyone", "gain_over_everyone_ci",
            "gain_over_random", "gain_over_random_ci", "note")}


def choose_policy(draws: CurveDraws, revenue: int | None, *, cost_per_contact: float, margin: float | None,
                  population: int, heterogeneity: bool, alpha: float = 0.05) -> Policy:
    """The policy from curve draws whose outcome `revenue` (an index) is revenue per customer."""
    if revenue is None:
        return Policy(False, population, note="no revenue metric: profit cannot be computed, no policy")
    if margin is None:
        return Policy(False, population, note="no margin declared: profit cannot be computed, no policy "
                                              "(set margin in the experiment or pass --margin)")
    if not math.isfinite(float(draws.average[revenue])):
        return Policy(False, population, note="no treated or no control customer: nothing can be measured")
    shares = np.concatenate(([0.0], draws.shares))

    def profit(uplift: np.ndarray, average: np.ndarray) -> np.ndarray:
        earned = margin * gain(draws.shares, uplift, average) - cost_per_contact * draws.shares
        zero = np.zeros(earned.shape[:-1] + (1,))
        return population * np.concatenate((zero, earned), axis=-1)

    point = profit(draws.uplift[revenue], draws.average[revenue])
    replicas = profit(draws.uplift_draws[:, revenue], draws.average_draws[:, revenue])
    best = int(np.argmax(point))
    everyone = population * (margin * draws.average[revenue] - cost_per_contact)
    everyone_draws = population * (margin * draws.average_draws[:, revenue] - cost_per_contact)
    chosen = float(shares[best])
    low, high = percentile_interval(replicas, alpha)
    share_low, share_high = percentile_interval(shares[np.argmax(replicas, axis=1)], alpha)
    over_everyone = replicas[:, best] - everyone_draws
    over_random = replicas[:, best] - chosen * everyone_draws

    def ci(values: np.ndarray) -> Interval | None:
        return finite_interval(*percentile_interval(values, alpha))

    return Policy(
        recommended=heterogeneity,
        population=population,
        share=chosen,
        share_ci=finite_interval(share_low, share_high),
        threshold=float(draws.thresholds[best - 1]) if best > 0 else None,
        profit=finite_number(point[best]),
        profit_ci=finite_interval(low[best], high[best]),
        everyone_profit=finite_number(everyone),
        everyone_profit_ci=ci(everyone_draws),
        gain_over_everyone=finite_number(point[best] - everyone),
        gain_over_everyone_ci=ci(over_everyone),
        gain_over_random=finite_number(point[best] - chosen * everyone),
        gain_over_random_ci=ci(over_random),
        shares=tuple(shares.tolist()),
        profit_curve=tuple(point.tolist()),
        profit_low=tuple(low.tolist()),
        profit_high=tuple(high.tolist()),
        note="" if heterogeneity else NO_HETEROGENEITY,
    )

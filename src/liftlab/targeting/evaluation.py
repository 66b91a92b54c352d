"""Honest evaluation of a ranking: Qini area, uplift at k% and the whole curve, with intervals,
next to random targeting and to sending to everyone.

Fed with cross-fitted predictions (`crossfit.py`), every number here is measured on customers
the model never saw. Random targeting's uplift at any k% is the average effect u(1) and its
Qini area is 0; sending to everyone is the share φ = 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from liftlab.targeting.bootstrap import CurveDraws, curve_draws, percentile_interval
from liftlab.targeting.qini import SHARES, gain, qini_area

Interval = tuple[float, float]


def finite_number(value: float) -> float | None:
    """`value` as a float, None when it is NaN or infinite (cannot be computed)."""
    return float(value) if math.isfinite(value) else None


def finite_interval(low: float, high: float) -> Interval | None:
    """`(low, high)`, None unless both ends are finite."""
    return (float(low), float(high)) if math.isfinite(low) and math.isfinite(high) else None


@dataclass(frozen=True)
class OutcomeEvaluation:
    """One outcome (a metric) on one ranking.

    `qini_area` is in the outcome's unit per customer (e.g. conversions per customer);
    `uplift_at_k` is u(k), the measured uplift among the top k; `average_uplift` is u(1),
    which is also random targeting's uplift at any k. For a population of `population`
    customers (the segment), sending to the top k adds `incremental_at_k` = N·k·u(k)
    (conversions, revenue …), sending to a random k adds `incremental_random` = N·k·u(1) and
    sending to everyone `incremental_everyone` = N·u(1). Curves are per share in `shares`:
    `gain` = φ·u(φ) with its band, `random_gain` = φ·u(1). None (with a `note`) where a number
    cannot be measured.
    """

    outcome: str
    k: float
    qini_area: float | None
    qini_area_ci: Interval | None
    uplift_at_k: float | None
    uplift_at_k_ci: Interval | None
    average_uplift: float | None
    average_uplift_ci: Interval | None
    population: int
    incremental_at_k: float | None
    incremental_at_k_ci: Interval | None
    incremental_random: float | None
    incremental_random_ci: Interval | None
    incremental_everyone: float | None
    incremental_everyone_ci: Interval | None
    shares: tuple[float, ...]
    gain: tuple[float, ...]
    gain_low: tuple[float, ...]
    gain_high: tuple[float, ...]
    random_gain: tuple[float, ...]
    note: str = ""

    @property
    def heterogeneity(self) -> bool:
        """Whether the Qini area's interval lies wholly above zero: the ranking beats chance."""
        return self.qini_area_ci is not None and self.qini_area_ci[0] > 0

    def to_dict(self) -> dict[str, Any]:
        """The headline numbers (not the curves), JSON-ready."""
        return {"outcome": self.outcome, "k": self.k, "qini_area": self.qini_area,
                "qini_area_ci": self.qini_area_ci, "uplift_at_k": self.uplift_at_k,
                "uplift_at_k_ci": self.uplift_at_k_ci, "average_uplift": self.average_uplift,
                "average_uplift_ci": self.average_uplift_ci, "population": self.population,
                "incremental_at_k": self.incremental_at_k, "incremental_at_k_ci": self.incremental_at_k_ci,
                "incremental_random": self.incremental_random, "incremental_random_ci": self.incremental_random_ci,
                "incremental_everyone": self.incremental_everyone,
                "incremental_everyone_ci": self.incremental_everyone_ci,
                "heterogeneity": self.heterogeneity, "note": self.note}


def evaluate_draws(draws: CurveDraws, names: Sequence[str], *, k: float = 0.3, alpha: float = 0.05,
                   population: int | None = None) -> tuple[OutcomeEvaluation, ...]:
    """Each outcome's evaluation from precomputed curve draws (`bootstrap.curve_draws`), with
    incremental totals for `population` customers (default: the customers ranked)."""
    shares = draws.shares
    at = int(np.argmin(np.abs(shares - k)))
    areas = qini_area(shares, draws.uplift, draws.average)
    area_draws = qini_area(shares, draws.uplift_draws, draws.average_draws)
    gains = gain(shares, draws.uplift, draws.average)
    gain_draws = gain(shares, draws.uplift_draws, draws.average_draws)
    area_low, area_high = percentile_interval(area_draws, alpha)
    gain_low, gain_high = percentile_interval(gain_draws, alpha)
    at_low, at_high = percentile_interval(draws.uplift_draws[:, :, at], alpha)
    avg_low, avg_high = percentile_interval(draws.average_draws, alpha)
    size = int(population if population is not None else draws.ranked)
    share = float(shares[at])
    results = []
    for j, name in enumerate(names):
        average = finite_number(draws.average[j])
        uplift_at_k = finite_number(draws.uplift[j, at])
        notes = []
        if average is None:
            notes.append("no treated or no control customer: nothing can be measured")
        elif uplift_at_k is None:
            notes.append(f"the top {shares[at]:.0%} holds no treated or no control customer")
        if len(draws.uplift_draws) == 0:
            notes.append("no bootstrap replicates: no intervals")
        results.append(OutcomeEvaluation(
            outcome=name, k=float(shares[at]),
            qini_area=finite_number(areas[j]) if average is not None else None,
            qini_area_ci=finite_interval(area_low[j], area_high[j]) if average is not None else None,
            uplift_at_k=uplift_at_k, uplift_at_k_ci=finite_interval(at_low[j], at_high[j]),
            average_uplift=average, average_uplift_ci=finite_interval(avg_low[j], avg_high[j]),
            population=size,
            incremental_at_k=finite_number(size * gains[j, at]) if average is not None else None,
            incremental_at_k_ci=finite_interval(size * gain_low[j, at], size * gain_high[j, at]),
            incremental_random=finite_number(size * share * draws.average[j]),
            incremental_random_ci=finite_interval(size * share * avg_low[j], size * share * avg_high[j]),
            incremental_everyone=finite_number(size * draws.average[j]),
            incremental_everyone_ci=finite_interval(size * avg_low[j], size * avg_high[j]),
            shares=tuple(shares.tolist()), gain=tuple(gains[j].tolist()),
            gain_low=tuple(gain_low[j].tolist()), gain_high=tuple(gain_high[j].tolist()),
            random_gain=tuple((shares * draws.average[j]).tolist()), note="; ".join(notes)))
    return tuple(results)


def evaluate_ranking(score: np.ndarray, treated: np.ndarray, outcomes: Mapping[str, np.ndarray], *,
                     k: float = 0.3, shares: np.ndarray = SHARES, replicates: int = 500,
                     alpha: float = 0.05, seed: int = 0, population: int | None = None,
                     ) -> tuple[OutcomeEvaluation, ...]:
    """Qini area, uplift at `k` and curves of a ranking (`score`, higher = send first), for each
    outcome, with `replicates` Poisson-bootstrap percentile intervals at level 1 − `alpha`."""
    names = list(outcomes)
    matrix = np.column_stack([np.asarray(outcomes[name], dtype=np.float64) for name in names])
    draws = curve_draws(score, treated, matrix, shares, replicates=replicates, seed=seed)
    return evaluate_draws(draws, names, k=k, alpha=alpha, population=population)

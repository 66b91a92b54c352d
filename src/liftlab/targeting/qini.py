"""The Qini curve: what sending to the top share of customers, ranked by predicted uplift, adds.

Rank customers by predicted uplift (highest first). For the top share φ, the measured uplift
among the targeted is u(φ) = ȳ_T(φ) − ȳ_C(φ), the difference of the treated and control
customers' mean outcomes within the top φ (randomisation makes it an unbiased effect
estimate for that group). Sending to the top φ of a population of N adds N·φ·u(φ); per
customer of the population that is the gain g(φ) = φ·u(φ), the Qini curve in the form of
Radcliffe (2007, "Using control groups to target on predicted lift") scaled per customer.
Random targeting adds φ·u(1) (a straight line to the average effect u(1)); the Qini area is
∫₀¹ (g(φ) − φ·u(1)) dφ by trapezoids on the grid of shares, with g(0) = 0: positive when the
ranking puts the customers who respond most first, zero for a ranking no better than chance.

Where the top φ holds no treated or no control customer, u(φ) cannot be measured: it is NaN
and the gain there is counted as random's (adding nothing to the area).

Every function takes a matrix of unit weights (one row per bootstrap replicate, a row of
ones for the estimate itself), so one vectorised pass yields the estimate and all replicates.
"""

from __future__ import annotations

import numpy as np

#: Shares of the population targeted: 1%, 2%, …, 100%.
SHARES: np.ndarray = np.round(np.arange(1, 101) / 100, 2)


def ranking(score: np.ndarray) -> np.ndarray:
    """Positions from highest to lowest predicted uplift (ties keep input order)."""
    return np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")


def cut_points(n: int, shares: np.ndarray) -> np.ndarray:
    """How many of the ranked customers the top of each share holds: ⌈φ·n⌉, at least 1."""
    return np.clip(np.ceil(np.asarray(shares) * n - 1e-9), 1, n).astype(np.int64)


def uplift_by_share(treated: np.ndarray, outcomes: np.ndarray, cuts: np.ndarray,
                    weights: np.ndarray) -> np.ndarray:
    """u(φ) per replicate × outcome × cut, for customers already in ranked order.

    treated: (n,) bool; outcomes: (n, m); cuts: (G,) top counts; weights: (B, n) unit weights.
    Returns (B, m, G), NaN where the top holds no (weighted) treated or control customer.
    """
    treated = np.asarray(treated, dtype=bool)
    outcomes = np.asarray(outcomes, dtype=np.float64).reshape(len(treated), -1)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1, len(treated))
    ends = np.unique(np.append(cuts, len(treated)))
    starts = np.concatenate(([0], ends[:-1]))

    def upto(column: np.ndarray) -> np.ndarray:  # (B, len(ends)): weighted sums of the top `ends`
        return np.cumsum(np.add.reduceat(weights * column, starts, axis=1), axis=1)

    t = treated.astype(np.float64)
    n_treated, n_control = upto(t), upto(1.0 - t)
    at = np.searchsorted(ends, cuts)
    result = np.empty((weights.shape[0], outcomes.shape[1], len(cuts)))
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(outcomes.shape[1]):
            y = outcomes[:, j]
            mean_treated = upto(t * y) / n_treated
            mean_control = upto((1.0 - t) * y) / n_control
            uplift = np.where((n_treated > 0) & (n_control > 0), mean_treated - mean_control, np.nan)
            result[:, j, :] = uplift[:, at]
    return result


def gain(shares: np.ndarray, uplift: np.ndarray, average: np.ndarray) -> np.ndarray:
    """g(φ) = φ·u(φ) per customer of the population, random's φ·u(1) where u(φ) is NaN.
    `uplift` (..., G) and `average` (...) broadcast over leading axes."""
    random = shares * average[..., None]
    return np.where(np.isnan(uplift), random, shares * uplift)


def qini_area(shares: np.ndarray, uplift: np.ndarray, average: np.ndarray) -> np.ndarray:
    """∫₀¹ (g(φ) − φ·u(1)) dφ by trapezoids over (0, shares…), with g(0) = 0."""
    above = gain(shares, uplift, average) - shares * average[..., None]
    x = np.concatenate(([0.0], shares))
    y = np.concatenate((np.zeros(above.shape[:-1] + (1,)), above), axis=-1)
    return np.sum((y[..., 1:] + y[..., :-1]) / 2.0 * np.diff(x), axis=-1)

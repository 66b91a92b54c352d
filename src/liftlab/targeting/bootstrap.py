"""Bootstrap replicates of the uplift-by-share curves, with the predictions held fixed.

Each replicate reweights the customers with independent Poisson(1) counts — the Poisson
bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012, "Estimating uncertainty for
massive data streams"), which approximates resampling n customers with replacement and,
unlike it, needs no shared draw across customers, so B replicates are one (B, n) array.
The ranking (the cross-fitted predictions) is not refitted: the intervals say how sure we
are of what this ranking achieves on these customers, not how a refitted model would vary.
Intervals are percentile intervals of the replicates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from liftlab.targeting.qini import cut_points, ranking, uplift_by_share

#: Replicates computed per block: a (block, n) weight array stays a few tens of MB at n = 100k.
BLOCK = 25


@dataclass(frozen=True)
class CurveDraws:
    """u(φ) on a ranking: the estimate (m outcomes × G shares), the average effect u(1) (m),
    their bootstrap replicates ((B, m, G) and (B, m)), the ranked score at each cut (G), and
    how many customers were ranked."""

    shares: np.ndarray
    uplift: np.ndarray
    average: np.ndarray
    uplift_draws: np.ndarray
    average_draws: np.ndarray
    thresholds: np.ndarray
    ranked: int


def curve_draws(score: np.ndarray, treated: np.ndarray, outcomes: np.ndarray, shares: np.ndarray, *,
                replicates: int = 500, seed: int = 0) -> CurveDraws:
    """The estimate and `replicates` Poisson-bootstrap replicates of u(φ) and u(1)."""
    order = ranking(score)
    treated = np.asarray(treated, dtype=bool)[order]
    outcomes = np.asarray(outcomes, dtype=np.float64).reshape(len(order), -1)[order]
    n = len(order)
    cuts = np.append(cut_points(n, shares), n)  # the last: everyone, the average effect
    point = uplift_by_share(treated, outcomes, cuts, np.ones((1, n)))[0]
    rng = np.random.default_rng(seed)
    blocks = []
    for start in range(0, replicates, BLOCK):
        size = min(BLOCK, replicates - start)
        blocks.append(uplift_by_share(treated, outcomes, cuts, rng.poisson(1.0, (size, n)).astype(np.float64)))
    draws = np.concatenate(blocks) if blocks else np.empty((0, outcomes.shape[1], len(cuts)))
    ranked_score = np.asarray(score, dtype=np.float64)[order]
    return CurveDraws(np.asarray(shares, dtype=np.float64), point[:, :-1], point[:, -1],
                      draws[:, :, :-1], draws[:, :, -1], ranked_score[cuts[:-1] - 1], n)


def percentile_interval(draws: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """The (alpha/2, 1 − alpha/2) percentiles over the first axis (NaN replicates left out;
    NaN where every replicate is NaN or there are none — the caller then reports None)."""
    if len(draws) == 0:
        empty = np.full(np.shape(draws)[1:], np.nan)
        return empty, empty.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: NaN, said by the caller
        low, high = np.nanpercentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return low, high

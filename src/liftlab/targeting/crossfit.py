"""K-fold cross-fitting: every customer's predicted uplift comes from a model that never saw them.

Customers are split into K folds at random, separately within the treated and the control
arm (so every fold has both, in the experiment's proportions); the model for fold k is
trained on the other K − 1 folds and predicts fold k only. An evaluation on these
predictions (Qini, uplift at k%) is then an out-of-sample one, as in double/debiased
machine learning (Chernozhukov et al. 2018, section 3) — scoring customers with a model
fitted on them would reward memorising their outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from liftlab.errors import DataError


class UpliftLearner(Protocol):
    """Anything that fits on (features, treated, outcome) and predicts uplift for new rows."""

    def fit_predict(self, features: np.ndarray, treated: np.ndarray, outcome: np.ndarray,
                    new: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class CrossFit:
    """Each customer's out-of-fold predicted uplift and the fold that held them out; for the
    `others` (customers outside the experiment's comparison), the mean of the K fold models'
    predictions."""

    uplift: np.ndarray
    fold: np.ndarray
    folds: int
    others: np.ndarray


def assign_folds(treated: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Fold 0..K−1 per customer: a seeded shuffle, then folds dealt in turn within each arm,
    so each arm's customers spread over the folds as evenly as they can (sizes differ by ≤ 1)."""
    treated = np.asarray(treated, dtype=bool)
    order = np.random.default_rng(seed).permutation(len(treated))
    in_treated = treated[order]
    # Rank of each shuffled customer within their own arm.
    rank = np.where(in_treated, np.cumsum(in_treated) - 1, np.cumsum(~in_treated) - 1)
    fold = np.empty(len(treated), dtype=np.int64)
    fold[order] = rank % folds
    return fold


def cross_fit(features: np.ndarray, treated: np.ndarray, outcome: np.ndarray, learner: UpliftLearner,
              *, folds: int = 5, seed: int = 0, others: np.ndarray | None = None) -> CrossFit:
    """Out-of-fold uplift predictions for every customer (K = `folds`, stratified by arm, seeded),
    and the fold models' mean prediction for `others` (rows of the same features, not in training).

    DataError when an arm has fewer customers than folds (some fold would have no treated or
    no control customer to learn from).
    """
    treated = np.asarray(treated, dtype=bool)
    outcome = np.asarray(outcome, dtype=np.float64)
    if folds < 2:
        raise DataError(f"cross-fitting needs at least 2 folds, got {folds}", field="folds")
    smallest = min(int(treated.sum()), int((~treated).sum()))
    if smallest < folds:
        raise DataError(f"an arm has {smallest} customer(s), fewer than the {folds} folds", field="arm")
    fold = assign_folds(treated, folds, seed)
    others = np.empty((0, features.shape[1])) if others is None else others
    uplift = np.empty(len(treated), dtype=np.float64)
    outside = np.zeros(len(others), dtype=np.float64)
    for k in range(folds):
        held = fold == k
        predicted = learner.fit_predict(features[~held], treated[~held], outcome[~held],
                                        np.concatenate((features[held], others)))
        uplift[held] = predicted[: int(held.sum())]
        outside += predicted[int(held.sum()):]
    return CrossFit(uplift, fold, folds, outside / folds)

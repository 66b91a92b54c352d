"""Targeting one campaign (a segment's treatment arm vs its control): cross-fit, evaluate, decide.

The model is fitted to one outcome — the metric the decision is about: revenue when the
experiment has a revenue metric (profit needs it), else the first conversion metric — and
its cross-fitted ranking is evaluated on every outcome given. Each customer then gets a
send decision: yes when the policy is recommended and their predicted uplift reaches its
threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from liftlab.errors import DataError
from liftlab.targeting.bootstrap import curve_draws
from liftlab.targeting.crossfit import UpliftLearner, cross_fit
from liftlab.targeting.evaluation import OutcomeEvaluation, evaluate_draws
from liftlab.targeting.learners import Learner
from liftlab.targeting.policy import Policy, choose_policy
from liftlab.targeting.qini import SHARES


@dataclass(frozen=True)
class Targeting:
    """What targeting one campaign found.

    `uplift` is each compared customer's cross-fitted predicted uplift (in the `target`
    outcome's unit), `fold` the fold that held them out; `others_uplift` the predictions for
    the segment's other customers. `send` / `others_send` are the policy's decisions (all
    False when no policy is recommended). `evaluations` holds one entry per outcome, the
    target's first.
    """

    learner: str
    target: str
    n_treated: int
    n_control: int
    evaluations: tuple[OutcomeEvaluation, ...]
    policy: Policy
    uplift: np.ndarray
    fold: np.ndarray
    send: np.ndarray
    others_uplift: np.ndarray
    others_send: np.ndarray

    @property
    def evaluation(self) -> OutcomeEvaluation:
        """The evaluation of the outcome the model was fitted to."""
        return self.evaluations[0]

    @property
    def heterogeneity(self) -> bool:
        """Whether the ranking beats chance on the target outcome (Qini area interval > 0)."""
        return self.evaluation.heterogeneity

    def to_dict(self) -> dict[str, Any]:
        """The headline numbers, JSON-ready (no per-customer arrays, no curves)."""
        return {"learner": self.learner, "target": self.target, "n_treated": self.n_treated,
                "n_control": self.n_control, "heterogeneity": self.heterogeneity,
                "evaluations": [e.to_dict() for e in self.evaluations], "policy": self.policy.to_dict()}


def target_campaign(
    features: np.ndarray, treated: np.ndarray, outcomes: Mapping[str, np.ndarray], *, target: str,
    revenue: str | None = None, cost_per_contact: float = 0.0, margin: float | None = None,
    population: int | None = None, learner: UpliftLearner | None = None, folds: int = 5,
    k: float = 0.3, replicates: int = 500, alpha: float = 0.05, seed: int = 0,
    others: np.ndarray | None = None,
) -> Targeting:
    """Cross-fit `learner` (default: T-learner over ridge regression) to `outcomes[target]`,
    evaluate its ranking on every outcome, and choose the profit-maximising policy from the
    `revenue` outcome with the campaign's cost per contact and margin, for a segment of
    `population` customers (default: the customers compared)."""
    if target not in outcomes:
        raise DataError(f"no outcome {target!r} (there are {', '.join(map(repr, outcomes))})", field="target")
    if revenue is not None and revenue not in outcomes:
        raise DataError(f"no outcome {revenue!r} (there are {', '.join(map(repr, outcomes))})", field="revenue")
    treated = np.asarray(treated, dtype=bool)
    chosen = learner if learner is not None else Learner(seed=seed)
    fitted = cross_fit(features, treated, outcomes[target], chosen, folds=folds, seed=seed, others=others)
    names = [target, *(name for name in outcomes if name != target)]
    matrix = np.column_stack([np.asarray(outcomes[name], dtype=np.float64) for name in names])
    draws = curve_draws(fitted.uplift, treated, matrix, SHARES, replicates=replicates, seed=seed + 1)
    size = population if population is not None else len(treated)
    evaluations = evaluate_draws(draws, names, k=k, alpha=alpha, population=size)
    policy = choose_policy(draws, names.index(revenue) if revenue is not None else None,
                           cost_per_contact=cost_per_contact, margin=margin, population=size,
                           heterogeneity=evaluations[0].heterogeneity, alpha=alpha)

    def decide(uplift: np.ndarray) -> np.ndarray:
        if not policy.recommended or not policy.share:
            return np.zeros(len(uplift), dtype=bool)
        if policy.share >= 1.0 or policy.threshold is None:
            return np.ones(len(uplift), dtype=bool)
        return uplift >= policy.threshold

    name = getattr(chosen, "name", type(chosen).__name__)
    return Targeting(name, target, int(treated.sum()), int((~treated).sum()), evaluations, policy,
                     fitted.uplift, fitted.fold, decide(fitted.uplift), fitted.others, decide(fitted.others))

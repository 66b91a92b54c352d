"""Uplift targeting: whom in each segment to send a campaign to next time, judged on held-out
customers.

features → learners → crossfit → (bootstrap, qini) → evaluation → policy, tied together per
campaign in `campaign.py` and per experiment (from the store) in `experiment.py`. Needs the
`liftlab[targeting]` extra (scikit-learn), imported only when a model is fitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from liftlab._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "FeatureMatrix": "liftlab.targeting.features",
    "feature_matrix": "liftlab.targeting.features",
    "Learner": "liftlab.targeting.learners",
    "CrossFit": "liftlab.targeting.crossfit",
    "cross_fit": "liftlab.targeting.crossfit",
    "OutcomeEvaluation": "liftlab.targeting.evaluation",
    "evaluate_ranking": "liftlab.targeting.evaluation",
    "Policy": "liftlab.targeting.policy",
    "Targeting": "liftlab.targeting.campaign",
    "target_campaign": "liftlab.targeting.campaign",
    "CampaignTargeting": "liftlab.targeting.experiment",
    "target_experiment": "liftlab.targeting.experiment",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from liftlab.targeting.campaign import Targeting, target_campaign
    from liftlab.targeting.crossfit import CrossFit, cross_fit
    from liftlab.targeting.evaluation import OutcomeEvaluation, evaluate_ranking
    from liftlab.targeting.experiment import CampaignTargeting, target_experiment
    from liftlab.targeting.features import FeatureMatrix, feature_matrix
    from liftlab.targeting.learners import Learner
    from liftlab.targeting.policy import Policy

__all__ = [
    "CampaignTargeting",
    "CrossFit",
    "FeatureMatrix",
    "Learner",
    "OutcomeEvaluation",
    "Policy",
    "Targeting",
    "cross_fit",
    "evaluate_ranking",
    "feature_matrix",
    "target_campaign",
    "target_experiment",
]

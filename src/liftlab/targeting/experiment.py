"""Targeting every campaign of a finished experiment: store outcomes + customer features → policies.

For each campaign (a segment's treatment arm against that segment's control) the compared
customers are the arm's and the control's exposed units; the model's population for profit
is every exposed customer of the segment, who all get a predicted uplift and a send decision.
Cost per contact is the campaign's; margin the experiment's (or the one passed in).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from liftlab.config.model import Experiment, Metric
from liftlab.errors import DataError
from liftlab.store.event_store import EventStore
from liftlab.targeting.campaign import Targeting, target_campaign
from liftlab.targeting.crossfit import UpliftLearner
from liftlab.targeting.features import feature_matrix
from liftlab.targeting.outcomes import unit_outcomes


@dataclass(frozen=True)
class CampaignTargeting:
    """One campaign's targeting: which segment, arm and control, at what cost, and the result.

    `unit_ids` are the segment's exposed customers in the order of `uplift` and `send`.
    """

    segment: str
    arm: str
    control_arm: str
    cost_per_contact: float
    margin: float | None
    targeting: Targeting
    unit_ids: np.ndarray
    uplift: np.ndarray
    send: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """Which campaign, at what cost, and its headline numbers, JSON-ready."""
        return {"segment": self.segment, "arm": self.arm, "control_arm": self.control_arm,
                "cost_per_contact": self.cost_per_contact, "margin": self.margin,
                "customers": len(self.unit_ids), "sent": int(self.send.sum()), **self.targeting.to_dict()}

    def policy_frame(self) -> pd.DataFrame:
        """unit_id, segment, arm, predicted_uplift, send per customer of the segment: 'yes' / 'no'
        under a recommended policy, empty when none is recommended (no decision to act on —
        an empty cell, not a 'no' that a send tool would read as "send to nobody")."""
        decided = self.targeting.policy.recommended
        return pd.DataFrame({"unit_id": self.unit_ids, "segment": self.segment, "arm": self.arm,
                             "predicted_uplift": self.uplift,
                             "send": np.where(self.send, "yes", "no") if decided else ""})


def target_metrics(experiment: Experiment, metric: str | None = None) -> tuple[Metric, Metric | None]:
    """The metric the model fits (`metric`, else the first revenue metric, else the first) and
    the revenue metric profit is computed from (None without one)."""
    revenue = next((m for m in experiment.metrics if m.kind == "revenue"), None)
    if metric is not None:
        try:
            return experiment.metric(metric), revenue
        except KeyError:
            known = ", ".join(m.key for m in experiment.metrics)
            raise DataError(f"experiment {experiment.key!r} has no metric {metric!r} (it has {known})",
                            field="metric") from None
    return (revenue or experiment.metrics[0]), revenue


def target_experiment(
    store: EventStore, experiment: Experiment, features: pd.DataFrame, *, extra: Sequence[str] = (),
    metric: str | None = None, margin: float | None = None, learner: UpliftLearner | None = None,
    folds: int = 5, k: float = 0.3, replicates: int = 500, alpha: float = 0.05, seed: int = 0,
    source: str = "features",
) -> tuple[CampaignTargeting, ...]:
    """Cross-fit, evaluate and choose a policy for every campaign of `experiment` with exposures.

    `features` holds one row per customer (`unit_id` or `customer_id` plus feature columns,
    `source` naming it in errors); every exposed customer needs a row. `margin` stands in
    when the experiment declares none.
    """
    target, revenue = target_metrics(experiment, metric)
    outcomes = unit_outcomes(store, experiment)
    matrix = feature_matrix(features, extra, source=source)
    position = pd.Series(np.arange(len(matrix)), index=matrix.unit_ids)
    rows = outcomes["unit_id"].map(position)
    if rows.isna().any():
        lacking = outcomes.loc[rows.isna(), "unit_id"]
        raise DataError(f"{len(lacking):,} exposed customer(s) of {experiment.key!r} have no row, "
                        f"e.g. {lacking.iloc[0]!r}", file=source, field="unit_id")
    rows = rows.to_numpy(dtype=np.int64)
    margin = experiment.margin if experiment.margin is not None else margin
    results = []
    for campaign in experiment.campaigns:
        in_segment = (outcomes["segment"] == campaign.segment).to_numpy()
        arms = outcomes["arm"].to_numpy(dtype=object)
        control = campaign.control.key
        for arm in campaign.treatments:
            compared = in_segment & np.isin(arms, [arm.key, control])
            treated_mask = arms == arm.key
            if not (compared & treated_mask).any() or not (compared & (arms == control)).any():
                continue  # nothing logged for this arm or its control: nothing to learn from
            others = in_segment & ~compared
            values = {m.key: outcomes[m.key].to_numpy()[compared] for m in experiment.metrics}
            found = target_campaign(
                matrix.values[rows[compared]], treated_mask[compared], values, target=target.key,
                revenue=revenue.key if revenue else None, cost_per_contact=campaign.cost_per_contact,
                margin=margin, population=int(in_segment.sum()), learner=learner, folds=folds, k=k,
                replicates=replicates, alpha=alpha, seed=seed, others=matrix.values[rows[others]])
            ids = np.concatenate((outcomes["unit_id"].to_numpy(dtype=object)[compared],
                                  outcomes["unit_id"].to_numpy(dtype=object)[others]))
            results.append(CampaignTargeting(
                segment=campaign.segment, arm=arm.key, control_arm=control,
                cost_per_contact=campaign.cost_per_contact, margin=margin, targeting=found,
                unit_ids=ids, uplift=np.concatenate((found.uplift, found.others_uplift)),
                send=np.concatenate((found.send, found.others_send))))
    return tuple(results)

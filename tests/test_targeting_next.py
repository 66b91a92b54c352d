"""The policy as the next experiment: a valid file restricting each campaign to its targeted
customers, with its own control."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from liftlab.assignment.arms import assign
from liftlab.config.loading import load_experiment
from liftlab.config.model import Arm, Campaign, Experiment, Metric
from liftlab.config.validation import validate_paths
from liftlab.config.writing import experiment_to_toml
from liftlab.targeting.campaign import target_campaign
from liftlab.targeting.experiment import CampaignTargeting
from liftlab.targeting.learners import Learner
from liftlab.targeting.next import next_experiment

sys.path.insert(0, str(Path(__file__).parent))
from test_targeting_simulation import _planted

ORIGINAL = Experiment(
    key="winback", start=date(2026, 10, 1), end=date(2026, 10, 31), margin=0.4, layer="mail",
    metrics=(Metric("purchase", "conversion"), Metric("revenue", "revenue")),
    campaigns=(Campaign("at_risk", (Arm("control", 0.2, control=True), Arm("voucher", 0.8)), cost_per_contact=0.5),
               Campaign("loyal", (Arm("control", 0.5, control=True), Arm("mail", 0.5)))))


def _targeted() -> CampaignTargeting:
    features, treated, converted, _ = _planted(seed=5, n=12_000)
    found = target_campaign(features, treated, {"purchase": converted, "revenue": 40 * converted},
                            target="purchase", revenue="revenue", cost_per_contact=0.5, margin=0.4,
                            learner=Learner("t", "linear"), replicates=100)
    ids = np.array([f"C{i:05d}" for i in range(len(treated))], dtype=object)
    return CampaignTargeting("at_risk", "voucher", "control", 0.5, 0.4, found, ids, found.uplift, found.send)


def test_next_experiment_targets_the_sent_customers_with_a_control(tmp_path: Path) -> None:
    item = _targeted()
    assert item.targeting.policy.recommended and 0 < item.send.sum() < len(item.send)
    follow_up = next_experiment(ORIGINAL, [item], start=date(2026, 11, 1))
    assert follow_up is not None
    assert follow_up.key == follow_up.salt == "winback-targeted" and follow_up.end == date(2026, 12, 1)
    (campaign,) = follow_up.campaigns  # loyal had no policy: left out
    assert campaign.segment == "at_risk" and campaign.control.weight == 0.2
    assert [a.key for a in campaign.treatments] == ["voucher"]
    assert set(campaign.audience) == set(item.unit_ids[item.send])

    file = tmp_path / "next.toml"
    file.write_text(experiment_to_toml(follow_up), encoding="utf-8")
    assert validate_paths([file]) == []
    loaded = load_experiment(file)
    assert loaded == follow_up
    customers = pd.DataFrame({"unit_id": item.unit_ids, "segment": "at_risk"})
    assigned = assign(loaded, customers).assignments
    assert set(assigned["unit_id"]) == set(campaign.audience)
    assert {"control", "voucher"} == set(assigned["arm"])


def test_no_recommended_policy_means_no_next_experiment() -> None:
    item = _targeted()
    flat = CampaignTargeting("at_risk", "voucher", "control", 0.5, 0.4, item.targeting, item.unit_ids,
                             item.uplift, np.zeros(len(item.send), dtype=bool))
    assert next_experiment(ORIGINAL, [flat], start=date(2026, 11, 1)) is None

"""The policy declared as the next experiment: each campaign restricted to the customers it
targets, with its own control, so the targeting itself is measured before it is trusted.

Per segment, the recommended policy with the highest expected profit (one campaign per
segment) becomes a campaign of that arm against a control in the original proportions, its
`audience` the customers the policy sends to. A fresh key (hence salt) re-randomises them.
Customers who enter the segment later are not in the audience: re-run `liftlab target`
before each wave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from liftlab.config.model import Arm, Campaign, Experiment
from liftlab.targeting.experiment import CampaignTargeting


def next_experiment(experiment: Experiment, found: Sequence[CampaignTargeting], *, start: date,
                    key: str | None = None) -> Experiment | None:
    """The targeted follow-up of `experiment` starting on `start`, or None when no campaign has
    a recommended policy that sends to anyone."""
    best: dict[str, CampaignTargeting] = {}
    for item in found:
        policy = item.targeting.policy
        if not (policy.recommended and policy.share and item.send.any() and policy.profit is not None):
            continue
        current = best.get(item.segment)
        if current is None or policy.profit > (current.targeting.policy.profit or 0.0):
            best[item.segment] = item
    if not best:
        return None
    campaigns = []
    for original in experiment.campaigns:
        item = best.get(original.segment)
        if item is None:
            continue
        arm = next(a for a in original.arms if a.key == item.arm)
        control = original.control
        total = control.weight + arm.weight
        campaigns.append(Campaign(
            segment=original.segment, channel=original.channel, cost_per_contact=original.cost_per_contact,
            description=(f"{item.arm} for the top {item.targeting.policy.share:.0%} of {original.segment} by "
                         f"predicted uplift ({item.targeting.learner}), against a control among them"),
            arms=(Arm(control.key, control.weight / total, control=True, description=control.description),
                  Arm(arm.key, 1.0 - control.weight / total, description=arm.description)),
            audience=tuple(sorted(str(unit) for unit in item.unit_ids[item.send])),
        ))
    new_key = key or f"{experiment.key}-targeted"
    length = (experiment.end - experiment.start) if experiment.end else None
    return replace(
        experiment, key=new_key, name=f"{experiment.name} (targeted)", salt=new_key, start=start,
        end=start + length if length is not None else None, campaigns=tuple(campaigns),
        description=f"Targeted follow-up of {experiment.key}, from `liftlab target`.",
        tags=tuple(dict.fromkeys((*experiment.tags, "targeted"))),
    )

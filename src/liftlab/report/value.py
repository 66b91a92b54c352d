"""Money: what each segment campaign's treatment arm cost and added (DESIGN, "Incremental value").

Incremental conversions and revenue are (mean_T − mean_C) × n_T with the uplift's interval
× n_T (unadjusted: a money estimate, not a test). Cost is `cost_per_contact` × treated.
Profit = incremental revenue × margin − cost and ROI = profit / cost need a margin: without
one they are null and the report says "set margin to see ROI".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from liftlab.config.model import Experiment, Metric
from liftlab.report.records import NO_INTERVAL, CampaignValue, Interval, Result

MARGIN_NOTE = "No margin declared: profit and ROI are not shown (set margin to see ROI)."


def _first_of_kind(experiment: Experiment, kind: str) -> Metric | None:
    return next((m for m in experiment.metrics if m.kind == kind), None)


def _affine(interval: Interval, scale: float, shift: float) -> Interval:
    low, high = interval[0] * scale + shift, interval[1] * scale + shift
    return (min(low, high), max(low, high))


def campaign_values(
    experiment: Experiment, results: Sequence[Result], margin: float | None
) -> list[CampaignValue]:
    """One money row per segment × treatment arm (first conversion and revenue metrics)."""
    conversion = _first_of_kind(experiment, "conversion")
    revenue = _first_of_kind(experiment, "revenue")
    by_key = {(r.segment, r.arm, r.metric): r for r in results}
    values = []
    for campaign in experiment.campaigns:
        for arm in campaign.treatments:
            conv = by_key.get((campaign.segment, arm.key, conversion.key)) if conversion else None
            rev = by_key.get((campaign.segment, arm.key, revenue.key)) if revenue else None
            anchor = rev or conv
            treated = anchor.n_treatment if anchor else 0
            cost = campaign.cost_per_contact * treated
            inc_rev = rev.incremental if rev else math.nan
            inc_rev_ci = rev.incremental_ci if rev else NO_INTERVAL
            if margin is None:
                profit, profit_ci = math.nan, NO_INTERVAL
            else:
                profit, profit_ci = inc_rev * margin - cost, _affine(inc_rev_ci, margin, -cost)
            roi = profit / cost if cost > 0 else math.nan
            roi_ci = _affine(profit_ci, 1 / cost, 0.0) if cost > 0 else NO_INTERVAL
            values.append(
                CampaignValue(
                    segment=campaign.segment,
                    arm=arm.key,
                    channel=campaign.channel,
                    treated=treated,
                    cost=cost,
                    incremental_conversions=conv.incremental if conv else math.nan,
                    incremental_conversions_ci=conv.incremental_ci if conv else NO_INTERVAL,
                    incremental_revenue=inc_rev,
                    incremental_revenue_ci=inc_rev_ci,
                    margin=margin,
                    profit=profit,
                    profit_ci=profit_ci,
                    roi=roi,
                    roi_ci=roi_ci,
                )
            )
    return values

"""Which comparisons a report makes: each segment's treatment arms against that segment's
control, per metric, through `liftlab.stats.compare`; each arm pooled over its segments
(`liftlab.stats.stratified`, rows with segment "all"); and each segment's sample-ratio check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from liftlab.aggregate.sufficient import ArmStats
from liftlab.config.model import Campaign, Experiment, Metric
from liftlab.report.records import ALL_SEGMENTS
from liftlab.stats import Comparison, Sample, SegmentSrm, compare, segment_srm, stratified

Shares = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Settings:
    """How every comparison in one report is made."""

    alpha: float = 0.05
    use_cuped: bool = True
    power: float = 0.8
    target_mde: float = 0.10
    sequential_tuning: float = 5000.0


@dataclass(frozen=True)
class Row:
    """One comparison and where it belongs in the report."""

    segment: str
    arm: str
    control_arm: str
    metric: Metric
    comparison: Comparison


def compare_arms(control, treatment, metric: Metric, settings: Settings) -> Comparison:  # type: ignore[no-untyped-def]
    """`liftlab.stats.compare` with the report's settings."""
    return compare(control, treatment, kind=metric.kind, alpha=settings.alpha,
                   use_cuped=settings.use_cuped, sequential_tuning=settings.sequential_tuning,
                   power=settings.power)


def segment_rows(experiment: Experiment, stats: Mapping[str, ArmStats], settings: Settings) -> list[Row]:
    """Every treatment arm of every campaign against its control, metric by metric."""
    rows = []
    for metric in experiment.metrics:
        arms = stats[metric.key]
        for campaign in experiment.campaigns:
            control = arms.sample(campaign.segment, campaign.control.key)
            for arm in campaign.treatments:
                comparison = compare_arms(control, arms.sample(campaign.segment, arm.key), metric, settings)
                rows.append(Row(campaign.segment, arm.key, campaign.control.key, metric, comparison))
    return rows


def configured_shares(experiment: Experiment) -> dict[str, dict[str, float]]:
    """Each segment's arm weights as declared: the SRM's expectation when the store has no
    mix of config versions to offer."""
    return {c.segment: {a.key: a.weight for a in c.arms} for c in experiment.campaigns}


def srm_checks(experiment: Experiment, arms: ArmStats, expected_shares: Shares | None = None) -> list[SegmentSrm]:
    """One sample-ratio check per campaign, always (a passing check is shown too)."""
    shares = expected_shares or configured_shares(experiment)
    return [_campaign_srm(c, arms, shares.get(c.segment) or configured_shares(experiment)[c.segment])
            for c in experiment.campaigns]


def _campaign_srm(campaign: Campaign, arms: ArmStats, shares: Mapping[str, float]) -> SegmentSrm:
    observed = {a.key: arms.count(campaign.segment, a.key) for a in campaign.arms}
    return segment_srm(campaign.segment, observed, shares)


def pooled_rows(experiment: Experiment, stats: Mapping[str, ArmStats], settings: Settings) -> list[Row]:
    """Each treatment arm run in two or more segments, pooled over them as one row with
    segment "all": `liftlab.stats.stratified` (differences within segments, weighted by
    segment size, so segments of different size and split do not bias it). Frequentist only,
    on the raw (not CUPED-adjusted) samples."""
    rows = []
    for metric in experiment.metrics:
        arms = stats[metric.key]
        keys = dict.fromkeys(a.key for c in experiment.campaigns for a in c.treatments)
        for key in keys:
            campaigns = [c for c in experiment.campaigns if key in {a.key for a in c.treatments}]
            if len(campaigns) < 2:
                continue
            controls = [_plain(arms.sample(c.segment, c.control.key)) for c in campaigns]
            treatments = [_plain(arms.sample(c.segment, key)) for c in campaigns]
            rows.append(Row(ALL_SEGMENTS, key, _control_name(campaigns), metric,
                            _pooled(controls, treatments, campaigns, metric, settings)))
    return rows


def _plain(sample: Sample) -> Sample:
    return Sample(sample.n, sample.sum, sample.sum_sq)


def _control_name(campaigns: list[Campaign]) -> str:
    return "/".join(dict.fromkeys(c.control.key for c in campaigns))


def _pooled(controls: list[Sample], treatments: list[Sample], campaigns: list[Campaign],
            metric: Metric, settings: Settings) -> Comparison:
    n_c = int(sum(float(s.n) for s in controls))
    n_t = int(sum(float(s.n) for s in treatments))
    segments = ", ".join(c.segment for c in campaigns)
    note = (f"pooled over {segments}, stratified by segment (weights ∝ segment size); "
            "frequentist only (no Bayesian, sequential or MDE figures)")
    result = stratified(controls, treatments, alpha=settings.alpha)
    defined = math.isfinite(result.p_value) and math.isfinite(result.abs_se)
    if not defined:
        return Comparison(metric.kind, settings.alpha, n_c, n_t, math.nan, math.nan, math.nan, math.nan,
                          False, 0.0, False, None, None, None, math.nan, math.nan,
                          ("no segment has data in both arms: nothing to compare", note))
    return Comparison(metric.kind, settings.alpha, n_c, n_t, result.mean_control, result.mean_treatment,
                      math.nan, math.nan, False, 0.0, True, result, None, None, math.nan, math.nan,
                      (note, *result.notes))

"""The uplift report: what each segment campaign added, with honest intervals.

`build_report` is a pure function from an experiment and its sufficient statistics (one table
per metric: segment × arm → n, Σy, Σy², and Σx, Σx², Σxy when a pre-period exists) to a
`Report`. For each segment's campaign it runs, per treatment arm and metric, both engines of
`liftlab.stats` against that segment's control; checks the sample ratio per segment; adjusts
p-values across the whole report; and turns uplifts into incremental conversions, revenue,
cost and ROI. `analyze` (in `liftlab.report.analysis`) feeds it from the event store.

Incremental value of a treatment arm (DESIGN.md): (mean_T − mean_C) × n_T, its interval the
uplift's interval × n_T. Totals across segments add strata: sums of increments, variances
added (segments are independent samples).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from liftlab.config.model import Campaign, Experiment, Metric
from liftlab.errors import LiftlabError
from liftlab.stats import (
    CovariateSample,
    Sample,
    adjust,
    bayesian,
    cuped,
    frequentist,
    mde,
    sequential,
    srm,
)

Interval = tuple[float, float]
STAT_COLUMNS = ("n", "sum", "sum_sq")
COVARIATE_COLUMNS = ("x_sum", "x_sum_sq", "xy_sum")


@dataclass(frozen=True)
class SegmentSrm:
    """Sample-ratio check of one segment's campaign: observed vs configured arm counts."""

    segment: str
    arms: tuple[str, ...]
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    p_value: float
    flagged: bool


@dataclass(frozen=True)
class Result:
    """One treatment arm vs its segment's control on one metric, both engines."""

    segment: str
    arm: str
    control_arm: str
    metric: str
    metric_kind: str
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    abs_uplift: float
    abs_ci: Interval
    rel_uplift: float
    rel_ci: Interval
    p_value: float
    p_value_adjusted: float
    prob_beat_control: float
    expected_loss: float
    credible_interval: Interval
    rel_credible_interval: Interval
    incremental: float
    incremental_ci: Interval
    always_valid_p_value: float
    confidence_sequence: Interval
    cuped: bool
    variance_reduction: float
    mde_relative: float
    verdict: str
    significant: bool
    notes: tuple[str, ...] = ()
    abs_se: float = math.nan
    control_se: float = math.nan


@dataclass(frozen=True)
class CampaignValue:
    """Money view of one segment's treatment arm: cost, incremental revenue, profit and ROI.

    profit = incremental revenue × margin − cost (margin 1 when the experiment sets none);
    ROI = profit / cost. Intervals follow from the incremental revenue's interval.
    """

    segment: str
    arm: str
    channel: str
    treated: int
    cost: float
    incremental_conversions: float
    incremental_conversions_ci: Interval
    incremental_revenue: float
    incremental_revenue_ci: Interval
    margin: float
    profit: float
    profit_ci: Interval
    roi: float
    roi_ci: Interval


@dataclass(frozen=True)
class Total:
    """One metric's incremental value summed over all segments and treatment arms."""

    metric: str
    metric_kind: str
    incremental: float
    incremental_ci: Interval
    treated: int


@dataclass(frozen=True)
class HoldoutComparison:
    """Everyone eligible for a campaign vs the global holdout: the programme's total value."""

    metric: str
    metric_kind: str
    n_campaigned: int
    n_holdout: int
    mean_campaigned: float
    mean_holdout: float
    abs_uplift: float
    abs_ci: Interval
    rel_uplift: float
    rel_ci: Interval
    p_value: float
    incremental: float
    incremental_ci: Interval


@dataclass(frozen=True)
class Report:
    """Everything `liftlab analyze` prints, as values; `to_dict()` is the JSON contract."""

    experiment: str
    experiment_name: str
    generated_at: str
    alpha: float
    correction: str
    results: tuple[Result, ...]
    srm: tuple[SegmentSrm, ...]
    value: tuple[CampaignValue, ...]
    totals: tuple[Total, ...]
    holdout: tuple[HoldoutComparison, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: tuples become lists, NaN and infinities become null."""
        return _plain(asdict(self))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per segment × arm × metric, for notebooks."""
        return pd.DataFrame([asdict(r) for r in self.results])


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _z(alpha: float) -> float:
    return NormalDist().inv_cdf(1 - alpha / 2)


def _scaled(interval: Interval, factor: float) -> Interval:
    low, high = interval[0] * factor, interval[1] * factor
    return (min(low, high), max(low, high))


def _arm_samples(table: pd.DataFrame, campaign: Campaign) -> dict[str, Sample]:
    """Each arm's Sample (CovariateSample when the table has pre-period columns)."""
    rows = table[table["segment"] == campaign.segment].set_index("arm")
    has_covariate = all(c in rows.columns for c in COVARIATE_COLUMNS)
    samples: dict[str, Sample] = {}
    for arm in campaign.arms:
        if arm.key in rows.index:
            row = rows.loc[arm.key]
            values = {c: float(row[c]) for c in STAT_COLUMNS}
            if has_covariate:
                covariate = {c: float(row[c]) for c in COVARIATE_COLUMNS}
                samples[arm.key] = CovariateSample(**values, **covariate)
            else:
                samples[arm.key] = Sample(**values)
        else:
            samples[arm.key] = Sample(0.0, 0.0, 0.0)
    return samples


def _segment_srm(campaign: Campaign, counts: Mapping[str, float]) -> SegmentSrm:
    observed = [float(counts.get(arm.key, 0.0)) for arm in campaign.arms]
    weights = [arm.weight for arm in campaign.arms]
    check = srm(observed, weights)
    return SegmentSrm(
        segment=campaign.segment,
        arms=tuple(arm.key for arm in campaign.arms),
        observed=tuple(int(o) for o in observed),
        expected=tuple(float(e) for e in check.expected),
        p_value=float(check.p_value),
        flagged=bool(check.flagged),
    )


def _usable_covariate(control: Sample, treatment: Sample) -> bool:
    """CUPED only when both arms carry a pre-period with some variation in it."""
    if not (isinstance(control, CovariateSample) and isinstance(treatment, CovariateSample)):
        return False
    if float(control.n) < 2 or float(treatment.n) < 2:
        return False
    return float(control.covariate.variance) + float(treatment.covariate.variance) > 0


@dataclass(frozen=True)
class _Comparison:
    segment: str
    arm: str
    control_arm: str
    metric: Metric
    n_control: int
    n_treatment: int
    raw_control: Sample
    raw_treatment: Sample
    control: Sample
    treatment: Sample
    cuped: bool
    variance_reduction: float
    notes: tuple[str, ...]


def _compare(
    metric: Metric, campaign: Campaign, samples: Mapping[str, Sample], use_cuped: bool
) -> list[_Comparison]:
    control_arm = campaign.control.key
    control = samples[control_arm]
    comparisons = []
    for arm in campaign.treatments:
        treatment = samples[arm.key]
        notes: list[str] = []
        adjusted_c, adjusted_t = control, treatment
        applied, reduction = False, 0.0
        if use_cuped and _usable_covariate(control, treatment):
            adjusted = cuped(control, treatment)  # type: ignore[arg-type]
            adjusted_c, adjusted_t = adjusted.control, adjusted.treatment
            applied, reduction = True, float(adjusted.variance_reduction)
            notes.extend(adjusted.notes)
        comparisons.append(
            _Comparison(
                segment=campaign.segment,
                arm=arm.key,
                control_arm=control_arm,
                metric=metric,
                n_control=int(float(control.n)),
                n_treatment=int(float(treatment.n)),
                raw_control=Sample(control.n, control.sum, control.sum_sq),
                raw_treatment=Sample(treatment.n, treatment.sum, treatment.sum_sq),
                control=adjusted_c,
                treatment=adjusted_t,
                cuped=applied,
                variance_reduction=reduction,
                notes=tuple(notes),
            )
        )
    return comparisons


def _mde_relative(c: _Comparison, alpha: float, power: float) -> float:
    """Relative MDE this segment's arm sizes allow, from the control's baseline and spread."""
    baseline = float(c.raw_control.mean) if c.n_control else math.nan
    if not (c.n_control > 0 and c.n_treatment > 0 and math.isfinite(baseline) and baseline > 0):
        return math.nan
    kind = c.metric.kind
    try:
        if kind == "conversion":
            if baseline >= 1:
                return math.nan
            return float(mde(c.n_control, c.n_treatment, baseline, alpha=alpha, power=power).relative)
        sd = math.sqrt(max(float(c.control.variance), 0.0))
        if sd == 0:
            return math.nan
        return float(
            mde(c.n_control, c.n_treatment, baseline, alpha=alpha, power=power, kind="revenue", sd=sd).relative
        )
    except LiftlabError:
        return math.nan


def _verdict(significant: bool, uplift: float, srm_flagged: bool, mde_rel: float, target: float) -> str:
    if srm_flagged:
        return "no verdict: sample ratio mismatch"
    if significant:
        return "winner" if uplift > 0 else "loser"
    if math.isnan(mde_rel) or mde_rel > target:
        shown = "n/a" if math.isnan(mde_rel) else f"{mde_rel:.0%}"
        return f"underpowered (MDE {shown})"
    return "no detectable effect"


def build_report(
    experiment: Experiment,
    tables: Mapping[str, pd.DataFrame],
    *,
    holdout_tables: Mapping[str, pd.DataFrame] | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    use_cuped: bool = True,
    power: float = 0.8,
    target_mde: float = 0.10,
    sequential_tuning: float = 5000.0,
    generated_at: datetime | None = None,
) -> Report:
    """The full report for `experiment` from per-metric sufficient-statistic tables.

    `tables[metric.key]` has columns segment, arm, n, sum, sum_sq and optionally x_sum,
    x_sum_sq, xy_sum (the pre-period, used for CUPED when it varies). `holdout_tables[metric]`
    has rows `group` ∈ {campaigned, holdout} with n, sum, sum_sq. A segment whose SRM check
    fails gets no verdict; a non-significant arm whose relative MDE exceeds `target_mde` is
    called underpowered.
    """
    missing = [m.key for m in experiment.metrics if m.key not in tables]
    if missing:
        raise LiftlabError(f"no statistics for metric(s) {', '.join(missing)}", field="metrics")
    first = tables[experiment.metrics[0].key]
    srm_checks = []
    for campaign in experiment.campaigns:
        rows = first[first["segment"] == campaign.segment]
        srm_checks.append(_segment_srm(campaign, dict(zip(rows["arm"], rows["n"]))))
    srm_by_segment = {s.segment: s for s in srm_checks}

    comparisons: list[_Comparison] = []
    for metric in experiment.metrics:
        for campaign in experiment.campaigns:
            samples = _arm_samples(tables[metric.key], campaign)
            comparisons.extend(_compare(metric, campaign, samples, use_cuped))

    freq = [frequentist(c.control, c.treatment, alpha=alpha) for c in comparisons]
    p_values = [f.p_value for f in freq]
    finite = [i for i, p in enumerate(p_values) if math.isfinite(p)]
    adjusted = [math.nan] * len(p_values)
    if finite:
        for i, p in zip(finite, adjust([p_values[i] for i in finite], method=correction)):
            adjusted[i] = float(p)

    results = []
    for c, f, p_adj in zip(comparisons, freq, adjusted):
        # CUPED-adjusted values are no longer 0/1: the Bayesian engine then uses its normal
        # model on the adjusted means, as GrowthBook does; otherwise the exact Beta–Binomial.
        bayes_kind = "revenue" if c.cuped else c.metric.kind
        bayes = bayesian(c.control, c.treatment, kind=bayes_kind, alpha=alpha)
        seq = sequential(c.control, c.treatment, alpha=alpha, tuning=sequential_tuning)
        significant = math.isfinite(p_adj) and p_adj < alpha
        mde_rel = _mde_relative(c, alpha, power)
        flagged = srm_by_segment[c.segment].flagged
        notes = list(c.notes) + list(f.notes)
        if c.cuped:
            notes.append(
                f"CUPED applied with the pre-period: variance reduced by {c.variance_reduction:.0%}"
            )
        results.append(
            Result(
                segment=c.segment,
                arm=c.arm,
                control_arm=c.control_arm,
                metric=c.metric.key,
                metric_kind=c.metric.kind,
                n_control=c.n_control,
                n_treatment=c.n_treatment,
                mean_control=float(c.raw_control.mean) if c.n_control else math.nan,
                mean_treatment=float(c.raw_treatment.mean) if c.n_treatment else math.nan,
                abs_uplift=f.abs_uplift,
                abs_ci=f.abs_ci,
                rel_uplift=f.rel_uplift,
                rel_ci=f.rel_ci,
                p_value=f.p_value,
                p_value_adjusted=p_adj,
                prob_beat_control=bayes.prob_beat_control,
                expected_loss=bayes.expected_loss,
                credible_interval=bayes.credible_interval,
                rel_credible_interval=bayes.rel_credible_interval,
                incremental=f.abs_uplift * c.n_treatment,
                incremental_ci=_scaled(f.abs_ci, c.n_treatment),
                always_valid_p_value=seq.p_value,
                confidence_sequence=seq.abs_ci,
                cuped=c.cuped,
                variance_reduction=c.variance_reduction,
                mde_relative=mde_rel,
                verdict=_verdict(significant, f.abs_uplift, flagged, mde_rel, target_mde),
                significant=significant,
                notes=tuple(dict.fromkeys(notes)),
                abs_se=f.abs_se,
                control_se=float(c.control.standard_error) if c.n_control else math.nan,
            )
        )

    value = _campaign_values(experiment, results, alpha)
    totals = _totals(experiment, results, alpha)
    holdout = _holdout(experiment, holdout_tables or {}, alpha)
    notes = []
    if any(r.cuped for r in results):
        notes.append("CUPED used where each customer's pre-period value of the metric exists.")
    if any(s.flagged for s in srm_checks):
        bad = ", ".join(s.segment for s in srm_checks if s.flagged)
        notes.append(f"Sample ratio mismatch in: {bad}. Their results are shown without verdict.")
    return Report(
        experiment=experiment.key,
        experiment_name=experiment.name,
        generated_at=(generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        alpha=alpha,
        correction=correction,
        results=tuple(results),
        srm=tuple(srm_checks),
        value=tuple(value),
        totals=tuple(totals),
        holdout=tuple(holdout),
        notes=tuple(notes),
    )


def _first_of_kind(experiment: Experiment, kind: str) -> Metric | None:
    return next((m for m in experiment.metrics if m.kind == kind), None)


def _campaign_values(experiment: Experiment, results: Sequence[Result], alpha: float) -> list[CampaignValue]:
    conversion = _first_of_kind(experiment, "conversion")
    revenue = _first_of_kind(experiment, "revenue")
    by_key = {(r.segment, r.arm, r.metric): r for r in results}
    margin = experiment.margin if experiment.margin is not None else 1.0
    values = []
    for campaign in experiment.campaigns:
        for arm in campaign.treatments:
            conv = by_key.get((campaign.segment, arm.key, conversion.key)) if conversion else None
            rev = by_key.get((campaign.segment, arm.key, revenue.key)) if revenue else None
            anchor = rev or conv
            treated = anchor.n_treatment if anchor else 0
            cost = campaign.cost_per_contact * treated
            inc_rev = rev.incremental if rev else math.nan
            inc_rev_ci = rev.incremental_ci if rev else (math.nan, math.nan)
            profit = inc_rev * margin - cost
            profit_ci = (inc_rev_ci[0] * margin - cost, inc_rev_ci[1] * margin - cost)
            roi = profit / cost if cost > 0 else math.nan
            roi_ci = (profit_ci[0] / cost, profit_ci[1] / cost) if cost > 0 else (math.nan, math.nan)
            values.append(
                CampaignValue(
                    segment=campaign.segment,
                    arm=arm.key,
                    channel=campaign.channel,
                    treated=treated,
                    cost=cost,
                    incremental_conversions=conv.incremental if conv else math.nan,
                    incremental_conversions_ci=conv.incremental_ci if conv else (math.nan, math.nan),
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


def _totals(experiment: Experiment, results: Sequence[Result], alpha: float) -> list[Total]:
    """Sum increments over strata; independent segments, so variances add.

    Arms sharing a segment share its control, so their increments are positively correlated
    through it: the variance adds the covariance term n_T1·n_T2·Var(mean_C) for each pair.
    """
    z = _z(alpha)
    totals = []
    for metric in experiment.metrics:
        rows = [r for r in results if r.metric == metric.key and math.isfinite(r.incremental)]
        if not rows:
            continue
        incremental = math.fsum(r.incremental for r in rows)
        variance = 0.0
        for segment in dict.fromkeys(r.segment for r in rows):
            seg = [r for r in rows if r.segment == segment]
            var_t = [(r.abs_se * r.n_treatment) ** 2 for r in seg]
            variance += math.fsum(v for v in var_t if math.isfinite(v))
            control_var = seg[0].control_se ** 2 if math.isfinite(seg[0].control_se) else 0.0
            for i, a in enumerate(seg):
                for b in seg[i + 1:]:
                    variance += 2 * a.n_treatment * b.n_treatment * control_var
        half = z * math.sqrt(variance)
        totals.append(
            Total(
                metric=metric.key,
                metric_kind=metric.kind,
                incremental=incremental,
                incremental_ci=(incremental - half, incremental + half),
                treated=sum(r.n_treatment for r in rows),
            )
        )
    return totals


def _holdout(experiment: Experiment, tables: Mapping[str, pd.DataFrame], alpha: float) -> list[HoldoutComparison]:
    comparisons = []
    for metric in experiment.metrics:
        table = tables.get(metric.key)
        if table is None or table.empty:
            continue
        rows = table.set_index("group")
        if not {"campaigned", "holdout"} <= set(rows.index):
            continue
        campaigned = Sample(*(float(rows.loc["campaigned", c]) for c in STAT_COLUMNS))
        held = Sample(*(float(rows.loc["holdout", c]) for c in STAT_COLUMNS))
        f = frequentist(held, campaigned, alpha=alpha)
        n_c = int(float(campaigned.n))
        comparisons.append(
            HoldoutComparison(
                metric=metric.key,
                metric_kind=metric.kind,
                n_campaigned=n_c,
                n_holdout=int(float(held.n)),
                mean_campaigned=f.mean_treatment,
                mean_holdout=f.mean_control,
                abs_uplift=f.abs_uplift,
                abs_ci=f.abs_ci,
                rel_uplift=f.rel_uplift,
                rel_ci=f.rel_ci,
                p_value=f.p_value,
                incremental=f.abs_uplift * n_c,
                incremental_ci=_scaled(f.abs_ci, n_c),
            )
        )
    return comparisons

"""The uplift report: what each segment campaign added, with honest intervals.

`build_report` is a pure function from an experiment and its sufficient statistics
(`ArmStats` per metric, from `liftlab.aggregate`) to a `Report`. It only orchestrates:
`comparisons` decides what is compared (each through `liftlab.stats.compare`), `verdicts`
adjusts across the report and decides, `value` does money, `totals` adds strata, `holdout`
measures the programme. `analyze` (in `liftlab.report.analysis`) feeds it from the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pandas as pd

from liftlab.aggregate.sufficient import ArmStats, HoldoutStats
from liftlab.config.model import Experiment
from liftlab.errors import LiftlabError
from liftlab.report.comparisons import Row, Settings, Shares, pooled_rows, segment_rows, srm_checks
from liftlab.report.holdout import holdout_comparisons
from liftlab.report.pooling import METHOD_NOTE, Shrunk, shrunk_effects
from liftlab.report.records import NO_INTERVAL, Interval, Report, Result, Verdict
from liftlab.report.totals import totals
from liftlab.report.value import MARGIN_NOTE, campaign_values
from liftlab.report.verdicts import Adjusted, adjust_rows, decide, verdict_note
from liftlab.stats import SegmentSrm


def _scaled(interval: Interval, factor: float) -> Interval:
    low, high = interval[0] * factor, interval[1] * factor
    return (min(low, high), max(low, high))


def _typed(experiment: Experiment, stats: Mapping[str, ArmStats | pd.DataFrame]) -> dict[str, ArmStats]:
    missing = [m.key for m in experiment.metrics if m.key not in stats]
    if missing:
        raise LiftlabError(f"no statistics for metric(s) {', '.join(missing)}", field="metrics")
    # A table with columns segment, arm, n, sum, sum_sq[, x_sum, x_sum_sq, xy_sum] is accepted
    # too (what `build_report` took before the typed boundary), converted once here.
    return {m.key: s if isinstance(s, ArmStats) else ArmStats.from_frame(m.key, s)
            for m in experiment.metrics for s in (stats[m.key],)}


def _result(row: Row, adjusted: Adjusted, shrunk: Shrunk, settings: Settings, srm_flagged: bool,
            family: int) -> Result:
    c = row.comparison
    f, b, s = c.frequentist, c.bayesian, c.sequential
    verdict = decide(c, adjusted.p_value, srm_flagged=srm_flagged, target_mde=settings.target_mde)
    why = verdict_note(c, verdict, adjusted.p_value, family)
    bound = ("significant under Holm but not Bonferroni: the adjusted interval's bound nearer 0 "
             "is 0 (it shows the sign)") if adjusted.bounded_at_zero else None
    return Result(
        segment=row.segment,
        arm=row.arm,
        control_arm=row.control_arm,
        metric=row.metric.key,
        metric_kind=row.metric.kind,
        n_control=c.n_control,
        n_treatment=c.n_treatment,
        mean_control=c.mean_control,
        mean_treatment=c.mean_treatment,
        adjusted_mean_control=c.adjusted_mean_control,
        adjusted_mean_treatment=c.adjusted_mean_treatment,
        abs_uplift=f.abs_uplift if f else math.nan,
        abs_ci=f.abs_ci if f else NO_INTERVAL,
        abs_ci_adjusted=adjusted.abs_ci,
        rel_uplift=f.rel_uplift if f else math.nan,
        rel_ci=f.rel_ci if f else NO_INTERVAL,
        rel_ci_adjusted=adjusted.rel_ci,
        p_value=c.p_value,
        p_value_adjusted=adjusted.p_value,
        prob_beat_control=b.prob_beat_control if b else math.nan,
        expected_loss=b.expected_loss if b else math.nan,
        credible_interval=b.credible_interval if b else NO_INTERVAL,
        rel_credible_interval=b.rel_credible_interval if b else NO_INTERVAL,
        incremental=f.abs_uplift * c.n_treatment if f else math.nan,
        incremental_ci=_scaled(f.abs_ci, c.n_treatment) if f else NO_INTERVAL,
        incremental_ci_adjusted=_scaled(adjusted.abs_ci, c.n_treatment),
        always_valid_p_value=s.p_value if s else math.nan,
        confidence_sequence=s.abs_ci if s else NO_INTERVAL,
        cuped=c.cuped,
        variance_reduction=c.variance_reduction,
        mde_relative=c.mde_relative,
        abs_uplift_shrunk=shrunk.abs_uplift,
        abs_ci_shrunk=shrunk.abs_ci,
        verdict=verdict,
        significant=math.isfinite(adjusted.p_value) and adjusted.p_value < settings.alpha,
        notes=tuple(dict.fromkeys([*c.notes, *(n for n in (why, bound, shrunk.note) if n)])),
    )


def build_report(
    experiment: Experiment,
    stats: Mapping[str, ArmStats | pd.DataFrame],
    *,
    holdout: Mapping[str, HoldoutStats] | None = None,
    expected_shares: Shares | None = None,
    margin: float | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
    use_cuped: bool = True,
    power: float = 0.8,
    target_mde: float = 0.10,
    sequential_tuning: float = 5000.0,
    generated_at: datetime | None = None,
) -> Report:
    """The full report for `experiment` from its per-metric sufficient statistics.

    `expected_shares` (segment → arm → share) is what the SRM checks expect; by default the
    experiment's weights. `margin` is used when the experiment declares none (a project
    default); with neither, profit and ROI are null. Verdict rules: `report.verdicts`.
    """
    arms = _typed(experiment, stats)
    settings = Settings(alpha, use_cuped, power, target_mde, sequential_tuning)
    srm = srm_checks(experiment, arms[experiment.metrics[0].key], expected_shares)
    flagged = {s.segment for s in srm if s.flagged}
    per_segment = segment_rows(experiment, arms, settings)
    rows = per_segment + pooled_rows(experiment, arms, settings)
    adjusted = adjust_rows(rows, correction, alpha)
    family = sum(1 for a in adjusted if math.isfinite(a.p_value))
    shrunk = shrunk_effects(per_segment, alpha) + [Shrunk() for _ in rows[len(per_segment):]]
    results = [_result(r, a, s, settings, r.segment in flagged, family)
               for r, a, s in zip(rows, adjusted, shrunk)]

    used_margin = experiment.margin if experiment.margin is not None else margin
    programme, holdout_notes = holdout_comparisons(experiment, holdout or {}, alpha)
    return Report(
        experiment=experiment.key,
        experiment_name=experiment.name,
        generated_at=(generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        alpha=alpha,
        correction=correction,
        results=tuple(results),
        srm=tuple(srm),
        value=tuple(campaign_values(experiment, results, used_margin)),
        totals=tuple(totals(experiment, per_segment, alpha)),
        holdout=tuple(programme),
        notes=tuple(_notes(results, srm, used_margin, holdout_notes if holdout is not None else [])),
    )


def _notes(results: Sequence[Result], srm: Sequence[SegmentSrm], margin: float | None,
           extra: Sequence[str]) -> list[str]:
    notes = []
    if any(r.cuped for r in results):
        notes.append("CUPED used where each customer's pre-period value of the metric exists: "
                     "uplifts are measured on the adjusted means (shown as 'adj.').")
    bad = [s.segment for s in srm if s.flagged]
    if bad:
        notes.append(f"Sample ratio mismatch in: {', '.join(bad)}. Their results are shown without verdict.")
    empty = [r for r in results if r.verdict is Verdict.NO_DATA]
    if empty:
        reasons = "; ".join(dict.fromkeys(r.notes[0] for r in empty if r.notes))
        notes.append(f"{len(empty)} comparison(s) have no data, so their numbers are left empty ({reasons}).")
    if any(math.isfinite(r.abs_uplift_shrunk) for r in results):
        notes.append(METHOD_NOTE)
    if margin is None:
        notes.append(MARGIN_NOTE)
    notes.extend(extra)
    return notes

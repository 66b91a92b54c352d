"""One arm against its control: every engine of `liftlab.stats` in one call, one record out.

`compare(control, treatment, kind=...)` is what the report, the daily timeline and the review
notebook call for each segment × arm × metric: CUPED when both arms carry a pre-period with
some spread in it (θ pooled across arms), the Welch test, the Bayesian engine (the exact
Beta–Binomial on 0/1 outcomes; its normal model once CUPED has made the outcomes continuous,
as GrowthBook does), the always-valid sequential test, and the relative MDE the arms' sizes
allow (`power.mde`, on the control's raw baseline and spread).

Nothing is invented where there is nothing to compare: when either arm has fewer than two
units, or neither arm varies (no conversions at all), the engines are not run, `defined` is
False and a note says why — a p-value of 1 or a probability of 50% there would be a made-up
number, not a result.

`segment_srm` is the per-segment sample-ratio check the report and `liftlab assign` show:
observed units per arm against the expected shares (the configured weights, or the store's
mix of config versions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from liftlab.errors import LiftlabError
from liftlab.stats.bayesian import BayesianResult, Kind, bayesian
from liftlab.stats.cuped import cuped
from liftlab.stats.frequentist import FrequentistResult, frequentist
from liftlab.stats.power import mde
from liftlab.stats.samples import CovariateSample, Sample
from liftlab.stats.sequential import SequentialResult, sequential
from liftlab.stats.srm import srm


@dataclass(frozen=True)
class Comparison:
    """Treatment vs control on one metric: both engines, CUPED, sequential test and MDE.

    `mean_control` / `mean_treatment` are the raw means; when `cuped` is True the engines ran
    on the CUPED-adjusted means `adjusted_mean_control` / `adjusted_mean_treatment` (the same
    estimand, less variance). `frequentist`, `bayesian` and `sequential` are None when
    `defined` is False; `notes` say why.
    """

    kind: str
    alpha: float
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    adjusted_mean_control: float
    adjusted_mean_treatment: float
    cuped: bool
    variance_reduction: float
    defined: bool
    frequentist: FrequentistResult | None
    bayesian: BayesianResult | None
    sequential: SequentialResult | None
    mde_relative: float
    control_se: float
    notes: tuple[str, ...] = ()

    @property
    def abs_uplift(self) -> float:
        return self.frequentist.abs_uplift if self.frequentist else math.nan

    @property
    def p_value(self) -> float:
        return self.frequentist.p_value if self.frequentist else math.nan

    @property
    def significant(self) -> bool:
        """Unadjusted p below α (before any correction across comparisons)."""
        return math.isfinite(self.p_value) and self.p_value < self.alpha


def _usable_covariate(control: Sample, treatment: Sample) -> bool:
    """CUPED only when both arms carry a pre-period with some variation in it."""
    if not (isinstance(control, CovariateSample) and isinstance(treatment, CovariateSample)):
        return False
    return float(control.covariate.variance) + float(treatment.covariate.variance) > 0


def _plain(sample: Sample) -> Sample:
    return Sample(sample.n, sample.sum, sample.sum_sq)


def _undefined_reason(control: Sample, treatment: Sample) -> str | None:
    for arm, sample in (("control", control), ("treatment", treatment)):
        n = float(sample.n)
        if n == 0:
            return f"{arm} has no units: nothing to compare"
        if n < 2:
            return f"{arm} has one unit: no spread can be estimated, nothing to compare"
    if float(control.variance) == 0 and float(treatment.variance) == 0:
        if float(control.mean) == 0 and float(treatment.mean) == 0:
            return "no conversions (all values 0) in either arm: nothing to compare"
        return "no variation within either arm: no interval can be estimated"
    return None


def relative_mde(
    control: Sample, n_treatment: float, kind: str, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Relative MDE these arm sizes allow on the control's baseline; nan when undefined
    (no units, a baseline of 0 or 1 for a rate, no spread for revenue)."""
    n_c = float(control.n)
    baseline = float(control.mean) if n_c else math.nan
    if not (n_c > 0 and n_treatment > 0 and math.isfinite(baseline) and baseline > 0):
        return math.nan
    try:
        if kind == "conversion":
            if baseline >= 1:
                return math.nan
            return float(mde(n_c, n_treatment, baseline, alpha=alpha, power=power).relative)
        sd = math.sqrt(max(float(control.variance), 0.0))
        if sd == 0:
            return math.nan
        return float(mde(n_c, n_treatment, baseline, alpha=alpha, power=power, kind="revenue", sd=sd).relative)
    except LiftlabError:
        return math.nan


def compare(
    control: Sample,
    treatment: Sample,
    *,
    kind: Kind = "conversion",
    alpha: float = 0.05,
    use_cuped: bool = True,
    sequential_tuning: float = 5000.0,
    power: float = 0.8,
) -> Comparison:
    """Compare `treatment` with `control` on one metric (see the module docstring)."""
    raw_c, raw_t = _plain(control), _plain(treatment)
    n_c, n_t = int(float(raw_c.n)), int(float(raw_t.n))
    mean_c = float(raw_c.mean) if n_c else math.nan
    mean_t = float(raw_t.mean) if n_t else math.nan
    mde_rel = relative_mde(raw_c, n_t, kind, alpha=alpha, power=power)
    reason = _undefined_reason(raw_c, raw_t)
    if reason is not None:
        return Comparison(kind, alpha, n_c, n_t, mean_c, mean_t, math.nan, math.nan, False, 0.0,
                          False, None, None, None, mde_rel, math.nan, (reason,))
    notes: list[str] = []
    used_c, used_t = raw_c, raw_t
    applied, reduction = False, 0.0
    if use_cuped and _usable_covariate(control, treatment):
        adjusted = cuped(control, treatment)  # type: ignore[arg-type]
        used_c, used_t = adjusted.control, adjusted.treatment
        applied, reduction = True, float(adjusted.variance_reduction)
        notes.extend(adjusted.notes)
        notes.append(f"CUPED-adjusted with the pre-period: variance reduced by {reduction:.0%}")
    freq = frequentist(used_c, used_t, alpha=alpha)
    # CUPED-adjusted values are no longer 0/1: the Bayesian engine then uses its normal model.
    bayes = bayesian(used_c, used_t, kind="revenue" if applied else kind, alpha=alpha)  # type: ignore[arg-type]
    seq = sequential(used_c, used_t, alpha=alpha, tuning=sequential_tuning)
    notes.extend(freq.notes)
    return Comparison(
        kind=kind,
        alpha=alpha,
        n_control=n_c,
        n_treatment=n_t,
        mean_control=mean_c,
        mean_treatment=mean_t,
        adjusted_mean_control=float(used_c.mean) if applied else math.nan,
        adjusted_mean_treatment=float(used_t.mean) if applied else math.nan,
        cuped=applied,
        variance_reduction=reduction,
        defined=True,
        frequentist=freq,
        bayesian=bayes,
        sequential=seq,
        mde_relative=mde_rel,
        control_se=float(used_c.standard_error),
        notes=tuple(dict.fromkeys(notes)),
    )


@dataclass(frozen=True)
class SegmentSrm:
    """Sample-ratio check of one segment's campaign: observed vs expected arm counts.

    `p_value` is nan (null in JSON) when there is nothing to test (no units, one arm).
    """

    segment: str
    arms: tuple[str, ...]
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    p_value: float
    flagged: bool
    notes: tuple[str, ...] = ()


def segment_srm(
    segment: str,
    observed: Mapping[str, float],
    expected_shares: Mapping[str, float],
    *,
    threshold: float = 0.001,
) -> SegmentSrm:
    """Chi-square of the units observed per arm against `expected_shares` (arm → share).

    Arms are taken in the order of `expected_shares`; an observed arm missing from it counts
    as weight 0 (a certain mismatch).
    """
    arms = list(expected_shares) + [a for a in observed if a not in expected_shares]
    counts = [float(observed.get(a, 0.0)) for a in arms]
    shares = [float(expected_shares.get(a, 0.0)) for a in arms]
    check = srm(counts, shares, threshold=threshold)
    testable = not check.notes or math.isinf(check.chi2)
    return SegmentSrm(
        segment=segment,
        arms=tuple(arms),
        observed=tuple(int(c) for c in counts),
        expected=tuple(float(e) for e in check.expected),
        p_value=float(check.p_value) if testable else math.nan,
        flagged=bool(check.flagged),
        notes=check.notes,
    )

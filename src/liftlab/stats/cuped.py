"""CUPED: variance reduction with each customer's pre-period value of the metric.

Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online controlled experiments
by utilizing pre-experiment data". Each unit's metric becomes y - θ(x - x̄), where x is its
pre-period covariate and x̄ the mean of x over both arms. θ is pooled across arms from the
within-arm centred sums,

    θ = (S_xy,c + S_xy,t) / (S_xx,c + S_xx,t),   S_xy = Σxy - ΣxΣy/n,  S_xx = Σx² - (Σx)²/n,

i.e. the common slope of an ANCOVA, so a treatment effect on y does not leak into θ.
From sufficient statistics the adjusted arm has
    mean  ȳ - θ(x̄_arm - x̄),   variance  s²_y - 2θ·cov(x, y) + θ²·s²_x,
returned as ordinary `Sample`s that `frequentist`, `bayesian(kind="revenue")` and `sequential`
take unchanged. θ is treated as known (its estimation error is O(1/n)). The variance of the
uplift estimate falls by about corr(x, y)² — `variance_reduction` reports 1 - Var_adj/Var_raw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from liftlab.stats.samples import (
    CovariateSample,
    Number,
    Sample,
    _as_output,
    _central_cross,
    _central_sum_sq,
)


@dataclass(frozen=True)
class CupedResult:
    """Adjusted control and treatment samples, the pooled θ, and the variance reduction."""

    control: Sample
    treatment: Sample
    theta: Number
    variance_reduction: Number
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, the adjusted samples as nested dicts."""
        return {
            "control": self.control.to_dict(),
            "treatment": self.treatment.to_dict(),
            "theta": self.theta.tolist() if isinstance(self.theta, np.ndarray) else self.theta,
            "variance_reduction": (
                self.variance_reduction.tolist()
                if isinstance(self.variance_reduction, np.ndarray)
                else self.variance_reduction
            ),
            "notes": list(self.notes),
        }


def _adjust(sample: CovariateSample, theta: np.ndarray, x_mean_all: np.ndarray) -> Sample:
    n = np.asarray(sample.n, dtype=float)
    variance = np.asarray(sample.variance) - 2 * theta * np.asarray(sample.covariance)
    variance = np.maximum(variance + theta**2 * np.asarray(sample.covariate.variance), 0.0)
    with np.errstate(invalid="ignore"):
        mean = np.asarray(sample.mean) - theta * (np.asarray(sample.covariate.mean) - x_mean_all)
    return Sample.from_moments(n, mean, variance)


def cuped(control: CovariateSample, treatment: CovariateSample) -> CupedResult:
    """Adjust both arms with the pooled θ = pooled cov(x, y) / pooled var(x).

    Works elementwise on array-valued samples. If x has no spread, θ = 0 (no adjustment).
    """
    s_xy = _central_cross(control.n, control.x_sum, control.sum, control.xy_sum) + _central_cross(
        treatment.n, treatment.x_sum, treatment.sum, treatment.xy_sum
    )
    s_xx = _central_sum_sq(control.n, control.x_sum, control.x_sum_sq) + _central_sum_sq(
        treatment.n, treatment.x_sum, treatment.x_sum_sq
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(s_xx > 0, s_xy / s_xx, 0.0)
        n_all = np.asarray(control.n, dtype=float) + np.asarray(treatment.n, dtype=float)
        x_mean_all = (
            np.asarray(control.x_sum, dtype=float) + np.asarray(treatment.x_sum, dtype=float)
        ) / n_all
    adjusted_c = _adjust(control, theta, x_mean_all)
    adjusted_t = _adjust(treatment, theta, x_mean_all)

    def uplift_variance(c: Sample, t: Sample) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(c.variance) / np.asarray(c.n) + np.asarray(t.variance) / np.asarray(
                t.n
            )

    raw, adjusted = uplift_variance(control, treatment), uplift_variance(adjusted_c, adjusted_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        reduction = np.where((raw > 0) & np.isfinite(raw), 1.0 - adjusted / raw, 0.0)
    notes: tuple[str, ...] = ()
    if np.ndim(theta) == 0 and float(s_xx) == 0:
        notes = ("the covariate has no spread within arms: no adjustment (theta = 0)",)
    return CupedResult(adjusted_c, adjusted_t, _as_output(theta), _as_output(reduction), notes)

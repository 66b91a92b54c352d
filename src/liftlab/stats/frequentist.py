"""Frequentist uplift: Welch t-test on the absolute difference, delta method for the relative.

What is computed, for control c and treatment t with means ȳ, sample variances s² (n-1
denominator) and sizes n:

- absolute uplift d = ȳ_t - ȳ_c, Var(d) = s²_t/n_t + s²_c/n_c;
- Welch–Satterthwaite degrees of freedom
  ν = Var(d)² / ((s²_t/n_t)²/(n_t-1) + (s²_c/n_c)²/(n_c-1));
- `abs_ci` = d ± t_{ν,1-α/2}·√Var(d) and the two-sided `p_value` = 2·T_ν(-|d|/√Var(d))
  (identical to scipy's `ttest_ind(equal_var=False)`);
- relative uplift r = ȳ_t/ȳ_c - 1 with the delta-method variance
  Var(r) = s²_t/(n_t ȳ_c²) + ȳ_t² s²_c/(n_c ȳ_c⁴), `rel_ci` = r ± t_{ν,1-α/2}·√Var(r) and
  `rel_p_value` from the same t distribution — GrowthBook's frequentist engine
  (gbstats `TwoSidedTTest`, relative difference type).

GrowthBook uses the MLE variance p(1-p) for proportions; liftlab uses the n-1 variance for
every metric (a factor n/(n-1) apart), so conversion results agree with gbstats to ~1/n.

Degenerate input never raises and leaks no RuntimeWarning; the result's `notes` say why a
number is missing:
- an arm with n = 0: means and uplifts are nan, `p_value` = 1 (no evidence);
- an arm with n = 1: no variance estimate, so intervals are (nan, nan) and `p_value` = 1;
- zero variance in both arms: the interval has zero width; `p_value` = 1 if the means are
  equal, else 0;
- control mean 0: relative uplift, its interval and `rel_p_value` are nan.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import special

from liftlab.errors import LiftlabError
from liftlab.stats.samples import Sample


@dataclass(frozen=True)
class FrequentistResult:
    """Welch test of treatment vs control: uplifts, intervals, p-values, and what went in."""

    n_control: float
    n_treatment: float
    mean_control: float
    mean_treatment: float
    abs_uplift: float
    abs_ci: tuple[float, float]
    abs_se: float
    rel_uplift: float
    rel_ci: tuple[float, float]
    rel_se: float
    p_value: float
    rel_p_value: float
    df: float
    alpha: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; intervals become two-element lists."""
        return _to_plain(asdict(self))


class Moments(NamedTuple):
    """Elementwise arrays shared by the frequentist, sequential and Bayesian engines."""

    n_c: np.ndarray
    n_t: np.ndarray
    mean_c: np.ndarray
    mean_t: np.ndarray
    var_c: np.ndarray
    var_t: np.ndarray
    abs_uplift: np.ndarray  # nan unless both arms have a unit
    abs_var: np.ndarray  # Var(d); nan unless both arms have n >= 2
    rel_uplift: np.ndarray  # nan where the control mean is 0 or undefined
    rel_var: np.ndarray  # delta-method Var(r); nan unless defined
    df: np.ndarray  # Welch–Satterthwaite; inf when both variances are 0
    has_variance: np.ndarray  # both arms have n >= 2


def moments(control: Sample, treatment: Sample) -> Moments:
    """The point estimates and variances every engine starts from, elementwise."""
    n_c = np.asarray(control.n, dtype=float)
    n_t = np.asarray(treatment.n, dtype=float)
    mean_c = np.asarray(control.mean, dtype=float)
    mean_t = np.asarray(treatment.mean, dtype=float)
    var_c = np.asarray(control.variance, dtype=float)
    var_t = np.asarray(treatment.variance, dtype=float)
    has_variance = (n_c >= 2) & (n_t >= 2)
    with np.errstate(all="ignore"):
        share_c = var_c / n_c
        share_t = var_t / n_t
        abs_var = np.where(has_variance, share_c + share_t, np.nan)
        denominator = share_t**2 / (n_t - 1.0) + share_c**2 / (n_c - 1.0)
        df = np.where(denominator > 0, abs_var**2 / denominator, np.inf)
        df = np.where(has_variance, df, np.nan)
        abs_uplift = mean_t - mean_c
        rel_defined = np.isfinite(mean_c) & (mean_c != 0) & np.isfinite(mean_t)
        rel_uplift = np.where(rel_defined, mean_t / mean_c - 1.0, np.nan)
        rel_var = share_t / mean_c**2 + mean_t**2 * share_c / mean_c**4
        rel_var = np.where(rel_defined & has_variance, rel_var, np.nan)
    return Moments(
        n_c,
        n_t,
        mean_c,
        mean_t,
        var_c,
        var_t,
        abs_uplift,
        abs_var,
        rel_uplift,
        rel_var,
        df,
        has_variance,
    )


def check_alpha(alpha: float) -> float:
    """alpha must lie strictly between 0 and 1."""
    if not 0.0 < float(alpha) < 1.0:
        raise LiftlabError(f"alpha must be between 0 and 1, got {alpha!r}", field="alpha")
    return float(alpha)


def t_interval_and_p(
    estimate: np.ndarray, variance: np.ndarray, df: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """estimate ± t_{df,1-α/2}·√variance and the two-sided p-value 2·T_df(-|estimate|/se).

    A zero variance gives a zero-width interval and p = 0 (estimate ≠ 0) or 1 (estimate = 0);
    an undefined (nan) variance gives (nan, nan) and p = 1.
    """
    with np.errstate(all="ignore"):
        se = np.sqrt(variance)
        safe_df = np.where(np.isfinite(df) & (df > 0), df, 1.0)
        quantile = np.where(
            np.isinf(df), special.ndtri(1 - alpha / 2), special.stdtrit(safe_df, 1 - alpha / 2)
        )
        half = np.where(se > 0, quantile * se, 0.0)
        low, high = estimate - half, estimate + half
        tail = np.where(
            np.isinf(df),
            special.ndtr(-np.abs(estimate) / se),
            special.stdtr(safe_df, -np.abs(estimate) / se),
        )
        p = np.where(se > 0, 2 * tail, np.where(estimate == 0, 1.0, 0.0))
    undefined = ~np.isfinite(variance) | ~np.isfinite(estimate)
    low = np.where(undefined, np.nan, low)
    high = np.where(undefined, np.nan, high)
    p = np.where(undefined, 1.0, np.clip(p, 0.0, 1.0))
    return low, high, p


def frequentist_batch(
    control: Sample, treatment: Sample, *, alpha: float = 0.05
) -> dict[str, np.ndarray]:
    """`frequentist` over array-valued Samples: a dict of arrays, one entry per comparison."""
    alpha = check_alpha(alpha)
    m = moments(control, treatment)
    abs_low, abs_high, p_value = t_interval_and_p(m.abs_uplift, m.abs_var, m.df, alpha)
    rel_low, rel_high, rel_p = t_interval_and_p(m.rel_uplift, m.rel_var, m.df, alpha)
    rel_p = np.where(np.isfinite(m.rel_uplift), rel_p, np.nan)
    with np.errstate(invalid="ignore"):
        abs_se, rel_se = np.sqrt(m.abs_var), np.sqrt(m.rel_var)
    return {
        "n_control": m.n_c,
        "n_treatment": m.n_t,
        "mean_control": m.mean_c,
        "mean_treatment": m.mean_t,
        "abs_uplift": m.abs_uplift,
        "abs_low": abs_low,
        "abs_high": abs_high,
        "abs_se": abs_se,
        "rel_uplift": m.rel_uplift,
        "rel_low": rel_low,
        "rel_high": rel_high,
        "rel_se": rel_se,
        "p_value": p_value,
        "rel_p_value": rel_p,
        "df": m.df,
    }


def frequentist(control: Sample, treatment: Sample, *, alpha: float = 0.05) -> FrequentistResult:
    """Welch t-test of treatment vs control with a delta-method relative uplift.

    Formulas in the module docstring; sources: Welch (1947), Satterthwaite (1946); delta
    method for a ratio of independent means (Casella & Berger §5.5.4), as in GrowthBook gbstats.
    """
    out = {k: float(v) for k, v in frequentist_batch(control, treatment, alpha=alpha).items()}
    return FrequentistResult(
        n_control=out["n_control"],
        n_treatment=out["n_treatment"],
        mean_control=out["mean_control"],
        mean_treatment=out["mean_treatment"],
        abs_uplift=out["abs_uplift"],
        abs_ci=(out["abs_low"], out["abs_high"]),
        abs_se=out["abs_se"],
        rel_uplift=out["rel_uplift"],
        rel_ci=(out["rel_low"], out["rel_high"]),
        rel_se=out["rel_se"],
        p_value=out["p_value"],
        rel_p_value=out["rel_p_value"],
        df=out["df"],
        alpha=float(alpha),
        notes=degenerate_notes(control, treatment),
    )


def degenerate_notes(control: Sample, treatment: Sample) -> tuple[str, ...]:
    """Plain-language reasons why some numbers of a comparison are missing or trivial."""
    notes = []
    for arm, sample in (("control", control), ("treatment", treatment)):
        n = float(sample.n)
        if n == 0:
            notes.append(f"{arm} has no units: its mean and the uplift are undefined")
        elif n < 2:
            notes.append(f"{arm} has fewer than 2 units: no variance estimate, intervals undefined")
    if not notes:
        if float(control.variance) == 0 and float(treatment.variance) == 0:
            notes.append("no variation in either arm: the interval has zero width")
        if float(control.mean) == 0:
            notes.append("control mean is 0: relative uplift is undefined")
    elif float(control.n) > 0 and float(control.mean) == 0:
        notes.append("control mean is 0: relative uplift is undefined")
    return tuple(notes)


def _to_plain(record: dict[str, Any]) -> dict[str, Any]:
    """Tuples become lists so the dict is JSON-ready."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in record.items()}

"""Frequentist uplift: Welch t-test on the difference, log-ratio interval for the relative.

What is computed, for control c and treatment t with means ȳ, sample variances s² (n-1
denominator) and sizes n:

- absolute uplift d = ȳ_t - ȳ_c, Var(d) = s²_t/n_t + s²_c/n_c;
- Welch–Satterthwaite degrees of freedom
  ν = Var(d)² / ((s²_t/n_t)²/(n_t-1) + (s²_c/n_c)²/(n_c-1));
- `abs_ci` = d ± t_{ν,1-α/2}·√Var(d) and the two-sided `p_value` = 2·T_ν(-|d|/√Var(d))
  (identical to scipy's `ttest_ind(equal_var=False)`);
- relative uplift r = ȳ_t/ȳ_c - 1 (the point estimate, as gbstats reports it). Its interval
  is built on the log scale, where the ratio of two means is close to normal: the delta method
  gives ℓ = log ȳ_t - log ȳ_c with Var(ℓ) = s²_t/(n_t ȳ_t²) + s²_c/(n_c ȳ_c²), and
  `rel_ci` = exp(ℓ ± t_{ν,1-α/2}·√Var(ℓ)) - 1, which always lies in (-100%, ∞).
  `rel_se` = √Var(ℓ) is the standard error *of the log ratio* (≈ the relative standard error
  for small effects) and `rel_p_value` = 2·T_ν(-|ℓ|/√Var(ℓ)) tests ℓ = 0, so `rel_ci` excludes
  0 exactly when `rel_p_value` < α. Source: Katz, Baptista, Azen & Pike (1978) for ratios of
  proportions (statsmodels' `confint_proportions_2indep(compare="ratio", method="log")`);
  the same delta method on log means for any metric (Casella & Berger §5.5.4).

Why not gbstats' ratio-scale delta method, r ± t·√(s²_t/(n_t ȳ_c²) + ȳ_t² s²_c/(n_c ȳ_c⁴))?
At small counts it leaves (-100%, ∞) (a real report: +415.1% [-218.9%, +1049.1%] while the
absolute interval excluded 0) and undercovers. Coverage of the true relative effect, 95%
intervals, `tests/stats/test_relative_intervals.py` (10,000 experiments per cell, 5,000 for the
largest revenue cell; size = expected conversions, or buyers, per arm):

    conversion (rate 5%)            skewed revenue (10% buy, lognormal(3, 1) spend)
    size  lift  ratio-δ  log-ratio  size  lift  ratio-δ  log-ratio  Fieller (unbounded)
      20   +0%   93.57%    95.40%     20   +0%   89.21%    92.26%   95.88%  (1.7%)
      20  +10%   93.45%    95.47%     20  +10%   89.40%    91.64%   95.41%  (2.1%)
      20  +30%   94.52%    95.68%     20  +30%   89.44%    92.03%   95.46%  (1.9%)
      50   +0%   95.00%    95.06%     50   +0%   92.09%    93.75%   95.66%
      50  +10%   94.59%    95.26%     50  +10%   92.05%    93.80%   95.30%
      50  +30%   94.99%    95.17%     50  +30%   92.16%    93.89%   95.84%
     200   +0%   95.07%    95.12%    200   +0%   94.12%    94.47%   95.09%
     200  +10%   94.71%    95.20%    200  +10%   94.22%    94.45%   95.13%
     200  +30%   94.90%    95.04%    200  +30%   94.25%    94.39%   95.04%
    2000   +0%   95.05%    95.18%   2000   +0%   94.66%    94.60%   94.76%
    2000  +10%   94.74%    94.63%   2000  +10%   95.02%    95.00%   95.12%
    2000  +30%   95.02%    94.92%   2000  +30%   94.86%    94.76%   94.78%

(Fieller on conversions is within 0.2 points of the log ratio.) The old interval fell below
-100% in 20% of the 20-buyer revenue experiments. Fieller's theorem covers best on tiny skewed
revenue but is unbounded there when the control mean is not itself significant, so the engine
uses the log ratio; every normal-theory interval undercovers at ≤ 50 buyers of skewed spend.

GrowthBook uses the MLE variance p(1-p) for proportions; liftlab uses the n-1 variance for
every metric (a factor n/(n-1) apart), so conversion results agree with gbstats to ~1/n.

Degenerate input never raises and leaks no RuntimeWarning; the result's `notes` say why a
number is missing:
- an arm with n = 0: means and uplifts are nan, `p_value` = 1 (no evidence);
- an arm with n = 1: no variance estimate, so intervals are (nan, nan) and `p_value` = 1;
- zero variance in both arms: the interval has zero width; `p_value` = 1 if the means are
  equal, else 0;
- control mean 0: relative uplift, its interval and `rel_p_value` are nan;
- treatment mean 0 (no conversions): `rel_uplift` = -100% but the log ratio is -∞, so
  `rel_ci` and `rel_p_value` are nan (Fieller would give the single point -100%, which claims
  far more than zero conversions show); the absolute interval remains;
- a negative mean (e.g. after CUPED): the log ratio is undefined, `rel_ci` nan.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    @classmethod
    def from_batch(
        cls, out: Mapping[str, float], alpha: float, notes: tuple[str, ...] = ()
    ) -> FrequentistResult:
        """One comparison from a `*_batch` dict of floats (keys as `frequentist_batch`)."""
        return cls(
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
            notes=tuple(notes),
        )


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
    rel_var: np.ndarray  # delta-method Var(r) on the ratio scale; nan unless defined
    df: np.ndarray  # Welch–Satterthwaite; inf when both variances are 0
    has_variance: np.ndarray  # both arms have n >= 2
    log_ratio: np.ndarray  # log ȳ_t - log ȳ_c; nan unless both means are > 0
    log_var: np.ndarray  # s²_t/(n_t ȳ_t²) + s²_c/(n_c ȳ_c²); nan unless defined


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
        log_defined = np.isfinite(mean_c) & np.isfinite(mean_t) & (mean_c > 0) & (mean_t > 0)
        log_ratio = np.where(log_defined, np.log(mean_t) - np.log(mean_c), np.nan)
        log_var = share_t / mean_t**2 + share_c / mean_c**2
        log_var = np.where(log_defined & has_variance, log_var, np.nan)
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
        log_ratio,
        log_var,
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


def log_ratio_interval_and_p(
    log_ratio: np.ndarray, log_var: np.ndarray, df: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative-uplift interval exp(log_ratio ± t·√log_var) - 1 and the p-value of log_ratio = 0.

    Always inside (-1, ∞); nan (and p nan) where the log ratio is undefined.
    """
    low, high, p = t_interval_and_p(log_ratio, log_var, df, alpha)
    p = np.where(np.isfinite(log_ratio), p, np.nan)
    return np.expm1(low), np.expm1(high), p


def frequentist_batch(
    control: Sample, treatment: Sample, *, alpha: float = 0.05
) -> dict[str, np.ndarray]:
    """`frequentist` over array-valued Samples: a dict of arrays, one entry per comparison."""
    alpha = check_alpha(alpha)
    m = moments(control, treatment)
    abs_low, abs_high, p_value = t_interval_and_p(m.abs_uplift, m.abs_var, m.df, alpha)
    rel_low, rel_high, rel_p = log_ratio_interval_and_p(m.log_ratio, m.log_var, m.df, alpha)
    with np.errstate(invalid="ignore"):
        abs_se, rel_se = np.sqrt(m.abs_var), np.sqrt(m.log_var)
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
    """Welch t-test of treatment vs control, with a log-ratio interval for the relative uplift.

    Formulas and the coverage study in the module docstring; sources: Welch (1947),
    Satterthwaite (1946); delta method on the log of a ratio of independent means.
    """
    out = {k: float(v) for k, v in frequentist_batch(control, treatment, alpha=alpha).items()}
    return FrequentistResult.from_batch(out, alpha, degenerate_notes(control, treatment))


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
    mean_c, mean_t = float(control.mean), float(treatment.mean)
    if mean_c != 0 and not np.isnan(mean_c) and not np.isnan(mean_t):
        if mean_t == 0:
            notes.append(
                "treatment mean is 0: relative uplift is -100% but its interval is undefined "
                "(log scale); read the absolute interval"
            )
        elif mean_t < 0 or mean_c < 0:
            notes.append(
                "a mean is negative: the relative interval (log scale) is undefined; "
                "read the absolute interval"
            )
    return tuple(notes)


def _to_plain(record: dict[str, Any]) -> dict[str, Any]:
    """Tuples become lists so the dict is JSON-ready."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in record.items()}

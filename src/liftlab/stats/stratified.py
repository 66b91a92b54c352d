"""Stratified comparison: one pooled uplift from per-segment (stratum) comparisons.

Pooling all controls against all treatments is biased when segments differ in baseline and
in control share (Simpson's paradox): the pooled control is then a different mix of segments
than the pooled treatment. Comparing within each stratum and averaging the differences with
fixed weights removes that bias (post-stratification; Miratrix, Sekhon & Yu 2013).

With strata k, weights w_k ≥ 0 summing to 1 (default ∝ n_c,k + n_t,k, the stratum's share
of the population), per-stratum means ȳ and variances of the mean v = s²/n:

- standardised means  M_c = Σ w ȳ_c,  M_t = Σ w ȳ_t;  absolute uplift  D = M_t - M_c,
  Var(D) = Σ w² (v_t + v_c), df by Satterthwaite over all 2K variance pieces
  (Var(D)² / Σ (w² v)²/(n - 1)); interval D ± t·√Var(D), two-sided p-value;
- relative uplift  M_t/M_c - 1, interval on the log scale as in `liftlab.stats.frequentist`:
  log M_t - log M_c ± t·√(Σw²v_t/M_t² + Σw²v_c/M_c²), mapped by exp(·) - 1.

A stratum without at least 2 units in both arms is left out (weight 0), with a note.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from liftlab.errors import LiftlabError
from liftlab.stats.frequentist import (
    FrequentistResult,
    check_alpha,
    log_ratio_interval_and_p,
    t_interval_and_p,
)
from liftlab.stats.samples import Sample


def _stack(samples: Sequence[Sample], field: str) -> np.ndarray:
    return np.stack([np.asarray(getattr(s, field), dtype=float) for s in samples])


def stratified_batch(
    controls: Sequence[Sample],
    treatments: Sequence[Sample],
    *,
    weights: ArrayLike | None = None,
    alpha: float = 0.05,
) -> dict[str, np.ndarray]:
    """`stratified` over array-valued Samples (axis 0 = strata): a dict of arrays."""
    alpha = check_alpha(alpha)
    if len(controls) != len(treatments) or not controls:
        raise LiftlabError(
            "need one control and one treatment Sample per stratum", field="strata"
        )
    n_c, n_t = _stack(controls, "n"), _stack(treatments, "n")
    with np.errstate(all="ignore"):
        mean_c = _stack(controls, "sum") / n_c
        mean_t = _stack(treatments, "sum") / n_t
        var_c = np.stack([np.asarray(s.variance, dtype=float) for s in controls]) / n_c
        var_t = np.stack([np.asarray(s.variance, dtype=float) for s in treatments]) / n_t
    used = (n_c >= 2) & (n_t >= 2)
    if weights is None:
        raw = n_c + n_t
    else:
        raw = np.asarray(weights, dtype=float).reshape((-1,) + (1,) * (n_c.ndim - 1))
        if raw.shape[0] != n_c.shape[0] or np.any(raw < 0) or not np.all(np.isfinite(raw)):
            raise LiftlabError("weights: one finite weight >= 0 per stratum", field="weights")
        raw = np.broadcast_to(raw, n_c.shape)
    raw = np.where(used, raw, 0.0)
    total = raw.sum(axis=0)
    with np.errstate(all="ignore"):
        w = raw / total
        mean_c, mean_t = np.where(used, mean_c, 0.0), np.where(used, mean_t, 0.0)
        var_c, var_t = np.where(used, var_c, 0.0), np.where(used, var_t, 0.0)
        m_c, m_t = (w * mean_c).sum(axis=0), (w * mean_t).sum(axis=0)
        abs_var = (w**2 * (var_c + var_t)).sum(axis=0)
        pieces = (w**2 * var_t) ** 2 / np.where(used, n_t - 1, 1.0) + (
            w**2 * var_c
        ) ** 2 / np.where(used, n_c - 1, 1.0)
        denominator = pieces.sum(axis=0)
        df = np.where(denominator > 0, abs_var**2 / denominator, np.inf)
        defined = total > 0
        m_c, m_t = np.where(defined, m_c, np.nan), np.where(defined, m_t, np.nan)
        abs_var, df = np.where(defined, abs_var, np.nan), np.where(defined, df, np.nan)
        diff = m_t - m_c
        rel = np.where(m_c != 0, m_t / m_c - 1.0, np.nan)
        log_ok = (m_c > 0) & (m_t > 0)
        log_ratio = np.where(log_ok, np.log(m_t) - np.log(m_c), np.nan)
        log_var = (w**2 * var_t).sum(axis=0) / m_t**2 + (w**2 * var_c).sum(axis=0) / m_c**2
        log_var = np.where(log_ok, log_var, np.nan)
    abs_low, abs_high, p = t_interval_and_p(diff, abs_var, df, alpha)
    rel_low, rel_high, rel_p = log_ratio_interval_and_p(log_ratio, log_var, df, alpha)
    with np.errstate(invalid="ignore"):
        abs_se, rel_se = np.sqrt(abs_var), np.sqrt(log_var)
    return {
        "n_control": np.where(used, n_c, 0.0).sum(axis=0),
        "n_treatment": np.where(used, n_t, 0.0).sum(axis=0),
        "mean_control": m_c,
        "mean_treatment": m_t,
        "abs_uplift": diff,
        "abs_low": abs_low,
        "abs_high": abs_high,
        "abs_se": abs_se,
        "rel_uplift": rel,
        "rel_low": rel_low,
        "rel_high": rel_high,
        "rel_se": rel_se,
        "p_value": p,
        "rel_p_value": rel_p,
        "df": df,
        "strata_used": used.sum(axis=0).astype(float),
    }


def stratified(
    controls: Sequence[Sample],
    treatments: Sequence[Sample],
    *,
    weights: ArrayLike | None = None,
    alpha: float = 0.05,
) -> FrequentistResult:
    """The pooled ("all segments") comparison of one arm, stratified by segment.

    `controls[k]`, `treatments[k]`: stratum k's arms; `weights`: one per stratum (default
    n_c + n_t). `mean_control` / `mean_treatment` are the standardised (weighted) means.
    Formulas in the module docstring.
    """
    out = {
        k: float(v)
        for k, v in stratified_batch(controls, treatments, weights=weights, alpha=alpha).items()
    }
    notes = [
        f"stratum {k} left out: an arm has fewer than 2 units"
        for k, (c, t) in enumerate(zip(controls, treatments))
        if float(c.n) < 2 or float(t.n) < 2
    ]
    if out["strata_used"] == 0:
        notes.append("no stratum has 2 units in both arms: the pooled uplift is undefined")
    elif out["mean_control"] == 0:
        notes.append("control mean is 0: relative uplift is undefined")
    elif not out["mean_treatment"] > 0 or not out["mean_control"] > 0:
        notes.append("a mean is not positive: the relative interval (log scale) is undefined")
    return FrequentistResult.from_batch(out, alpha, tuple(notes))

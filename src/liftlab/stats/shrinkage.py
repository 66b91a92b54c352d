"""Empirical-Bayes shrinkage of segment effects: normal–normal partial pooling.

With K segment effects θ̂_k and standard errors s_k, the model θ̂_k ~ N(θ_k, s_k²),
θ_k ~ N(μ, τ²) borrows strength across segments: a noisy segment's estimate moves toward the
grand mean, a precise one hardly moves.

- τ² by DerSimonian & Laird (1986), the method of moments truncated at 0: with w_k = 1/s_k²,
  μ_FE = Σwθ̂/Σw, Q = Σw(θ̂ - μ_FE)², τ² = max(0, (Q - (K-1)) / (Σw - Σw²/Σw)) — as
  statsmodels' `combine_effects(method_re="dl")`;
- μ̂ = Σw*θ̂/Σw* with w*_k = 1/(s_k² + τ²) (precision-weighted), Var(μ̂) = 1/Σw*;
- the second moment that shrinks, μ₂ = max(τ², 2Σs⁴ / (K·Σs²)): τ² floored as Armstrong,
  Kolesár & Plagborg-Møller (2022) do, since a τ² truncated at 0 would claim the segments are
  known to be identical; shrinkage factor B_k = μ₂/(μ₂ + s_k²) — the weight kept on the
  segment's own estimate (1: no shrinkage, 0: fully pooled); shrunken estimate μ̂ + B_k(θ̂_k − μ̂);
- interval: the robust empirical-Bayes interval of the same paper (`liftlab.stats.ebci`):
  estimate ± cva_α(t_k)·se_k, where se_k² = (B_k + (1 − B_k)a_k)² s_k² + (1 − B_k)² Σ_{j≠k} a_j² s_j²
  is the estimate's sampling variance (a = w*/Σw*, μ̂'s weights) and t_k = (1 − B_k)² μ₂ / se_k²
  the second moment of its bias relative to that. It covers at least 1 − α on average over the
  segments whatever the true effects' distribution; the normal plug-in interval (Kass & Steffey
  1989) covered only 83.6% (true-effect sd 0.005), 89.1% (0.015), 94.7% (0.10) in the study of
  `tests/stats/test_shrinkage.py`, where these intervals cover ≥ 95%. The point estimates are the
  gain: mean squared error well below the raw estimates' when segments are alike.

Undefined inputs: segments with a nan estimate or a standard error that is not finite and
> 0 are left out and get nan. With fewer than 3 usable segments τ² cannot be estimated
honestly: estimates and plain intervals are returned unshrunk (B = 1), with a note.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from liftlab.stats.ebci import critical_value
from liftlab.stats.frequentist import check_alpha

MIN_SEGMENTS = 3


@dataclass(frozen=True)
class ShrinkageResult:
    """Shrunken segment effects, their intervals and shrinkage factors, with τ² and μ̂."""

    estimates: tuple[float, ...]
    intervals: tuple[tuple[float, float], ...]
    shrinkage: tuple[float, ...]  # B_k: weight on the segment's own estimate
    raw_estimates: tuple[float, ...]
    standard_errors: tuple[float, ...]
    tau2: float  # DerSimonian–Laird, as statsmodels
    mu2: float  # the floored second moment the estimates shrink with
    grand_mean: float
    grand_mean_se: float
    alpha: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; tuples become lists."""
        return {
            k: [list(v) if isinstance(v, tuple) else v for v in value]
            if isinstance(value, tuple)
            else value
            for k, value in asdict(self).items()
        }


def dersimonian_laird(estimates: np.ndarray, variances: np.ndarray) -> float:
    """DerSimonian–Laird τ² (method of moments, truncated at 0) for finite inputs."""
    w = 1.0 / variances
    fixed = np.sum(w * estimates) / np.sum(w)
    q = np.sum(w * (estimates - fixed) ** 2)
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    return float(max(0.0, (q - (estimates.size - 1)) / c)) if c > 0 else 0.0


def shrink(
    estimates: ArrayLike, standard_errors: ArrayLike, *, alpha: float = 0.05
) -> ShrinkageResult:
    """Partial pooling of K segment effects toward their precision-weighted grand mean."""
    alpha = check_alpha(alpha)
    theta = np.asarray(estimates, dtype=float).ravel()
    se = np.asarray(standard_errors, dtype=float).ravel()
    z = float(special.ndtri(1 - alpha / 2))
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(theta) & np.isfinite(se) & (se > 0)
    k = int(usable.sum())
    notes = []
    if k < usable.size:
        notes.append(
            f"{usable.size - k} segment(s) without a usable estimate and standard error "
            "left out (nan)"
        )
    out_est, out_b = np.full(theta.shape, np.nan), np.full(theta.shape, np.nan)
    out_half = np.full(theta.shape, np.nan)
    t, s2 = theta[usable], se[usable] ** 2
    mu2 = float("nan")
    if k < MIN_SEGMENTS:
        notes.append(f"fewer than {MIN_SEGMENTS} segments: no shrinkage (estimates as given)")
        tau2 = float("nan")
        if k:
            w = 1.0 / s2
            grand, grand_var = float(np.sum(w * t) / np.sum(w)), float(1.0 / np.sum(w))
        else:
            grand, grand_var = float("nan"), float("nan")
        out_est[usable], out_b[usable], out_half[usable] = t, 1.0, z * np.sqrt(s2)
    else:
        tau2 = dersimonian_laird(t, s2)
        w_star = 1.0 / (s2 + tau2)
        grand = float(np.sum(w_star * t) / np.sum(w_star))
        grand_var = float(1.0 / np.sum(w_star))
        mu2 = max(tau2, 2.0 * float(np.sum(s2**2)) / (k * float(np.sum(s2))))
        b = mu2 / (mu2 + s2)
        out_est[usable] = grand + b * (t - grand)
        out_b[usable] = b
        a = w_star / np.sum(w_star)
        # Var(B θ̂_k + (1 − B) Σ a_j θ̂_j) with independent θ̂_j: θ̂_k's own weight, then the others'.
        variance = (b + (1 - b) * a) ** 2 * s2 + (1 - b) ** 2 * (np.sum(a**2 * s2) - a**2 * s2)
        out_half[usable] = critical_value((1 - b) ** 2 * mu2 / variance, alpha) * np.sqrt(variance)
        if tau2 == 0:
            notes.append("τ² = 0: the segments look alike; estimates are pulled close to the grand mean")
    return ShrinkageResult(
        estimates=tuple(float(v) for v in out_est),
        intervals=tuple((float(a), float(b)) for a, b in zip(out_est - out_half, out_est + out_half)),
        shrinkage=tuple(float(v) for v in out_b),
        raw_estimates=tuple(float(v) for v in theta),
        standard_errors=tuple(float(v) for v in se),
        tau2=tau2,
        mu2=mu2,
        grand_mean=grand,
        grand_mean_se=float(np.sqrt(grand_var)),
        alpha=alpha,
        notes=tuple(notes),
    )

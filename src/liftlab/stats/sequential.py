"""Sequential testing: always-valid p-values and asymptotic confidence sequences.

For teams who look at results every day. A (1-α) confidence sequence covers the true uplift
at *every* look simultaneously, so stopping whenever it excludes 0 keeps the false-positive
rate at most α. Source: Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2023), "Time-uniform
central limit theory and asymptotic confidence sequences", eq. (9) — the normal-mixture
boundary GrowthBook uses for its sequential engine.

With N = n_c + n_t units so far, the uplift estimate θ̂ and its variance V (Welch for the
absolute uplift; for the relative uplift θ̂ is the log ratio log ȳ_t - log ȳ_c with its
delta-method variance, as in `liftlab.stats.frequentist`, and the bounds are mapped back by
exp(·) - 1, so the relative sequence stays inside (-100%, ∞)), the per-unit variance is
σ̂² = V·N and

    θ̂ ± σ̂ · sqrt( 2(Nρ² + 1) / (N²ρ²) · log( sqrt(Nρ² + 1) / α ) ).

Tuning: `tuning` = N*, the total sample size (both arms) at which the sequence is tightest;
ρ² = (-2 log α + log(-2 log α + 1)) / N*. Set it to the planned sample size; GrowthBook's
default is 5,000. The always-valid p-value is the smallest α whose sequence excludes 0,

    p = min(1, sqrt(1 + Nρ²) · exp(-θ̂²·Nρ² / (2V(1 + Nρ²)))).

Each look is valid on its own; across looks, take the running minimum of p (equivalently the
running intersection of the intervals). Degenerate input behaves as in `frequentist`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from liftlab.errors import LiftlabError
from liftlab.stats.frequentist import check_alpha, degenerate_notes, moments
from liftlab.stats.samples import Sample


@dataclass(frozen=True)
class SequentialResult:
    """Confidence sequence and always-valid p-value at the current look."""

    n_control: float
    n_treatment: float
    abs_uplift: float
    abs_ci: tuple[float, float]
    rel_uplift: float
    rel_ci: tuple[float, float]
    p_value: float
    rel_p_value: float
    alpha: float
    tuning: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; intervals become two-element lists."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def rho_squared(alpha: float, tuning: float) -> float:
    """ρ² that makes the sequence tightest at N* = `tuning` total units (Waudby-Smith et al.)."""
    return (-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / tuning


def _sequence(
    estimate: np.ndarray, variance: np.ndarray, n_total: np.ndarray, alpha: float, rho2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confidence-sequence bounds and always-valid p-value for N(θ, V) estimates, elementwise."""
    with np.errstate(all="ignore"):
        growth = n_total * rho2 + 1.0
        half = np.sqrt(variance * n_total) * np.sqrt(
            2 * growth / (n_total**2 * rho2) * np.log(np.sqrt(growth) / alpha)
        )
        half = np.where(variance > 0, half, 0.0)
        exponent = -(estimate**2) * n_total * rho2 / (2 * variance * growth)
        p = np.where(
            variance > 0, np.sqrt(growth) * np.exp(exponent), np.where(estimate == 0, 1.0, 0.0)
        )
    undefined = ~np.isfinite(variance) | ~np.isfinite(estimate)
    low = np.where(undefined, np.nan, estimate - half)
    high = np.where(undefined, np.nan, estimate + half)
    return low, high, np.where(undefined, 1.0, np.minimum(p, 1.0))


def sequential_batch(
    control: Sample, treatment: Sample, *, alpha: float = 0.05, tuning: float = 5000.0
) -> dict[str, np.ndarray]:
    """`sequential` over array-valued Samples: a dict of arrays, one entry per comparison/look."""
    alpha = check_alpha(alpha)
    if not tuning > 0:
        raise LiftlabError(f"tuning must be a positive sample size, got {tuning!r}", field="tuning")
    m = moments(control, treatment)
    rho2 = rho_squared(alpha, float(tuning))
    n_total = m.n_c + m.n_t
    abs_low, abs_high, p = _sequence(m.abs_uplift, m.abs_var, n_total, alpha, rho2)
    log_low, log_high, rel_p = _sequence(m.log_ratio, m.log_var, n_total, alpha, rho2)
    rel_low, rel_high = np.expm1(log_low), np.expm1(log_high)
    return {
        "n_control": m.n_c,
        "n_treatment": m.n_t,
        "abs_uplift": m.abs_uplift,
        "abs_low": abs_low,
        "abs_high": abs_high,
        "rel_uplift": m.rel_uplift,
        "rel_low": rel_low,
        "rel_high": rel_high,
        "p_value": p,
        "rel_p_value": np.where(np.isfinite(m.log_ratio), rel_p, np.nan),
    }


def sequential(
    control: Sample, treatment: Sample, *, alpha: float = 0.05, tuning: float = 5000.0
) -> SequentialResult:
    """Asymptotic (1-alpha) confidence sequence and always-valid p-value for the uplift.

    `tuning`: total sample size (both arms) at which the sequence is tightest.
    """
    out = {
        k: float(v)
        for k, v in sequential_batch(control, treatment, alpha=alpha, tuning=tuning).items()
    }
    return SequentialResult(
        n_control=out["n_control"],
        n_treatment=out["n_treatment"],
        abs_uplift=out["abs_uplift"],
        abs_ci=(out["abs_low"], out["abs_high"]),
        rel_uplift=out["rel_uplift"],
        rel_ci=(out["rel_low"], out["rel_high"]),
        p_value=out["p_value"],
        rel_p_value=out["rel_p_value"],
        alpha=float(alpha),
        tuning=float(tuning),
        notes=degenerate_notes(control, treatment),
    )

"""Sample ratio mismatch: are the observed arm counts consistent with the configured weights?

Pearson's chi-square goodness-of-fit test, χ² = Σ (O_k - E_k)² / E_k with E_k = N·w_k/Σw and
k - 1 degrees of freedom over the arms with positive weight (Fabijan et al. 2019, "Diagnosing
sample ratio mismatch in online controlled experiments"). Flagged at p < 0.001 by default: an
SRM means assignment or logging is broken, and no uplift from that segment can be trusted.

Edge cases: an arm with weight 0 and no units drops out; an arm with weight 0 but units
observed is a certain mismatch (χ² = inf, p = 0); no units at all, or a single arm with
positive weight, gives p = 1 (nothing to test). Each case is named in `notes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from liftlab.errors import LiftlabError


@dataclass(frozen=True)
class SrmResult:
    """Chi-square test of observed arm counts against configured weights."""

    chi2: float
    p_value: float
    df: int
    flagged: bool
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    threshold: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; tuples become lists."""
        return {
            "chi2": self.chi2,
            "p_value": self.p_value,
            "df": self.df,
            "flagged": self.flagged,
            "observed": list(self.observed),
            "expected": list(self.expected),
            "threshold": self.threshold,
            "notes": list(self.notes),
        }


def srm(
    observed_counts: Sequence[float], weights: Sequence[float], *, threshold: float = 0.001
) -> SrmResult:
    """Chi-square goodness of fit of arm counts to weights; `flagged` when p < threshold."""
    observed = np.asarray(observed_counts, dtype=float).ravel()
    weight = np.asarray(weights, dtype=float).ravel()
    if observed.shape != weight.shape or observed.size == 0:
        raise LiftlabError("need one weight per arm", field="weights")
    if np.any(~np.isfinite(observed)) or np.any(observed < 0):
        raise LiftlabError("arm counts must be non-negative numbers", field="observed_counts")
    if np.any(~np.isfinite(weight)) or np.any(weight < 0) or weight.sum() <= 0:
        raise LiftlabError("weights must be non-negative with a positive total", field="weights")
    total = observed.sum()
    expected = total * weight / weight.sum()
    notes: list[str] = []
    stray = (weight == 0) & (observed > 0)
    active = weight > 0
    df = int(active.sum()) - 1
    if stray.any():
        notes.append("units observed in an arm with weight 0: certain mismatch")
        chi2, p_value = float("inf"), 0.0
    elif total == 0:
        notes.append("no units observed: nothing to test")
        chi2, p_value = 0.0, 1.0
    elif df == 0:
        notes.append("only one arm has positive weight: nothing to test")
        chi2, p_value = 0.0, 1.0
    else:
        with np.errstate(over="ignore", divide="ignore"):  # a tiny weight may give chi2 = inf
            chi2 = float(np.sum((observed[active] - expected[active]) ** 2 / expected[active]))
        p_value = float(special.chdtrc(df, chi2))
    return SrmResult(
        chi2=chi2,
        p_value=p_value,
        df=max(df, 0),
        flagged=p_value < threshold,
        observed=tuple(float(v) for v in observed),
        expected=tuple(float(v) for v in expected),
        threshold=float(threshold),
        notes=tuple(notes),
    )

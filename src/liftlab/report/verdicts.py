"""Verdicts that agree with the row: p-values adjusted across the report, the intervals shown
beside them adjusted the same way, and one `Verdict` decided from the adjusted p-value.

Rules, in order (`decide`):
1. `no_data` — nothing to compare (no units, or no conversions in either arm);
2. `srm` — the segment's arm split is off: no verdict can be trusted;
3. `wins` / `loses` — adjusted p < α, by the sign of the uplift;
4. `inconclusive` — significant before the adjustment but not after: the effect is real
   enough to see, not clear enough to act on across this many comparisons (never
   `underpowered`: the data did detect something);
5. `underpowered` — not significant, and the smallest effect the arms could detect (MDE)
   is above the target;
6. `inconclusive` otherwise (including an undefined MDE, e.g. a control with no conversions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from liftlab.report.comparisons import Row
from liftlab.report.records import NO_INTERVAL, Interval, Verdict
from liftlab.stats import Comparison, adjusted_intervals


@dataclass(frozen=True)
class Adjusted:
    """One row's p-value and intervals after adjusting across the report."""

    p_value: float
    abs_ci: Interval
    rel_ci: Interval
    bounded_at_zero: bool = False  # a Holm-only rejection: the bound nearer 0 is 0


def adjust_rows(rows: Sequence[Row], correction: str, alpha: float) -> list[Adjusted]:
    """Adjust every defined row's p-value (Holm or BH) and its intervals alike.

    `liftlab.stats.adjusted_intervals` gives each row the interval level that matches its
    adjusted p-value (simultaneous intervals for Holm, Benjamini–Yekutieli's for BH); the
    relative interval is taken at the same level as the absolute one, so both agree with the
    verdict. Rows without data take no part (they are not hypotheses tested) and stay null.
    """
    if not rows:
        return []
    freq = [r.comparison.frequentist for r in rows]
    nan = math.nan

    def column(name: str) -> np.ndarray:
        return np.array([getattr(f, name) if f is not None else nan for f in freq], dtype=float)

    p, df = column("p_value"), column("df")
    absolute = adjusted_intervals(column("abs_uplift"), column("abs_se"), df, p, method=correction,
                                  alpha=alpha)  # type: ignore[arg-type]
    relative = adjusted_intervals(column("rel_uplift"), column("rel_se"), df, p, method=correction,
                                  alpha=alpha, relative=True)  # type: ignore[arg-type]
    out = []
    for p_adj, abs_ci, rel_ci, at_zero in zip(absolute.p_adjusted, absolute.intervals,
                                              relative.intervals, absolute.bounded_at_zero):
        if not math.isfinite(p_adj):
            out.append(Adjusted(nan, NO_INTERVAL, NO_INTERVAL))
        else:
            out.append(Adjusted(float(p_adj), abs_ci, rel_ci, at_zero))
    return out


def decide(comparison: Comparison, p_adjusted: float, *, srm_flagged: bool, target_mde: float) -> Verdict:
    """The row's verdict (rules in the module docstring)."""
    if not comparison.defined:
        return Verdict.NO_DATA
    if srm_flagged:
        return Verdict.SRM
    if math.isfinite(p_adjusted) and p_adjusted < comparison.alpha:
        return Verdict.WINS if comparison.abs_uplift > 0 else Verdict.LOSES
    if comparison.significant:
        return Verdict.INCONCLUSIVE
    mde = comparison.mde_relative
    if math.isfinite(mde) and mde > target_mde:
        return Verdict.UNDERPOWERED
    return Verdict.INCONCLUSIVE


def verdict_note(comparison: Comparison, verdict: Verdict, p_adjusted: float, family: int) -> str | None:
    """One sentence saying why a row that is not a win or a loss got its verdict."""
    if verdict is Verdict.SRM:
        return "sample ratio mismatch in this segment: no verdict"
    if verdict is Verdict.INCONCLUSIVE and comparison.significant:
        return (f"significant before adjusting for {family} comparisons (p={comparison.p_value:.3f}), "
                f"not after (adjusted p={p_adjusted:.3f})")
    if verdict is Verdict.UNDERPOWERED:
        return f"not significant, and the smallest detectable effect (MDE) is {comparison.mde_relative:.0%}"
    if verdict is Verdict.INCONCLUSIVE and not math.isfinite(comparison.mde_relative):
        return "MDE undefined (no baseline in the control)"
    return None

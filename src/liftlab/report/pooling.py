"""The programme view: each segment's effect partially pooled with the other segments' of the
same arm and metric (`liftlab.stats.shrink`, empirical-Bayes normal–normal with the
between-segment variance τ² estimated by DerSimonian–Laird).

Many small segments give noisy effects; pulling each toward the arm's precision-weighted mean
across segments lowers their mean squared error when the true effects are similar and costs
little when they differ. Fewer than three segments with an estimate cannot estimate τ²: the
shrunk effect is then left null rather than shown unshrunk under a shrunk label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from liftlab.report.comparisons import Row
from liftlab.report.records import NO_INTERVAL, Interval
from liftlab.stats import shrink
from liftlab.stats.shrinkage import MIN_SEGMENTS

METHOD_NOTE = ("Shrunk uplifts: each segment's absolute uplift partially pooled with the same "
               "arm's in the other segments (empirical Bayes, DerSimonian–Laird τ², floored); their "
               "intervals are robust empirical-Bayes intervals (Armstrong, Kolesár & "
               "Plagborg-Møller 2022): 95% coverage on average over the segments, whatever the "
               "spread of the true effects.")


@dataclass(frozen=True)
class Shrunk:
    """One row's partially pooled absolute uplift, or nan with the reason."""

    abs_uplift: float = math.nan
    abs_ci: Interval = NO_INTERVAL
    note: str | None = None


def shrunk_effects(rows: Sequence[Row], alpha: float) -> list[Shrunk]:
    """For each row, its arm × metric's shrunk effect across segments (same order as rows)."""
    out = [Shrunk() for _ in rows]
    groups: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row.metric.key, row.arm), []).append(i)
    for members in groups.values():
        usable = [i for i in members if rows[i].comparison.frequentist is not None
                  and math.isfinite(rows[i].comparison.frequentist.abs_se)
                  and rows[i].comparison.frequentist.abs_se > 0]
        if len(usable) < MIN_SEGMENTS:
            for i in members:
                out[i] = Shrunk(note=f"no shrunk uplift: the arm has fewer than {MIN_SEGMENTS} "
                                     "segments with an estimate")
            continue
        result = shrink([rows[i].comparison.abs_uplift for i in usable],
                        [rows[i].comparison.frequentist.abs_se for i in usable],  # type: ignore[union-attr]
                        alpha=alpha)
        for i, estimate, interval in zip(usable, result.estimates, result.intervals):
            out[i] = Shrunk(estimate, interval)
    return out

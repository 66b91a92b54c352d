"""Typed sufficient statistics: what aggregation hands the statistics and the report.

`ArmStats` holds one metric's `Sample` (a `CovariateSample` when the pre-period was queried)
per (segment, arm); `HoldoutStats` the programme's campaigned units and the global holdout.
They replace DataFrames with implicit columns at the stage boundary: a consumer asks for
`stats.sample(segment, arm)` and gets an empty Sample for an arm nobody entered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from liftlab.stats import CovariateSample, Sample

SegmentArm = tuple[str, str]
_EMPTY = Sample(0.0, 0.0, 0.0)
_SUMS = ("n", "sum", "sum_sq")
_COVARIATE_SUMS = ("x_sum", "x_sum_sq", "xy_sum")


@dataclass(frozen=True)
class ArmStats:
    """One metric's sufficient statistics per (segment, arm), as `liftlab.stats` samples."""

    metric: str
    samples: Mapping[SegmentArm, Sample] = field(default_factory=dict)

    def sample(self, segment: str, arm: str) -> Sample:
        """The arm's Sample; an empty one (n = 0) when no unit of it was exposed."""
        return self.samples.get((segment, arm), _EMPTY)

    def count(self, segment: str, arm: str) -> int:
        """Units exposed in this segment's arm."""
        return int(float(self.sample(segment, arm).n))

    @property
    def total(self) -> int:
        """Units over every segment and arm."""
        return int(sum(float(s.n) for s in self.samples.values()))

    @classmethod
    def from_frame(cls, metric: str, frame: pd.DataFrame) -> ArmStats:
        """From rows segment, arm, n, sum, sum_sq[, x_sum, x_sum_sq, xy_sum] (one per arm)."""
        covariate = all(c in frame.columns for c in _COVARIATE_SUMS)
        samples: dict[SegmentArm, Sample] = {}
        for row in frame.to_dict("records"):
            sums = {c: float(row[c]) for c in _SUMS}
            if covariate:
                samples[(str(row["segment"]), str(row["arm"]))] = CovariateSample(
                    **sums, **{c: float(row[c]) for c in _COVARIATE_SUMS})
            else:
                samples[(str(row["segment"]), str(row["arm"]))] = Sample(**sums)
        return cls(metric, samples)

    def to_frame(self) -> pd.DataFrame:
        """One row per segment × arm: segment, arm, n, sum, sum_sq (and the covariate sums)."""
        rows = []
        for (segment, arm), s in sorted(self.samples.items()):
            row = {"segment": segment, "arm": arm, "n": int(float(s.n)), "sum": float(s.sum),
                   "sum_sq": float(s.sum_sq)}
            if isinstance(s, CovariateSample):
                row.update(x_sum=float(s.x_sum), x_sum_sq=float(s.x_sum_sq), xy_sum=float(s.xy_sum))
            rows.append(row)
        return pd.DataFrame(rows, columns=["segment", "arm", *_SUMS] + (
            list(_COVARIATE_SUMS) if any(isinstance(s, CovariateSample) for s in self.samples.values())
            else []))

    def __add__(self, other: ArmStats) -> ArmStats:
        """Two disjoint sets of units together (two days' increments, two stores): the
        samples of each segment × arm add (`Sample.__add__`)."""
        if not isinstance(other, ArmStats) or other.metric != self.metric:
            return NotImplemented
        merged = dict(self.samples)
        for key, sample in other.samples.items():
            merged[key] = merged[key] + sample if key in merged else sample
        return ArmStats(self.metric, merged)

    def segments(self) -> Iterable[str]:
        """Segments with at least one exposed unit, in sorted order."""
        return sorted({segment for segment, _ in self.samples})


@dataclass(frozen=True)
class HoldoutStats:
    """One metric for the programme: every campaigned unit vs the global holdout.

    `holdout.n == 0` means the experiment has no global holdout (or nothing was sent yet):
    the programme's value cannot be measured, and the report says so instead of a number.
    """

    metric: str
    campaigned: Sample
    holdout: Sample

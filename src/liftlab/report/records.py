"""The report's frozen result types: what `liftlab analyze` shows, as values.

`Report.to_dict()` is the JSON contract (`src/liftlab/data/report.schema.json`): tuples become
lists, the `Verdict` its value, and NaN / infinities null — an undefined number is never shown
as one. Every field here is something an analyst reads; the arithmetic behind them (standard
errors, adjusted samples) stays in `liftlab.stats.Comparison`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from liftlab.stats import SegmentSrm

Interval = tuple[float, float]
NO_INTERVAL: Interval = (math.nan, math.nan)
ALL_SEGMENTS = "all"


class Verdict(str, Enum):
    """What the row says, decided from the adjusted p-value (see `verdicts.decide`)."""

    WINS = "wins"
    LOSES = "loses"
    INCONCLUSIVE = "inconclusive"
    UNDERPOWERED = "underpowered"  # not significant, and the MDE is above the target
    SRM = "srm"  # the segment's arm split is off: no verdict can be trusted
    NO_DATA = "no_data"  # nothing to compare (no units, or no conversions in either arm)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Result:
    """One treatment arm vs its control on one metric (a segment's, or pooled over segments
    when `segment == "all"`).

    `abs_ci` / `rel_ci` are the unadjusted intervals; `abs_ci_adjusted` / `rel_ci_adjusted`
    the ones adjusted across the report like `p_value_adjusted` (they exclude 0 exactly when
    it is below α), and the ones the renderings show; likewise `incremental_ci` and
    `incremental_ci_adjusted` (the uplift's interval × n_treatment). `adjusted_mean_*` are the CUPED-adjusted
    means the uplift was measured on (null without CUPED). `abs_uplift_shrunk` /
    `abs_ci_shrunk` are the segment's effect partially pooled with the other segments'.
    """

    segment: str
    arm: str
    control_arm: str
    metric: str
    metric_kind: str
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    adjusted_mean_control: float
    adjusted_mean_treatment: float
    abs_uplift: float
    abs_ci: Interval
    abs_ci_adjusted: Interval
    rel_uplift: float
    rel_ci: Interval
    rel_ci_adjusted: Interval
    p_value: float
    p_value_adjusted: float
    prob_beat_control: float
    expected_loss: float
    credible_interval: Interval
    rel_credible_interval: Interval
    incremental: float
    incremental_ci: Interval
    incremental_ci_adjusted: Interval
    always_valid_p_value: float
    confidence_sequence: Interval
    cuped: bool
    variance_reduction: float
    mde_relative: float
    abs_uplift_shrunk: float
    abs_ci_shrunk: Interval
    verdict: Verdict
    significant: bool
    notes: tuple[str, ...] = ()

    @property
    def shown_abs_ci(self) -> Interval:
        """The interval to show beside `p_value_adjusted`: the adjusted one when computed."""
        return self.abs_ci_adjusted if _defined(self.abs_ci_adjusted) else self.abs_ci

    @property
    def shown_rel_ci(self) -> Interval:
        return self.rel_ci_adjusted if _defined(self.rel_ci_adjusted) else self.rel_ci

    @property
    def shown_incremental_ci(self) -> Interval:
        return self.incremental_ci_adjusted if _defined(self.incremental_ci_adjusted) else self.incremental_ci

    @property
    def pooled(self) -> bool:
        """True for the per-arm row pooled over the experiment's segments."""
        return self.segment == ALL_SEGMENTS


@dataclass(frozen=True)
class CampaignValue:
    """Money view of one segment's treatment arm: cost, incremental revenue, profit and ROI.

    profit = incremental revenue × margin − cost; ROI = profit / cost. Without a margin
    (none on the experiment and no project default) profit and ROI are null: revenue is not
    profit, and assuming a margin of 100% would overstate both.
    """

    segment: str
    arm: str
    channel: str
    treated: int
    cost: float
    incremental_conversions: float
    incremental_conversions_ci: Interval
    incremental_revenue: float
    incremental_revenue_ci: Interval
    margin: float | None
    profit: float
    profit_ci: Interval
    roi: float
    roi_ci: Interval


@dataclass(frozen=True)
class Total:
    """One metric's incremental value summed over all segments and treatment arms."""

    metric: str
    metric_kind: str
    incremental: float
    incremental_ci: Interval
    treated: int


@dataclass(frozen=True)
class HoldoutComparison:
    """Everyone eligible for a campaign vs the global holdout: the programme's total value."""

    metric: str
    metric_kind: str
    n_campaigned: int
    n_holdout: int
    mean_campaigned: float
    mean_holdout: float
    abs_uplift: float
    abs_ci: Interval
    rel_uplift: float
    rel_ci: Interval
    p_value: float
    incremental: float
    incremental_ci: Interval


@dataclass(frozen=True)
class Report:
    """Everything `liftlab analyze` prints, as values; `to_dict()` is the JSON contract."""

    experiment: str
    experiment_name: str
    generated_at: str
    alpha: float
    correction: str
    results: tuple[Result, ...]
    srm: tuple[SegmentSrm, ...]
    value: tuple[CampaignValue, ...]
    totals: tuple[Total, ...]
    holdout: tuple[HoldoutComparison, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: tuples become lists, NaN and infinities become null."""
        return _plain(asdict(self))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per segment × arm × metric (pooled rows have segment "all"), for notebooks."""
        frame = pd.DataFrame([asdict(r) for r in self.results])
        if not frame.empty:
            frame["verdict"] = frame["verdict"].map(str)
        return frame

    def result(self, segment: str, arm: str, metric: str) -> Result:
        """The row for this segment (or "all"), arm and metric; KeyError when absent."""
        for r in self.results:
            if (r.segment, r.arm, r.metric) == (segment, arm, metric):
                return r
        raise KeyError((segment, arm, metric))

    def select(self, segments: tuple[str, ...] = (), metrics: tuple[str, ...] = ()) -> Report:
        """Only these segments (name "all" for the pooled rows) and metrics; p-values and
        intervals stay adjusted across the whole experiment, as the notes say."""
        if not segments and not metrics:
            return self

        def keep_segment(name: str) -> bool:
            return not segments or name in segments

        def keep_metric(name: str) -> bool:
            return not metrics or name in metrics

        shown = tuple(r for r in self.results if keep_segment(r.segment) and keep_metric(r.metric))
        note = (f"Showing {len(shown)} of {len(self.results)} rows; p-values and intervals are "
                f"adjusted across all {len(self.results)}.")
        return replace(
            self,
            results=shown,
            srm=tuple(s for s in self.srm if keep_segment(s.segment)),
            value=tuple(v for v in self.value if keep_segment(v.segment)),
            totals=tuple(t for t in self.totals if keep_metric(t.metric)) if not segments else (),
            holdout=tuple(h for h in self.holdout if keep_metric(h.metric)) if not segments else (),
            notes=(*self.notes, note),
        )


def _defined(interval: Interval) -> bool:
    return math.isfinite(interval[0]) and math.isfinite(interval[1])


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value

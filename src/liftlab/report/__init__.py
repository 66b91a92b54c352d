"""Stage 7, the report: comparisons per segment campaign, verdicts, money, and renderings.

`build` orchestrates a `Report` (`records`) from typed sufficient statistics: `comparisons`
(what is compared, through `liftlab.stats.compare`), `verdicts` (adjustment and the
`Verdict`), `value` (money), `totals`, `holdout`. `analysis` feeds it from the store,
`timeline` gives the day-by-day view; `tables`, `render`, `charts` and `discussion` show it.
"""

from __future__ import annotations

from liftlab.report.analysis import analyze
from liftlab.report.build import build_report
from liftlab.report.records import (
    CampaignValue,
    HoldoutComparison,
    Report,
    Result,
    Total,
    Verdict,
)
from liftlab.report.timeline import Timeline, TimelinePoint, timeline

__all__ = [
    "CampaignValue",
    "HoldoutComparison",
    "Report",
    "Result",
    "Timeline",
    "TimelinePoint",
    "Total",
    "Verdict",
    "analyze",
    "build_report",
    "timeline",
]

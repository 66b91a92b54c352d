"""Stage 7, the report: comparisons per segment campaign, money, totals, and renderings.

`build` turns sufficient statistics into a `Report`; `analysis` feeds it from the store;
`render` writes table, Markdown, HTML and JSON; `charts` draws the HTML's figures.
"""

from __future__ import annotations

from liftlab.report.analysis import analyze, timeline
from liftlab.report.build import Report, build_report

__all__ = ["Report", "analyze", "build_report", "timeline"]

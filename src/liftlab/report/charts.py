"""Charts for the HTML report, drawn with matplotlib and embedded as PNG data URIs.

Three pictures answer the analyst's three questions: which segment campaigns moved the metric
(a forest plot of relative uplift intervals), what each was worth (incremental revenue per
segment and arm, with intervals), and whether the answer was stable over time (cumulative
uplift by day, when a timeline is available).
"""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display

import matplotlib.pyplot as plt

from liftlab.report.records import Report, Verdict
from liftlab.report.timeline import Timeline

COLOURS = {Verdict.WINS: "#1a7f37", Verdict.LOSES: "#cf222e"}
OTHER = "#57606a"


def _colour(verdict: Verdict) -> str:
    return COLOURS.get(verdict, OTHER)


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def forest_plot(report: Report, metric: str) -> str | None:
    """Relative uplift and its confidence interval per segment × arm for one metric (the
    interval the table shows beside the adjusted p-value)."""
    rows = [r for r in report.results if r.metric == metric and math.isfinite(r.rel_uplift)]
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.2))
    for y, r in enumerate(reversed(rows)):
        low, high = r.shown_rel_ci
        colour = _colour(r.verdict)
        if math.isfinite(low) and math.isfinite(high):
            axis.plot([low * 100, high * 100], [y, y], color=colour, linewidth=2.5)
        axis.plot(r.rel_uplift * 100, y, "o", color=colour, markersize=7)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_yticks(range(len(rows)), [f"{r.segment} · {r.arm}" for r in reversed(rows)])
    axis.set_xlabel(f"relative uplift in {metric} vs control (%), {1 - report.alpha:.0%} CI")
    axis.set_title(f"{metric}: uplift per segment campaign")
    axis.grid(axis="x", alpha=0.3)
    return _png(figure)


def incremental_revenue_chart(report: Report) -> str | None:
    """Incremental revenue per segment × arm with its interval, and the campaign's cost."""
    rows = [v for v in report.value if math.isfinite(v.incremental_revenue)]
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(7.5, 0.5 * len(rows) + 1.2))
    labels = [f"{v.segment} · {v.arm}" for v in rows]
    values = [v.incremental_revenue for v in rows]
    errors = [
        [v.incremental_revenue - v.incremental_revenue_ci[0] for v in rows],
        [v.incremental_revenue_ci[1] - v.incremental_revenue for v in rows],
    ]
    colours = ["#1a7f37" if v.incremental_revenue_ci[0] > 0 else "#cf222e"
               if v.incremental_revenue_ci[1] < 0 else "#8c959f" for v in rows]
    positions = list(range(len(rows)))[::-1]
    axis.barh(positions, values, xerr=errors, color=colours, alpha=0.85, capsize=3)
    axis.scatter([v.cost for v in rows], positions, marker="|", s=300, color="black", label="cost")
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_yticks(positions, labels)
    axis.set_xlabel("incremental revenue (bars, with interval) and campaign cost (|)")
    axis.set_title("What each segment campaign added")
    axis.legend(loc="lower right")
    axis.grid(axis="x", alpha=0.3)
    return _png(figure)


def cumulative_uplift_chart(timeline: Timeline, metric: str) -> str | None:
    """Cumulative absolute uplift by day with its (unadjusted) interval, one line per
    segment × arm."""
    frame = timeline.to_frame()
    data = frame[frame["metric"] == metric]
    if data.empty:
        return None
    figure, axis = plt.subplots(figsize=(7.5, 3.8))
    for (segment, arm), group in data.groupby(["segment", "arm"], sort=False):
        group = group.sort_values("day")
        line = axis.plot(group["day"], group["abs_uplift"], label=f"{segment} · {arm}")[0]
        axis.fill_between(group["day"], group["low"], group["high"], color=line.get_color(), alpha=0.12)
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_ylabel(f"absolute uplift in {metric}")
    axis.set_title(f"{metric}: cumulative uplift over time")
    axis.legend(fontsize=7, ncols=2)
    figure.autofmt_xdate()
    axis.grid(alpha=0.3)
    return _png(figure)

"""The report's tables as rows of strings, shared by the terminal, Markdown and HTML.

One place formats a number, so it reads the same everywhere: percentages for rates and
uplifts, money with two decimals, and a dash wherever the number is undefined (the JSON has
null there and a note says why). Intervals beside an adjusted p-value are the adjusted ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from liftlab.report.records import CampaignValue, Interval, Report, Result, Verdict
from liftlab.stats import SegmentSrm

DASH = "–"


def num(value: float | None, digits: int = 2) -> str:
    return DASH if value is None or not math.isfinite(value) else f"{value:,.{digits}f}"


def pct(value: float, digits: int = 1, sign: bool = True) -> str:
    if not math.isfinite(value):
        return DASH
    return f"{value * 100:+.{digits}f}%" if sign else f"{value * 100:.{digits}f}%"


def interval(bounds: Interval, fmt: Callable[[float], str] = num) -> str:
    low, high = bounds
    if not (math.isfinite(low) and math.isfinite(high)):
        return DASH
    return f"[{fmt(low)}, {fmt(high)}]"


def p_value(value: float) -> str:
    if not math.isfinite(value):
        return DASH
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def p_is(value: float) -> str:
    """`p=0.043` or `p<0.001`, for sentences."""
    shown = p_value(value)
    return f"p{shown}" if shown.startswith("<") else f"p={shown}"


def mean(result: Result, value: float) -> str:
    return pct(value, 2, sign=False) if result.metric_kind == "conversion" else num(value)


def verdict_text(result: Result) -> str:
    """The verdict as a reader sees it: underpowered says which effect it could have seen."""
    if result.verdict is Verdict.UNDERPOWERED:
        return f"underpowered (MDE {result.mde_relative:.0%})"
    if result.verdict is Verdict.NO_DATA:
        return "no data"
    if result.verdict is Verdict.SRM:
        return "SRM: no verdict"
    return result.verdict.value


def _means(r: Result) -> str:
    if r.n_control == 0 and r.n_treatment == 0:
        return DASH
    return f"{mean(r, r.mean_control)} → {mean(r, r.mean_treatment)}"


def _adjusted_means(r: Result) -> str:
    if not r.cuped:
        return DASH
    return f"{mean(r, r.adjusted_mean_control)} → {mean(r, r.adjusted_mean_treatment)}"


RESULT_HEADERS = [
    "segment", "arm", "metric", "n control / arm", "raw means ctrl → arm",
    "CUPED-adj. means ctrl → arm", "rel. uplift [adj. CI]", "p (adj.)", "P(beat ctrl)",
    "incremental [adj. CI]", "shrunk abs. uplift [CI]", "verdict",
]
# The terminal drops the means and the shrunk column to stay readable in 140 columns.
TERMINAL_DROPS = ("raw means ctrl → arm", "CUPED-adj. means ctrl → arm", "shrunk abs. uplift [CI]")


def result_rows(report: Report) -> list[list[str]]:
    """The main table's rows: segment rows, then the rows pooled over segments ("all")."""
    rows = []
    for r in report.results:
        shrunk = (f"{num(r.abs_uplift_shrunk, 4)} {interval(r.abs_ci_shrunk, lambda v: num(v, 4))}"
                  if math.isfinite(r.abs_uplift_shrunk) else DASH)
        rows.append(
            [
                r.segment,
                r.arm,
                r.metric,
                f"{r.n_control:,} / {r.n_treatment:,}",
                _means(r),
                _adjusted_means(r),
                f"{pct(r.rel_uplift)} {interval(r.shown_rel_ci, pct)}" if math.isfinite(r.rel_uplift) else DASH,
                p_value(r.p_value_adjusted),
                pct(r.prob_beat_control, 0, sign=False),
                (f"{num(r.incremental, 1)} {interval(r.shown_incremental_ci, lambda v: num(v, 1))}"
                 if math.isfinite(r.incremental) else DASH),
                shrunk,
                verdict_text(r),
            ]
        )
    return rows


VALUE_HEADERS = ["segment", "arm", "treated", "cost", "incr. conversions", "incr. revenue [CI]",
                 "profit [CI]", "ROI"]


def value_rows(report: Report) -> list[list[str]]:
    return [_value_row(v) for v in report.value]


def _value_row(v: CampaignValue) -> list[str]:
    return [
        v.segment,
        v.arm,
        f"{v.treated:,}",
        num(v.cost),
        num(v.incremental_conversions, 1),
        f"{num(v.incremental_revenue)} {interval(v.incremental_revenue_ci)}" if math.isfinite(v.incremental_revenue) else DASH,
        f"{num(v.profit)} {interval(v.profit_ci)}" if math.isfinite(v.profit) else DASH,
        pct(v.roi, 0),
    ]


SRM_HEADERS = ["segment", "units per arm (observed / expected)", "SRM p", "check"]


def srm_rows(report: Report) -> list[list[str]]:
    """Every segment's sample-ratio check, passing or not."""
    return [_srm_row(s) for s in report.srm]


def _srm_row(s: SegmentSrm) -> list[str]:
    counts = ", ".join(f"{a} {o:,} / {e:,.0f}" for a, o, e in zip(s.arms, s.observed, s.expected))
    state = "MISMATCH" if s.flagged else ("nothing to test" if not math.isfinite(s.p_value) else "ok")
    return [s.segment, counts, p_value(s.p_value), state]


def summary_lines(report: Report) -> list[str]:
    """Totals, the holdout and the notes as plain sentences."""
    lines = []
    for t in report.totals:
        lines.append(
            f"Total incremental {t.metric} over all segments: {num(t.incremental, 1)} "
            f"{interval(t.incremental_ci, lambda v: num(v, 1))} across {t.treated:,} treated customers."
        )
    for h in report.holdout:
        lines.append(
            f"Programme vs global holdout ({h.metric}): {pct(h.rel_uplift)} "
            f"{interval(h.rel_ci, pct)}, {p_is(h.p_value)}; {h.n_campaigned:,} campaigned vs "
            f"{h.n_holdout:,} held out; incremental {num(h.incremental, 1)} "
            f"{interval(h.incremental_ci, lambda v: num(v, 1))}."
        )
    lines.extend(report.notes)
    defined = sum(1 for r in report.results if math.isfinite(r.p_value_adjusted))
    if not defined:
        return lines
    adjusted = any(math.isfinite(r.abs_ci_adjusted[0]) for r in report.results)
    intervals = ("adjusted like the p-values (unadjusted ones are in the JSON)" if adjusted
                 else "unadjusted (read them with the adjusted p-values)")
    lines.append(
        f"p-values adjusted across {defined} comparisons ({report.correction}); intervals at "
        f"{1 - report.alpha:.0%}, {intervals}; Bayesian P(beat control) with flat priors."
    )
    return lines

"""Rendering a Report: a colour table for the terminal, Markdown, self-contained HTML, JSON.

All four show the same numbers; they differ only in how. Formatting helpers live here so a
number reads the same everywhere (percentages for rates and uplifts, money with two decimals).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Sequence

import pandas as pd
from rich.console import Console
from rich.table import Table

from liftlab.report.build import Report, Result

FORMATS = ("table", "markdown", "html", "json")


def _num(value: float, digits: int = 2) -> str:
    return "–" if not math.isfinite(value) else f"{value:,.{digits}f}"


def _pct(value: float, digits: int = 1, sign: bool = True) -> str:
    if not math.isfinite(value):
        return "–"
    return f"{value * 100:+.{digits}f}%" if sign else f"{value * 100:.{digits}f}%"


def _interval(interval: tuple[float, float], fmt=_num) -> str:  # type: ignore[no-untyped-def]
    low, high = interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    return f"[{fmt(low)}, {fmt(high)}]"


def _mean(result: Result, value: float) -> str:
    return _pct(value, 2, sign=False) if result.metric_kind == "conversion" else _num(value)


def _p(value: float) -> str:
    if not math.isfinite(value):
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _p_is(value: float) -> str:
    """`p=0.043` or `p<0.001`, for sentences."""
    shown = _p(value)
    return f"p{shown}" if shown.startswith("<") else f"p={shown}"


def result_rows(report: Report) -> list[list[str]]:
    """The main table's rows, as strings, shared by every text format."""
    rows = []
    for r in report.results:
        rows.append(
            [
                r.segment,
                r.arm,
                r.metric,
                f"{r.n_control:,} / {r.n_treatment:,}",
                f"{_mean(r, r.mean_control)} → {_mean(r, r.mean_treatment)}",
                f"{_pct(r.rel_uplift)} {_interval(r.rel_ci, _pct)}",
                _p(r.p_value_adjusted),
                _pct(r.prob_beat_control, 0, sign=False),
                f"{_num(r.incremental, 1)} {_interval(r.incremental_ci, lambda v: _num(v, 1))}",
                r.verdict + (" *" if r.cuped else ""),
            ]
        )
    return rows


RESULT_HEADERS = [
    "segment", "arm", "metric", "n control / arm", "control → arm", "rel. uplift [CI]",
    "p (adj.)", "P(beat ctrl)", "incremental [CI]", "verdict",
]
VALUE_HEADERS = ["segment", "arm", "treated", "cost", "incr. conversions", "incr. revenue [CI]",
                 "profit [CI]", "ROI"]


def value_rows(report: Report) -> list[list[str]]:
    rows = []
    for v in report.value:
        rows.append(
            [
                v.segment,
                v.arm,
                f"{v.treated:,}",
                _num(v.cost),
                _num(v.incremental_conversions, 1),
                f"{_num(v.incremental_revenue)} {_interval(v.incremental_revenue_ci)}",
                f"{_num(v.profit)} {_interval(v.profit_ci)}",
                _pct(v.roi, 0),
            ]
        )
    return rows


def summary_lines(report: Report) -> list[str]:
    """Totals, holdout and notes as plain sentences."""
    lines = []
    for t in report.totals:
        lines.append(
            f"Total incremental {t.metric} over all segments: {_num(t.incremental, 1)} "
            f"{_interval(t.incremental_ci, lambda v: _num(v, 1))} across {t.treated:,} treated customers."
        )
    for h in report.holdout:
        lines.append(
            f"Programme vs global holdout ({h.metric}): {_pct(h.rel_uplift)} "
            f"{_interval(h.rel_ci, _pct)}, {_p_is(h.p_value)}; {h.n_campaigned:,} campaigned vs "
            f"{h.n_holdout:,} held out; incremental {_num(h.incremental, 1)} "
            f"{_interval(h.incremental_ci, lambda v: _num(v, 1))}."
        )
    flagged = [s for s in report.srm if s.flagged]
    for s in flagged:
        counts = ", ".join(f"{a}={o:,} (expected {e:,.0f})" for a, o, e in zip(s.arms, s.observed, s.expected))
        lines.append(f"SRM in {s.segment}: {_p_is(s.p_value)}; {counts}.")
    lines.extend(report.notes)
    if any(r.cuped for r in report.results):
        lines.append("* = CUPED-adjusted with the pre-period (variance reduced, same estimand).")
    lines.append(
        f"Intervals at {1 - report.alpha:.0%}; p-values adjusted across all {len(report.results)} "
        f"comparisons ({report.correction}); Bayesian P(beat control) with flat priors."
    )
    return lines


def to_table(report: Report, console: Console | None = None) -> None:
    """Print the report to the terminal with colour (verdicts green / red)."""
    console = console or Console()
    console.print(f"[bold]{report.experiment_name}[/bold] ({report.experiment}) — {report.generated_at}")
    table = Table(show_lines=False, header_style="bold")
    # The terminal drops the raw means to stay readable in 120 columns; the other formats keep them.
    keep = [i for i, h in enumerate(RESULT_HEADERS) if h != "control → arm"]
    for i in keep:
        table.add_column(RESULT_HEADERS[i], overflow="fold")
    for r, full_row in zip(report.results, result_rows(report)):
        row = [full_row[i] for i in keep]
        style = "green" if r.verdict == "winner" else "red" if r.verdict == "loser" else None
        if r.verdict.startswith("no verdict"):
            style = "yellow"
        table.add_row(*row, style=style)
    console.print(table)
    value = Table(title="Value per segment campaign", header_style="bold")
    for header in VALUE_HEADERS:
        value.add_column(header, overflow="fold")
    for row in value_rows(report):
        value.add_row(*row)
    console.print(value)
    for line in summary_lines(report):
        console.print(f"• {line}", highlight=False)


def _markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(report: Report) -> str:
    """The report as Markdown for a pull request or a wiki page."""
    parts = [
        f"# {report.experiment_name}",
        f"Experiment `{report.experiment}`, generated {report.generated_at}.",
        "## Uplift per segment campaign",
        _markdown_table(RESULT_HEADERS, result_rows(report)),
        "## Value",
        _markdown_table(VALUE_HEADERS, value_rows(report)),
        "## Summary",
        "\n".join(f"- {line}" for line in summary_lines(report)),
    ]
    return "\n\n".join(parts) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #1f2328; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #d0d7de; padding: 0.35rem 0.6rem; text-align: left; }
th { background: #f6f8fa; }
tr.winner td { color: #1a7f37; } tr.loser td { color: #cf222e; } tr.srm td { color: #9a6700; }
figure { margin: 1.5rem 0; } figcaption { color: #57606a; font-size: 0.85rem; }
"""


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(report: Report, timeline: pd.DataFrame | None = None) -> str:
    """A self-contained HTML page: tables plus embedded PNG charts (no external files)."""
    from liftlab.report import charts  # matplotlib is imported only when HTML is asked for

    classes = [
        "winner" if r.verdict == "winner" else "loser" if r.verdict == "loser"
        else "srm" if r.verdict.startswith("no verdict") else ""
        for r in report.results
    ]
    figures = []
    metrics = list(dict.fromkeys(r.metric for r in report.results))
    for metric in metrics:
        image = charts.forest_plot(report, metric)
        if image:
            figures.append((image, f"Forest plot: relative uplift in {metric} per segment and arm."))
    image = charts.incremental_revenue_chart(report)
    if image:
        figures.append((image, "Incremental revenue per segment campaign, with its interval and cost."))
    if timeline is not None and not timeline.empty:
        for metric in metrics:
            image = charts.cumulative_uplift_chart(timeline, metric)
            if image:
                figures.append((image, f"Cumulative uplift in {metric} by day since launch."))
    figure_html = "".join(
        f'<figure><img alt="{html.escape(caption)}" src="{src}"><figcaption>{html.escape(caption)}'
        "</figcaption></figure>"
        for src, caption in figures
    )
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(report))
    title = html.escape(report.experiment_name)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title} — liftlab report</title><style>{_CSS}</style></head><body>"
        f"<h1>{title}</h1><p>Experiment <code>{html.escape(report.experiment)}</code>, generated "
        f"{html.escape(report.generated_at)}.</p>"
        f"<h2>Uplift per segment campaign</h2>{_html_table(RESULT_HEADERS, result_rows(report), classes)}"
        f"<h2>Value</h2>{_html_table(VALUE_HEADERS, value_rows(report))}"
        f"<h2>Summary</h2><ul>{summary}</ul><h2>Charts</h2>{figure_html}</body></html>"
    )


def render(report: Report, fmt: str, timeline: pd.DataFrame | None = None) -> str:
    """The report as text in one of FORMATS (for `table`, what the terminal would show)."""
    if fmt == "json":
        return report.to_json()
    if fmt == "markdown":
        return to_markdown(report)
    if fmt == "html":
        return to_html(report, timeline)
    console = Console(file=io.StringIO(), width=140)
    to_table(report, console)
    return console.file.getvalue()  # type: ignore[attr-defined]


def segment_discussion(report: Report) -> dict[str, str]:
    """A short plain-language paragraph per segment: what its campaign did, and how sure we are.

    The review notebook prints these as the starting point of the analyst's discussion.
    """
    srm_by_segment = {s.segment: s for s in report.srm}
    value_by_arm = {(v.segment, v.arm): v for v in report.value}
    paragraphs: dict[str, str] = {}
    for segment in dict.fromkeys(r.segment for r in report.results):
        rows = [r for r in report.results if r.segment == segment]
        check = srm_by_segment.get(segment)
        sentences = []
        if check is not None and check.flagged:
            sentences.append(
                f"The arm split is off (SRM {_p_is(check.p_value)}): assignment or logging is broken "
                "for this segment, so none of its numbers should be trusted until that is fixed."
            )
        for r in rows:
            interval = _interval(r.rel_ci, _pct)
            sentence = (
                f"{r.arm} vs {r.control_arm} on {r.metric}: {_pct(r.rel_uplift)} {interval}, "
                f"adjusted {_p_is(r.p_value_adjusted)}, P(beat control)={_pct(r.prob_beat_control, 0, sign=False)}"
                f" — {r.verdict}"
            )
            sentences.append(sentence + ".")
        for arm in dict.fromkeys(r.arm for r in rows):
            value = value_by_arm.get((segment, arm))
            if value is not None and math.isfinite(value.incremental_revenue):
                sentences.append(
                    f"{arm} added {_num(value.incremental_revenue)} in revenue "
                    f"{_interval(value.incremental_revenue_ci)} for a cost of {_num(value.cost)} "
                    f"(ROI {_pct(value.roi, 0)})."
                )
        paragraphs[segment] = " ".join(sentences)
    return paragraphs

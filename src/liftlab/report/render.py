"""Rendering a Report: a colour table for the terminal, Markdown, self-contained HTML, JSON.

All four show the same numbers (formatted once, in `tables`); they differ only in how.
JSON is always exactly one document: `Report.to_json()`.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from liftlab.report.records import Report, Verdict
from liftlab.report.tables import (
    RESULT_HEADERS,
    SRM_HEADERS,
    TERMINAL_DROPS,
    VALUE_HEADERS,
    result_rows,
    srm_rows,
    summary_lines,
    value_rows,
)

if TYPE_CHECKING:
    from liftlab.report.timeline import Timeline

FORMATS = ("table", "markdown", "html", "json")
_STYLES = {Verdict.WINS: "green", Verdict.LOSES: "red", Verdict.SRM: "yellow"}
_CLASSES = {Verdict.WINS: "wins", Verdict.LOSES: "loses", Verdict.SRM: "srm", Verdict.NO_DATA: "no-data"}


def to_table(report: Report, console: Console | None = None) -> None:
    """Print the report to the terminal with colour (verdicts green / red)."""
    console = console or Console()
    console.print(f"[bold]{report.experiment_name}[/bold] ({report.experiment}) — {report.generated_at}")
    table = Table(show_lines=False, header_style="bold")
    keep = [i for i, h in enumerate(RESULT_HEADERS) if h not in TERMINAL_DROPS]
    for i in keep:
        table.add_column(RESULT_HEADERS[i], overflow="fold")
    for r, full_row in zip(report.results, result_rows(report)):
        table.add_row(*[full_row[i] for i in keep], style=_STYLES.get(r.verdict))
    console.print(table)
    for title, headers, rows in (("Value per segment campaign", VALUE_HEADERS, value_rows(report)),
                                 ("Sample ratio per segment", SRM_HEADERS, srm_rows(report))):
        extra = Table(title=title, header_style="bold")
        for header in headers:
            extra.add_column(header, overflow="fold")
        for row in rows:
            extra.add_row(*row)
        console.print(extra)
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
        "## Sample ratio",
        _markdown_table(SRM_HEADERS, srm_rows(report)),
        "## Summary",
        "\n".join(f"- {line}" for line in summary_lines(report)),
    ]
    return "\n\n".join(parts) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto;
       max-width: 1200px; color: #1f2328; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #d0d7de; padding: 0.35rem 0.6rem; text-align: left; }
th { background: #f6f8fa; }
tr.wins td { color: #1a7f37; } tr.loses td { color: #cf222e; } tr.srm td { color: #9a6700; }
tr.no-data td { color: #8c959f; }
figure { margin: 1.5rem 0; } figcaption { color: #57606a; font-size: 0.85rem; }
"""


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(report: Report, timeline: Timeline | None = None, appendix: str = "") -> str:
    """A self-contained HTML page: tables plus embedded PNG charts (no external files), then
    `appendix` (HTML, e.g. the targeting section)."""
    from liftlab.report import charts  # matplotlib is imported only when HTML is asked for

    classes = [_CLASSES.get(r.verdict, "") for r in report.results]
    figures = []
    metrics = list(dict.fromkeys(r.metric for r in report.results))
    for metric in metrics:
        image = charts.forest_plot(report, metric)
        if image:
            figures.append((image, f"Forest plot: relative uplift in {metric} per segment and arm "
                                   "(intervals as in the table)."))
    image = charts.incremental_revenue_chart(report)
    if image:
        figures.append((image, "Incremental revenue per segment campaign, with its interval and cost."))
    if timeline is not None and timeline.points:
        for metric in metrics:
            image = charts.cumulative_uplift_chart(timeline, metric)
            if image:
                figures.append((image, f"Cumulative uplift in {metric} by day since launch (unadjusted)."))
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
        f"<h2>Sample ratio</h2>{_html_table(SRM_HEADERS, srm_rows(report))}"
        f"<h2>Summary</h2><ul>{summary}</ul><h2>Charts</h2>{figure_html}{appendix}</body></html>"
    )


def render(report: Report, fmt: str, timeline: Timeline | None = None, appendix: str = "") -> str:
    """The report as text in one of FORMATS (for `table`, what the terminal would show);
    `appendix` is HTML added at the end of an HTML report (the targeting section)."""
    if fmt == "json":
        return report.to_json()
    if fmt == "markdown":
        return to_markdown(report)
    if fmt == "html":
        return to_html(report, timeline, appendix)
    console = Console(file=io.StringIO(), width=140)
    to_table(report, console)
    return console.file.getvalue()  # type: ignore[attr-defined]

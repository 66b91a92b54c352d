"""The targeting page: per campaign, its headline numbers, a Qini chart and a profit-by-k chart.

The Qini chart shows the gain per customer g(φ) of sending to the top φ by predicted uplift,
with its bootstrap band, against random targeting's straight line; the profit chart shows the
expected profit of each φ for the segment, with its band, the chosen φ and "everyone" (φ = 1).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from liftlab.targeting.experiment import CampaignTargeting
from liftlab.targeting.summary import HEADERS, OUTCOME_HEADERS, decision, outcome_rows, rows


def qini_chart(found: CampaignTargeting) -> str:
    """The cross-fitted Qini curve of the campaign's target outcome, as a PNG data URI."""
    import matplotlib.pyplot as plt

    from liftlab.report.charts import _png

    evaluation = found.targeting.evaluation
    shares = [0.0, *evaluation.shares]
    figure, axis = plt.subplots(figsize=(6.0, 3.6))
    axis.plot([100 * s for s in shares], [0.0, *evaluation.gain], color="#0969da", label="model ranking")
    axis.fill_between([100 * s for s in shares], [0.0, *evaluation.gain_low], [0.0, *evaluation.gain_high],
                      color="#0969da", alpha=0.15, label="95% interval")
    axis.plot([100 * s for s in shares], [0.0, *evaluation.random_gain], color="#57606a", linestyle="--",
              label="random targeting")
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xlabel("customers sent to, top % by predicted uplift")
    axis.set_ylabel(f"incremental {evaluation.outcome} per customer")
    axis.set_title(f"Qini: {found.segment} · {found.arm}")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return _png(figure)


def profit_chart(found: CampaignTargeting) -> str | None:
    """Expected profit of sending to the top k%, with its band; None without a profit."""
    import matplotlib.pyplot as plt

    from liftlab.report.charts import _png

    policy = found.targeting.policy
    if not policy.profit_curve:
        return None
    x = [100 * s for s in policy.shares]
    figure, axis = plt.subplots(figsize=(6.0, 3.6))
    axis.plot(x, policy.profit_curve, color="#1a7f37", label="expected profit")
    axis.fill_between(x, policy.profit_low, policy.profit_high, color="#1a7f37", alpha=0.15, label="95% interval")
    if policy.share is not None and policy.profit is not None:
        style = "o" if policy.recommended else "x"
        axis.plot([100 * policy.share], [policy.profit], style, color="black",
                  label=f"best k = {policy.share:.0%}" + ("" if policy.recommended else " (not recommended)"))
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xlabel("customers sent to, top % by predicted uplift (100% = everyone)")
    axis.set_ylabel("expected profit for the segment")
    axis.set_title(f"Profit by k: {found.segment} · {found.arm}")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return _png(figure)


def section_html(found: Sequence[CampaignTargeting], heading: str = "h2") -> str:
    """The targeting part of a page: how to read it, the summary table, and per campaign its
    decision, what sending adds per outcome and its two charts. `heading` is the top level
    (h2 on the targeting page; the analysis report nests it under its own h2 as well)."""
    from liftlab.report.render import _html_table

    sub = f"h{int(heading[1]) + 1}"
    sections = []
    for item in found:
        figures = [(qini_chart(item), "Cross-fitted Qini curve against random targeting.")]
        profit = profit_chart(item)
        if profit:
            figures.append((profit, "Expected profit of sending to the top k% of the segment."))
        images = "".join(f'<figure><img alt="{html.escape(c)}" src="{s}"><figcaption>{html.escape(c)}'
                         "</figcaption></figure>" for s, c in figures)
        population = item.targeting.evaluation.population
        sections.append(f"<{sub}>{html.escape(item.segment)} · {html.escape(item.arm)}</{sub}>"
                        f"<p>{html.escape(decision(item))}</p>"
                        f"<p>What sending adds over the segment's {population:,} customers, per outcome "
                        "(the model ranks by its fitted outcome, the first row):</p>"
                        f"{_html_table(OUTCOME_HEADERS, outcome_rows(item))}{images}")
    return (
        "<p>Every customer's predicted uplift comes from a model that never saw them (cross-fitting); "
        "intervals are bootstrap percentile intervals with the predictions fixed. A campaign whose "
        "Qini area interval includes zero shows no usable heterogeneity: no targeted policy is "
        "recommended for it.</p>"
        f"<{heading}>Campaigns</{heading}>{_html_table(HEADERS, rows(found))}"
        f"<{heading}>Per campaign</{heading}>{''.join(sections)}"
    )


def to_html(experiment: str, found: Sequence[CampaignTargeting]) -> str:
    """A self-contained page: the summary table, each campaign's decision and its two charts."""
    from liftlab.report.render import _CSS

    title = f"Uplift targeting: {html.escape(experiment)}"
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title><style>{_CSS}</style></head><body><h1>{title}</h1>"
        f"{section_html(found)}</body></html>"
    )

"""A short plain-language paragraph per segment: what its campaign did, and how sure we are.

The review notebook prints these as the starting point of the analyst's discussion.
"""

from __future__ import annotations

import math

from liftlab.report.records import Report
from liftlab.report.tables import interval, num, p_is, pct, verdict_text


def segment_discussion(report: Report) -> dict[str, str]:
    """Segment (and "all" for the pooled rows) → paragraph, in report order."""
    srm_by_segment = {s.segment: s for s in report.srm}
    value_by_arm = {(v.segment, v.arm): v for v in report.value}
    paragraphs: dict[str, str] = {}
    for segment in dict.fromkeys(r.segment for r in report.results):
        rows = [r for r in report.results if r.segment == segment]
        check = srm_by_segment.get(segment)
        sentences = []
        if check is not None and check.flagged:
            sentences.append(
                f"The arm split is off (SRM {p_is(check.p_value)}): assignment or logging is broken "
                "for this segment, so none of its numbers should be trusted until that is fixed."
            )
        for r in rows:
            if not math.isfinite(r.p_value_adjusted):
                sentences.append(f"{r.arm} vs {r.control_arm} on {r.metric}: no data to compare.")
                continue
            sentences.append(
                f"{r.arm} vs {r.control_arm} on {r.metric}: {pct(r.rel_uplift)} "
                f"{interval(r.shown_rel_ci, pct)}, adjusted {p_is(r.p_value_adjusted)}, "
                f"P(beat control)={pct(r.prob_beat_control, 0, sign=False)} — {verdict_text(r)}."
            )
        for arm in dict.fromkeys(r.arm for r in rows):
            value = value_by_arm.get((segment, arm))
            if value is not None and math.isfinite(value.incremental_revenue):
                roi = f"ROI {pct(value.roi, 0)}" if math.isfinite(value.roi) else "set margin to see ROI"
                sentences.append(
                    f"{arm} added {num(value.incremental_revenue)} in revenue "
                    f"{interval(value.incremental_revenue_ci)} for a cost of {num(value.cost)} ({roi})."
                )
        paragraphs[segment] = " ".join(sentences)
    return paragraphs

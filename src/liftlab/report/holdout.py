"""The programme against the global holdout: everyone a campaign could reach vs the customers
held out of every campaign, through the same `liftlab.stats.compare` as every other row.

An experiment without holdout customers in the store gets no comparison and a note — a line
saying "0 held out" would be a number invented from nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from liftlab.aggregate.sufficient import HoldoutStats
from liftlab.config.model import Experiment
from liftlab.report.records import NO_INTERVAL, HoldoutComparison, Interval
from liftlab.stats import compare

NO_HOLDOUT_NOTE = ("No global-holdout customers for this experiment: the programme's total "
                   "value against a holdout is not measured.")


def _scaled(interval: Interval, factor: float) -> Interval:
    low, high = interval[0] * factor, interval[1] * factor
    return (min(low, high), max(low, high))


def holdout_comparisons(
    experiment: Experiment, stats: Mapping[str, HoldoutStats], alpha: float
) -> tuple[list[HoldoutComparison], list[str]]:
    """One comparison per metric when the holdout has units; otherwise none and a note."""
    out: list[HoldoutComparison] = []
    for metric in experiment.metrics:
        held = stats.get(metric.key)
        if held is None or float(held.holdout.n) == 0 or float(held.campaigned.n) == 0:
            continue
        c = compare(held.holdout, held.campaigned, kind=metric.kind, alpha=alpha, use_cuped=False)
        f = c.frequentist
        out.append(
            HoldoutComparison(
                metric=metric.key,
                metric_kind=metric.kind,
                n_campaigned=c.n_treatment,
                n_holdout=c.n_control,
                mean_campaigned=c.mean_treatment,
                mean_holdout=c.mean_control,
                abs_uplift=f.abs_uplift if f else math.nan,
                abs_ci=f.abs_ci if f else NO_INTERVAL,
                rel_uplift=f.rel_uplift if f else math.nan,
                rel_ci=f.rel_ci if f else NO_INTERVAL,
                p_value=f.p_value if f else math.nan,
                incremental=f.abs_uplift * c.n_treatment if f else math.nan,
                incremental_ci=_scaled(f.abs_ci, c.n_treatment) if f else NO_INTERVAL,
            )
        )
    notes = [] if out or not experiment.metrics else [NO_HOLDOUT_NOTE]
    return out, notes

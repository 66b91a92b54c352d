"""Totals over segments: one metric's incremental value summed over every segment's arms.

Strata add: the increments sum, and so do their variances, segments being independent
samples. Arms sharing a segment share its control, so their increments are positively
correlated through it: the variance adds 2·n_T1·n_T2·Var(mean_C) for each pair of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

from liftlab.config.model import Experiment
from liftlab.report.comparisons import Row
from liftlab.report.records import Total


def totals(experiment: Experiment, rows: Sequence[Row], alpha: float) -> list[Total]:
    """Per metric, the summed increments of the segment rows with data, and their interval."""
    z = NormalDist().inv_cdf(1 - alpha / 2)
    out = []
    for metric in experiment.metrics:
        mine = [r for r in rows if r.metric.key == metric.key and r.comparison.frequentist is not None]
        if not mine:
            continue
        incremental = math.fsum(r.comparison.abs_uplift * r.comparison.n_treatment for r in mine)
        variance = 0.0
        for segment in dict.fromkeys(r.segment for r in mine):
            seg = [r.comparison for r in mine if r.segment == segment]
            per_arm = [(c.frequentist.abs_se * c.n_treatment) ** 2 for c in seg]  # type: ignore[union-attr]
            variance += math.fsum(v for v in per_arm if math.isfinite(v))
            control_var = seg[0].control_se ** 2 if math.isfinite(seg[0].control_se) else 0.0
            for i, a in enumerate(seg):
                for b in seg[i + 1:]:
                    variance += 2 * a.n_treatment * b.n_treatment * control_var
        half = z * math.sqrt(variance)
        out.append(Total(metric.key, metric.kind, incremental, (incremental - half, incremental + half),
                         sum(r.comparison.n_treatment for r in mine)))
    return out

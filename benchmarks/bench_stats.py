"""How long does a full report's statistics take? Run: python benchmarks/bench_stats.py

A report is 11 lifecycle segments × 3 arms (control + 2 treatments) × 2 metrics (conversion,
revenue): 44 treatment-vs-control comparisons, each through the frequentist and the Bayesian
engine, plus P(best) per segment and metric, SRM per segment and one Holm adjustment.
The baseline, measured in the same run, is scipy's `ttest_ind_from_stats` on the same 44
comparisons (a frequentist engine with nothing but the p-value).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from scipy import stats

from liftlab.stats import (
    Sample,
    adjust,
    bayesian,
    bayesian_batch,
    frequentist,
    frequentist_batch,
    prob_best,
    srm,
)

SEGMENTS, ARMS, REPEATS = 11, 3, 20


def simulated_report(seed: int = 0) -> dict[str, list[list[Sample]]]:
    """Per metric, per segment: the arms' sufficient statistics (control first)."""
    rng = np.random.default_rng(seed)
    report: dict[str, list[list[Sample]]] = {"conversion": [], "revenue": []}
    for _ in range(SEGMENTS):
        sizes = rng.integers(2_000, 40_000, size=ARMS)
        report["conversion"].append(
            [Sample.from_conversions(n, rng.binomial(n, 0.05)) for n in sizes]
        )
        revenue = []
        for n in sizes:
            spend = rng.lognormal(3.0, 1.0, size=rng.binomial(n, 0.1))
            revenue.append(Sample(float(n), float(spend.sum()), float(spend @ spend)))
        report["revenue"].append(revenue)
    return report


def full_report(report: dict[str, list[list[Sample]]]) -> int:
    """Everything `liftlab analyze` needs from the engine, one comparison at a time."""
    p_values = []
    for kind, segments in report.items():
        for arms in segments:
            control = arms[0]
            for treatment in arms[1:]:
                p_values.append(frequentist(control, treatment).p_value)
                bayesian(control, treatment, kind=kind)  # type: ignore[arg-type]
            prob_best(arms, kind=kind)  # type: ignore[arg-type]
    for arms in report["conversion"]:
        srm([float(a.n) for a in arms], [1 / ARMS] * ARMS)
    adjust(p_values, "holm")
    return len(p_values)


def batched_report(report: dict[str, list[list[Sample]]]) -> int:
    """The same comparisons as one array call per engine and metric."""
    count = 0
    for kind, segments in report.items():
        pairs = [(arms[0], t) for arms in segments for t in arms[1:]]
        control, treatment = (_stack([pair[side] for pair in pairs]) for side in (0, 1))
        frequentist_batch(control, treatment)
        bayesian_batch(control, treatment, kind=kind)  # type: ignore[arg-type]
        count += len(pairs)
    return count


def _stack(samples: list[Sample]) -> Sample:
    """Many scalar Samples as one array-valued Sample."""
    return Sample(
        *(np.array([float(getattr(s, f)) for s in samples]) for f in ("n", "sum", "sum_sq"))
    )


def scipy_baseline(report: dict[str, list[list[Sample]]]) -> int:
    count = 0
    for segments in report.values():
        for arms in segments:
            c = arms[0]
            for t in arms[1:]:
                stats.ttest_ind_from_stats(t.mean, t.std, t.n, c.mean, c.std, c.n, equal_var=False)
                count += 1
    return count


def best_of(
    fn: Callable[[dict[str, list[list[Sample]]]], int], report: dict[str, list[list[Sample]]]
) -> tuple[float, int]:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        count = fn(report)
        times.append(time.perf_counter() - start)
    return min(times), count


def main() -> None:
    report = simulated_report()
    full_report(report)  # warm-up: imports, quadrature tables
    baseline, n_base = best_of(scipy_baseline, report)
    scalar, n_cmp = best_of(full_report, report)
    batched, _ = best_of(batched_report, report)
    print(
        f"report: {SEGMENTS} segments x {ARMS} arms x 2 metrics = {n_cmp} comparisons, both engines"
    )
    rows = [
        ("scipy ttest_ind_from_stats only (baseline)", baseline, f"({n_base} tests)"),
        ("liftlab full report, one call per item", scalar, f"({scalar / baseline:5.1f}x baseline)"),
        ("liftlab, batched arrays", batched, f"({batched / baseline:5.1f}x baseline)"),
    ]
    for label, seconds, note in rows:
        print(f"  {label:<44} {seconds * 1e3:8.2f} ms  {note}")
    print(f"  per comparison (full report)               {scalar / n_cmp * 1e6:8.1f} us")
    print("target: a full report well under 1 s:", "OK" if scalar < 1.0 else "TOO SLOW")


if __name__ == "__main__":
    main()

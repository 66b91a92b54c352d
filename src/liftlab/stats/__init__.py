"""liftlab.stats: the statistics engine, pure functions over sufficient statistics.

`Sample` / `CovariateSample` in; frozen result records out. See each module's docstring for
formulas and sources.
"""

from __future__ import annotations

from liftlab.stats.bayesian import (
    BayesianResult,
    BetaPrior,
    NormalPrior,
    ProbBestResult,
    bayesian,
    bayesian_batch,
    prob_best,
)
from liftlab.stats.compare import Comparison, SegmentSrm, compare, segment_srm
from liftlab.stats.cuped import CupedResult, cuped
from liftlab.stats.frequentist import FrequentistResult, frequentist, frequentist_batch
from liftlab.stats.multiple import (
    AdjustedIntervals,
    adjust,
    adjusted_intervals,
    adjusted_levels,
    interval_at,
)
from liftlab.stats.power import Mde, SampleSize, mde, sample_size
from liftlab.stats.samples import CovariateSample, Sample
from liftlab.stats.sequential import SequentialResult, sequential, sequential_batch
from liftlab.stats.shrinkage import ShrinkageResult, shrink
from liftlab.stats.srm import SrmResult, srm
from liftlab.stats.stratified import stratified, stratified_batch

__all__ = [
    "AdjustedIntervals",
    "BayesianResult",
    "BetaPrior",
    "Comparison",
    "CovariateSample",
    "CupedResult",
    "FrequentistResult",
    "Mde",
    "NormalPrior",
    "ProbBestResult",
    "Sample",
    "SampleSize",
    "SegmentSrm",
    "SequentialResult",
    "ShrinkageResult",
    "SrmResult",
    "adjust",
    "adjusted_intervals",
    "adjusted_levels",
    "bayesian",
    "bayesian_batch",
    "compare",
    "cuped",
    "frequentist",
    "frequentist_batch",
    "interval_at",
    "mde",
    "prob_best",
    "sample_size",
    "segment_srm",
    "sequential",
    "sequential_batch",
    "shrink",
    "srm",
    "stratified",
    "stratified_batch",
]

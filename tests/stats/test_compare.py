"""compare: one call runs every engine the way the report does; segment_srm: the per-segment
sample-ratio check the report and `liftlab assign` share."""

from __future__ import annotations

import math

import numpy as np
import pytest

from liftlab.aggregate import ArmStats
from liftlab.stats import (
    CovariateSample,
    Sample,
    bayesian,
    compare,
    cuped,
    frequentist,
    segment_srm,
    sequential,
    srm,
)


def test_compare_is_the_engines_called_directly() -> None:
    control, treatment = Sample.from_conversions(12_000, 612), Sample.from_conversions(11_875, 689)
    c = compare(control, treatment, kind="conversion", sequential_tuning=20_000)
    assert c.defined and not c.cuped
    assert c.frequentist == frequentist(control, treatment)
    assert c.bayesian == bayesian(control, treatment, kind="conversion")
    assert c.sequential == sequential(control, treatment, tuning=20_000)
    assert c.mean_control == pytest.approx(612 / 12_000) and math.isnan(c.adjusted_mean_control)
    assert 0 < c.mde_relative < 1


def test_compare_applies_cuped_when_the_pre_period_varies_and_says_so() -> None:
    rng = np.random.default_rng(3)
    x_c, x_t = rng.gamma(2, 10, 4_000), rng.gamma(2, 10, 4_000)
    y_c, y_t = x_c * 0.8 + rng.normal(0, 5, 4_000), x_t * 0.8 + rng.normal(1, 5, 4_000)
    control, treatment = CovariateSample.from_values(y_c, x_c), CovariateSample.from_values(y_t, x_t)
    c = compare(control, treatment, kind="revenue")
    adjusted = cuped(control, treatment)
    assert c.cuped and c.variance_reduction > 0.5
    assert c.frequentist == frequentist(adjusted.control, adjusted.treatment)
    assert c.adjusted_mean_treatment == pytest.approx(float(adjusted.treatment.mean))
    assert c.mean_treatment == pytest.approx(y_t.mean())  # the raw mean stays the raw mean
    assert any("CUPED" in n for n in c.notes)
    flat = CovariateSample.from_values(y_c, np.zeros_like(x_c)), CovariateSample.from_values(y_t, np.zeros_like(x_t))
    assert not compare(*flat, kind="revenue").cuped
    assert not compare(control, treatment, kind="revenue", use_cuped=False).cuped


@pytest.mark.parametrize(
    ("control", "treatment", "reason"),
    [
        (Sample(0.0, 0.0, 0.0), Sample.from_conversions(500, 20), "control has no units"),
        (Sample.from_conversions(500, 20), Sample.from_values([1.0]), "treatment has one unit"),
        (Sample.from_conversions(500, 0), Sample.from_conversions(480, 0), "no conversions"),
    ],
)
def test_nothing_to_compare_runs_no_engine(control: Sample, treatment: Sample, reason: str) -> None:
    c = compare(control, treatment)
    assert not c.defined
    assert c.frequentist is None and c.bayesian is None and c.sequential is None
    assert math.isnan(c.p_value) and not c.significant
    assert reason in c.notes[0]


def test_segment_srm_is_the_chi_square_with_arm_names() -> None:
    check = segment_srm("at_risk", {"control": 980, "voucher_10": 4120}, {"control": 0.2, "voucher_10": 0.8})
    direct = srm([980, 4120], [0.2, 0.8])
    assert check.arms == ("control", "voucher_10") and check.observed == (980, 4120)
    assert check.p_value == direct.p_value and check.expected == direct.expected
    assert not check.flagged
    assert segment_srm("x", {"control": 900, "b": 1100}, {"control": 0.5, "b": 0.5}).flagged
    empty = segment_srm("x", {}, {"control": 0.5, "b": 0.5})
    assert math.isnan(empty.p_value) and not empty.flagged and empty.notes
    stray = segment_srm("x", {"control": 10, "b": 10, "ghost": 3}, {"control": 0.5, "b": 0.5})
    assert stray.arms[-1] == "ghost" and stray.flagged and stray.p_value == 0.0


def test_arm_stats_add_like_their_samples() -> None:
    day1 = ArmStats("m", {("s", "a"): Sample(10.0, 2.0, 2.0)})
    day2 = ArmStats("m", {("s", "a"): Sample(5.0, 1.0, 1.0), ("s", "b"): Sample(3.0, 0.0, 0.0)})
    both = day1 + day2
    assert both.sample("s", "a") == Sample(15.0, 3.0, 3.0)
    assert both.count("s", "b") == 3 and both.total == 18
    assert both.sample("s", "nobody").n == 0
    with pytest.raises(TypeError):
        day1 + ArmStats("other", {})  # type: ignore[operator]

"""Sample arithmetic: sufficient statistics of disjoint groups add."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liftlab.stats import CovariateSample, Sample

pytestmark = pytest.mark.filterwarnings("error")

values = st.lists(st.floats(-1e3, 1e3), min_size=0, max_size=30)


def fields(sample: Sample) -> tuple[float, ...]:
    return tuple(float(v) for v in sample.to_dict().values())


@settings(max_examples=100, deadline=None)
@given(values, values)
def test_adding_two_samples_equals_the_concatenation(a: list[float], b: list[float]) -> None:
    added = Sample.from_values(a) + Sample.from_values(b)
    assert type(added) is Sample
    assert fields(added) == pytest.approx(fields(Sample.from_values(a + b)), rel=1e-12, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_adding_covariate_samples_equals_the_concatenation(data: st.DataObject) -> None:
    n_a, n_b = data.draw(st.integers(0, 20)), data.draw(st.integers(0, 20))
    floats = st.floats(-1e3, 1e3)
    y_a, x_a = (data.draw(st.lists(floats, min_size=n_a, max_size=n_a)) for _ in range(2))
    y_b, x_b = (data.draw(st.lists(floats, min_size=n_b, max_size=n_b)) for _ in range(2))
    added = CovariateSample.from_values(y_a, x_a) + CovariateSample.from_values(y_b, x_b)
    expected = CovariateSample.from_values(y_a + y_b, x_a + x_b)
    assert type(added) is CovariateSample
    assert fields(added) == pytest.approx(fields(expected), rel=1e-12, abs=1e-9)


def test_sum_of_strata_and_mixed_types() -> None:
    parts = [Sample.from_conversions(100, 7), Sample.from_conversions(250, 20), Sample(0, 0, 0)]
    total = sum(parts)
    assert isinstance(total, Sample) and (total.n, total.sum, total.sum_sq) == (350.0, 27.0, 27.0)
    assert 0 + parts[0] is parts[0]
    # a CovariateSample with a plain Sample: the covariate is known for one part only → Sample
    mixed = CovariateSample.from_values([1.0, 2.0], [0.5, 0.1]) + Sample.from_values([3.0])
    assert type(mixed) is Sample and fields(mixed) == (3.0, 6.0, 14.0)
    mixed_r = Sample.from_values([3.0]) + CovariateSample.from_values([1.0, 2.0], [0.5, 0.1])
    assert type(mixed_r) is Sample and fields(mixed_r) == (3.0, 6.0, 14.0)
    with pytest.raises(TypeError):
        _ = parts[0] + 1.5  # type: ignore[operator]


def test_batch_samples_add_elementwise() -> None:
    a = Sample(np.array([10.0, 20.0]), np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    b = Sample(np.array([5.0, 0.0]), np.array([3.0, 0.0]), np.array([3.0, 0.0]))
    total = a + b
    assert np.array_equal(total.n, [15.0, 20.0]) and np.array_equal(total.sum, [4.0, 2.0])

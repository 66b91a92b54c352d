"""Cross-fitting: no customer is ever scored by a model that was trained on them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liftlab.errors import DataError
from liftlab.targeting.crossfit import assign_folds, cross_fit


class SpyLearner:
    """Records, per fit, which customers (by the id in feature column 0) it trained on and
    which it predicted; predicts the fit's number, so each prediction names its model."""

    def __init__(self) -> None:
        self.trained: list[set[int]] = []
        self.predicted: list[np.ndarray] = []

    def fit_predict(self, features, treated, outcome, new):  # type: ignore[no-untyped-def]
        assert treated.any() and not treated.all()
        self.trained.append(set(features[:, 0].astype(int).tolist()))
        self.predicted.append(new[:, 0].astype(int))
        return np.full(len(new), float(len(self.trained) - 1))


@settings(max_examples=60, deadline=None)
@given(n_treated=st.integers(2, 60), n_control=st.integers(2, 60), folds=st.integers(2, 6),
       seed=st.integers(0, 2**32 - 1), data=st.data())
def test_no_unit_is_predicted_by_a_model_trained_on_it(n_treated: int, n_control: int, folds: int,
                                                        seed: int, data: st.DataObject) -> None:
    folds = min(folds, n_treated, n_control)
    n = n_treated + n_control
    treated = np.array(data.draw(st.permutations([True] * n_treated + [False] * n_control)))
    features = np.column_stack([np.arange(n), np.zeros(n)]).astype(float)
    spy = SpyLearner()
    result = cross_fit(features, treated, np.zeros(n), spy, folds=folds, seed=seed)

    assert len(spy.trained) == folds
    model = result.uplift.astype(int)  # which fit scored each customer
    for unit in range(n):
        assert unit not in spy.trained[model[unit]]  # never trained on the unit it scores
        assert result.fold[unit] == model[unit]  # the fold id says which model that was
    scored = np.concatenate(spy.predicted)
    assert sorted(scored.tolist()) == list(range(n))  # every customer predicted exactly once
    for k in range(folds):  # a model trains on exactly the other folds
        assert spy.trained[k] == set(np.flatnonzero(result.fold != k).tolist())


@given(treated=st.lists(st.booleans(), min_size=10, max_size=200), folds=st.integers(2, 5),
       seed=st.integers(0, 1000))
def test_folds_are_balanced_within_each_arm(treated: list[bool], folds: int, seed: int) -> None:
    arms = np.array(treated)
    fold = assign_folds(arms, folds, seed)
    for arm in (True, False):
        sizes = np.bincount(fold[arms == arm], minlength=folds)
        assert sizes.max() - sizes.min() <= 1
    assert np.array_equal(fold, assign_folds(arms, folds, seed))  # seeded: reproducible


def test_other_customers_get_the_mean_of_the_fold_models() -> None:
    features = np.column_stack([np.arange(20), np.zeros(20)]).astype(float)
    treated = np.arange(20) % 2 == 0
    others = np.array([[100.0, 0.0], [101.0, 0.0]])
    spy = SpyLearner()
    result = cross_fit(features, treated, np.zeros(20), spy, folds=4, others=others)
    assert result.others.tolist() == [1.5, 1.5]  # mean of fits 0, 1, 2, 3
    assert all({100, 101}.isdisjoint(trained) for trained in spy.trained)


def test_an_arm_smaller_than_the_folds_is_refused() -> None:
    treated = np.array([True, True, False, False, False, False])
    with pytest.raises(DataError, match="2 customer"):
        cross_fit(np.zeros((6, 1)), treated, np.zeros(6), SpyLearner(), folds=3)

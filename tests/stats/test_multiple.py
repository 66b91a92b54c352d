"""Holm and Benjamini–Hochberg against statsmodels' multipletests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from liftlab.errors import LiftlabError
from liftlab.stats import adjust

pytestmark = pytest.mark.filterwarnings("error")

SM_METHOD = {"holm": "holm", "bh": "fdr_bh"}


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_matches_statsmodels(method: str) -> None:
    p = np.array([0.001, 0.04, 0.03, 0.2, 0.0049, 0.8, 0.04, 1.0])
    assert adjust(p, method) == pytest.approx(
        multipletests(p, method=SM_METHOD[method])[1], rel=1e-12
    )  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=60), st.sampled_from(["holm", "bh"]))
def test_matches_statsmodels_on_any_input(p: list[float], method: str) -> None:
    ours = adjust(p, method)  # type: ignore[arg-type]
    assert ours == pytest.approx(
        multipletests(p, method=SM_METHOD[method])[1], rel=1e-12, abs=1e-15
    )
    assert np.all(ours >= np.asarray(p) - 1e-15) and np.all(ours <= 1.0)


def test_nan_p_values_are_kept_and_not_counted() -> None:
    res = adjust([0.01, float("nan"), 0.04], "holm")
    assert res[0] == pytest.approx(0.02) and math.isnan(res[1]) and res[2] == pytest.approx(0.04)
    assert adjust([], "bh").size == 0


def test_bad_method_or_value() -> None:
    with pytest.raises(LiftlabError, match="method"):
        adjust([0.1], "bonferroni")  # type: ignore[arg-type]
    with pytest.raises(LiftlabError, match="between 0 and 1"):
        adjust([1.2], "holm")


def test_controls_error_rates_in_simulation() -> None:
    """20 null comparisons per report, 5,000 reports: Holm keeps the family-wise error ≤ 5%,
    BH the false discovery rate ≤ 5% with 5 real effects among them."""
    rng = np.random.default_rng(3)
    null = rng.random((5000, 20))
    fwer = np.mean([(adjust(row, "holm") < 0.05).any() for row in null[:1000]])
    assert fwer <= 0.06  # ≈ 0.05 - sd 0.7 points over 1,000 reports
    z = rng.standard_normal((1000, 20))
    z[:, :5] += 3.5
    p = 2 * stats.norm.sf(np.abs(z))
    discoveries = [adjust(row, "bh") < 0.05 for row in p]
    fdr = np.mean([d[5:].sum() / max(d.sum(), 1) for d in discoveries])
    assert fdr <= 0.05

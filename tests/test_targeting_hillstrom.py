"""The Hillstrom targeting example runs, and its random-targeting column is the e-mail's
average uplift computed directly with pandas."""

from __future__ import annotations

import pytest
from test_examples_and_notebooks import _load


def test_hillstrom_targeting_example(capsys: pytest.CaptureFixture[str]) -> None:
    example = _load("hillstrom_targeting.py")
    rows = example["run"](replicates=200)
    printed = capsys.readouterr().out
    assert "Qini area [95% CI]" in printed and "Womens E-Mail" in printed
    data = example["load"]()
    means = data.groupby("segment")[["visit", "conversion", "spend"]].mean()
    for row in rows:
        direct = means.loc[row["email"], row["outcome"]] - means.loc["No E-Mail", row["outcome"]]
        assert row["random_uplift"] == pytest.approx(direct, rel=1e-9)
        low, high = row["qini_area_ci"]
        assert low <= row["qini_area"] <= high
        assert row["customers"] == (data["segment"].isin([row["email"], "No E-Mail"])).sum()
    by = {(r["email"], r["model_of"], r["outcome"]): r for r in rows}
    # The uplift literature's finding, reproduced: who visits because of the Womens e-mail can
    # be predicted (Qini interval above zero); the Mens e-mail's visits cannot.
    assert by[("Womens E-Mail", "visit", "visit")]["heterogeneity"]
    assert not by[("Mens E-Mail", "visit", "visit")]["heterogeneity"]

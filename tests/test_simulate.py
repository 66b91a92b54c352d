"""The synthetic shop and campaign: reproducible, shaped like real inputs, truth as planted."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from liftlab import Arm, Campaign, Experiment, Metric
from liftlab.demo.simulate import simulate_campaign, simulate_shop


def test_shop_is_reproducible_and_well_formed() -> None:
    a, b = simulate_shop(2_000, seed=3), simulate_shop(2_000, seed=3)
    pd.testing.assert_frame_equal(a.orders, b.orders)
    assert list(a.customers.columns) == ["customer_id", "email_known"]
    assert a.customers["customer_id"].is_unique
    assert set(a.orders["customer_id"]) <= set(a.customers["customer_id"])
    assert (a.orders["amount"] > 0).all()
    assert (a.orders["ordered_at"] <= pd.Timestamp(a.as_of)).all()
    buyers = a.orders["customer_id"].nunique()
    assert 0.75 < buyers / 2_000 < 0.95  # about 15% only visit
    per_customer = a.orders.groupby("customer_id").size()
    assert (per_customer == 1).mean() > 0.1  # plenty of first-time buyers


def _experiment() -> Experiment:
    return Experiment(
        key="sim",
        start=date(2026, 10, 1),
        metrics=(Metric("purchase", "conversion"), Metric("revenue", "revenue")),
        campaigns=(
            Campaign("at_risk", arms=(Arm("control", 0.5, control=True), Arm("offer", 0.5))),
        ),
    )


def test_campaign_plants_the_stated_uplift() -> None:
    n = 200_000
    rng = np.random.default_rng(0)
    holdout = rng.random(n) < 0.05
    arm = np.where(rng.random(n) < 0.5, "control", "offer").astype(object)
    arm[holdout] = None
    assignments = pd.DataFrame(
        {"experiment": "sim", "unit_id": [f"u{i}" for i in range(n)], "segment": "at_risk",
         "arm": arm, "bucket": rng.random(n), "holdout": holdout}
    )
    data = simulate_campaign(_experiment(), assignments, {"at_risk": {"offer": 0.5}}, seed=1)
    assert len(data.exposures) == int((~holdout).sum())
    assert set(data.exposures["arm"]) == {"control", "offer"}

    # Observed in-window conversion rates match the planted truth within sampling error.
    start = data.exposures.set_index("unit_id")["timestamp"]
    conv = data.conversions[data.conversions["unit_id"].isin(start.index)].copy()
    conv["since"] = conv["timestamp"] - conv["unit_id"].map(start)
    in_window = conv[(conv["since"] >= pd.Timedelta(0)) & (conv["since"] < pd.Timedelta(days=14))]
    converted = data.exposures["unit_id"].isin(in_window["unit_id"])
    rate = converted.groupby(data.exposures["arm"]).mean()
    truth = data.truth.set_index(["arm", "metric"])
    observed = rate["offer"] - rate["control"]
    assert observed == pytest.approx(truth.loc[("offer", "purchase"), "true_abs_uplift"], abs=0.004)
    assert truth.loc[("offer", "purchase"), "true_rel_uplift"] == pytest.approx(0.5, rel=0.02)
    # Purchases outside the window exist (so window logic is exercised) and precede/follow it.
    assert (conv["since"] < pd.Timedelta(0)).any() and (conv["since"] > pd.Timedelta(days=14)).any()

"""The Python declaration API end to end: declare, validate, assign, log, analyse.

A reactivation campaign for `at_risk` customers, declared in code rather than TOML, run on a
small simulated shop with a planted +30% uplift for the voucher arm.

Run:  python examples/declare_in_python.py
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

from liftlab import (
    Arm,
    Campaign,
    EventStore,
    Experiment,
    Metric,
    Project,
    analyze,
    assign,
    segment_customers,
    validate_experiment,
)
from liftlab.report.render import render
from liftlab.demo.simulate import simulate_campaign, simulate_shop

EXPERIMENT = Experiment(
    key="python-winback",
    name="Win-back voucher, declared in Python",
    owner="growth@example.com",
    start=date(2026, 10, 1),
    end=date(2026, 11, 30),
    margin=0.4,
    metrics=(Metric("purchase", "conversion", window_days=14), Metric("revenue", "revenue", window_days=14)),
    campaigns=(
        Campaign("at_risk", channel="email", cost_per_contact=0.05,
                 arms=(Arm("control", 0.3, control=True), Arm("voucher", 0.7))),
        Campaign("cant_lose", channel="email", cost_per_contact=0.05,
                 arms=(Arm("control", 0.3, control=True), Arm("voucher", 0.7))),
    ),
)
PROJECT = Project(holdout_fraction=0.05, holdout_salt="example-holdout")


def run(db_url: str, customers: int = 40_000) -> object:
    problems = validate_experiment(EXPERIMENT)
    assert not [p for p in problems if p.severity == "error"], problems

    shop = simulate_shop(customers, seed=1, as_of=EXPERIMENT.start)
    segments = segment_customers(shop.customers, shop.orders, shop.visits, as_of=EXPERIMENT.start)
    units = pd.DataFrame({"unit_id": segments["customer_id"], "segment": segments["segment"]})
    result = assign(EXPERIMENT, units, PROJECT)

    store = EventStore(db_url)
    store.register_experiment(EXPERIMENT)
    store.save_assignments(result.assignments)
    played = simulate_campaign(EXPERIMENT, result.assignments, {"at_risk": {"voucher": 0.3}}, seed=2)
    store.log_exposures(played.exposures)
    store.log_conversions(played.conversions)

    report = analyze(store, EXPERIMENT)
    print(render(report, "markdown"))
    print("Planted truth:")
    print(played.truth.to_string(index=False))
    return report


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{Path(folder) / 'example.db'}")

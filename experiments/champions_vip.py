"""Champions early-access programme, declared in Python (the TOML files beside it are equal)."""

from datetime import date

from liftlab import Arm, Campaign, Experiment, Metric

experiment = Experiment(
    key="champions-early-access-2026",
    name="Early access for champions and loyal customers",
    owner="esteem@growth.example",
    start=date(2026, 10, 1),
    end=date(2026, 12, 31),
    layer="email-esteem",
    margin=0.35,
    metrics=(
        Metric("purchase", "conversion", event="purchase", window_days=21),
        Metric("revenue", "revenue", event="purchase", window_days=21),
    ),
    campaigns=(
        Campaign(
            "champion",
            channel="email",
            cost_per_contact=0.04,
            arms=(Arm("control", 0.1, control=True), Arm("early_access", 0.9)),
        ),
        Campaign(
            "loyal",
            channel="email",
            cost_per_contact=0.04,
            arms=(Arm("control", 0.1, control=True), Arm("early_access", 0.9)),
        ),
    ),
)

"""The demo: a simulated shop and campaign with planted true uplifts, run end to end."""

from __future__ import annotations

from liftlab.demo.run import run_demo, truth_check
from liftlab.demo.simulate import simulate_campaign, simulate_shop

__all__ = ["run_demo", "simulate_campaign", "simulate_shop", "truth_check"]

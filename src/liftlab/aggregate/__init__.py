"""Stage 5, aggregation: sufficient statistics per segment × arm from one SQL GROUP BY,
handed on as typed samples (`ArmStats`, `HoldoutStats`)."""

from __future__ import annotations

from liftlab.aggregate.queries import aggregate, daily_aggregate, holdout_aggregate
from liftlab.aggregate.sufficient import ArmStats, HoldoutStats

__all__ = ["ArmStats", "HoldoutStats", "aggregate", "daily_aggregate", "holdout_aggregate"]

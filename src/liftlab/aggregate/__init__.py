"""Stage 5, aggregation: sufficient statistics per segment × arm from one SQL GROUP BY."""

from __future__ import annotations

from liftlab.aggregate.queries import aggregate, daily_aggregate, holdout_aggregate

__all__ = ["aggregate", "daily_aggregate", "holdout_aggregate"]

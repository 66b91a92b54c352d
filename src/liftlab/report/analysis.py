"""Analysing an experiment from the event store: SQL sufficient statistics → Report.

`analyze` is the one call an analyst makes: it asks the store for each metric's
segment × arm sufficient statistics and the global holdout's (`liftlab.aggregate`: the
materialised per-unit values, brought up to date incrementally; a look `until` a moment runs
the full queries), and hands them, typed, to `build_report`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from liftlab.aggregate.queries import aggregate, holdout_aggregate
from liftlab.aggregate.refresh import materialised_stats
from liftlab.config.model import Experiment
from liftlab.config.validation import check_experiment
from liftlab.errors import StoreError
from liftlab.report.build import build_report
from liftlab.report.records import Report
from liftlab.store.event_store import EventStore


def analyze(
    store: EventStore,
    experiment: Experiment,
    *,
    alpha: float = 0.05,
    correction: str = "holm",
    use_cuped: bool = True,
    target_mde: float = 0.10,
    until: datetime | None = None,
    margin: float | None = None,
    expected_shares: Mapping[str, Mapping[str, float]] | None = None,
    allow: Collection[str] = (),
) -> Report:
    """The uplift report for `experiment` from what `store` holds.

    CUPED is applied where units have a pre-period (the metric's window before their first
    exposure) with some variation in it; the report says so. `margin` stands in when the
    experiment declares none; `expected_shares` (segment → arm → share) is what the SRM
    checks expect: by default the mix of the stored versions' weights, each weighted by the
    units assigned under it (an edit after assignment never raises a false SRM alarm), or
    the experiment's weights when it was never registered. An experiment that `liftlab
    validate` rejects is refused (ConfigError with the findings); `allow` names rules
    deliberately overridden (e.g. `("segment",)` for groups that are not lifecycle segments),
    which then come back as warnings, as in `register_experiment`.
    """
    check_experiment(experiment, allow=allow)
    if expected_shares is None:
        try:
            expected_shares = store.expected_arm_shares(experiment.key)
        except StoreError:  # never registered: the experiment's own weights
            pass
    if until is None:  # the materialised values, refreshed, every metric in one transaction
        stats, holdout = materialised_stats(store, experiment)
    else:
        stats = {m.key: aggregate(store, experiment, m, until=until) for m in experiment.metrics}
        holdout = {m.key: holdout_aggregate(store, experiment, m, until=until) for m in experiment.metrics}
    return build_report(
        experiment,
        stats,
        holdout=holdout,
        expected_shares=expected_shares,
        margin=margin,
        alpha=alpha,
        correction=correction,
        use_cuped=use_cuped,
        target_mde=target_mde,
    )

"""`liftlab assign EXPERIMENT_FILE --segments F`: sticky arm assignment into the store."""

from __future__ import annotations

import math
from pathlib import Path

import click

from liftlab.cli._common import console as make_console
from liftlab.cli._common import friendly_errors, read_table


@click.command()
@click.argument("experiment_file", type=click.Path(path_type=Path))
@click.option("--segments", "segments_file", type=click.Path(path_type=Path), required=True,
              help="CSV with unit_id (or customer_id) and segment columns, e.g. from `liftlab segment`.")
@click.option("--project", "project_path", type=click.Path(path_type=Path), default=None,
              help="Project file or folder with liftlab.toml (default: the experiment's folder).")
@click.option("--db", "db_url", default="sqlite:///liftlab.db", show_default=True,
              help="SQLAlchemy URL of the event store.")
@friendly_errors
def assign(experiment_file: Path, segments_file: Path, project_path: Path | None, db_url: str) -> None:
    """Assign customers to arms (global holdout first) and store them, sticky.

    Re-running never moves a customer already assigned; new customers are assigned under the
    current config. An edited file is registered as a new version: the fields that changed
    are listed, with how many assigned customers the new version would have moved. The
    validation rules run first: an invalid experiment exits 1 and nothing is written. Prints customers per segment × arm with the expected count and an SRM
    p-value for the assignment itself.
    """
    from rich.table import Table

    from liftlab.assignment.arms import assign as assign_customers
    from liftlab.cli._gate import gate
    from liftlab.config.diff import diff_configs
    from liftlab.config.loading import load_experiment, load_project
    from liftlab.stats import segment_srm
    from liftlab.store.event_store import EventStore

    experiment = load_experiment(experiment_file)
    project = load_project(project_path if project_path else experiment_file.parent)
    gate(experiment, project=project, source=experiment_file)  # exit 1 before anything is written
    customers = read_table(segments_file)
    result = assign_customers(experiment, customers, project)
    store = EventStore(db_url)
    previous = store.latest_config(experiment.key)
    registered = store.register_experiment(experiment)
    saved = store.save_assignments(result.assignments, version=registered.version)
    stored = store.assignments(experiment.key)
    # The expected counts mix each version's weights by the customers it assigned: an edit
    # of the weights is not a sample-ratio mismatch.
    shares = store.expected_arm_shares(experiment.key, population="assigned")

    console = make_console()
    table = Table(title=f"{experiment.key}: customers per segment × arm (stored)", header_style="bold")
    for column in ("segment", "arm", "customers", "expected", "SRM p"):
        table.add_column(column, justify="left" if column in ("segment", "arm") else "right")
    active = stored[~stored["holdout"].astype(bool)]
    for campaign in experiment.campaigns:
        rows = active[active["segment"] == campaign.segment]
        counts = {arm.key: int((rows["arm"] == arm.key).sum()) for arm in campaign.arms}
        expected_shares = shares.get(campaign.segment) or {a.key: a.weight for a in campaign.arms}
        check = segment_srm(campaign.segment, counts, expected_shares)  # the report's own check
        expected_of = dict(zip(check.arms, check.expected))
        for i, arm in enumerate(campaign.arms):
            p = "" if i or math.isnan(check.p_value) else (
                f"{check.p_value:.3f}" + (" ⚠" if check.flagged else ""))
            expected = f"{expected_of.get(arm.key, 0.0):,.0f}"
            table.add_row(campaign.segment, arm.key + (" (control)" if arm.control else ""),
                          f"{counts[arm.key]:,}", expected, p)
    held = int(stored["holdout"].astype(bool).sum())
    if registered.status == "changed" and previous is not None:
        changes = diff_configs(previous, experiment.to_dict())
        console.print(f"config changed: version {registered.version - 1} → {registered.version} "
                      f"({len(changes)} field(s)); customers already assigned keep their arm", markup=False)
        for change in changes:
            console.print(f"  {change}", markup=False, soft_wrap=True)
        console.print(f"{saved.conflicting:,} already-assigned customer(s) would have moved under "
                      f"version {registered.version}; none moved (sticky)", markup=False)
    console.print(table)
    console.print(
        f"global holdout: {held:,} customers; config {registered.status}; "
        f"assignments: {saved.inserted:,} new, {saved.unchanged:,} unchanged, "
        f"{saved.conflicting:,} would move under the current config (kept where they were)"
    )
    for reason, count in result.skipped.items():
        console.print(f"not assigned: {count:,} ({reason})")

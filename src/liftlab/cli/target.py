"""`liftlab target EXPERIMENT --features customers.csv --out policy.csv`: whom to send to next time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from liftlab.cli._common import console as make_console
from liftlab.cli._common import friendly_errors

if TYPE_CHECKING:
    from liftlab.config.model import Experiment
    from liftlab.targeting.experiment import CampaignTargeting


@click.command()
@click.argument("experiment_file", metavar="EXPERIMENT", type=click.Path(path_type=Path))
@click.option("--db", "db_url", default="sqlite:///liftlab.db", show_default=True,
              help="SQLAlchemy URL of the event store.")
@click.option("--features", "features_file", type=click.Path(path_type=Path), required=True,
              help="CSV (or Parquet) of one row per customer: unit_id or customer_id, the RFM columns "
                   "`liftlab segment` writes, optionally tenure_days and channel.")
@click.option("--feature", "extra", multiple=True,
              help="Another column of the features file to use (repeatable; text is one-hot encoded).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The policy CSV: unit_id, segment, arm, predicted_uplift, send (yes/no; empty when "
                   "the campaign has no recommended policy), per campaign.")
@click.option("--html", "html_file", type=click.Path(path_type=Path), default=None,
              help="Also write an HTML page with a Qini chart and a profit-by-k chart per campaign.")
@click.option("--metric", default=None,
              help="The metric the model fits (default: the first revenue metric, else the first).")
@click.option("--margin", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Gross margin for profit when the experiment declares none "
                   "(default: `[defaults] margin` of the folder's liftlab.toml).")
@click.option("--learner", type=click.Choice(["t", "x", "transformed"]), default="t", show_default=True,
              help="Meta-learner: two models (t), X-learner (x) or transformed outcome.")
@click.option("--estimator", type=click.Choice(["linear", "boosting"]), default="linear", show_default=True,
              help="Regressor inside the learner: ridge regression, or gradient-boosted trees for "
                   "effects that show only in interactions.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="Cross-fitting folds: every prediction comes from a model that never saw the customer.")
@click.option("--replicates", type=click.IntRange(0, 10_000), default=500, show_default=True,
              help="Bootstrap replicates for the intervals.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--next", "next_file", type=click.Path(path_type=Path), default=None,
              help="Also write the policy as the next experiment (TOML): each targeted campaign "
                   "restricted to its targeted customers, with its own control.")
@click.option("--next-start", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Start date of the --next experiment (default: the day after EXPERIMENT ends, or today).")
@friendly_errors
def target(
    experiment_file: Path, db_url: str, features_file: Path, extra: tuple[str, ...], out: Path,
    html_file: Path | None, metric: str | None, margin: float | None, learner: str, estimator: str,
    folds: int, replicates: int, seed: int, next_file: Path | None = None, next_start: datetime | None = None,
) -> None:
    """Fit uplift models to EXPERIMENT's finished campaigns and write whom to send to next time.

    EXPERIMENT is a declaration file (.toml or .py) or the key of an experiment in the store.
    For each campaign (a segment's treatment arm against its control): cross-fitted Qini area
    and uplift at 30% with bootstrap intervals, next to random targeting and to sending to
    everyone; the profit-maximising share of the segment to send to, recommended only when
    the Qini area's interval excludes zero. Exit 0, 1 when the config fails validation,
    2 for bad input (file, column, metric).
    """
    from liftlab.cli._common import read_table
    from liftlab.cli._gate import gate
    from liftlab.config.loading import experiment_from_dict, load_experiment, load_project
    from liftlab.store.event_store import EventStore
    from liftlab.targeting.experiment import target_experiment
    from liftlab.targeting.learners import Learner

    if experiment_file.exists():
        experiment = load_experiment(experiment_file)
        project = load_project(experiment_file.parent)
        gate(experiment, project=project, source=experiment_file)
        if margin is None:
            margin = project.default_margin
    else:
        store_for_config = EventStore(db_url)
        source = f"{store_for_config.shown_url} (experiment {experiment_file})"
        experiment = experiment_from_dict(store_for_config.experiment_config(str(experiment_file)), source=source)
        gate(experiment, source=source)
    features = read_table(features_file)
    store = EventStore(db_url)
    found = target_experiment(store, experiment, features, extra=extra, metric=metric, margin=margin,
                              learner=Learner(learner, estimator, seed=seed), folds=folds,
                              replicates=replicates, seed=seed, source=str(features_file))
    if not found:
        from liftlab.errors import DataError

        raise DataError(f"experiment {experiment.key!r} has no campaign with exposed treated and control "
                        "customers in the store", field="experiment")
    _write_policy(found, out)
    _show(found)
    click.echo(f"wrote {out}")
    if html_file is not None:
        from liftlab.report.targeting import to_html

        html_file.write_text(to_html(experiment.key, found), encoding="utf-8")
        click.echo(f"wrote {html_file}")
    if next_file is not None:
        _write_next(experiment, found, next_file, next_start.date() if next_start else None)


def _write_next(experiment: Experiment, found: Sequence[CampaignTargeting], path: Path, start: date | None) -> None:
    """The follow-up experiment file, checked by the rules `liftlab validate` runs."""
    from datetime import timedelta

    from liftlab.config.validation import check_experiment
    from liftlab.config.writing import experiment_to_toml
    from liftlab.errors import DataError
    from liftlab.targeting.next import next_experiment

    if start is None:
        start = max(date.today(), experiment.end + timedelta(days=1)) if experiment.end else date.today()
    follow_up = next_experiment(experiment, found, start=start)
    if follow_up is None:
        click.echo(f"no campaign has a recommended targeting policy: {path} not written")
        return
    check_experiment(follow_up)
    text = experiment_to_toml(follow_up, comment=(
        f"Written by `liftlab target {experiment.key}`: the targeted part of each campaign, with its own\n"
        "control, so the targeting itself is measured. Review, then `liftlab assign` it."))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot write: {exc.strerror or exc}", file=path) from None
    click.echo(f"wrote {path}: {len(follow_up.campaigns)} targeted campaign(s), "
               f"{sum(len(c.audience or ()) for c in follow_up.campaigns):,} customers")


def _write_policy(found: Sequence[CampaignTargeting], out: Path) -> None:
    import pandas as pd

    from liftlab.errors import DataError

    frame = pd.concat([item.policy_frame() for item in found], ignore_index=True)
    try:
        frame.to_csv(out, index=False)
    except OSError as exc:
        raise DataError(f"cannot write: {exc.strerror or exc}", file=out) from None


def _show(found: Sequence[CampaignTargeting]) -> None:
    from rich.table import Table

    from liftlab.targeting.summary import HEADERS, decision, rows

    console = make_console()
    first = found[0].targeting
    table = Table(title=f"Uplift targeting: {first.learner} on {first.target}, cross-fitted, "
                        "95% bootstrap intervals")
    for header in HEADERS:
        table.add_column(header)
    for row in rows(found):
        table.add_row(*row)
    console.print(table)
    for item in found:
        console.print(f"• {decision(item)}")

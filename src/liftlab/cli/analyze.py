"""`liftlab analyze EXPERIMENT`: the uplift report from the event store."""

from __future__ import annotations

from pathlib import Path

import click

from liftlab.cli._common import console as make_console
from liftlab.cli._common import friendly_errors
from liftlab.cli._gate import gate


@click.command()
@click.argument("experiment_file", metavar="EXPERIMENT", type=click.Path(path_type=Path))
@click.option("--db", "db_url", default="sqlite:///liftlab.db", show_default=True,
              help="SQLAlchemy URL of the event store.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "html", "json"]),
              default="table", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--correction", type=click.Choice(["holm", "bh"]), default="holm", show_default=True,
              help="Multiple-comparison adjustment across the whole report.")
@click.option("--no-cuped", is_flag=True, help="Do not adjust with pre-period data.")
@friendly_errors
def analyze(
    experiment_file: Path, db_url: str, fmt: str, out: Path | None, alpha: float,
    correction: str, no_cuped: bool,
) -> None:
    """Report what each segment campaign of EXPERIMENT added.

    EXPERIMENT is a declaration file (.toml or .py) or the key of an experiment registered in
    the store (its latest config is used).

    Per segment and arm: uplift with frequentist and Bayesian intervals, adjusted p-values,
    SRM check, incremental conversions and revenue, cost and ROI; totals and the global
    holdout comparison. HTML is self-contained, with charts.
    """
    from liftlab.report.analysis import analyze as run_analysis
    from liftlab.report.analysis import timeline
    from liftlab.config.loading import experiment_from_dict, load_experiment
    from liftlab.report.render import render, to_table
    from liftlab.store.event_store import EventStore

    if experiment_file.exists():
        experiment = load_experiment(experiment_file)
        gate(experiment, source=experiment_file)  # exit 1 before the store is even opened
        store = EventStore(db_url)
    else:
        store = EventStore(db_url)
        config = store.experiment_config(str(experiment_file))
        source = f"{store.shown_url} (experiment {experiment_file})"
        experiment = experiment_from_dict(config, source=source)
        gate(experiment, source=source)
    report = run_analysis(store, experiment, alpha=alpha, correction=correction, use_cuped=not no_cuped)
    if fmt == "table" and out is None:
        to_table(report, make_console())
        return
    text = render(report, fmt, timeline(store, experiment, alpha=alpha) if fmt == "html" else None)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")

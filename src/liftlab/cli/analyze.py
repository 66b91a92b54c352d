"""`liftlab analyze EXPERIMENT`: the uplift report from the event store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from liftlab.cli._common import console as make_console
from liftlab.cli._common import friendly_errors

if TYPE_CHECKING:
    from liftlab.config.model import Experiment


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
@click.option("--segment", "segments", multiple=True,
              help="Show only this segment (repeatable; 'all' for the pooled rows).")
@click.option("--metric", "metrics", multiple=True, help="Show only this metric (repeatable).")
@click.option("--margin", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Gross margin for profit and ROI when the experiment declares none "
                   "(default: `[defaults] margin` of the folder's liftlab.toml).")
@click.option("--full-refresh", is_flag=True,
              help="Rebuild the stored per-unit metric values from every event, not just the new ones.")
@click.option("--source", "source_name", default=None, metavar="NAME",
              help="Analyse where the events live: the [source.NAME] of the experiment folder's "
                   "liftlab.toml (DuckDB over Parquet, PostgreSQL, SQLite) instead of the store.")
@click.option("--features", "features_file", type=click.Path(path_type=Path), default=None,
              help="With --format html: add a Targeting section (per campaign a Qini chart and a "
                   "profit-by-k chart, as `liftlab target` computes them) from this customer "
                   "features file (needs liftlab[targeting]).")
@friendly_errors
def analyze(
    experiment_file: Path, db_url: str, fmt: str, out: Path | None, alpha: float,
    correction: str, no_cuped: bool, segments: tuple[str, ...], metrics: tuple[str, ...],
    margin: float | None, full_refresh: bool = False, source_name: str | None = None,
    features_file: Path | None = None,
) -> None:
    """Report what each segment campaign of EXPERIMENT added.

    EXPERIMENT is a declaration file (.toml or .py) or the key of an experiment registered in
    the store (its latest config is used).

    Per segment and arm: uplift with frequentist and Bayesian intervals, adjusted p-values,
    SRM check, incremental conversions and revenue, cost and ROI; totals and the global
    holdout comparison. HTML is self-contained, with charts.

    With --source NAME the sums are computed by the source's engine from its own tables or
    Parquet files, and only they come back; EXPERIMENT must then be a declaration file.
    """
    if features_file is not None and (fmt != "html" or source_name is not None):
        from liftlab.errors import DataError

        raise DataError("adds a Targeting section to the store's HTML report: use it with --format html "
                        "and without --source", field="--features")
    if source_name is not None:
        _analyze_source(experiment_file, source_name, fmt, out, alpha, correction, no_cuped,
                        segments, metrics, margin, full_refresh)
        return
    from liftlab.cli._gate import gate
    from liftlab.config.loading import experiment_from_dict, load_experiment, load_project
    from liftlab.report.analysis import analyze as run_analysis
    from liftlab.report.render import render, to_table
    from liftlab.report.timeline import timeline
    from liftlab.store.event_store import EventStore

    if experiment_file.exists():
        experiment = load_experiment(experiment_file)
        # The rules `validate` runs on this file (with its folder's liftlab.toml): exit 1
        # before the store is even opened.
        project = load_project(experiment_file.parent)
        gate(experiment, project=project, source=experiment_file)
        if margin is None:  # the project's `[defaults] margin`, when the experiment sets none
            margin = project.default_margin
        store = EventStore(db_url)
        warn_drift(store, experiment, experiment_file)
    else:
        store = EventStore(db_url)
        config = store.experiment_config(str(experiment_file))
        source = f"{store.shown_url} (experiment {experiment_file})"
        experiment = experiment_from_dict(config, source=source)
        gate(experiment, source=source)
    _check_filters(experiment, segments, metrics)
    if full_refresh:
        from liftlab.aggregate.refresh import refresh

        refresh(store, experiment, full=True)
    report = run_analysis(store, experiment, alpha=alpha, correction=correction,
                          use_cuped=not no_cuped, margin=margin).select(segments, metrics)
    if fmt == "table" and out is None:
        to_table(report, make_console())
        return
    appendix = _targeting_section(store, experiment, features_file, margin) if features_file else ""
    text = render(report, fmt, timeline(store, experiment, alpha=alpha) if fmt == "html" else None, appendix)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


def _targeting_section(store, experiment: Experiment, features_file: Path,  # type: ignore[no-untyped-def]
                       margin: float | None) -> str:
    """The HTML report's Targeting section: `liftlab target`'s defaults (T-learner over ridge,
    5-fold cross-fitting, 500 bootstrap replicates), charts per campaign."""
    from liftlab.cli._common import read_table
    from liftlab.report.targeting import section_html
    from liftlab.targeting.experiment import target_experiment

    found = target_experiment(store, experiment, read_table(features_file), margin=margin,
                              source=str(features_file))
    if not found:
        return ("<h2>Targeting</h2><p>No campaign has exposed treated and control customers: "
                "nothing to target.</p>")
    return f"<h2>Targeting</h2>{section_html(found, heading='h3')}"


def _analyze_source(
    experiment_file: Path, source_name: str, fmt: str, out: Path | None, alpha: float,
    correction: str, no_cuped: bool, segments: tuple[str, ...], metrics: tuple[str, ...],
    margin: float | None, full_refresh: bool,
) -> None:
    """`analyze --source NAME`: the report computed where the source's events live."""
    from liftlab.cli._gate import gate
    from liftlab.config.loading import PROJECT_FILE, load_experiment, load_project
    from liftlab.config.validation import check_source
    from liftlab.errors import ConfigError, LiftlabError

    if full_refresh:
        raise LiftlabError("--full-refresh rebuilds the store's values; a --source has none",
                           field="full-refresh")
    if not experiment_file.is_file():
        raise LiftlabError(f"--source needs the experiment's declaration file (.toml or .py), "
                           f"not {str(experiment_file)!r}: the source is declared in the "
                           f"{PROJECT_FILE} next to it", field="source")
    experiment = load_experiment(experiment_file)
    project = load_project(experiment_file.parent)
    project_file = experiment_file.parent / PROJECT_FILE
    try:
        source = project.source(source_name)
    except ConfigError as exc:
        raise ConfigError(exc.message, file=project_file, field=exc.field) from None
    check_source(source, project_file)  # exit 2 naming the line before anything is queried
    gate(experiment, project=project, source=experiment_file)
    if margin is None:
        margin = project.default_margin
    _check_filters(experiment, segments, metrics)

    from liftlab.report.render import render, to_table
    from liftlab.warehouse.analysis import analyze_source, source_engine
    from liftlab.warehouse.timeline import source_timeline

    # One engine for the report and the timeline (a Spark source keeps its session instead).
    engine = source_engine(source) if source.engine_name != "spark" else None
    try:
        report = analyze_source(source, experiment, alpha=alpha, correction=correction,
                                use_cuped=not no_cuped, margin=margin, engine=engine,
                                project_file=project_file).select(segments, metrics)
        if fmt == "table" and out is None:
            to_table(report, make_console())
            return
        shown = source_timeline(source, experiment, alpha=alpha, engine=engine) if fmt == "html" else None
    finally:
        if engine is not None:
            engine.dispose()
    text = render(report, fmt, shown)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


def _check_filters(experiment: Experiment, segments: tuple[str, ...], metrics: tuple[str, ...]) -> None:
    """A filter naming nothing in the experiment is bad input, not an empty report."""
    from liftlab.errors import LiftlabError

    known_segments = {*experiment.segments, "all"}
    for name in segments:
        if name not in known_segments:
            raise LiftlabError(f"--segment {name!r}: the experiment has segments "
                               f"{', '.join(sorted(known_segments))}", field="segment")
    known_metrics = {m.key for m in experiment.metrics}
    for name in metrics:
        if name not in known_metrics:
            raise LiftlabError(f"--metric {name!r}: the experiment has metrics "
                               f"{', '.join(sorted(known_metrics))}", field="metric")


def warn_drift(store, experiment, file: Path) -> None:  # type: ignore[no-untyped-def]
    """Warn (stderr) when the file on disk differs from the latest stored version, naming the
    fields: the customers were assigned under the stored versions, not under this file."""
    from liftlab.config.diff import diff_configs

    versions = store.experiment_versions(experiment.key)
    if not versions:
        return
    changes = diff_configs(versions[-1].config, experiment.to_dict())
    if changes:
        fields = ", ".join(change.field for change in changes)
        click.echo(f"warning: {file} differs from stored version {versions[-1].version} of "
                   f"{experiment.key!r} in {fields}; customers were assigned under the stored "
                   "version(s) (run `liftlab assign` to register the file, or `liftlab history` "
                   "to see the versions)", err=True)

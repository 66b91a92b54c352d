"""`liftlab export EXPERIMENT --db URL --out sends.csv`: the send list of a stored experiment."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from liftlab.cli._common import friendly_errors

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@click.command()
@click.argument("experiment_key", metavar="EXPERIMENT")
@click.option("--db", "db_url", default="sqlite:///liftlab.db", show_default=True,
              help="SQLAlchemy URL of the event store.")
@click.option("--out", "out", default="-", show_default=True,
              help="File to write (.csv or .jsonl), or - for standard output.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="Override the format the --out extension implies (default for -: csv).")
@click.option("--all", "include_all", is_flag=True,
              help="Everyone assigned, with a role column: treatment, control or holdout.")
@friendly_errors
def export(experiment_key: str, db_url: str, out: str, fmt: str | None, include_all: bool) -> None:
    """Write who gets what in EXPERIMENT: experiment, unit_id, segment, arm, channel.

    Control and global-holdout customers are left out (they must not be contacted) unless
    --all. Add a timestamp column at send time and the file is the exposures file for
    `liftlab log exposures`. Exit 0, 1 when the stored config fails validation (nothing is
    written), 2 for an unknown experiment or a bad --out.
    """
    from liftlab.cli._gate import gate
    from liftlab.config.loading import experiment_from_dict
    from liftlab.store.event_store import EventStore
    from liftlab.store.export import export_send_list

    if fmt is None:
        suffix = Path(out).suffix.lower()
        if out != "-" and suffix not in FORMATS:
            raise click.BadParameter(f"{out}: write .csv or .jsonl (or name --format)", param_hint="--out")
        fmt = FORMATS.get(suffix, "csv")
    store = EventStore(db_url)
    config = store.experiment_config(experiment_key)
    source = f"{store.shown_url} (experiment {experiment_key})"
    gate(experiment_from_dict(config, source=source), source=source)
    frame = export_send_list(store, experiment_key, include_all=include_all)
    if fmt == "csv":
        text = frame.to_csv(index=False)
    else:
        text = frame.to_json(orient="records", lines=True, force_ascii=False) if len(frame) else ""
    if out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    Path(out).write_text(text, encoding="utf-8")
    counts = frame["role"].value_counts().to_dict() if include_all else {"treatment": len(frame)}
    summary = ", ".join(f"{counts.get(role, 0):,} {role}" for role in ("treatment", "control", "holdout")
                        if role in counts)
    click.echo(f"wrote {out}: {len(frame):,} customers ({summary})", err=True)

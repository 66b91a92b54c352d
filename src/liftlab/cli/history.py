"""`liftlab history EXPERIMENT --db URL`: the stored versions of an experiment's config."""

from __future__ import annotations

import json

import click

from liftlab.cli._common import console as make_console
from liftlab.cli._common import friendly_errors


@click.command()
@click.argument("experiment_key", metavar="EXPERIMENT")
@click.option("--db", "db_url", default="sqlite:///liftlab.db", show_default=True,
              help="SQLAlchemy URL of the event store.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@friendly_errors
def history(experiment_key: str, db_url: str, fmt: str) -> None:
    """List the config versions of EXPERIMENT: when each was registered, its hash, how many
    customers were assigned under it, and the fields that changed from the version before.

    Exit 0, or 2 when the experiment is not registered in the store.
    """
    from rich.table import Table

    from liftlab.store.event_store import EventStore
    from liftlab.store.versions import experiment_history

    entries = experiment_history(EventStore(db_url), experiment_key)
    if fmt == "json":
        click.echo(json.dumps({"experiment": experiment_key,
                               "versions": [entry.to_dict() for entry in entries]}, indent=2, default=str))
        return
    table = Table(title=f"{experiment_key}: config versions", header_style="bold")
    for column in ("version", "registered", "config hash", "assigned", "fields changed"):
        table.add_column(column, justify="right" if column in ("version", "assigned", "fields changed") else "left")
    for entry in entries:
        table.add_row(str(entry.version), entry.registered_at, entry.config_hash[:12],
                      f"{entry.assigned:,}", "—" if entry is entries[0] else str(len(entry.changes)))
    console = make_console()
    console.print(table)
    for before, entry in zip(entries, entries[1:]):
        console.print(f"version {before.version} → {entry.version}:", markup=False)
        for change in entry.changes:
            console.print(f"  {change}", markup=False, soft_wrap=True)

"""`liftlab log exposures|conversions FILE`: bulk ingest from CSV or JSON Lines."""

from __future__ import annotations

from pathlib import Path

import click

from liftlab.cli._common import friendly_errors


def _log(kind: str, path: Path, db_url: str, fmt: str | None, date_format: str | None) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from liftlab.store.event_store import EventStore
    from liftlab.store.ingest import check_readable
    from liftlab.timestamps import check_date_format

    check_readable(path)  # before the store is opened, so a mistyped path creates no database
    if date_format is not None:
        check_date_format(date_format)
    store = EventStore(db_url)
    large = path.is_file() and path.stat().st_size > 5_000_000
    columns = (TextColumn(f"logging {kind}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=not large) as progress:
        task = progress.add_task(kind, total=path.stat().st_size if large else None, rows=0)
        total = store.log_file(kind, path, fmt=fmt, date_format=date_format,
                               progress=lambda done, rows: progress.update(task, completed=done, rows=rows))
    click.echo(f"{path}: {total.inserted:,} inserted, {total.duplicates:,} duplicates, "
               f"{total.rejected:,} rejected")
    for reason in total.reasons[:5]:
        click.echo(f"  rejected {reason}")
    if total.rejected:
        click.echo("  (every rejected row is kept in the store's quarantine table with its reason)")
        raise SystemExit(1)


@click.group()
def log() -> None:
    """Ingest campaign exposures or shop conversions (CSV or JSON Lines)."""


_db = click.option("--db", "db_url", default="sqlite:///liftlab.db", show_default=True,
                   help="SQLAlchemy URL of the event store.")
_fmt = click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
                    help="Input format (default: from the file extension).")
_date_format = click.option(
    "--date-format", "date_format", default=None, metavar="PATTERN",
    help="strptime pattern of the timestamps, e.g. '%d.%m.%Y %H:%M' (default: ISO 8601 or epoch "
         "seconds only; naive times are UTC). Rows that do not match are quarantined.")


@log.command()
@click.argument("file", type=click.Path(path_type=Path))
@_db
@_fmt
@_date_format
@friendly_errors
def exposures(file: Path, db_url: str, fmt: str | None, date_format: str | None) -> None:
    """Log exposures: experiment, unit_id, segment, arm, channel, timestamp[, event_id].

    Each must agree with the unit's stored assignment. Exit 1 when rows were rejected,
    2 when the file cannot be read.
    """
    _log("exposures", file, db_url, fmt, date_format)


@log.command()
@click.argument("file", type=click.Path(path_type=Path))
@_db
@_fmt
@_date_format
@friendly_errors
def conversions(file: Path, db_url: str, fmt: str | None, date_format: str | None) -> None:
    """Log conversions: unit_id, event, value, timestamp[, event_id]."""
    _log("conversions", file, db_url, fmt, date_format)

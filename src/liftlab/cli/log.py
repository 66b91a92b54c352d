"""`liftlab log exposures|conversions FILE`: bulk ingest from CSV or JSON Lines."""

from __future__ import annotations

from pathlib import Path

import click

from liftlab.cli._common import friendly_errors

# Columns a file must have: every row without them would be refused for the same reason.
REQUIRED = {"exposures": ("experiment", "unit_id", "segment", "arm", "timestamp"),
            "conversions": ("unit_id", "event", "value", "timestamp")}


def _log(kind: str, path: Path, db_url: str, fmt: str | None) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from liftlab.ingest import read_batches
    from liftlab.store import EventStore, LogCounts

    store = EventStore(db_url)
    total = LogCounts()
    large = path.is_file() and path.stat().st_size > 5_000_000
    method = store.log_exposures if kind == "exposures" else store.log_conversions
    console = Console(stderr=True)
    columns = (TextColumn(f"logging {kind}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not large) as progress:
        task = progress.add_task(kind, total=path.stat().st_size if large else None, rows=0)
        rows = 0
        for batch in read_batches(path, fmt, required=REQUIRED[kind]):
            total = total + method(batch.rows, source=str(path), lines=batch.lines)
            total = total + store.reject(kind.rstrip("s"), batch.broken, source=str(path))
            rows += len(batch.rows) + len(batch.broken)
            progress.update(task, completed=batch.position, rows=rows)
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


@log.command()
@click.argument("file", type=click.Path(path_type=Path))
@_db
@_fmt
@friendly_errors
def exposures(file: Path, db_url: str, fmt: str | None) -> None:
    """Log exposures: experiment, unit_id, segment, arm, channel, timestamp[, event_id].

    Each must agree with the unit's stored assignment. Exit 1 when rows were rejected,
    2 when the file cannot be read.
    """
    _log("exposures", file, db_url, fmt)


@log.command()
@click.argument("file", type=click.Path(path_type=Path))
@_db
@_fmt
@friendly_errors
def conversions(file: Path, db_url: str, fmt: str | None) -> None:
    """Log conversions: unit_id, event, value, timestamp[, event_id]."""
    _log("conversions", file, db_url, fmt)

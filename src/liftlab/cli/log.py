"""`liftlab log exposures|conversions FILE`: bulk ingest from CSV or JSON Lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pandas as pd

from liftlab.cli._common import friendly_errors
from liftlab.errors import DataError

CHUNK_LINES = 200_000


def read_chunks(path: Path, fmt: str | None) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first line number, rows) per chunk of a CSV (header on line 1) or JSON Lines file."""
    kind = fmt or ("jsonl" if path.suffix.lower() in (".jsonl", ".json", ".ndjson") else "csv")
    if not path.is_file():
        raise DataError("no such file", file=path)
    try:
        if kind == "csv":
            reader = pd.read_csv(path, chunksize=CHUNK_LINES, dtype=str, keep_default_na=False,
                                 na_values=[""], encoding="utf-8")
            line = 2
        else:
            reader = pd.read_json(path, lines=True, chunksize=CHUNK_LINES, dtype=False, encoding="utf-8")
            line = 1
        for chunk in reader:
            yield line, chunk
            line += len(chunk)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read as {kind}: {str(exc).splitlines()[0]}", file=path) from None


def _log(kind: str, path: Path, db_url: str, fmt: str | None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from liftlab.store import EventStore, LogCounts

    store = EventStore(db_url)
    total = LogCounts()
    large = path.is_file() and path.stat().st_size > 5_000_000
    method = store.log_exposures if kind == "exposures" else store.log_conversions
    console = Console(stderr=True)
    with Progress(TextColumn(f"logging {kind}"), BarColumn(), TextColumn("{task.fields[rows]:,} rows"),
                  TimeElapsedColumn(), console=console, transient=True, disable=not large) as progress:
        task = progress.add_task(kind, total=None, rows=0)
        rows = 0
        for first_line, chunk in read_chunks(path, fmt):
            total = total + method(chunk, source=str(path), first_line=first_line)
            rows += len(chunk)
            progress.update(task, rows=rows)
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

"""Helpers shared by CLI commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from liftlab.errors import LiftlabError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn a LiftlabError raised by a command into one line on stderr and exit code 2.

    Applied to each command so that `CliRunner` (which calls commands directly, not through
    `main`) sees the same behaviour as a user at the shell.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LiftlabError as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(2) from None

    return wrapper  # type: ignore[return-value]


def read_table(path: Path, *, keep_blank_lines: bool = False) -> pd.DataFrame:
    """Read a CSV (or Parquet, when pyarrow is installed) into a DataFrame.

    DataError naming the file when it is missing, a directory, empty or not parseable. With
    `keep_blank_lines`, a blank line inside a CSV is an empty row (trailing ones are dropped),
    so data row i is the file's line i + 2 (line 1 the header); when a quoted field spans
    lines, `frame.attrs["lines"]` holds each row's first line instead: what lets `segment`
    name the line of a bad value.
    """
    import numpy as np
    import pandas as pd

    from liftlab.errors import DataError

    if path.is_dir():
        raise DataError("is a directory, not a file (name one file inside it)", file=path)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        frame = pd.read_csv(path, dtype={"unit_id": str, "customer_id": str},
                            skip_blank_lines=not keep_blank_lines)
    except FileNotFoundError:
        raise DataError("no such file", file=path) from None
    except (ValueError, OSError, pd.errors.ParserError, ImportError) as exc:
        raise DataError(f"cannot read: {exc}", file=path) from None
    if keep_blank_lines and len(frame):
        filled = np.flatnonzero(frame.notna().any(axis=1).to_numpy())
        frame = frame.iloc[: filled[-1] + 1 if len(filled) else 0]
        lines = _record_lines(path)
        if lines is not None and len(lines) >= len(frame):
            frame.attrs["lines"] = lines[: len(frame)]
    return frame


def _record_lines(path: Path) -> np.ndarray | None:
    """The first line of each data record of a CSV whose quoted fields span lines (None when
    no record does: then row i is line i + 2)."""
    import csv

    import numpy as np

    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        starts, line, spans = [], 1, False
        for _ in reader:
            starts.append(line)
            spans = spans or reader.line_num != line
            line = reader.line_num + 1
    return np.asarray(starts[1:], dtype=np.int64) if spans else None


def console() -> Console:
    """A rich console for command output: the terminal's width, or 150 columns when the
    output goes to a file or a pipe, so wide tables stay on one line per row."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=150)

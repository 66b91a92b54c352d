"""Helpers shared by CLI commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from liftlab.errors import LiftlabError

if TYPE_CHECKING:
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


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (or Parquet, when pyarrow is installed) into a DataFrame.

    DataError naming the file when it is missing, empty or not parseable.
    """
    import pandas as pd

    from liftlab.errors import DataError

    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype={"unit_id": str, "customer_id": str})
    except FileNotFoundError:
        raise DataError("no such file", file=path) from None
    except (ValueError, OSError, pd.errors.ParserError, ImportError) as exc:
        raise DataError(f"cannot read: {exc}", file=path) from None


def console() -> Console:
    """A rich console for command output: the terminal's width, or 150 columns when the
    output goes to a file or a pipe, so wide tables stay on one line per row."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=150)

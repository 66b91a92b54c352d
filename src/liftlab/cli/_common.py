"""Helpers shared by CLI commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from liftlab.errors import LiftlabError

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

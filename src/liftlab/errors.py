"""One exception family for liftlab.

Every error names where the problem is (file, line, field) so the CLI can print one clear line
and exit with code 2 instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class LiftlabError(Exception):
    """Base class: a problem the user can fix, located by file, line and field when known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field

    def location(self) -> str:
        """`file:line: field` — whichever parts are known."""
        where = self.file or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        if self.field:
            where = f"{where}: {self.field}" if where else self.field
        return where

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message


class ConfigError(LiftlabError):
    """An experiment or project declaration is invalid or unreadable.

    When it comes from the validation rules (the gate every stage runs), `findings` holds
    each problem (`liftlab.config.findings.Finding`) and the message lists them.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        findings: tuple[Any, ...] = (),
    ) -> None:
        super().__init__(message, file=file, line=line, field=field)
        self.findings = tuple(findings)


class DataError(LiftlabError):
    """Input data (customers, orders, events) is missing columns or holds bad values."""


class StoreError(LiftlabError):
    """The event store cannot be opened or disagrees with what is being logged."""

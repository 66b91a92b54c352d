"""A finding: one problem in one place, as `liftlab validate` reports it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["fatal", "error", "warning"]

#: Exit code for the worst severity found: fatal (unreadable input) 2, error 1, warning 0.
EXIT_CODES: dict[str, int] = {"fatal": 2, "error": 1, "warning": 0}


@dataclass(frozen=True)
class Finding:
    """A problem located by file, line and field, with the rule that found it.

    `fatal` means the file could not be read or parsed; `error` makes the config invalid;
    `warning` is worth a look but does not fail CI (unless `--strict`).
    """

    file: str
    field: str
    message: str
    rule: str
    severity: Severity = "error"
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}: {self.severity} [{self.rule}]{field} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def exit_code(findings: list[Finding], *, strict: bool = False) -> int:
    """0 when clean, 1 for errors (or warnings under `strict`), 2 when any input was unreadable."""
    code = 0
    for finding in findings:
        level = EXIT_CODES[finding.severity]
        if strict and finding.severity == "warning":
            level = 1
        code = max(code, level)
    return code

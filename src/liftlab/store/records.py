"""What the event store's calls hand back: frozen records of what was stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RegisterResult:
    """Whether a config was new, the same as the stored one, or changed (a new version)."""

    key: str
    status: str  # "new" | "unchanged" | "changed"
    version: int
    config_hash: str


@dataclass(frozen=True)
class ExperimentVersion:
    """One stored version of an experiment's config and how many units were assigned under it."""

    version: int
    registered_at: str
    config_hash: str
    config: dict[str, Any]
    assigned: int = 0


@dataclass(frozen=True)
class AssignmentCounts:
    """Sticky save: new rows, rows already stored with the same arm, and rows whose stored arm
    differs from the one offered now (kept as stored, reported here)."""

    inserted: int
    unchanged: int
    conflicting: int
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogCounts:
    """What one logging call did: stored, already there, refused (with the first reasons)."""

    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def __add__(self, other: LogCounts) -> LogCounts:
        reasons = (self.reasons + other.reasons)[:10]
        return LogCounts(
            self.inserted + other.inserted,
            self.duplicates + other.duplicates,
            self.rejected + other.rejected,
            reasons,
        )

"""An experiment's config history: its stored versions and what changed between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from liftlab.config.diff import Change, diff_configs
from liftlab.errors import StoreError
from liftlab.store.event_store import EventStore


@dataclass(frozen=True)
class VersionEntry:
    """One version: when it was registered, its config hash, the customers assigned under it,
    and the fields that changed from the version before (empty for the first)."""

    version: int
    registered_at: str
    config_hash: str
    assigned: int
    changes: tuple[Change, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "registered_at": self.registered_at,
            "config_hash": self.config_hash,
            "assigned": self.assigned,
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in self.changes],
        }


def experiment_history(store: EventStore, experiment_key: str) -> tuple[VersionEntry, ...]:
    """Every stored version of `experiment_key`, oldest first; StoreError when it is unknown."""
    versions = store.experiment_versions(experiment_key)
    if not versions:
        raise StoreError(f"experiment {experiment_key!r} is not registered in {store.shown_url}")
    entries = []
    for before, version in zip((None, *versions[:-1]), versions):
        changes = diff_configs(before.config, version.config) if before is not None else ()
        entries.append(VersionEntry(version.version, version.registered_at, version.config_hash,
                                    version.assigned, changes))
    return tuple(entries)

"""What changed between two versions of an experiment's config, field by field.

Configs are the plain dicts `Experiment.to_dict()` gives (what the store keeps). Lists of
campaigns, arms and metrics are matched by their identity — a campaign by its segment, an arm
or a metric by its key — so reordering is not a change and the path names the thing a person
edited: `campaigns[at_risk].arms[offer].weight`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The field naming each element of a list of tables, by the list's name.
IDENTITY = {"campaigns": "segment", "arms": "key", "metrics": "key"}


@dataclass(frozen=True)
class Change:
    """One field's value before and after (None on a side where the field or element is absent)."""

    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.field}: {_show(self.old)} → {_show(self.new)}"


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, Mapping):
        return "{…}"
    return repr(value)


def diff_configs(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[Change, ...]:
    """Every field that differs between two config dicts, in the new config's order."""
    return tuple(_diff(old, new, ""))


def _diff(old: Any, new: Any, path: str) -> list[Change]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changes: list[Change] = []
        for key in [*new.keys(), *(k for k in old if k not in new)]:
            child = f"{path}.{key}" if path else str(key)
            if key not in old:
                changes.append(Change(child, None, new[key]))
            elif key not in new:
                changes.append(Change(child, old[key], None))
            else:
                changes.extend(_diff(old[key], new[key], child))
        return changes
    name = path.rsplit(".", 1)[-1].split("[", 1)[0]
    identity = IDENTITY.get(name)
    if identity and _keyed(old, identity) and _keyed(new, identity):
        before = {item[identity]: item for item in old}
        after = {item[identity]: item for item in new}
        changes = []
        for key in [*after, *(k for k in before if k not in after)]:
            child = f"{path}[{key}]"
            if key not in before:
                changes.append(Change(child, None, after[key]))
            elif key not in after:
                changes.append(Change(child, before[key], None))
            else:
                changes.extend(_diff(before[key], after[key], child))
        return changes
    return [] if old == new else [Change(path, old, new)]


def _keyed(items: Any, identity: str) -> bool:
    """A list of tables each naming a distinct `identity`."""
    if not isinstance(items, list | tuple) or not all(isinstance(i, Mapping) and identity in i for i in items):
        return False
    return len({i[identity] for i in items}) == len(items)

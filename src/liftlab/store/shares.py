"""The arm shares an SRM check should expect when an experiment's weights changed over time.

Each unit's arm was drawn with the weights of the config version it was assigned under, so
the expectation mixes the versions' weights by how many units each assigned:
share(arm) = Σ_v n_v · w_v(arm) / Σ_v n_v.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _arm_weights(config: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """segment → arm → weight of one stored config."""
    return {c["segment"]: {a["key"]: float(a["weight"]) for a in c["arms"]} for c in config.get("campaigns", [])}


def mix_arm_shares(
    versions: Mapping[int, Mapping[str, Any]], counts: Iterable[tuple[str, int | None, int]]
) -> dict[str, dict[str, float]]:
    """segment → arm → expected share, from each version's config and the (segment, version,
    units) counts; a segment with no units gets the latest version's weights, a unit stored
    without a version counts under the latest, and arms only a later version declares get 0."""
    latest = max(versions)
    weights = {v: _arm_weights(config) for v, config in versions.items()}
    mixed: dict[str, dict[str, float]] = {}
    units: dict[str, float] = {}
    for segment, version, n in counts:
        arms = weights.get(latest if version is None else int(version), {}).get(segment, {})
        share = mixed.setdefault(segment, {})
        for arm, weight in arms.items():
            share[arm] = share.get(arm, 0.0) + n * weight
        units[segment] = units.get(segment, 0.0) + n
    result = {segment: {arm: value / units[segment] for arm, value in share.items()}
              for segment, share in mixed.items()}
    for segment, arms in weights[latest].items():
        result.setdefault(segment, dict(arms))
    for segment, arms in weights[latest].items():  # arms only a later version declares: 0
        for arm in arms:
            result[segment].setdefault(arm, 0.0)
    return result

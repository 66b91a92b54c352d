"""Assigning customers to arms: global holdout first, then layer exclusivity, then arm weights.

For every customer in one of the experiment's campaign segments:

1. **Global holdout** — `bucket(project.holdout_salt, id) < project.holdout_fraction`: the
   customer gets no campaign at all (recorded with `holdout=True` and no arm, so the
   programme's total value can be measured against them).
2. **Layer** — experiments sharing a `layer` split its traffic: the customer is in this
   experiment only when `bucket("__" + layer, id, version=1)` falls in `layer_range`
   (GrowthBook's namespace rule), so no customer is in two experiments of one layer.
3. **Arm** — `bucket(experiment.salt, id, experiment.hash_version)` picks the arm whose range
   contains it; arms take consecutive ranges of [0, 1) in declared order, by weight
   (GrowthBook's `getBucketRanges` / `chooseVariation` with full coverage).

The holdout and layer hashes are independent, so applying them in either order selects the
same customers; a held-out customer is recorded by the experiment whose layer slice holds
them. The batch path (`assign`) and the real-time path (`assign_one`) give the same answer.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from liftlab.assignment.hashing import Seeds, bucket_many, bucket_many_v1_from_hashes
from liftlab.assignment.unit_ids import ID_COLUMNS, UnitIds, as_column, sample_rows, take, unit_ids
from liftlab.config.findings import Finding
from liftlab.config.model import Campaign, Experiment, Project
from liftlab.config.validation import check_experiment
from liftlab.errors import DataError
from liftlab.lifecycle.catalog import SEGMENT_NAMES

ASSIGNMENT_COLUMNS = ("experiment", "unit_id", "segment", "arm", "bucket", "holdout")
__all__ = [
    "ASSIGNMENT_COLUMNS", "ID_COLUMNS", "Assignment", "AssignmentResult", "assign", "assign_one"
]


@dataclass(frozen=True)
class Assignment:
    """One customer's assignment: its arm, or `holdout=True` with no arm."""

    experiment: str
    unit_id: str
    segment: str
    arm: str | None
    bucket: float
    holdout: bool


@dataclass(frozen=True)
class AssignmentResult:
    """Assignments (one row per customer in a campaign segment) and what was left out, by reason."""

    assignments: pd.DataFrame
    skipped: Mapping[str, int] = field(default_factory=dict)
    warnings: tuple[Finding, ...] = ()

    def counts(self) -> pd.DataFrame:
        """Customers per segment × arm (holdout as its own row)."""
        frame = self.assignments.assign(arm=self.assignments["arm"].fillna("(global holdout)"))
        return frame.groupby(["segment", "arm"], sort=False).size().rename("customers").reset_index()


def _arm_ranges(campaign: Campaign) -> np.ndarray:
    """Upper ends of the arms' consecutive ranges of [0, 1), in declared order."""
    return np.cumsum([arm.weight for arm in campaign.arms])


def _in_layer(experiment: Experiment, position: float | np.ndarray) -> bool | np.ndarray:
    low, high = experiment.layer_range
    return (position >= low) & (position < high)


@dataclass(frozen=True)
class _Plan:
    """What the real-time path needs from an experiment and project, worked out once.

    `check_experiment` has run (it raises ConfigError for an invalid declaration, so no plan
    exists for one); each segment's arms are their range upper ends and keys; `seeds` hashes
    the id for the arm, then the layer (when there is one), then the holdout (when there is one)
    in one pass.
    """

    arms: Mapping[str, tuple[list[float], tuple[str, ...]]]
    audiences: Mapping[str, frozenset[str]]
    seeds: Seeds
    layer_range: tuple[float, float] | None
    holdout_fraction: float


def _plan(experiment: Experiment, project: Project | None) -> _Plan:
    check_experiment(experiment, project=project)
    settings = project or Project()
    arms: dict[str, tuple[list[float], tuple[str, ...]]] = {}
    audiences: dict[str, frozenset[str]] = {}
    for campaign in experiment.campaigns:  # the first campaign of a segment wins, as in assign
        keys = tuple(arm.key for arm in campaign.arms)
        arms.setdefault(campaign.segment, (_arm_ranges(campaign).tolist(), keys))
        if campaign.audience is not None:
            audiences[campaign.segment] = frozenset(campaign.audience)
    pairs = [(experiment.salt, experiment.hash_version)]
    if experiment.layer is not None:
        pairs.append(("__" + experiment.layer, 1))
    if settings.holdout_fraction > 0:
        pairs.append((settings.holdout_salt, settings.hash_version))
    return _Plan(
        arms=arms,
        audiences=audiences,
        seeds=Seeds.of(tuple(pairs)),
        layer_range=experiment.layer_range if experiment.layer is not None else None,
        holdout_fraction=settings.holdout_fraction,
    )


#: Plans by the identity of (experiment, project), holding both so the ids stay theirs.
_PLANS: dict[tuple[int, int], tuple[Experiment, Project | None, _Plan]] = {}
_MAX_PLANS = 256


def _cached_plan(experiment: Experiment, project: Project | None) -> _Plan:
    """The plan for this experiment object, checked once: the real-time path looks customers
    up one at a time and must not re-run every rule (or re-hash the declaration) for each.

    A declaration holding an unhashable value may not be the value it was: checked every call.
    """
    key = (id(experiment), id(project))
    cached = _PLANS.get(key)
    if cached is not None and cached[0] is experiment and cached[1] is project:
        return cached[2]
    try:
        hash((experiment, project))
    except TypeError:
        return _plan(experiment, project)
    plan = _plan(experiment, project)
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[key] = (experiment, project, plan)
    return plan


def assign(
    experiment: Experiment, customers: pd.DataFrame, project: Project | None = None
) -> AssignmentResult:
    """Assign every customer in one of `experiment`'s campaign segments (vectorised).

    `customers` has a unit id column (`unit_id` or `customer_id`) and `segment`. Customers in
    segments without a campaign, or outside the experiment's layer range, are not assigned and
    are counted in `skipped`. Bad input — missing or blank or duplicate ids, segment names that
    are neither lifecycle segments nor campaign segments — raises DataError with sample rows.
    An experiment that fails validation raises ConfigError with its findings before anyone
    is assigned (weights must sum to 1: never silently stretch the last arm); its warnings
    come back in `warnings`.
    """
    warnings = check_experiment(experiment, project=project)
    project = project or Project()
    if "segment" not in customers.columns:
        raise DataError("customers need a 'segment' column", field="segment")
    _, ids, hashes = unit_ids(customers)
    campaign_segments = set(experiment.segments)
    known = campaign_segments | set(SEGMENT_NAMES)
    codes, names = _segment_codes(customers["segment"], known)
    unknown = ~_named(names, known)[codes]
    if unknown.any():
        raise DataError(
            f"{int(unknown.sum())} customer(s) with an unknown segment, e.g. "
            f"{sample_rows(customers, unknown)}",
            field="segment",
        )

    in_campaign = _named(names, campaign_segments)[codes]
    skipped: dict[str, int] = {}
    if (~in_campaign).sum():
        skipped["segment without a campaign"] = int((~in_campaign).sum())
    outside = _outside_audience(experiment, ids, codes, names) & in_campaign
    if outside.any():
        skipped["not in the campaign's audience"] = int(outside.sum())
        in_campaign &= ~outside
    ids = take(ids, in_campaign)
    codes = codes[in_campaign]

    if experiment.layer is not None:
        # bucket("__" + layer, id, 1), continuing the ids' hashes from the duplicate check.
        layer_positions = bucket_many_v1_from_hashes("__" + experiment.layer, hashes[in_campaign])
        inside = _in_layer(experiment, layer_positions)
        if (~inside).sum():
            skipped[f"outside layer {experiment.layer!r} range"] = int((~inside).sum())
        ids, codes = take(ids, inside), codes[inside]

    holdout = np.zeros(len(ids), dtype=bool)
    if project.holdout_fraction > 0:
        holdout = bucket_many(project.holdout_salt, ids, project.hash_version) < project.holdout_fraction

    positions = bucket_many(experiment.salt, ids, experiment.hash_version)
    # Arms as indexes into every campaign's keys end to end (-1: none); a later campaign for
    # the same segment overrides an earlier one.
    arms = np.full(len(ids), -1, dtype=np.int64)
    keys: list[str] = []
    for campaign in experiment.campaigns:
        if campaign.segment in names:
            rows = codes == names.index(campaign.segment)
            index = np.searchsorted(_arm_ranges(campaign), positions[rows], side="right")
            arms[rows] = len(keys) + np.minimum(index, len(campaign.arms) - 1)
        keys.extend(arm.key for arm in campaign.arms)
    arms[holdout] = -1

    frame = pd.DataFrame(
        {
            "experiment": experiment.key,
            "unit_id": as_column(ids),
            "segment": _text_column(names, codes),
            "arm": _text_column(keys, arms),
            "bucket": positions,
            "holdout": holdout,
        }
    )
    return AssignmentResult(assignments=frame, skipped=skipped, warnings=warnings)


def _outside_audience(experiment: Experiment, ids: UnitIds, codes: np.ndarray, names: list[str]) -> np.ndarray:
    """Per customer, whether their segment's campaign declares an `audience` that leaves them out."""
    outside = np.zeros(len(codes), dtype=bool)
    for campaign in experiment.campaigns:
        if campaign.audience is None or campaign.segment not in names:
            continue
        if isinstance(ids, pa.ChunkedArray):
            member = pc.is_in(ids, value_set=pa.array(campaign.audience, type=ids.type))
            member = member.to_numpy(zero_copy_only=False).astype(bool)
        else:
            member = pd.Index(ids).isin(campaign.audience)
        outside |= (codes == names.index(campaign.segment)) & ~member
    return outside


def _segment_codes(column: pd.Series, known: set[str]) -> tuple[np.ndarray, list[str]]:
    """Each row's segment as an index into segment names (-1 for a missing one), the names as
    text (as `astype("string")` writes them). An Arrow text column is looked up in `known`
    directly (its other values: -1 too, as unknown as a missing one); anything else factorized.
    """
    if isinstance(column.array, pd.arrays.ArrowExtensionArray):
        arrow = pa.array(column.array)
        if pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type):
            names = sorted(known)
            found = pc.index_in(arrow, value_set=pa.array(names, type=arrow.type))
            return found.fill_null(-1).to_numpy().astype(np.int64), names
    codes, uniques = pd.factorize(column)
    return codes, [str(name) for name in pd.Index(uniques).astype("string")]


def _named(names: list[str], wanted: set[str]) -> np.ndarray:
    """Per segment code, whether its name is `wanted`; one more False, which code -1 (a missing
    segment) picks."""
    return np.array([name in wanted for name in names] + [False], dtype=bool)


def _text_column(values: list[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """`values[code]` per row (missing where code is -1), as pandas' Arrow-backed `str`."""
    picked = pa.array(values, type=pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return pd.array(picked, dtype="str")


def assign_one(
    experiment: Experiment, unit_id: str, segment: str, project: Project | None = None
) -> Assignment | None:
    """The real-time form of `assign` for one customer; None when the experiment excludes them.

    Same hashes and order as the batch path, so a customer looked up here gets the arm the
    nightly batch gives. ConfigError, as for `assign`, when the experiment fails validation.
    """
    plan = _cached_plan(experiment, project)
    if not isinstance(unit_id, str) or not unit_id.strip():
        raise DataError(f"unit id must be a non-empty string, got {unit_id!r}", field="unit_id")
    arms = plan.arms.get(segment)
    if arms is None:
        return None
    audience = plan.audiences.get(segment)
    if audience is not None and unit_id not in audience:
        return None
    position, *others = plan.seeds.buckets(unit_id)
    if plan.layer_range is not None:
        low, high = plan.layer_range
        layer_position = others.pop(0)
        if not low <= layer_position < high:
            return None
    held = bool(others) and others[0] < plan.holdout_fraction
    ranges, keys = arms
    arm = None if held else keys[min(bisect.bisect_right(ranges, position), len(keys) - 1)]
    return Assignment(experiment.key, unit_id, segment, arm, position, held)

"""Checking and normalising event rows before they are stored: vectorised, reason per row.

A batch of exposures or conversions is split into rows ready for the store (typed columns,
timestamps as integer epoch microseconds in UTC, an `event_id`) and rejected rows, each with
its line in the source and the first reason it failed. Checks are column operations on the
whole batch, never a Python loop over rows.

When a row has no `event_id`, one is derived from its content (a hash of the normalised
fields), so re-loading the same file stores nothing twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

EXPOSURE_COLUMNS = ("event_id", "experiment", "unit_id", "segment", "arm", "channel", "ts")
CONVERSION_COLUMNS = ("event_id", "unit_id", "event", "value", "ts")
_REQUIRED_EXPOSURE = ("experiment", "unit_id", "segment", "arm", "timestamp")
_REQUIRED_CONVERSION = ("unit_id", "event", "value", "timestamp")


@dataclass(frozen=True)
class Checked:
    """Rows ready to store, and rejected rows with `line`, `reason`, `payload` (JSON)."""

    valid: pd.DataFrame
    rejected: pd.DataFrame


class _Reasons:
    """The first failing reason per row (later checks never overwrite an earlier one)."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)

    def add(self, mask: np.ndarray | pd.Series, message: str | np.ndarray) -> None:
        mask = np.asarray(mask, dtype=bool) & (self.reason == None)
        if isinstance(message, np.ndarray):
            self.reason[mask] = message[mask]
        else:
            self.reason[mask] = message

    @property
    def bad(self) -> np.ndarray:
        return self.reason != None


def _text(frame: pd.DataFrame, column: str, reasons: _Reasons) -> pd.Series:
    """A required text column as plain strings; missing, blank or non-text values rejected."""
    if column not in frame.columns:
        reasons.add(np.ones(len(frame), dtype=bool), f"missing field '{column}'")
        return pd.Series([""] * len(frame), dtype=object)
    raw = frame[column]
    missing = raw.isna().to_numpy()
    reasons.add(missing, f"missing field '{column}'")
    values = raw.to_numpy(dtype=object)
    if not pd.api.types.is_string_dtype(raw):
        # Text or whole numbers (ids exported as integers); anything else is refused.
        ok = np.fromiter(
            (isinstance(v, str) or (isinstance(v, int | np.integer) and not isinstance(v, bool))
             for v in values),
            dtype=bool, count=len(values),
        )
        reasons.add(~missing & ~ok, f"field '{column}' is not text")
    as_text = pd.Series(values, dtype=object).where(~missing, "").astype(str)
    reasons.add(~missing & (as_text.str.strip() == "").to_numpy(), f"field '{column}' is blank")
    return as_text


def _timestamps(frame: pd.DataFrame, reasons: _Reasons) -> np.ndarray:
    """Epoch microseconds (UTC) from datetimes, ISO strings or epoch seconds; bad ones rejected."""
    if "timestamp" not in frame.columns:
        reasons.add(np.ones(len(frame), dtype=bool), "missing field 'timestamp'")
        return np.zeros(len(frame), dtype=np.int64)
    raw = frame["timestamp"]
    missing = raw.isna().to_numpy()
    reasons.add(missing, "missing field 'timestamp'")
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        parsed = pd.to_datetime(raw, unit="s", utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy() & ~missing
    reasons.add(bad, "unparseable timestamp")
    if not len(parsed):
        return np.zeros(0, dtype=np.int64)
    micros = parsed.dt.as_unit("us").astype("int64").to_numpy()  # NaT becomes a sentinel
    return np.where(parsed.isna().to_numpy(), 0, micros).astype(np.int64)


def _event_ids(frame: pd.DataFrame, derived_from: pd.DataFrame, prefix: str) -> np.ndarray:
    """Given ids where present; otherwise a content hash of the normalised fields.

    pandas' `hash_pandas_object` uses SipHash with a fixed key, so the same row gives the same
    id on every machine and run; two 64-bit hashes of different field orders make 128 bits.
    """
    forward = pd.util.hash_pandas_object(derived_from, index=False).to_numpy()
    backward = pd.util.hash_pandas_object(derived_from[derived_from.columns[::-1]], index=False).to_numpy()
    derived = np.array(
        [f"{prefix}{a:016x}{b:016x}" for a, b in zip(forward.tolist(), backward.tolist())],
        dtype=object,
    )
    if "event_id" in frame.columns:
        given = frame["event_id"]
        use_given = given.notna().to_numpy() & (given.astype(str).str.strip() != "").to_numpy()
        derived[use_given] = given[use_given].astype(str).to_numpy()
    return derived


def _rejected(frame: pd.DataFrame, reasons: _Reasons, first_line: int) -> pd.DataFrame:
    bad = reasons.bad
    rows = frame[bad]
    payload = [
        json.dumps(record, default=str)
        for record in rows.astype(object).where(rows.notna(), None).to_dict("records")
    ]
    return pd.DataFrame(
        {
            "line": np.flatnonzero(bad) + first_line,
            "reason": reasons.reason[bad],
            "payload": payload,
        }
    )


def check_exposures(frame: pd.DataFrame, assignments: pd.DataFrame, *, first_line: int = 2) -> Checked:
    """Split exposures into storable rows and rejected ones.

    `assignments` holds the stored assignments of the experiments in the batch (columns
    experiment, unit_id, segment_stored, arm_stored, holdout; `attrs["registered"]` the keys
    of registered experiments). An exposure must match its unit's assignment: same segment,
    same arm, and never a global-holdout unit.
    """
    frame = frame.reset_index(drop=True)
    reasons = _Reasons(len(frame))
    experiment = _text(frame, "experiment", reasons)
    unit = _text(frame, "unit_id", reasons)
    segment = _text(frame, "segment", reasons)
    arm = _text(frame, "arm", reasons)
    channel = (
        frame["channel"].where(frame["channel"].notna(), "").astype(str)
        if "channel" in frame.columns else pd.Series([""] * len(frame), dtype=object)
    )
    ts = _timestamps(frame, reasons)

    registered = assignments.attrs.get("registered", set())
    reasons.add(~experiment.isin(registered).to_numpy() & (experiment != "").to_numpy(),
                "unknown experiment (not registered in the store)")
    keys = pd.DataFrame({"experiment": experiment, "unit_id": unit})
    merged = keys.merge(assignments, on=["experiment", "unit_id"], how="left", validate="many_to_one")
    unassigned = merged["segment_stored"].isna().to_numpy()
    reasons.add(unassigned, "unit has no assignment in this experiment")
    holdout = merged["holdout"].astype(float).fillna(0.0).to_numpy() > 0
    reasons.add(holdout, "unit is in the global holdout: it must not be exposed")
    stored_segment = merged["segment_stored"].fillna("").astype(str).to_numpy()
    reasons.add(~unassigned & (stored_segment != segment.to_numpy()),
                np.char.add("segment differs from the assignment: stored ", stored_segment.astype(str)).astype(object))
    stored_arm = merged["arm_stored"].fillna("").astype(str).to_numpy()
    reasons.add(~unassigned & ~holdout & (stored_arm != arm.to_numpy()),
                np.char.add("arm differs from the sticky assignment: stored ", stored_arm.astype(str)).astype(object))

    good = ~reasons.bad
    normalised = pd.DataFrame(
        {
            "experiment": experiment[good].to_numpy(),
            "unit_id": unit[good].to_numpy(),
            "segment": segment[good].to_numpy(),
            "arm": arm[good].to_numpy(),
            "channel": channel[good].to_numpy(),
            "ts": ts[good],
        }
    )
    normalised.insert(0, "event_id", _event_ids(frame[good].reset_index(drop=True),
                                                normalised.drop(columns=["channel"]), "x"))
    return Checked(normalised, _rejected(frame, reasons, first_line))


def check_conversions(frame: pd.DataFrame, *, first_line: int = 2) -> Checked:
    """Split conversions into storable rows and rejected ones (value must be a finite number ≥ 0)."""
    frame = frame.reset_index(drop=True)
    reasons = _Reasons(len(frame))
    unit = _text(frame, "unit_id", reasons)
    name = _text(frame, "event", reasons)
    if "value" in frame.columns:
        raw = frame["value"]
        missing = raw.isna().to_numpy()
        reasons.add(missing, "missing or NaN field 'value'")
        value = pd.to_numeric(raw, errors="coerce")
        reasons.add(~missing & value.isna().to_numpy(), "field 'value' is not a number")
        finite = np.isfinite(value.fillna(0).to_numpy(dtype=float))
        reasons.add(~finite, "field 'value' is not finite")
        reasons.add((value < 0).to_numpy(), "field 'value' is negative")
        values = value.fillna(0).to_numpy(dtype=float)
    else:
        reasons.add(np.ones(len(frame), dtype=bool), "missing field 'value'")
        values = np.zeros(len(frame))
    ts = _timestamps(frame, reasons)
    good = ~reasons.bad
    normalised = pd.DataFrame(
        {"unit_id": unit[good].to_numpy(), "event": name[good].to_numpy(), "value": values[good], "ts": ts[good]}
    )
    normalised.insert(0, "event_id", _event_ids(frame[good].reset_index(drop=True), normalised, "c"))
    return Checked(normalised, _rejected(frame, reasons, first_line))

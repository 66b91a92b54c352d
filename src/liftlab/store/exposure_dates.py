"""Exposures must fit their experiment: each falls inside [start, end] of the config version
its unit was assigned under (the whole `end` day counts; no end is open), or is quarantined
with its reason and line."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from liftlab.store.events import Checked, check_exposures


def _or_open(end: Any) -> str:
    """An end date as printed: 'open' when the experiment has none."""
    return "open" if end is None or (isinstance(end, float) and np.isnan(end)) else str(end)


def version_windows(engine: Engine, keys: Iterable[str]) -> pd.DataFrame:
    """Each stored version's dates as epoch µs: experiment, version, low, high (exclusive:
    the whole `end` day counts; no end is open), start, end (ISO), and `latest`."""
    rows = []
    with engine.connect() as conn:
        for key in keys:
            for version, config in conn.execute(
                    text("SELECT version, config FROM experiments WHERE key = :k"), {"k": key}).fetchall():
                dates = json.loads(config)
                start, end = dates.get("start"), dates.get("end")
                low = pd.Timestamp(start, tz="UTC").value // 1000 if start else np.iinfo(np.int64).min
                high = ((pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)).value // 1000
                        if end else np.iinfo(np.int64).max)
                rows.append((key, int(version), low, high, start, end))
    frame = pd.DataFrame(rows, columns=["experiment", "version", "low", "high", "start", "end"])
    frame["latest"] = frame.groupby("experiment")["version"].transform("max") == frame["version"]
    return frame

def outside_dates(engine: Engine, valid: pd.DataFrame, lookup: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Which checked exposures fall outside their experiment's [start, end] — the dates of
    the version the unit was assigned under — and the reason for each (vectorised)."""
    none = np.zeros(len(valid), dtype=bool)
    if not len(valid):
        return none, np.zeros(0, dtype=object)
    windows = version_windows(engine, pd.unique(valid["experiment"]))
    if not len(windows):
        return none, np.full(len(valid), None, dtype=object)
    stored = lookup[["experiment", "unit_id", "version"]].drop_duplicates(["experiment", "unit_id"])
    keyed = valid[["experiment", "unit_id", "ts"]].merge(stored, on=["experiment", "unit_id"], how="left")
    latest = windows[windows["latest"]].set_index("experiment")["version"]
    version = pd.to_numeric(keyed["version"], errors="coerce")
    version = version.fillna(keyed["experiment"].map(latest)).astype("Int64")
    keyed = keyed.assign(version=version).merge(windows, on=["experiment", "version"], how="left")
    ts = keyed["ts"].to_numpy(dtype=np.int64)
    known = keyed["low"].notna().to_numpy()
    low = keyed["low"].fillna(0).to_numpy(dtype=np.int64)
    high = keyed["high"].fillna(0).to_numpy(dtype=np.int64)
    outside = known & ((ts < low) | (ts >= high))
    reasons = np.full(len(valid), None, dtype=object)
    for i in np.flatnonzero(outside):
        when = pd.Timestamp(int(ts[i]), unit="us", tz="UTC").isoformat()
        reasons[i] = (f"exposure at {when} is outside the experiment's dates "
                      f"[{keyed['start'].iat[i]}, {_or_open(keyed['end'].iat[i])}] "
                      f"(config version {keyed['version'].iat[i]}, the unit's assignment)")
    return outside, reasons

def without_outside(
    engine: Engine, frame: pd.DataFrame, at: np.ndarray, lookup: pd.DataFrame, date_format: str | None
) -> Checked:
    """Check a batch holding exposures outside the experiment's dates: find their rows (each
    row tagged by a position id for one extra check), quarantine them with their line and
    reason, and check the rest as usual."""
    tagged = frame.copy()
    positions = np.array([f"__liftlab_row_{i}" for i in range(len(frame))], dtype=object)
    if "event_id" in frame.columns:
        given = frame["event_id"]
        blank = given.isna().to_numpy() | (given.astype(str).str.strip() == "").to_numpy()
        tagged["event_id"] = np.where(blank, positions, given.astype(str).to_numpy(dtype=object))
    else:
        tagged["event_id"] = positions
    probe = check_exposures(tagged, lookup, lines=at, date_format=date_format).valid
    outside, reasons = outside_dates(engine, probe, lookup)
    ids = pd.Series(tagged["event_id"].to_numpy(dtype=object))
    why = dict(zip(probe["event_id"][outside], reasons[outside]))
    out = ids.isin(list(why)).to_numpy()
    keep = ~out
    checked = check_exposures(frame[keep].reset_index(drop=True), lookup, lines=at[keep],
                              date_format=date_format, order="key")
    rows = frame[out]
    payload = [json.dumps(record, default=str)
               for record in rows.astype(object).where(rows.notna(), None).to_dict("records")]
    extra = pd.DataFrame({"line": at[out], "reason": [why[i] for i in ids[out]], "payload": payload})
    rejected = pd.concat([checked.rejected, extra], ignore_index=True).sort_values("line", kind="stable")
    return Checked(checked.valid, rejected.reset_index(drop=True))

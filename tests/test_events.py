"""Row checks never raise, whatever a file holds: every row is either stored or quarantined."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from liftlab.store.events import check_conversions, check_exposures
from liftlab.store.ingest import records_frame

junk = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["2026-10-02T10:00:00Z", "2026-10-02", "1790000000", " ", "nan"]),
    # What no database stores as text: a NUL, a lone surrogate (JSON "\ud800" decodes to one).
    st.sampled_from(["a\x00b", "\x00"]),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
conversion_rows = st.lists(
    st.fixed_dictionaries({}, optional={"unit_id": junk, "event": junk, "value": junk, "timestamp": junk,
                                        "event_id": junk}),
    min_size=1, max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(conversion_rows)
def test_conversion_checks_never_raise(rows: list[dict]) -> None:
    checked = check_conversions(records_frame(rows), first_line=1)
    assert len(checked.valid) + len(checked.rejected) == len(rows)
    assert sorted(checked.rejected["line"]) == list(checked.rejected["line"])
    assert checked.valid["value"].map(lambda v: math.isfinite(v) and v >= 0).all()
    assert checked.valid["ts"].dtype == "int64" and (checked.valid["event_id"].str.len() > 0).all()


exposure_rows = st.lists(
    st.fixed_dictionaries({}, optional={"experiment": junk, "unit_id": junk, "segment": junk, "arm": junk,
                                        "channel": junk, "timestamp": junk}),
    min_size=1, max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(exposure_rows)
def test_exposure_checks_never_raise(rows: list[dict]) -> None:
    assignments = pd.DataFrame({"experiment": ["e"], "unit_id": ["u"], "segment_stored": ["at_risk"],
                                "arm_stored": ["control"], "holdout": [False]})
    assignments.attrs["registered"] = {"e"}
    checked = check_exposures(records_frame(rows), assignments, first_line=1)
    assert len(checked.valid) + len(checked.rejected) == len(rows)
    assert (checked.valid["unit_id"] == "u").all() and (checked.valid["arm"] == "control").all()


def test_derived_event_ids_are_the_hex_of_both_row_hashes() -> None:
    """A derived id is the prefix and the 32 hex digits of the forward and backward row hashes
    (what earlier versions stored, so re-loading an old file still finds its rows)."""
    from liftlab.store.events import _combine, _event_ids, _field_hashes

    rows = pd.DataFrame({"unit_id": ["u1", "u2", "ü3", "u1"], "event": ["buy", "buy", "visit", "buy"],
                         "value": [1.0, 2.5, 0.0, 1.0], "ts": np.array([5, 6, 7, 5], dtype=np.int64)})
    ids, order = _event_ids(None, rows, "c")
    hashes = [_field_hashes(rows[c]) for c in rows]
    forward, backward = _combine(hashes), _combine(hashes[::-1])
    assert list(ids) == [f"c{int(f):016x}{int(b):016x}" for f, b in zip(forward, backward)]
    assert ids[0] == ids[3] and len(set(ids)) == 3 and all(type(i) is str for i in ids)
    assert list(ids[order]) == sorted(ids)

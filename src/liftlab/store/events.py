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
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from liftlab.errors import DataError
from liftlab.store.sqlio import FIRST_EXPOSURE_KEY, key_order, positions
from liftlab.timestamps import HINT, is_unicode, parse_timestamps

EXPOSURE_COLUMNS = ("event_id", "experiment", "unit_id", "segment", "arm", "channel", "ts")
CONVERSION_COLUMNS = ("event_id", "unit_id", "event", "value", "ts")
# The fields a source must provide (event_id and channel are optional).
REQUIRED_FIELDS = {"exposures": ("experiment", "unit_id", "segment", "arm", "timestamp"),
                   "conversions": ("unit_id", "event", "value", "timestamp")}


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


def _text(frame: pd.DataFrame, column: str, reasons: _Reasons) -> np.ndarray:
    """A required text column as plain strings; missing, blank or non-text values rejected."""
    if column not in frame.columns:
        reasons.add(np.ones(len(frame), dtype=bool), f"missing field '{column}'")
        return np.full(len(frame), "", dtype=object)
    raw = frame[column]
    missing = raw.isna().to_numpy()
    reasons.add(missing, f"missing field '{column}'")
    if not pd.api.types.is_string_dtype(raw):
        values = raw.to_numpy(dtype=object)
        # Text or whole numbers (ids exported as integers); anything else is refused.
        ok = np.fromiter(
            (isinstance(v, str) or (isinstance(v, int | np.integer) and not isinstance(v, bool))
             for v in values),
            dtype=bool, count=len(values),
        )
        reasons.add(~missing & ~ok, f"field '{column}' is not text")
        values = np.where(missing, "", values)
        values = np.array([v if isinstance(v, str) else str(v) for v in values], dtype=object)
    elif _repetitive(raw):
        # A column of a few values (experiment, segment, arm): factorised where it lies (Arrow's
        # C++ hash of the bytes), each distinct value checked once and made a Python string
        # once, the rows sharing it.
        codes, uniques = pd.factorize(raw)
        distinct = np.append(np.asarray(uniques, dtype=object), "")  # code -1 (missing) → ""
        values = distinct[codes]
        blank, unstorable = _blank_or_unstorable(distinct)
        reasons.add(~missing & blank[codes], f"field '{column}' is blank")
        reasons.add(unstorable[codes], f"field '{column}' holds a NUL or a character that is not Unicode text")
        return values
    else:
        values = np.where(missing, "", raw.to_numpy(dtype=object))
    blank, unstorable = _blank_or_unstorable(values)
    reasons.add(~missing & blank, f"field '{column}' is blank")
    reasons.add(unstorable, f"field '{column}' holds a NUL or a character that is not Unicode text")
    return values


def _repetitive(column: pd.Series) -> bool:
    """An Arrow-backed text column whose first thousand values hold at most 100 distinct ones."""
    return (not pd.api.types.is_object_dtype(column)
            and column.iloc[:1_000].nunique(dropna=False) <= 100)


def _check_event_ids(frame: pd.DataFrame, reasons: _Reasons) -> None:
    """A given `event_id` must be storable text (an absent or blank one is derived instead)."""
    if "event_id" in frame.columns:
        reasons.add(_blank_or_unstorable(_as_text(frame["event_id"]))[1],
                    "field 'event_id' holds a NUL or a character that is not Unicode text")


def _as_text(column: pd.Series) -> np.ndarray:
    """An optional column as Python strings, a missing value as "". Written out by hand, not
    with astype(str): pandas' string columns refuse text that is not Unicode, and such a value
    must reach the checks (which quarantine it) rather than fail the batch."""
    missing = column.isna().to_numpy()
    values = column.to_numpy(dtype=object)
    if pd.api.types.is_string_dtype(column) and not pd.api.types.is_object_dtype(column):
        return np.where(missing, "", values)
    return np.array(["" if gone else v if isinstance(v, str) else str(v) for v, gone in zip(values, missing)],
                    dtype=object)


def _storable(text: str) -> bool:
    """False for text no database keeps: a NUL, or a lone surrogate (from a JSON \\ud800)."""
    return "\x00" not in text and is_unicode(text)


def _blank_or_unstorable(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which strings are empty or whitespace only, and which cannot be stored as text.

    A column that repeats a few values (experiment, segment, arm) is checked once per distinct
    value; one of mostly distinct values (unit ids) is checked value by value, which is
    cheaper than hashing it first.
    """
    if len(set(values[:1_000].tolist())) <= 100:
        codes, uniques = pd.factorize(values)
        blank = np.fromiter((not u.strip() for u in uniques), dtype=bool, count=len(uniques))
        bad = np.fromiter((not _storable(u) for u in uniques), dtype=bool, count=len(uniques))
        return blank[codes], bad[codes]
    listed = values.tolist()
    joined = "".join(listed)  # one C pass answers "any at all?" for the usual clean column
    ascii_only = joined.isascii()
    if ascii_only and not any(c in joined for c in _ASCII_SPACE):
        blank = values == ""
    else:
        blank = (values == "") | np.fromiter((v.isspace() for v in listed), dtype=bool, count=len(values))
    if ascii_only and "\x00" not in joined:
        return blank, np.zeros(len(values), dtype=bool)
    return blank, np.fromiter((not _storable(v) for v in listed), dtype=bool, count=len(values))


_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"  # every ASCII character str.isspace() accepts


def _timestamps(frame: pd.DataFrame, reasons: _Reasons, date_format: str | None = None) -> np.ndarray:
    """Epoch microseconds (UTC) by `liftlab.timestamps`' rules: ISO 8601, epoch seconds or
    datetimes, or text in the named `date_format`; a refused value is rejected with its reason."""
    if "timestamp" not in frame.columns:
        reasons.add(np.ones(len(frame), dtype=bool), "missing field 'timestamp'")
        return np.zeros(len(frame), dtype=np.int64)
    raw = frame["timestamp"]
    parsed = parse_timestamps(raw, date_format)
    reasons.add(parsed.missing, "missing field 'timestamp'")
    bad = parsed.bad
    if bad.any():
        hint = "" if date_format else f"; {HINT}"
        shown = raw.to_numpy(dtype=object)[bad]
        message = np.full(len(frame), None, dtype=object)
        message[bad] = [f"unparseable timestamp {_shown(value)}: {why}{hint}"
                        for value, why in zip(shown, parsed.refused[bad])]
        reasons.add(bad, message)
    if not len(raw):
        return np.zeros(0, dtype=np.int64)
    micros = parsed.utc.to_numpy(dtype="datetime64[us]").view(np.int64)
    return np.where(parsed.missing | bad, 0, micros).astype(np.int64)


def _shown(value: object) -> str:
    """A refused value as the message shows it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _combine(hashes: list[np.ndarray]) -> np.ndarray:
    """Row hashes from column hashes, combined as CPython (up to 3.7) combined a tuple's items.

    This is the combination `pandas.util.hash_pandas_object` applies to a DataFrame's
    columns, so ids stay what earlier versions stored.
    """
    out = np.full(len(hashes[0]), 0x345678, dtype=np.uint64)
    mult = np.uint64(1000003)
    for i, column in enumerate(hashes):
        out ^= column
        out *= mult
        mult += np.uint64(82520 + 2 * (len(hashes) - i))
    return out + np.uint64(97531)


def _columns(**columns: np.ndarray) -> pd.DataFrame:
    """Checked columns as a DataFrame that keeps their numpy dtypes: text stays Python strings
    (object), which the store binds as they are, instead of being copied into a string array
    and back."""
    return pd.DataFrame({name: pd.Series(values, dtype=values.dtype) for name, values in columns.items()})


def _given_ids(frame: pd.DataFrame, good: np.ndarray) -> pd.Series | None:
    """The source's own `event_id` values of the rows `good` marks, or None without that column."""
    if "event_id" not in frame.columns:
        return None
    return frame["event_id"][good].reset_index(drop=True)


def _field_hashes(column: pd.Series) -> np.ndarray:
    """pandas' SipHash of each value. A text column of a few values (experiment, arm …) is
    hashed once per distinct value — the same numbers, a fraction of the work; ids are hashed
    as they are (categorize=False: no factorising of millions of distinct ids first)."""
    if pd.api.types.is_object_dtype(column) and len(set(column.iloc[:1_000].tolist())) <= 100:
        codes, uniques = pd.factorize(column.to_numpy(dtype=object))
        if len(uniques) <= 1_000:
            hashed = pd.util.hash_pandas_object(pd.Series(uniques, dtype=object), index=False, categorize=False)
            return hashed.to_numpy()[codes]
    return pd.util.hash_pandas_object(column, index=False, categorize=False).to_numpy()


def _event_ids(given: pd.Series | None, derived_from: pd.DataFrame, prefix: str,
               ordered: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Event ids (given where present, else a content hash of the normalised fields) and the
    order that sorts them, so the store walks its primary-key B-tree in order (`ordered`;
    otherwise the rows' own order, sparing the sort).

    Each field is hashed with pandas' SipHash under its fixed key, so the same row gives the
    same id on every machine and run; the field hashes combined forwards and backwards make
    128 bits, written as `prefix` and 32 hex digits.
    """
    columns = [_field_hashes(derived_from[c]) for c in derived_from]
    n = len(derived_from)
    if n == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.intp)
    forward, backward = _combine(columns), _combine(columns[::-1])
    pair = np.empty((n, 2), dtype=">u8")
    pair[:, 0], pair[:, 1] = forward, backward
    ids = _hex_texts(prefix, pair.view(np.uint8).reshape(n, 16))
    if given is not None:
        text = given.astype(str).str.strip()
        use_given = given.notna().to_numpy() & (text != "").to_numpy()
        if use_given.any():
            ids[use_given] = given[use_given].astype(str).to_numpy()
            return ids, np.argsort(ids, kind="stable") if ordered else np.arange(n)
    # Hex digits of big-endian integers sort as the integers do.
    return ids, np.lexsort((backward, forward)) if ordered else np.arange(n)


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex_texts(prefix: str, raw: np.ndarray) -> np.ndarray:
    """Each row of `raw` bytes as `prefix` and two lowercase hex digits per byte, as Python
    strings: the digits are laid out by numpy in one buffer and Arrow makes the strings,
    instead of one slice of a long hex string per row."""
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    n, width = raw.shape
    size = len(head) + 2 * width
    text = np.empty((n, size), dtype=np.uint8)
    text[:, :len(head)] = head
    text[:, len(head)::2] = _HEX_DIGITS[raw >> 4]
    text[:, len(head) + 1::2] = _HEX_DIGITS[raw & 15]
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int64)
    array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)


def _line_numbers(n: int, first_line: int, lines: np.ndarray | None) -> np.ndarray:
    """The source line of each row: given, or counted from `first_line`."""
    if lines is None:
        return np.arange(first_line, first_line + n)
    lines = np.asarray(lines, dtype=np.int64)
    if len(lines) != n:
        raise DataError(f"{len(lines)} line numbers for {n} rows", field="lines")
    return lines


def _rejected(frame: pd.DataFrame, reasons: _Reasons, lines: np.ndarray) -> pd.DataFrame:
    bad = reasons.bad
    rows = frame[bad]
    payload = [
        json.dumps(record, default=str)
        for record in rows.astype(object).where(rows.notna(), None).to_dict("records")
    ]
    return pd.DataFrame(
        {
            "line": lines[bad],
            "reason": reasons.reason[bad],
            "payload": payload,
        }
    )


def check_exposures(
    frame: pd.DataFrame, assignments: pd.DataFrame | Callable[[np.ndarray, np.ndarray], pd.DataFrame], *,
    first_line: int = 2, lines: np.ndarray | None = None, date_format: str | None = None,
    order: str = "event_id", reader: Executor | None = None,
) -> Checked:
    """Split exposures into storable rows and rejected ones.

    `assignments` holds the stored assignments of the experiments in the batch (columns
    experiment, unit_id, segment_stored, arm_stored, holdout; `attrs["registered"]` the keys
    of registered experiments), or is a function of the batch's experiment and unit texts
    returning them. With a `reader`, that function and the matching of rows to assignments
    run there while the checks that need no assignments run here (`EventStore.log_exposures`
    reads SQLite that way, on a thread, without holding Python's lock). An exposure must
    match its unit's assignment: same segment, same arm, and never a global-holdout unit.
    Timestamps are read as `liftlab.timestamps` says (ISO 8601 or epoch seconds), or in
    `date_format` when one is named. The valid rows come in `order`: "event_id" or "key"
    (`FIRST_EXPOSURE_KEY`, the order the store inserts them in).
    """
    if order not in ("event_id", "key"):
        raise ValueError(f"order must be 'event_id' or 'key', not {order!r}")
    frame = frame.reset_index(drop=True)
    reasons = _Reasons(len(frame))
    experiment = _text(frame, "experiment", reasons)
    unit = _text(frame, "unit_id", reasons)
    matched = _matching(assignments, experiment, unit, reader)
    segment = _text(frame, "segment", reasons)
    arm = _text(frame, "arm", reasons)
    channel = _as_text(frame["channel"]) if "channel" in frame.columns else np.full(len(frame), "", dtype=object)
    reasons.add(_blank_or_unstorable(channel)[1],
                "field 'channel' holds a NUL or a character that is not Unicode text")
    ts = _timestamps(frame, reasons, date_format)
    _check_event_ids(frame, reasons)

    # Row by row work that needs no assignments, for the rows still standing (their text is
    # storable): event ids and the order to store them in.
    still = ~reasons.bad
    standing = np.flatnonzero(still)
    fields = {"experiment": experiment, "unit_id": unit, "segment": segment, "arm": arm, "ts": ts}
    kept = _columns(**{name: values[standing] for name, values in fields.items()}) \
        if len(standing) < len(frame) else _columns(**fields)
    ids, sequence = _event_ids(_given_ids(frame, still), kept, "x", ordered=order == "event_id")
    if order == "key" and len(standing):
        sequence = key_order(kept, FIRST_EXPOSURE_KEY)

    assignments, at = matched()
    registered = assignments.attrs.get("registered", set())
    reasons.add(~pd.Series(experiment, dtype=object).isin(registered).to_numpy() & (experiment != ""),
                "unknown experiment (not registered in the store)")
    unassigned = at < 0
    reasons.add(unassigned, "unit has no assignment in this experiment")

    def stored(column: str, empty: object) -> np.ndarray:
        # Per distinct value: the column's codes are picked per row (integers, no object
        # copies, no per-row NA test); a missing value or an unassigned unit reads `empty`.
        codes, uniques = pd.factorize(assignments[column].array)
        table = np.append(np.asarray(uniques, dtype=object), np.array([empty], dtype=object))
        picked = codes[np.maximum(at, 0)] if len(codes) else np.full(len(at), -1, dtype=np.intp)
        return table[np.where(unassigned, -1, picked)]  # code -1 is the table's last entry: `empty`

    holdout = stored("holdout", False).astype(bool)
    reasons.add(holdout, "unit is in the global holdout: it must not be exposed")
    stored_segment = stored("segment_stored", "")
    wrong = ~unassigned & (stored_segment != segment)
    reasons.add(wrong, _messages(wrong, "segment differs from the assignment: stored ", stored_segment))
    stored_arm = stored("arm_stored", "")
    wrong = ~unassigned & ~holdout & (stored_arm != arm)
    reasons.add(wrong, _messages(wrong, "arm differs from the sticky assignment: stored ", stored_arm))

    # The standing rows that passed every check, in the chosen order.
    chosen = sequence[~reasons.bad[standing[sequence]]]
    rows = standing[chosen]
    valid = _columns(event_id=ids[chosen], experiment=experiment[rows], unit_id=unit[rows],
                     segment=segment[rows], arm=arm[rows], channel=channel[rows], ts=ts[rows])
    return Checked(valid, _rejected(frame, reasons, _line_numbers(len(frame), first_line, lines)))


def _matching(
    assignments: pd.DataFrame | Callable[[np.ndarray, np.ndarray], pd.DataFrame],
    experiment: np.ndarray, unit: np.ndarray, reader: Executor | None,
) -> Callable[[], tuple[pd.DataFrame, np.ndarray]]:
    """A call giving the assignments and each row's place in them (`_stored_rows`): started
    on `reader` now, or run when called."""
    def match() -> tuple[pd.DataFrame, np.ndarray]:
        found = assignments(experiment, unit) if callable(assignments) else assignments
        return found, _stored_rows(experiment, unit, found)

    return match if reader is None else reader.submit(match).result


def _stored_rows(experiment: np.ndarray, unit: np.ndarray, assignments: pd.DataFrame) -> np.ndarray:
    """For each exposure, the row of its unit's assignment in `assignments`, or -1."""
    at = np.full(len(unit), -1, dtype=np.intp)
    if not len(assignments):
        return at
    stored_experiment = assignments["experiment"].to_numpy(dtype=object)
    stored_unit = assignments["unit_id"]
    for key in pd.unique(experiment):
        rows = experiment == key
        own = np.flatnonzero(stored_experiment == key)
        if not len(own):
            continue
        # The usual lookup is one experiment's: its unit column is used as it is, no copy.
        found = positions(unit[rows], stored_unit if len(own) == len(stored_unit) else stored_unit.take(own))
        at[rows] = np.where(found >= 0, own[found], -1)
    return at


def _messages(mask: np.ndarray, text: str, values: np.ndarray) -> np.ndarray:
    """`text` followed by each value, built only where `mask` holds."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = [text + str(v) for v in values[mask]]
    return out


def check_conversions(frame: pd.DataFrame, *, first_line: int = 2, lines: np.ndarray | None = None,
                      date_format: str | None = None) -> Checked:
    """Split conversions into storable rows and rejected ones (value must be a finite number ≥ 0;
    timestamps as for `check_exposures`)."""
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
    ts = _timestamps(frame, reasons, date_format)
    _check_event_ids(frame, reasons)
    good = ~reasons.bad
    normalised = _columns(unit_id=unit[good], event=name[good], value=values[good], ts=ts[good])
    ids, order = _event_ids(_given_ids(frame, good), normalised, "c")
    normalised.insert(0, "event_id", pd.Series(ids, dtype=object))
    return Checked(normalised.take(order).reset_index(drop=True), _rejected(frame, reasons, _line_numbers(len(frame), first_line, lines)))

"""Reading dates and times: ISO 8601 or epoch seconds, or a format the user names — never a guess.

`05/10/2026` is 5 October in one country and 10 May in another; a parser that tries both
orders reads some rows one way and some the other, and nobody notices. So, unless a format is
named, a value is accepted only in a form that has one reading:

- ISO 8601 text: `YYYY-MM-DD`, or that date, `T` or a space, and `HH:MM`, optionally `:SS`
  and 1–9 fractional digits, optionally followed by `Z` or an offset `±HH`, `±HH:MM` or
  `±HHMM`; surrounding spaces are ignored. A time without an offset is UTC.
- epoch seconds: a number of at least 100,000,000 (nine or more digits before any decimal
  point, so from 1973-03-03), as a number or as text. A shorter number is refused: 20261005
  might be a date written without dashes.
- datetime or date values (pandas, numpy or Python); naive ones are UTC, a date is midnight.

Anything else is refused with its reason. With a `date_format` (a `strptime` pattern such as
`%d.%m.%Y`), text and numbers must match that pattern exactly instead; datetime values are
still taken as they are.

Text is classified by a small state machine run over a whole column at once (one numpy step
per character position, not a Python loop per row), then pandas' ISO 8601 parser reads the
values, which also refuses dates that do not exist (2026-02-30).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from liftlab.errors import DataError

#: Why a value was refused (the short forms; callers add the value and where it was).
NOT_ISO = "not ISO 8601 or epoch seconds"
SHORT_NUMBER = "a number of fewer than 9 digits is neither epoch seconds nor an ISO date"
NOT_REAL = "not a real date or time"
OUT_OF_RANGE = "epoch seconds out of range"
NOT_A_TIME = "not a date or time"
HINT = "name the format with --date-format, or date_format= in Python"

EPOCH_MIN = 100_000_000  # nine digits: 1973-03-03
EPOCH_MAX = 100_000_000_000  # year 5138; beyond, microseconds overflow 64 bits soon
_LONGEST = 40  # no accepted text is longer (with spaces allowed around it, a little slack)


def no_match(date_format: str) -> str:
    """The reason for a value that does not follow the named format."""
    return f"does not match the date format {date_format!r}"


@dataclass(frozen=True)
class ParsedTimes:
    """Instants in UTC (`utc`, NaT where missing or refused), which values were missing, and
    why each refused value was refused (`refused`: None where accepted or missing)."""

    utc: pd.Series
    missing: np.ndarray
    refused: np.ndarray

    @property
    def bad(self) -> np.ndarray:
        """Values present but refused."""
        return self.refused != None


def parse_timestamps(values: pd.Series, date_format: str | None = None) -> ParsedTimes:
    """Read a column of dates or times (text, numbers, datetimes, or a mix) as UTC instants.

    Missing values (None, NaN, NaT) are marked missing, not refused. Never raises for a
    value; DataError only for a `date_format` that is not a valid pattern.
    """
    if date_format is not None:
        check_date_format(date_format)
    values = values.reset_index(drop=True)
    n = len(values)
    missing = values.isna().to_numpy()
    micros = np.full(n, _NAT, dtype=np.int64)
    refused = np.full(n, None, dtype=object)
    dtype = values.dtype
    if n == 0 or missing.all():
        pass
    elif isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        micros = _moments(values)
    elif pd.api.types.is_bool_dtype(dtype):
        refused[~missing] = f"{NOT_A_TIME} (a boolean)"
    elif pd.api.types.is_numeric_dtype(dtype):
        if date_format is None:
            micros, refused = _epoch(values, missing)
        else:
            micros, refused = _formatted(_numbers_as_text(values), missing, date_format)
    elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        micros, refused = _text(values, missing, date_format)
    else:
        micros, refused = _mixed(values, missing, date_format)
    utc = pd.Series(micros.view("M8[us]")).dt.tz_localize("UTC")
    return ParsedTimes(utc, missing, refused)


_NAT = np.iinfo(np.int64).min  # NaT as integer microseconds


def _micros(parsed: pd.Series) -> np.ndarray:
    """Integer microseconds since the epoch (UTC) of parsed datetimes; NaT stays _NAT."""
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.to_numpy(dtype="datetime64[us]").view(np.int64)


def check_date_format(date_format: str) -> None:
    """DataError unless `date_format` is a strptime pattern with at least one directive."""
    if not isinstance(date_format, str) or "%" not in date_format:
        raise DataError(f"date format {date_format!r} has no %-directive (e.g. '%d.%m.%Y')",
                        field="date_format")
    try:
        pd.to_datetime(pd.Series(["x"]), format=date_format, errors="coerce")
    except ValueError as exc:
        raise DataError(f"date format {date_format!r} is not a valid pattern: {exc}",
                        field="date_format") from None


def parse_one(value: object, date_format: str | None = None, *, field: str = "date",
              hint: str = HINT) -> pd.Timestamp:
    """One value by the same rules, as a UTC timestamp; DataError naming `field` if refused
    (with `hint` when no format was named)."""
    parsed = parse_timestamps(pd.Series([value], dtype=object), date_format)
    if parsed.missing[0]:
        raise DataError("is missing", field=field)
    if parsed.bad[0]:
        advice = "" if date_format else f"; {hint}"
        raise DataError(f"{value!r}: {parsed.refused[0]}{advice}", field=field)
    return parsed.utc.iloc[0]


# -- text ---------------------------------------------------------------------------------

# Character classes of the state machine.
_DIGIT, _DASH, _COLON, _T, _SPACE, _DOT, _Z, _PLUS, _END, _OTHER = range(10)
_CLASS = np.full(129, _OTHER, dtype=np.intp)  # index 128: every non-ASCII character
_CLASS[ord("0"):ord("9") + 1] = _DIGIT
_CLASS[[ord("-"), ord(":"), ord("T"), ord(" "), ord("."), ord("Z"), ord("+"), 0]] = (
    _DASH, _COLON, _T, _SPACE, _DOT, _Z, _PLUS, _END)


def _machine() -> tuple[np.ndarray, int, int, int]:
    """The transition table of the accepted text forms, and its final states for ISO text,
    epoch text and short numbers. State 0 starts; `dead` absorbs everything refused."""
    edges: dict[tuple[str, int], str] = {}

    def add(state: str, classes: tuple[int, ...] | int, target: str) -> None:
        for cls in (classes if isinstance(classes, tuple) else (classes,)):
            edges[(state, cls)] = target

    add("start", _SPACE, "start")
    # The year's four digits; a fifth digit means a bare number (epoch seconds, or too short).
    add("start", _DIGIT, "y1"), add("y1", _DIGIT, "y2"), add("y2", _DIGIT, "y3"), add("y3", _DIGIT, "y4")
    add("y4", _DASH, "m0"), add("m0", _DIGIT, "m1"), add("m1", _DIGIT, "m2"), add("m2", _DASH, "d0")
    add("d0", _DIGIT, "d1"), add("d1", _DIGIT, "date")
    add("date", (_T, _SPACE), "sep")
    add("sep", _DIGIT, "h1"), add("h1", _DIGIT, "h2"), add("h2", _COLON, "mi0")
    add("mi0", _DIGIT, "mi1"), add("mi1", _DIGIT, "hhmm")
    add("hhmm", _COLON, "s0"), add("s0", _DIGIT, "s1"), add("s1", _DIGIT, "hhmmss")
    add("hhmmss", _DOT, "f0")
    for i in range(9):
        add(f"f{i}", _DIGIT, f"frac{i + 1}")
        if i < 8:
            add(f"frac{i + 1}", _DIGIT, f"frac{i + 2}")
    # What may follow the time. Its states are kept twice: after 7–9 fractional digits (".ns"),
    # the text must be cut to microseconds before pandas reads it, or pandas would pick
    # nanoseconds for the whole column and refuse its dates beyond 2262.
    for tail, timed in (("", ["hhmm", "hhmmss"] + [f"frac{i}" for i in range(1, 7)]),
                        (".ns", [f"frac{i}" for i in range(7, 10)])):
        iso, spaced = ("ISO", "SPACED") if not tail else ("ISO_NS", "ISO_NS")
        for state in timed:
            add(state, _Z, "zulu" + tail)
            add(state, (_PLUS, _DASH), "o0" + tail)
        add("o0" + tail, _DIGIT, "o1" + tail), add("o1" + tail, _DIGIT, "oh" + tail)
        add("oh" + tail, _COLON, "oc" + tail), add("oh" + tail, _DIGIT, "om1" + tail)
        add("oc" + tail, _DIGIT, "om1" + tail), add("om1" + tail, _DIGIT, "ohm" + tail)
        for state in timed + [name + tail for name in ("zulu", "oh", "ohm")]:
            add(state, _END, iso)
            add(state, _SPACE, "iso_trailing" + tail)
        add("iso_trailing" + tail, _SPACE, "iso_trailing" + tail), add("iso_trailing" + tail, _END, spaced)
    add("date", _END, "ISO"), add("date", (_T, _SPACE), "sep")  # after a date, a space separates
    add("sep", _END, "SPACED"), add("sep", _SPACE, "iso_trailing")  # a date and trailing spaces
    # Bare numbers: up to 8 digits are refused as too short, 9 or more are epoch seconds.
    for i in range(1, 4):
        add(f"y{i}", _END, "SHORT"), add(f"y{i}", _DOT, "short_dot")
    add("y4", _END, "SHORT"), add("y4", _DOT, "short_dot"), add("y4", _DIGIT, "n5")
    for i in range(5, 9):
        add(f"n{i}", _DIGIT, f"n{i + 1}" if i < 8 else "epoch")
        add(f"n{i}", _END, "SHORT"), add(f"n{i}", _DOT, "short_dot")
    add("short_dot", _DIGIT, "short_frac"), add("short_frac", _DIGIT, "short_frac")
    add("short_frac", _END, "SHORT")
    add("epoch", _DIGIT, "epoch"), add("epoch", _DOT, "epoch_dot"), add("epoch_dot", _DIGIT, "epoch_frac")
    add("epoch_frac", _DIGIT, "epoch_frac")
    for state in ("epoch", "epoch_frac"):
        add(state, _END, "EPOCH"), add(state, _SPACE, "epoch_trailing")
    add("epoch_trailing", _SPACE, "epoch_trailing"), add("epoch_trailing", _END, "EPOCH")
    for final in ("ISO", "SPACED", "EPOCH", "SHORT", "ISO_NS"):
        add(final, _END, final)  # the padding after the text
    names = ["start", "dead"] + sorted(({s for s, _ in edges} | set(edges.values())) - {"start", "dead"})
    index = {name: i for i, name in enumerate(names)}
    table = np.full((len(names), 10), index["dead"], dtype=np.intp)
    for (state, cls), target in edges.items():
        table[index[state], cls] = index[target]
    kind = np.zeros(len(names), dtype=np.int8)
    for code, name in enumerate(("ISO", "SPACED", "EPOCH", "SHORT", "ISO_NS"), start=1):
        kind[index[name]] = code
    return table.ravel().astype(np.int16), kind


_TABLE, _KIND_OF_STATE = _machine()
_BYTE_CLASS = _CLASS[np.minimum(np.arange(256), 128)].astype(np.int16)


def classify_text(text: np.ndarray) -> np.ndarray:
    """Per string: 1 ISO 8601, 2 ISO 8601 with trailing spaces, 3 epoch seconds, 4 a number
    too short, 5 ISO 8601 with more than six fractional digits, 0 anything else.

    The strings become a byte matrix (one row per character position) and the state machine
    takes one numpy step per position over all strings at once.
    """
    n = len(text)
    kind = np.zeros(n, dtype=np.int8)
    lengths = np.fromiter(map(len, text), dtype=np.intp, count=n)
    fits = lengths <= _LONGEST
    if not fits.any():
        return kind
    width = max(int(lengths[fits].max()), 1)
    try:
        raw = text[fits].astype(f"S{width}")
    except UnicodeEncodeError:  # non-ASCII text is never accepted: leave it out
        fits &= np.fromiter((t.isascii() for t in text), dtype=bool, count=n)
        raw = text[fits].astype(f"S{width}")
    codes = np.ascontiguousarray(raw.view(np.uint8).reshape(len(raw), width).T)
    classes = _BYTE_CLASS[codes]
    state = np.zeros(len(raw), dtype=np.int16)
    for column in classes:
        state = _TABLE.take(state * 10 + column)
    state = _TABLE.take(state * 10 + _END)  # the widest strings have no padding after them
    kind[fits] = _KIND_OF_STATE.take(state)
    return kind


def _text(values: pd.Series, missing: np.ndarray, date_format: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Text values (missing ones skipped) by the rules above, or by `date_format`."""
    if date_format is not None:
        return _formatted(values, missing, date_format)
    n = len(values)
    micros = np.full(n, _NAT, dtype=np.int64)
    refused = np.full(n, None, dtype=object)
    present = np.flatnonzero(~missing)
    text = values.to_numpy(dtype=object)[present]
    kind = classify_text(text)
    for code in (1, 2, 5):
        iso = present[kind == code]
        if len(iso):
            iso_text = pd.Series(text[kind == code], dtype="str")
            if code != 1:  # pandas refuses trailing spaces
                iso_text = iso_text.str.strip()
            if code == 5:  # microseconds are what we keep: cut the digits beyond
                iso_text = iso_text.str.replace(r"(\.\d{6})\d+", r"\1", regex=True)
            at = _micros(pd.to_datetime(iso_text, format="ISO8601", utc=True, errors="coerce"))
            micros[iso] = at
            refused[iso[at == _NAT]] = NOT_REAL
    epoch = present[kind == 3]
    if len(epoch):
        seconds = pd.to_numeric(pd.Series(text[kind == 3], dtype="str").str.strip(), errors="coerce")
        micros[epoch], refused[epoch] = _epoch(seconds, np.zeros(len(epoch), dtype=bool))
    refused[present[kind == 4]] = SHORT_NUMBER
    refused[present[kind == 0]] = NOT_ISO
    return micros, refused


# -- numbers, datetimes, mixtures, named formats -------------------------------------------------

def _epoch(values: pd.Series, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numbers as epoch seconds: at least EPOCH_MIN (nine digits), below EPOCH_MAX."""
    seconds = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    refused = np.full(len(values), None, dtype=object)
    with np.errstate(invalid="ignore"):
        small = ~missing & (seconds < EPOCH_MIN)
        large = ~missing & ~(seconds < EPOCH_MAX) & ~small  # infinities included
    refused[small] = SHORT_NUMBER
    refused[large] = OUT_OF_RANGE
    usable = ~(small | large | missing)
    micros = np.full(len(values), _NAT, dtype=np.int64)
    micros[usable] = np.round(seconds[usable] * 1e6).astype(np.int64)
    return micros, refused


def _moments(values: pd.Series) -> np.ndarray:
    """Datetime values as UTC microseconds; naive ones are UTC."""
    return _micros(pd.to_datetime(values, utc=True))


def _numbers_as_text(values: pd.Series) -> pd.Series:
    """Numbers written as text (whole floats without '.0'), so a named format can read them."""
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            return values.astype("Int64").astype(str).where(values.notna(), None)
    return values.astype(str).where(values.notna(), None)


def _formatted(values: pd.Series, missing: np.ndarray, date_format: str) -> tuple[np.ndarray, np.ndarray]:
    """Text that must match `date_format` exactly; naive results are UTC."""
    refused = np.full(len(values), None, dtype=object)
    text = values.astype(object).where(~missing, None)
    micros = _micros(pd.to_datetime(text, format=date_format, exact=True, utc=True, errors="coerce"))
    refused[(micros == _NAT) & ~missing] = no_match(date_format)
    return micros, refused


_KINDS = {str: "text", int: "number", float: "number", pd.Timestamp: "moment", datetime: "moment", date: "moment"}


def _kind(value: object) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool | np.bool_):
        return "other"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    if isinstance(value, date | np.datetime64):  # a date is its midnight, UTC
        return "moment"
    return "other"


def _mixed(values: pd.Series, missing: np.ndarray, date_format: str | None) -> tuple[np.ndarray, np.ndarray]:
    """An object column (JSON Lines, records): each value read by its type."""
    raw = values.to_numpy(dtype=object)
    kind = np.array([_KINDS.get(type(v)) or _kind(v) for v in raw.tolist()], dtype=object)
    # A lone surrogate (JSON "\\ud800") is not text any string column can hold: refused by name.
    unicode = np.array([k != "text" or is_unicode(v) for k, v in zip(kind.tolist(), raw.tolist())],
                       dtype=bool)
    kind[~unicode] = "not unicode"
    micros = np.full(len(values), _NAT, dtype=np.int64)
    refused = np.full(len(values), None, dtype=object)
    for name in ("text", "number", "moment"):
        chosen = np.flatnonzero((kind == name) & ~missing)
        if not len(chosen):
            continue
        part = pd.Series(raw[chosen])
        none = np.zeros(len(chosen), dtype=bool)
        if name == "text":
            at, why = _text(part.astype("str"), none, date_format)
        elif name == "number" and date_format is None:
            at, why = _epoch(part.astype(float), none)
        elif name == "number":
            at, why = _formatted(_numbers_as_text(part.astype(float)), none, date_format)
        else:
            at, why = _moments(part), np.full(len(chosen), None, dtype=object)
        micros[chosen], refused[chosen] = at, why
    other = (kind == "other") & ~missing
    refused[other] = [f"{NOT_A_TIME} (a {type(v).__name__})" for v in raw[other]]
    refused[~unicode & ~missing] = "holds a character that is not Unicode text"
    return micros, refused


def is_unicode(text: str) -> bool:
    """False for text holding a lone surrogate (a JSON "\\ud800"): no database and no Arrow
    string column keeps it."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

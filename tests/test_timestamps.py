"""Dates are read, never guessed: ISO 8601 or epoch seconds, or a named format; no value is
ever read two ways."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liftlab.errors import DataError
from liftlab.timestamps import (
    NOT_ISO,
    NOT_REAL,
    OUT_OF_RANGE,
    SHORT_NUMBER,
    check_date_format,
    classify_text,
    parse_one,
    parse_timestamps,
)

# The documented grammar, written independently of the state machine that implements it.
ISO = re.compile(r" *\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)? *")
EPOCH = re.compile(r" *\d{9,}(?:\.\d+)? *")


def _parse(values: list) -> pd.Series:
    return parse_timestamps(pd.Series(values, dtype=object)).utc


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@st.composite
def iso_texts(draw: st.DrawFn) -> tuple[str, int]:
    """An ISO 8601 string in one of the accepted layouts, and the instant it means (µs, UTC)."""
    moment = draw(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9998, 12, 31)))
    layout = draw(st.sampled_from(["date", "minutes", "seconds", "fraction"]))
    if layout == "date":
        return moment.strftime("%Y-%m-%d"), _micros(datetime(moment.year, moment.month, moment.day, tzinfo=UTC))
    sep = draw(st.sampled_from(["T", " "]))
    text = moment.strftime(f"%Y-%m-%d{sep}%H:%M")
    if layout == "minutes":
        moment = moment.replace(second=0, microsecond=0)
    elif layout == "seconds":
        text += moment.strftime(":%S")
        moment = moment.replace(microsecond=0)
    else:
        digits = draw(st.integers(1, 9))
        fraction = f"{moment.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
        text += moment.strftime(":%S") + "." + fraction
        moment = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))  # beyond µs: cut
    offset = draw(st.one_of(st.none(), st.just(0), st.integers(-14 * 60, 14 * 60)))
    if offset is None:
        return text, _micros(moment.replace(tzinfo=UTC))  # naive: UTC
    if offset == 0 and draw(st.booleans()):
        text += "Z"
    else:
        hours, minutes = divmod(abs(offset), 60)
        colon = draw(st.sampled_from([":", ""]))
        text += f"{'-' if offset < 0 else '+'}{hours:02d}{colon}{minutes:02d}"
    return text, _micros(moment.replace(tzinfo=UTC)) - offset * 60_000_000


@settings(max_examples=300, deadline=None)
@given(st.lists(iso_texts(), min_size=1, max_size=20))
def test_every_iso_layout_is_read_as_the_instant_it_means(cases: list[tuple[str, int]]) -> None:
    texts = [text for text, _ in cases]
    parsed = parse_timestamps(pd.Series(texts, dtype="str"))
    assert not parsed.bad.any(), parsed.refused
    micros = parsed.utc.to_numpy(dtype="datetime64[us]").view(np.int64)
    assert micros.tolist() == [expected for _, expected in cases]
    # Written back in ISO 8601 and read again: the same instant, so nothing is read two ways.
    again = _parse(parsed.utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00").tolist())
    assert again.tolist() == parsed.utc.tolist()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(alphabet="0123456789-:.TZ+ /", max_size=32), min_size=1, max_size=20))
def test_text_is_accepted_exactly_by_the_documented_grammar_and_reads_one_way(texts: list[str]) -> None:
    parsed = parse_timestamps(pd.Series(texts, dtype="str"))
    for text, at, why in zip(texts, parsed.utc, parsed.refused):
        grammar = bool(ISO.fullmatch(text) or EPOCH.fullmatch(text))
        if why is None:
            assert grammar, text
            # Whatever was accepted reads back as itself from its ISO form.
            assert _parse([at.isoformat()]).iloc[0] == at
        else:
            assert pd.isna(at)
            assert (why == NOT_REAL or why == OUT_OF_RANGE) if grammar else why in (NOT_ISO, SHORT_NUMBER), (text, why)
    # Text and a mixed (JSON Lines) column give the same answers.
    mixed = parse_timestamps(pd.Series(texts, dtype=object))
    assert mixed.utc.tolist() == parsed.utc.tolist() and mixed.refused.tolist() == parsed.refused.tolist()


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 31), st.integers(1, 12), st.integers(1970, 2099), st.sampled_from("/.-"),
       st.booleans(), st.sampled_from(["", " 10:00", " 10:00:00", "T10:00"]))
def test_day_and_month_forms_are_always_refused_without_a_format(
    day: int, month: int, year: int, sep: str, day_first: bool, time: str
) -> None:
    first, second = (day, month) if day_first else (month, day)
    for text in (f"{first:02d}{sep}{second:02d}{sep}{year}{time}", f"{first}{sep}{second}{sep}{year % 100:02d}{time}"):
        parsed = parse_timestamps(pd.Series([text], dtype="str"))
        assert parsed.bad[0] and parsed.refused[0] == NOT_ISO, text


def test_a_named_format_reads_day_first_and_refuses_what_does_not_match() -> None:
    values = pd.Series(["05/10/2026 10:00", "2026-10-05T10:00:00Z", "13/01/2026 09:30", None], dtype="str")
    parsed = parse_timestamps(values, "%d/%m/%Y %H:%M")
    assert parsed.utc[0] == pd.Timestamp("2026-10-05 10:00", tz="UTC")  # 5 October, naive = UTC
    assert parsed.utc[2] == pd.Timestamp("2026-01-13 09:30", tz="UTC")
    assert parsed.refused.tolist() == [None, "does not match the date format '%d/%m/%Y %H:%M'", None, None]
    assert parsed.missing.tolist() == [False, False, False, True]
    # Whole numbers (a CSV column pandas read as integers) are matched as the text they were.
    assert parse_timestamps(pd.Series([20250828.0, np.nan]), "%Y%m%d").utc[0] == pd.Timestamp("2025-08-28", tz="UTC")


def test_epoch_seconds_need_nine_digits() -> None:
    parsed = parse_timestamps(pd.Series(["1791201600", " 1791201600.5 ", "20261005", "99999999", "123456789012345"],
                                        dtype="str"))
    assert parsed.utc[0] == pd.Timestamp("2026-10-05 12:00", tz="UTC")
    assert parsed.utc[1] == pd.Timestamp("2026-10-05 12:00:00.5", tz="UTC")
    assert parsed.refused[2:].tolist() == [SHORT_NUMBER, SHORT_NUMBER, OUT_OF_RANGE]
    numbers = parse_timestamps(pd.Series([1791201600, 5, 99_999_999, 10**15]))
    assert numbers.utc[0] == pd.Timestamp("2026-10-05 12:00", tz="UTC")
    assert numbers.refused[1:].tolist() == [SHORT_NUMBER, SHORT_NUMBER, OUT_OF_RANGE]


def test_impossible_dates_other_types_and_datetimes() -> None:
    parsed = parse_timestamps(pd.Series(["2026-02-30", "2026-10-05T24:30", True, [1], pd.Timestamp("2026-10-05"),
                                         datetime(2026, 10, 5, 14, tzinfo=UTC), "é2026-10-05", "x" * 80],
                                        dtype=object))
    assert parsed.refused[:4].tolist() == [NOT_REAL, NOT_REAL, "not a date or time (a bool)",
                                           "not a date or time (a list)"]
    assert parsed.utc[4] == pd.Timestamp("2026-10-05", tz="UTC")  # a naive datetime is UTC
    assert parsed.utc[5] == pd.Timestamp("2026-10-05 14:00", tz="UTC")
    assert parsed.refused[6:].tolist() == [NOT_ISO, NOT_ISO]
    assert _parse([date(2026, 10, 5)]).iloc[0] == pd.Timestamp("2026-10-05", tz="UTC")  # a date is its midnight
    naive = parse_timestamps(pd.Series(pd.to_datetime(["2026-10-05 12:00"])))
    assert naive.utc[0] == pd.Timestamp("2026-10-05 12:00", tz="UTC")


def test_bad_formats_and_single_values() -> None:
    for pattern in ("nope", "%Q"):
        with pytest.raises(DataError, match="date format"):
            check_date_format(pattern)
    assert parse_one("2026-10-05") == pd.Timestamp("2026-10-05", tz="UTC")
    with pytest.raises(DataError, match="not ISO 8601") as raised:
        parse_one("01.10.2025", field="as_of")
    assert raised.value.field == "as_of"


def test_classify_text_codes() -> None:
    texts = np.array(["2026-10-05", "2026-10-05 ", "1791201600", "2026", "soon"], dtype=object)
    assert classify_text(texts).tolist() == [1, 2, 3, 4, 0]

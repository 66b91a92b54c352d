"""Lifecycle segmentation: RFM scores and a readable rule table → 11 segments in 5 stages.

For every buyer: recency (days since the last order, as of `as_of`), frequency (orders) and
monetary value (total spend), each scored 1–5 by its quantile among buyers — the average rank
of tied values decides, so equal values always get equal scores, whatever the row order. A
single order always scores F = 1. Then the first rule that matches names the segment. Rules
are data (`DEFAULT_RULES`, or a TOML file via `load_rules`), ordered from the most valuable
segment down, ending with a catch-all, so every buyer gets exactly one segment. Customers with
no order are visitors: `loyal_visitor` when their email is known, else `engaged_visitor`.

The default rules are monotone: a customer whose R, F and M are all at least another's never
lands in a lower-value segment (`VALUE_ORDER`); `tests/test_segments.py` checks every score
triple.
"""

from __future__ import annotations

import tomllib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liftlab.errors import ConfigError, DataError
from liftlab.lifecycle.catalog import STAGE_OF, is_segment
from liftlab.lifecycle.keys import describe, id_keys, locate
from liftlab.timestamps import HINT, NOT_ISO, SHORT_NUMBER, parse_one, parse_timestamps

DEFAULT_RULES_FILE = Path(__file__).parent.parent / "data" / "segment_rules.toml"

#: Segments from lowest to highest customer value (visitors first).
VALUE_ORDER: tuple[str, ...] = (
    "engaged_visitor", "loyal_visitor", "hibernating", "first_time", "promising", "recent",
    "at_risk", "cant_lose", "potential_loyalist", "loyal", "champion",
)


@dataclass(frozen=True)
class SegmentRule:
    """A buyer is in `segment` when each score lies in its inclusive range (and, if given, the
    number of orders lies in `frequency`)."""

    segment: str
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)
    frequency: tuple[int, int] | None = None
    description: str = ""


def load_rules(path: str | Path = DEFAULT_RULES_FILE) -> tuple[SegmentRule, ...]:
    """Rules from a TOML file of `[[rules]]` tables; ConfigError naming the file and field."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read segment rules: {exc}", file=file) from None
    tables = data.get("rules")
    if not isinstance(tables, list) or not tables:
        raise ConfigError("needs a non-empty [[rules]] array", file=file, field="rules")
    rules = []
    for i, table in enumerate(tables):
        where = f"rules[{i}]"
        unknown = set(table) - {"segment", "r", "f", "m", "frequency", "description"}
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}", file=file, field=where)
        if "segment" not in table:
            raise ConfigError("required field is missing", file=file, field=f"{where}.segment")
        ranges: dict[str, Any] = {}
        for key in ("r", "f", "m", "frequency"):
            if key in table:
                value = table[key]
                if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
                    raise ConfigError("must be a list of two integers like [4, 5]", file=file,
                                      field=f"{where}.{key}")
                ranges[key] = (value[0], value[1])
        rules.append(SegmentRule(table["segment"], description=table.get("description", ""), **ranges))
    check_rules(rules, file=file)
    return tuple(rules)


def check_rules(rules: Sequence[SegmentRule], *, file: str | Path | None = None) -> None:
    """ConfigError unless every rule names a buyer segment with sane ranges and the last one
    catches everyone (so no buyer is left without a segment)."""
    for i, rule in enumerate(rules):
        where = f"rules[{i}]"
        if not is_segment(rule.segment) or rule.segment.endswith("_visitor"):
            raise ConfigError(f"unknown buyer segment {rule.segment!r}", file=file, field=f"{where}.segment")
        for key in ("r", "f", "m"):
            low, high = getattr(rule, key)
            if not 1 <= low <= high <= 5:
                raise ConfigError(f"range [{low}, {high}] must lie within 1..5", file=file, field=f"{where}.{key}")
        if rule.frequency is not None and not 1 <= rule.frequency[0] <= rule.frequency[1]:
            raise ConfigError("frequency range must be [low, high] with 1 <= low <= high", file=file,
                              field=f"{where}.frequency")
    last = rules[-1] if rules else None
    if last is None or (last.r, last.f, last.m, last.frequency) != ((1, 5), (1, 5), (1, 5), None):
        raise ConfigError("the last rule must match every buyer (a catch-all)", file=file, field="rules")


DEFAULT_RULES: tuple[SegmentRule, ...] = load_rules(DEFAULT_RULES_FILE)


def _require(frame: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"has no column {', '.join(map(repr, missing))} (it has {', '.join(map(repr, map(str, frame.columns)))})",
            field=table,
        )


class SegmentationWarning(UserWarning):
    """Something in the input was left out of the segmentation (and counted)."""


@dataclass(frozen=True)
class InputProblem:
    """`count` values of one column refused for one reason: the CSV lines of the first few
    (`lines`) and the first value (`example`; None for missing values)."""

    column: str
    reason: str
    count: int
    lines: tuple[int, ...]
    example: object = None

    def describe(self) -> str:
        """'12 negative (first at line 14: -5.0)', '2 missing (lines 7, 9)'."""
        example = "" if self.example is None else _shown(self.example)
        if self.count == 1:
            where = f"line {self.lines[0]}" + (f": {example}" if example else "")
        elif self.count <= 3:
            where = f"lines {', '.join(map(str, self.lines))}" + (f"; e.g. {example}" if example else "")
        else:
            where = f"first at line {self.lines[0]}" + (f": {example}" if example else "")
        return f"{self.count} {self.reason} ({where})"


#: Data row i of a table is its CSV file's line i + FIRST_LINE (line 1 is the header).
FIRST_LINE = 2


def _shown(value: object) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _problem(frame: pd.DataFrame, column: str, mask: np.ndarray, reason: str,
             show: bool = True) -> list[InputProblem]:
    """The rows of `frame` where `mask` holds, as one problem (or none). Row i is CSV line
    i + FIRST_LINE, or `frame.attrs["lines"][i]` where the reader recorded lines (quoted
    fields spanning lines)."""
    at = np.flatnonzero(mask)
    if not len(at):
        return []
    example = frame[column].iloc[at[0]] if show else None
    recorded = frame.attrs.get("lines")
    lines = (tuple(int(recorded[i]) for i in at[:3]) if recorded is not None and len(recorded) == len(frame)
             else tuple(int(i) + FIRST_LINE for i in at[:3]))
    return [InputProblem(column, reason, len(at), lines, example)]


def _raise_problems(table: str, problems: list[InputProblem], date_format: str | None) -> None:
    """One DataError naming every bad column of `table`, with counts per reason."""
    if not problems:
        return
    columns: dict[str, list[InputProblem]] = {}
    for problem in problems:
        columns.setdefault(problem.column, []).append(problem)
    parts = [f"{column}: {', '.join(p.describe() for p in found)}" for column, found in columns.items()]
    total = sum(p.count for p in problems)
    message = f"{total} bad value{'s' if total != 1 else ''}: {'; '.join(parts)}"
    if date_format is None and any(p.reason in _DATE_REASONS for p in problems):
        message += f"; {HINT}"
    raise DataError(message, field=table)


_DATE_REASONS = {NOT_ISO, SHORT_NUMBER}


def _missing_ids(frame: pd.DataFrame, complete: bool = False) -> np.ndarray:
    """Where customer_id is missing: no scan when the ids' type already proved none is."""
    return np.zeros(len(frame), dtype=bool) if complete else frame["customer_id"].isna().to_numpy()


def _ids(frame: pd.DataFrame, missing: np.ndarray | None = None) -> list[InputProblem]:
    missing = _missing_ids(frame) if missing is None else missing
    return _problem(frame, "customer_id", missing, "missing", show=False)


def _times(frame: pd.DataFrame, column: str, date_format: str | None) -> tuple[pd.Series, list[InputProblem]]:
    """A date column as naive UTC datetimes (NaT where refused), and its problems."""
    parsed = parse_timestamps(frame[column], date_format)
    problems = _problem(frame, column, parsed.missing, "missing", show=False)
    refused = parsed.refused
    for reason in pd.unique(refused[parsed.bad]):
        problems += _problem(frame, column, refused == reason, reason)
    return parsed.utc.dt.tz_localize(None), problems


def _amounts(orders: pd.DataFrame) -> tuple[pd.Series, list[InputProblem]]:
    raw = orders["amount"]
    amount = pd.to_numeric(raw, errors="coerce").astype(float)
    missing = raw.isna().to_numpy()
    values = amount.to_numpy()
    with np.errstate(invalid="ignore"):
        problems = (_problem(orders, "amount", missing, "missing", show=False)
                    + _problem(orders, "amount", ~missing & np.isnan(values), "not a number")
                    + _problem(orders, "amount", np.isinf(values), "not finite")
                    + _problem(orders, "amount", values < 0, "negative"))
    return amount, problems


#: How a yes/no column may be written (case and surrounding blanks ignored); blank means no.
_YES = frozenset({"true", "t", "yes", "y", "1"})
_NO = frozenset({"false", "f", "no", "n", "0", ""})


def _flag_text(column: pd.Series) -> pd.Series:
    """A yes/no column as stripped lower-case text ('' where missing)."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.map({True: "true", False: "false"}).fillna("").astype(object)
    if pd.api.types.is_numeric_dtype(column.dtype):
        numbers = column.to_numpy(dtype=float, na_value=np.nan)
        text = np.where(np.isnan(numbers), "", np.where(numbers == 1, "1", np.where(numbers == 0, "0", "?")))
        return pd.Series(text, index=column.index, dtype=object)
    return column.astype(object).where(column.notna(), "").map(lambda v: str(v).strip().lower())


def _flag_problems(frame: pd.DataFrame, column: str) -> list[InputProblem]:
    """A yes/no column's values that are neither: refused, never read as yes because non-empty."""
    if column not in frame.columns:
        return []
    text = _flag_text(frame[column])
    return _problem(frame, column, ~text.isin(_YES | _NO).to_numpy(), "not a yes/no value (true/false, yes/no, 1/0)")


def _email_known(customers: pd.DataFrame) -> np.ndarray:
    """`email_known` as booleans (checked by `_flag_problems`; blank means not known)."""
    return _flag_text(customers["email_known"]).isin(_YES).to_numpy()


def _as_of(value: date | datetime | str | None, *candidates: pd.Series) -> pd.Timestamp:
    if value is not None:
        if isinstance(value, str):
            stamp = parse_one(value, field="as_of", hint="write it as YYYY-MM-DD").tz_convert("UTC").tz_localize(None)
            if value.strip() and len(value.strip()) == 10:
                stamp = stamp.normalize() + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
            return stamp
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        # A date means "as of the end of that day".
        if isinstance(value, date) and not isinstance(value, datetime):
            stamp = stamp.normalize() + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        return stamp
    latest = [c.max() for c in candidates if len(c) and c.notna().any()]
    return max(latest) if latest else pd.Timestamp.now()


def _score(values: pd.Series, higher_is_better: bool = True) -> np.ndarray:
    """1–5 by quantile: ceil(5 × average-rank percentile); ties share a score."""
    if values.empty:
        return np.zeros(0, dtype=np.int64)
    pct = values.rank(method="average", pct=True, ascending=higher_is_better).to_numpy()
    return np.clip(np.ceil(pct * 5), 1, 5).astype(np.int64)


#: The type pandas gives a column of Python strings (Arrow-backed `str` from pandas 3 on).
_TEXT_TYPE = pd.DataFrame({"id": np.array(["x"], dtype=object)})["id"].dtype


def _given_ids(ids: pd.Series) -> pd.Series | np.ndarray:
    """The customers' ids for the result, typed as pandas types `ids.to_numpy()`, as always;
    a text column already of that type goes on as it is, not through a million Python strings."""
    if len(ids) and isinstance(ids.dtype, pd.StringDtype) and ids.dtype == _TEXT_TYPE:
        return ids
    return ids.to_numpy()


def _names(labels: Sequence[str], chosen: np.ndarray) -> pd.Series | np.ndarray:
    """`labels[chosen]`, typed as pandas types a column of Python strings (an empty column
    stays object, as before)."""
    if not len(chosen):
        return np.empty(0, dtype=object)
    return pd.Series(np.array(labels, dtype=object)).take(chosen).reset_index(drop=True)


def _first_rule(rules: Sequence[SegmentRule], r: np.ndarray, f: np.ndarray, m: np.ndarray,
                frequency: np.ndarray) -> np.ndarray:
    """The index of the first rule each buyer matches (len(rules) when none does)."""
    chosen = np.full(r.size, len(rules), dtype=np.intp)
    # Last rule first, so that an earlier matching rule overwrites a later one.
    for i in reversed(range(len(rules))):
        rule = rules[i]
        match = (
            (r >= rule.r[0]) & (r <= rule.r[1])
            & (f >= rule.f[0]) & (f <= rule.f[1])
            & (m >= rule.m[0]) & (m <= rule.m[1])
        )
        if rule.frequency is not None:
            match &= (frequency >= rule.frequency[0]) & (frequency <= rule.frequency[1])
        chosen[match] = i
    return chosen


def _apply_rules(rules: Sequence[SegmentRule], r: np.ndarray, f: np.ndarray, m: np.ndarray,
                 frequency: np.ndarray) -> np.ndarray:
    """Each buyer's segment name (None when no rule matches)."""
    names = np.array([rule.segment for rule in rules] + [None], dtype=object)
    return names[_first_rule(rules, r, f, m, frequency)]


def segment_customers(
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    visits: pd.DataFrame | None = None,
    as_of: date | datetime | str | None = None,
    rules: Sequence[SegmentRule] | None = None,
    *,
    date_format: str | None = None,
) -> pd.DataFrame:
    """One row per customer (input order): recency_days, frequency, monetary, r/f/m scores,
    segment and stage.

    customers: `customer_id` and optionally `email_known`; orders: `customer_id`,
    `ordered_at`, `amount` (≥ 0); visits (optional): `customer_id`, `visited_at`. Orders after
    `as_of` (default: the latest order or visit) are ignored. Orders of customers not in
    `customers` are left out and counted in `result.attrs["warnings"]` (and warned about,
    as a SegmentationWarning). Non-buyers get scores 0 and NaN recency / monetary.

    Dates (`ordered_at`, `visited_at`) are ISO 8601 (naive = UTC) or epoch seconds, as
    `liftlab.timestamps` reads them, or text in `date_format` (e.g. '%d.%m.%Y'); `as_of` is
    ISO 8601. Bad input is a DataError per table (`field` the table) naming every bad column
    with counts per reason and CSV lines: data row i is line i + 2 (line 1 the header, as
    `DataFrame.to_csv(index=False)` writes it).
    """
    rules = tuple(rules) if rules is not None else DEFAULT_RULES
    check_rules(rules)
    _require(customers, ["customer_id"], "customers")
    _require(orders, ["customer_id", "ordered_at", "amount"], "orders")
    if visits is not None:
        _require(visits, ["customer_id", "visited_at"], "visits")
    customers = customers.reset_index(drop=True)
    orders = orders.reset_index(drop=True)
    # Ids keep their own type (int64 when both columns hold integers): no text round trip.
    keys = id_keys(customers["customer_id"], orders["customer_id"])
    located = locate(keys)
    missing = _missing_ids(customers, keys.complete)
    repeated = located.duplicated & ~missing
    _raise_problems("customers", _ids(customers, missing)
                    + _problem(customers, "customer_id", repeated, "duplicate")
                    + _flag_problems(customers, "email_known"), date_format)
    amount, amount_problems = _amounts(orders)
    ordered_at, date_problems = _times(orders, "ordered_at", date_format)
    _raise_problems("orders", _ids(orders, _missing_ids(orders, keys.complete)) + amount_problems + date_problems,
                    date_format)
    visit_times = pd.Series(dtype="datetime64[us]")
    if visits is not None:
        visits = visits.reset_index(drop=True)
        visit_times, problems = _times(visits, "visited_at", date_format)
        _raise_problems("visits", _ids(visits) + problems, date_format)
    cutoff = _as_of(as_of, ordered_at, visit_times)

    assert located.rows is not None  # no repeated customer id got this far
    codes = located.rows
    unknown = codes < 0
    notes: list[str] = []
    if unknown.any():
        strangers, example = describe(keys.orders, unknown)
        notes.append(
            f"{int(unknown.sum())} order(s) from {strangers} customer(s) not in "
            f"customers were left out, e.g. {example!r}"
        )
        warnings.warn(notes[-1], SegmentationWarning, stacklevel=2)
    keep = ~unknown & (ordered_at <= cutoff).to_numpy()
    amounts = amount.to_numpy(dtype=float)
    moments = ordered_at.to_numpy().astype("datetime64[us]").astype(np.int64)
    if not keep.all():  # a copy of every order column, only when some order is left out
        codes, amounts, moments = codes[keep], amounts[keep], moments[keep]
    n = len(customers)
    frequency = np.bincount(codes, minlength=n)
    monetary = np.bincount(codes, weights=amounts, minlength=n)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, codes, moments)
    buyer = frequency > 0
    cutoff_us = np.datetime64(cutoff.to_datetime64(), "us").astype(np.int64)
    recency = np.where(buyer, (cutoff_us - last) / 86_400e6, np.nan)

    r_score = np.zeros(n, dtype=np.int64)
    f_score = np.zeros(n, dtype=np.int64)
    m_score = np.zeros(n, dtype=np.int64)
    r_score[buyer] = _score(pd.Series(recency[buyer]), higher_is_better=False)
    f_score[buyer] = _score(pd.Series(frequency[buyer]))
    f_score[buyer & (frequency == 1)] = 1  # a single order is the lowest frequency, always
    m_score[buyer] = _score(pd.Series(monetary[buyer]))

    # Each customer's segment as an index into `names` (the rules', then the visitors'), so
    # the name and stage columns are a take from a short list, not a million lookups.
    names = [rule.segment for rule in rules] + ["loyal_visitor", "engaged_visitor"]
    email = _email_known(customers) if "email_known" in customers.columns else np.zeros(n, dtype=bool)
    chosen = np.where(email, len(rules), len(rules) + 1)
    chosen[buyer] = _first_rule(rules, r_score[buyer], f_score[buyer], m_score[buyer], frequency[buyer])

    result = pd.DataFrame(
        {
            "customer_id": _given_ids(customers["customer_id"]),
            "recency_days": recency,
            "frequency": frequency,
            "monetary": np.where(buyer, monetary, np.nan),
            "r_score": r_score,
            "f_score": f_score,
            "m_score": m_score,
            "segment": _names(names, chosen),
            "stage": _names([STAGE_OF[s] for s in names], chosen) if n else [],  # [] is float64, as before
        }
    )
    result.attrs["warnings"] = notes
    result.attrs["as_of"] = cutoff.isoformat()
    return result


def summary(segmented: pd.DataFrame) -> pd.DataFrame:
    """Customers, share and mean recency / frequency / monetary per segment, in value order."""
    grouped = segmented.groupby("segment").agg(
        stage=("stage", "first"), customers=("customer_id", "size"),
        recency_days=("recency_days", "mean"), frequency=("frequency", "mean"),
        monetary=("monetary", "mean"),
    )
    grouped["share"] = grouped["customers"] / max(len(segmented), 1)
    order = [s for s in reversed(VALUE_ORDER) if s in grouped.index]
    return grouped.loc[order].reset_index()[
        ["segment", "stage", "customers", "share", "recency_days", "frequency", "monetary"]
    ]



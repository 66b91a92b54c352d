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
            f"{table} is missing column(s) {', '.join(missing)} (has: {', '.join(map(str, frame.columns))})",
            field=f"{table}.{missing[0]}",
        )


def _sample(frame: pd.DataFrame, mask: np.ndarray) -> str:
    rows = frame[mask].head(2)
    return "; ".join(f"row {i}: {r}" for i, r in zip(rows.index, rows.to_dict("records")))


def _times(frame: pd.DataFrame, column: str, table: str) -> pd.Series:
    raw = frame[column]
    parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    bad = (parsed.isna() & raw.notna()).to_numpy() | raw.isna().to_numpy()
    if bad.any():
        raise DataError(f"{int(bad.sum())} missing or unparseable date(s), e.g. {_sample(frame, bad)}",
                        field=f"{table}.{column}")
    return parsed.dt.tz_localize(None)


def _as_of(value: date | datetime | str | None, *candidates: pd.Series) -> pd.Timestamp:
    if value is not None:
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        # A date means "as of the end of that day".
        if isinstance(value, date) and not isinstance(value, datetime) or (isinstance(value, str) and len(value) <= 10):
            stamp = stamp.normalize() + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        return stamp
    latest = [c.max() for c in candidates if len(c)]
    return max(latest) if latest else pd.Timestamp.now()


def _score(values: pd.Series, higher_is_better: bool = True) -> np.ndarray:
    """1–5 by quantile: ceil(5 × average-rank percentile); ties share a score."""
    if values.empty:
        return np.zeros(0, dtype=np.int64)
    pct = values.rank(method="average", pct=True, ascending=higher_is_better).to_numpy()
    return np.clip(np.ceil(pct * 5), 1, 5).astype(np.int64)


def _apply_rules(rules: Sequence[SegmentRule], r: np.ndarray, f: np.ndarray, m: np.ndarray,
                 frequency: np.ndarray) -> np.ndarray:
    segment = np.full(r.size, None, dtype=object)
    for rule in rules:
        match = (
            (segment == None)
            & (r >= rule.r[0]) & (r <= rule.r[1])
            & (f >= rule.f[0]) & (f <= rule.f[1])
            & (m >= rule.m[0]) & (m <= rule.m[1])
        )
        if rule.frequency is not None:
            match &= (frequency >= rule.frequency[0]) & (frequency <= rule.frequency[1])
        segment[match] = rule.segment
    return segment


def segment_customers(
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    visits: pd.DataFrame | None = None,
    as_of: date | datetime | str | None = None,
    rules: Sequence[SegmentRule] | None = None,
) -> pd.DataFrame:
    """One row per customer (input order): recency_days, frequency, monetary, r/f/m scores,
    segment and stage.

    customers: `customer_id` and optionally `email_known`; orders: `customer_id`,
    `ordered_at`, `amount` (≥ 0); visits (optional): `customer_id`, `visited_at`. Orders after
    `as_of` (default: the latest order or visit) are ignored. Orders of customers not in
    `customers` are left out and counted in `result.attrs["warnings"]` (and warned about).
    Non-buyers get scores 0 and NaN recency / monetary.
    """
    rules = tuple(rules) if rules is not None else DEFAULT_RULES
    check_rules(rules)
    _require(customers, ["customer_id"], "customers")
    _require(orders, ["customer_id", "ordered_at", "amount"], "orders")
    if customers["customer_id"].isna().any():
        raise DataError("empty customer_id", field="customers.customer_id")
    ids = customers["customer_id"].astype(str)
    if ids.duplicated().any():
        raise DataError(f"duplicate customer_id, e.g. {ids[ids.duplicated()].iloc[0]!r}",
                        field="customers.customer_id")
    amount = pd.to_numeric(orders["amount"], errors="coerce")
    bad_amount = (amount.isna() | (amount < 0)).to_numpy()
    if bad_amount.any():
        raise DataError(
            f"{int(bad_amount.sum())} order amount(s) missing, not numbers or negative, "
            f"e.g. {_sample(orders, bad_amount)}",
            field="orders.amount",
        )
    ordered_at = _times(orders, "ordered_at", "orders")
    visit_times = pd.Series(dtype="datetime64[ns]")
    if visits is not None:
        _require(visits, ["customer_id", "visited_at"], "visits")
        visit_times = _times(visits, "visited_at", "visits")
    cutoff = _as_of(as_of, ordered_at, visit_times)

    order_ids = orders["customer_id"].astype(str)
    codes = pd.Index(ids).get_indexer(order_ids)
    unknown = codes < 0
    notes: list[str] = []
    if unknown.any():
        notes.append(
            f"{int(unknown.sum())} order(s) from {order_ids[unknown].nunique()} customer(s) not in "
            f"customers were left out, e.g. {order_ids[unknown].iloc[0]!r}"
        )
        warnings.warn(notes[-1], stacklevel=2)
    keep = ~unknown & (ordered_at <= cutoff).to_numpy()
    codes = codes[keep]
    n = len(ids)
    frequency = np.bincount(codes, minlength=n)
    monetary = np.bincount(codes, weights=amount.to_numpy(dtype=float)[keep], minlength=n)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, codes, ordered_at.to_numpy()[keep].astype("datetime64[us]").astype(np.int64))
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

    segment = np.full(n, None, dtype=object)
    segment[buyer] = _apply_rules(rules, r_score[buyer], f_score[buyer], m_score[buyer], frequency[buyer])
    email = (customers["email_known"].fillna(False).astype(bool).to_numpy()
             if "email_known" in customers.columns else np.zeros(n, dtype=bool))
    segment[~buyer] = np.where(email[~buyer], "loyal_visitor", "engaged_visitor")

    result = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "recency_days": recency,
            "frequency": frequency,
            "monetary": np.where(buyer, monetary, np.nan),
            "r_score": r_score,
            "f_score": f_score,
            "m_score": m_score,
            "segment": segment,
            "stage": [STAGE_OF[s] for s in segment],
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



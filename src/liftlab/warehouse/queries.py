"""The analysis queries, defined once in SQLAlchemy Core and rendered by each engine's dialect.

They compute what `liftlab.aggregate.queries` computes on the store, from a source's raw
relations (`relations.py`): each exposed unit's first exposure (its earliest exposure's
segment and arm, at t0), then per segment × arm n, Σy, Σy², Σx, Σx², Σxy with y the metric in
[t0, t0 + window) and x in [t0 − window, t0) — the CUPED covariate — and the programme's
campaigned units against the global holdout, measured from the experiment's first send.
Only those sums leave the engine. Parameters: `experiment`, `event`, `window_us` (the metric
window) and `until` (epoch µs; exposures and conversions at or after `until` are not counted).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Double,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.sql import ColumnElement, FromClause

_EXPERIMENT = bindparam("experiment")
_EVENT = bindparam("event")
_WINDOW = bindparam("window_us")
_UNTIL = bindparam("until")
_ONE = literal(1.0, Double)
_ZERO = literal(0.0, Double)


def first_exposures(exposures: FromClause) -> FromClause:
    """One row per unit exposed before `until`: unit_id, segment, arm and t0, its earliest
    exposure (ties broken by segment then arm, so every engine picks the same row)."""
    e = exposures.c
    ranked = (
        select(e.unit_id, e.segment, e.arm, e.ts.label("t0"),
               func.row_number().over(partition_by=e.unit_id, order_by=(e.ts, e.segment, e.arm))
               .label("rank"))
        .where(e.experiment == _EXPERIMENT, e.ts < _UNTIL)
        .subquery("ranked")
    )
    r = ranked.c
    return select(r.unit_id, r.segment, r.arm, r.t0).where(r.rank == 1).cte("first_exposure")


def _per_unit(kind: str, value: ColumnElement[Any], condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """A unit's value from its joined events meeting `condition`: for a conversion metric 1
    when any does, else 0; for a revenue metric the sum of their values."""
    if kind == "conversion":
        return func.max(case((condition, _ONE), else_=_ZERO))
    return func.sum(case((condition, value), else_=_ZERO))


def _events_of(unit: ColumnElement[Any], conversions: FromClause) -> ColumnElement[bool]:
    c = conversions.c
    return and_(c.unit_id == unit, c.event == _EVENT, c.ts < _UNTIL)


def arm_sums(exposures: FromClause, conversions: FromClause, kind: str) -> Select[Any]:
    """Per segment × arm: n, sum, sum_sq, x_sum, x_sum_sq, xy_sum, ordered by segment, arm.

    Units without any event in [t0 − window, t0 + window) have y = x = 0: they count in n and
    add nothing to the sums, so only units with events are grouped one by one.
    """
    first = first_exposures(exposures)
    f, c = first.c, conversions.c
    counts = (select(f.segment, f.arm, func.count().label("n"))
              .group_by(f.segment, f.arm).subquery("counts"))
    window = and_(_events_of(f.unit_id, conversions), c.ts >= f.t0 - _WINDOW, c.ts < f.t0 + _WINDOW)
    hits = (
        select(f.segment, f.arm, _per_unit(kind, c.value, c.ts >= f.t0).label("y"),
               _per_unit(kind, c.value, c.ts < f.t0).label("x"))
        .select_from(first.join(conversions, window))
        .group_by(f.segment, f.arm, f.unit_id)
        .subquery("hits")
    )
    h = hits.c
    sums = (
        select(h.segment, h.arm, func.sum(h.y).label("s"), func.sum(h.y * h.y).label("s2"),
               func.sum(h.x).label("sx"), func.sum(h.x * h.x).label("sx2"),
               func.sum(h.x * h.y).label("sxy"))
        .group_by(h.segment, h.arm)
        .subquery("sums")
    )
    k, s = counts.c, sums.c
    return (
        select(k.segment, k.arm, k.n,
               func.coalesce(s.s, _ZERO).label("sum"), func.coalesce(s.s2, _ZERO).label("sum_sq"),
               func.coalesce(s.sx, _ZERO).label("x_sum"), func.coalesce(s.sx2, _ZERO).label("x_sum_sq"),
               func.coalesce(s.sxy, _ZERO).label("xy_sum"))
        .select_from(counts.outerjoin(sums, and_(s.segment == k.segment, s.arm == k.arm)))
        .order_by(k.segment, k.arm)
    )


def holdout_sums(
    exposures: FromClause, conversions: FromClause, assignments: FromClause | None, kind: str
) -> Select[Any]:
    """Rows (role, n, sum, sum_sq) for "campaigned" — every exposed unit in the window after
    its first exposure — and, when assignments are declared, "holdout" — the experiment's
    global-holdout units in the window after its first send (n = 0 before any send)."""
    first = first_exposures(exposures)
    f, c = first.c, conversions.c
    everything = true()  # every joined event counts (the window is in the join)
    campaigned = (
        select(_per_unit(kind, c.value, everything).label("y"))
        .select_from(first.join(conversions, and_(_events_of(f.unit_id, conversions),
                                                  c.ts >= f.t0, c.ts < f.t0 + _WINDOW)))
        .group_by(f.segment, f.arm, f.unit_id)
        .subquery("campaigned")
    )
    exposed = select(func.count()).select_from(first).scalar_subquery()
    rows = [select(literal("campaigned").label("role"), exposed.label("n"),
                   func.coalesce(func.sum(campaigned.c.y), _ZERO).label("sum"),
                   func.coalesce(func.sum(campaigned.c.y * campaigned.c.y), _ZERO).label("sum_sq"))
            .select_from(campaigned)]
    if assignments is not None:
        a = assignments.c
        send = select(func.min(f.t0).label("t0")).subquery("send")
        is_held = and_(a.experiment == _EXPERIMENT, a.holdout == 1)
        held = (
            select(_per_unit(kind, c.value, everything).label("y"))
            .select_from(assignments.join(send, true()).join(
                conversions, and_(_events_of(a.unit_id, conversions),
                                  c.ts >= send.c.t0, c.ts < send.c.t0 + _WINDOW)))
            .where(is_held)
            .group_by(a.unit_id)
            .subquery("held")
        )
        sent = select(func.min(f.t0)).select_from(first).scalar_subquery()
        held_n = select(func.count()).select_from(assignments).where(is_held).scalar_subquery()
        rows.append(select(literal("holdout").label("role"),
                           case((sent.is_(None), 0), else_=held_n).label("n"),
                           func.coalesce(func.sum(held.c.y), _ZERO).label("sum"),
                           func.coalesce(func.sum(held.c.y * held.c.y), _ZERO).label("sum_sq"))
                    .select_from(held))
    return union_all(*rows) if len(rows) > 1 else rows[0]  # type: ignore[return-value]

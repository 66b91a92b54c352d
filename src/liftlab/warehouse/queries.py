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

    Each exposed unit's y and x come from one outer join of its first exposure to its events
    in [t0 − window, t0 + window): a unit without any has y = x = 0 and still counts in n. The
    first exposures are referenced once, so an engine that inlines CTEs (Spark) ranks the
    exposures once per query.
    """
    first = first_exposures(exposures)
    f, c = first.c, conversions.c
    window = and_(_events_of(f.unit_id, conversions), c.ts >= f.t0 - _WINDOW, c.ts < f.t0 + _WINDOW)
    units = (
        select(f.segment, f.arm, _per_unit(kind, c.value, c.ts >= f.t0).label("y"),
               _per_unit(kind, c.value, c.ts < f.t0).label("x"))
        .select_from(first.outerjoin(conversions, window))
        .group_by(f.segment, f.arm, f.unit_id)
        .subquery("units")
    )
    u = units.c
    return (
        select(u.segment, u.arm, func.count().label("n"), func.sum(u.y).label("sum"),
               func.sum(u.y * u.y).label("sum_sq"), func.sum(u.x).label("x_sum"),
               func.sum(u.x * u.x).label("x_sum_sq"), func.sum(u.x * u.y).label("xy_sum"))
        .group_by(u.segment, u.arm)
        .order_by(u.segment, u.arm)
    )


def _role_row(role: str, units: FromClause) -> Select[Any]:
    """One row (role, n, sum, sum_sq) over per-unit values `units.c.y` (n = 0 and zero sums
    when there are no units)."""
    y = units.c.y
    return select(literal(role).label("role"), func.count().label("n"),
                  func.coalesce(func.sum(y), _ZERO).label("sum"),
                  func.coalesce(func.sum(y * y), _ZERO).label("sum_sq")).select_from(units)


def holdout_sums(
    exposures: FromClause, conversions: FromClause, assignments: FromClause | None, kind: str
) -> Select[Any]:
    """Rows (role, n, sum, sum_sq) for "campaigned" — every exposed unit in the window after
    its first exposure — and, when assignments are declared, "holdout" — the experiment's
    global-holdout units in the window after its first send (n = 0 before any send)."""
    first = first_exposures(exposures)
    f, c = first.c, conversions.c
    matched = c.ts.is_not(None)  # every joined event counts (the window is in the join)
    campaigned = (
        select(_per_unit(kind, c.value, matched).label("y"))
        .select_from(first.outerjoin(conversions, and_(_events_of(f.unit_id, conversions),
                                                       c.ts >= f.t0, c.ts < f.t0 + _WINDOW)))
        .group_by(f.segment, f.arm, f.unit_id)
        .subquery("campaigned")
    )
    rows = [_role_row("campaigned", campaigned)]
    if assignments is not None:
        a, e = assignments.c, exposures.c
        # The first send is the earliest exposure: a plain minimum, no ranking.
        send = (select(func.min(e.ts).label("t0"))
                .where(e.experiment == _EXPERIMENT, e.ts < _UNTIL).subquery("send"))
        held = (
            select(_per_unit(kind, c.value, matched).label("y"))
            .select_from(
                assignments.join(send, send.c.t0.is_not(None)).outerjoin(
                    conversions, and_(_events_of(a.unit_id, conversions),
                                      c.ts >= send.c.t0, c.ts < send.c.t0 + _WINDOW)))
            .where(a.experiment == _EXPERIMENT, a.holdout == 1)
            .group_by(a.unit_id)
            .subquery("held")
        )
        rows.append(_role_row("holdout", held))
    return union_all(*rows) if len(rows) > 1 else rows[0]  # type: ignore[return-value]

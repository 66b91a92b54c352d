"""A synthetic shop and campaign with known truth: what `liftlab demo` and the tests run on.

`simulate_shop` draws customers, orders and site visits whose RFM profile spans all eleven
lifecycle segments. `simulate_campaign` then plays a campaign for assigned customers: every
customer in a campaign (control included) is exposed at send time, and purchases follow a
per-customer propensity multiplied by the arm's planted relative uplift. Because the truth is
planted, a report can be checked against it.

Everything is vectorised numpy; a fixed seed gives the same shop and the same campaign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

import numpy as np
import pandas as pd

from liftlab.config.model import Experiment

DAY_US = 86_400 * 1_000_000

#: Chance of a purchase within a 14-day window for an average customer of each segment.
BASELINE_RATE: dict[str, float] = {
    "engaged_visitor": 0.01,
    "loyal_visitor": 0.02,
    "first_time": 0.05,
    "recent": 0.07,
    "promising": 0.06,
    "potential_loyalist": 0.10,
    "loyal": 0.14,
    "champion": 0.20,
    "cant_lose": 0.06,
    "at_risk": 0.05,
    "hibernating": 0.02,
}
#: Mean order value by segment (currency units).
ORDER_VALUE: dict[str, float] = {
    "engaged_visitor": 40.0,
    "loyal_visitor": 45.0,
    "first_time": 55.0,
    "recent": 60.0,
    "promising": 45.0,
    "potential_loyalist": 80.0,
    "loyal": 90.0,
    "champion": 120.0,
    "cant_lose": 110.0,
    "at_risk": 85.0,
    "hibernating": 40.0,
}


@dataclass(frozen=True)
class Shop:
    """Customers, orders and visits, in the columns `segment_customers` reads."""

    customers: pd.DataFrame  # customer_id, email_known
    orders: pd.DataFrame  # customer_id, ordered_at, amount
    visits: pd.DataFrame  # customer_id, visited_at
    as_of: date


@dataclass(frozen=True)
class CampaignData:
    """What the campaign tool and the shop would send liftlab, plus the planted truth.

    `truth` has one row per segment × treatment arm × metric with the true absolute uplift
    (difference in means between arm and control, over the segment's customers).
    """

    exposures: pd.DataFrame  # experiment, unit_id, segment, arm, channel, timestamp
    conversions: pd.DataFrame  # unit_id, event, value, timestamp
    truth: pd.DataFrame  # segment, arm, metric, true_abs_uplift, true_rel_uplift


def _customer_ids(n: int) -> np.ndarray:
    return np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object)


def simulate_shop(n_customers: int = 20_000, *, seed: int = 7, as_of: date | None = None) -> Shop:
    """A shop with a realistic lifecycle mix: visitors, one-timers, regulars, lapsed big spenders.

    Each customer gets a latent purchase rate (gamma: most buy rarely, a few often), a spend
    level (lognormal) and an activity span ending some time before `as_of` (recently active
    customers and long-lapsed ones both appear). About 15% only ever visited.
    """
    rng = np.random.default_rng(seed)
    as_of = as_of or date(2026, 10, 1)
    ids = _customer_ids(n_customers)
    email_known = rng.random(n_customers) < 0.45

    visitor = rng.random(n_customers) < 0.15
    # Orders per customer over two years: gamma-Poisson (negative binomial), at least one.
    rate = rng.gamma(shape=0.9, scale=4.0, size=n_customers)
    n_orders = np.where(visitor, 0, 1 + rng.poisson(rate))
    # Days since the last order: a mix of active (weeks) and lapsed (many months) customers.
    lapsed = rng.random(n_customers) < 0.4
    last_gap = np.where(lapsed, rng.uniform(120, 700, n_customers), rng.exponential(35, n_customers))
    span = rng.uniform(30, 700, n_customers)  # days from first to last order
    spend_level = rng.lognormal(mean=np.log(50), sigma=0.6, size=n_customers)

    owner = np.repeat(np.arange(n_customers), n_orders)
    # First order sits at offset 0, last at `span`, the rest uniformly between.
    position = rng.random(owner.size)
    starts = np.concatenate(([0], np.cumsum(n_orders)[:-1]))
    is_last = np.zeros(owner.size, dtype=bool)
    is_last[(starts + n_orders - 1)[n_orders > 0]] = True
    is_first = np.zeros(owner.size, dtype=bool)
    is_first[starts[n_orders > 0]] = True
    position[is_last] = 1.0
    position[is_first & ~is_last] = 0.0
    days_ago = last_gap[owner] + (1.0 - position) * span[owner] * (n_orders[owner] > 1)
    as_of_ts = pd.Timestamp(as_of)
    ordered_at = as_of_ts - pd.to_timedelta(np.round(days_ago * 24), unit="h")
    amount = np.round(spend_level[owner] * rng.lognormal(0.0, 0.35, owner.size), 2)
    orders = pd.DataFrame({"customer_id": ids[owner], "ordered_at": ordered_at, "amount": amount})

    n_visits = np.where(visitor, 1 + rng.poisson(3, n_customers), rng.poisson(2, n_customers))
    visit_owner = np.repeat(np.arange(n_customers), n_visits)
    visit_days = rng.exponential(60, visit_owner.size)
    visits = pd.DataFrame(
        {
            "customer_id": ids[visit_owner],
            "visited_at": as_of_ts - pd.to_timedelta(np.round(visit_days * 24), unit="h"),
        }
    )
    customers = pd.DataFrame({"customer_id": ids, "email_known": email_known})
    return Shop(customers=customers, orders=orders, visits=visits, as_of=as_of)


def simulate_campaign(
    experiment: Experiment,
    assignments: pd.DataFrame,
    uplifts: Mapping[str, Mapping[str, float]],
    *,
    send_date: date | None = None,
    seed: int = 11,
) -> CampaignData:
    """Play `experiment` for the assigned customers and return exposures, conversions, truth.

    `uplifts[segment][arm]` is the planted relative uplift in purchase probability (0.2 = +20%);
    arms not listed have none. Each customer has a propensity (lognormal around the segment's
    baseline) that drives purchases both before the send (the CUPED pre-period) and after it,
    so pre and post are correlated as in a real shop. Some purchases fall outside the metric
    window, as real ones do, and must not count.
    """
    rng = np.random.default_rng(seed)
    send_date = send_date or experiment.start
    window = max(metric.window_days for metric in experiment.metrics)
    active = assignments[~assignments["holdout"].astype(bool)].reset_index(drop=True)
    everyone = assignments.reset_index(drop=True)
    segment = everyone["segment"].to_numpy(dtype=object)
    n = len(everyone)

    base = np.array([BASELINE_RATE.get(s, 0.05) for s in segment]) * window / 14
    propensity = np.minimum(base * rng.lognormal(-0.5, 1.0, n), 0.95)
    value_mean = np.array([ORDER_VALUE.get(s, 60.0) for s in segment])
    arm = everyone["arm"].to_numpy(dtype=object)
    lift = np.array(
        [uplifts.get(s, {}).get(a, 0.0) if a is not None else 0.0 for s, a in zip(segment, arm)]
    )
    p_post = np.clip(propensity * (1.0 + lift), 0.0, 1.0)

    send_us = int(pd.Timestamp(datetime.combine(send_date, time(9, 0))).value // 1000)
    # Exposure: the send moment, spread over the first morning; control is logged too.
    in_campaign = ~everyone["holdout"].astype(bool).to_numpy()
    exposure_us = send_us + rng.integers(0, 3_600_000_000, n)
    exposures = pd.DataFrame(
        {
            "experiment": experiment.key,
            "unit_id": everyone["unit_id"].to_numpy(dtype=object),
            "segment": segment,
            "arm": arm,
            "channel": [_channel(experiment, s) for s in segment],
            "timestamp": pd.to_datetime(exposure_us, unit="us"),
        }
    )[in_campaign].reset_index(drop=True)

    frames = []
    # Pre-period purchases (before exposure) at the untreated propensity.
    pre = rng.random(n) < propensity
    frames.append(_purchases(rng, everyone, pre, exposure_us - _offset_us(rng, n, window), value_mean))
    # In-window purchases at the treated propensity.
    post = rng.random(n) < p_post
    frames.append(_purchases(rng, everyone, post, exposure_us + _offset_us(rng, n, window), value_mean))
    # Purchases well after the window: must not count.
    late = rng.random(n) < propensity * 0.5
    late_us = exposure_us + (window + 1) * DAY_US + _offset_us(rng, n, window)
    frames.append(_purchases(rng, everyone, late, late_us, value_mean))
    conversions = pd.concat(frames, ignore_index=True).sort_values("timestamp", ignore_index=True)

    truth = _truth(experiment, active, propensity[in_campaign], value_mean[in_campaign], uplifts)
    return CampaignData(exposures=exposures, conversions=conversions, truth=truth)


def _channel(experiment: Experiment, segment: str) -> str:
    try:
        return experiment.campaign(segment).channel
    except KeyError:
        return ""


def _offset_us(rng: np.random.Generator, n: int, window_days: int) -> np.ndarray:
    """Uniform offsets inside (0, window) days, kept a minute clear of both edges."""
    return rng.integers(60_000_000, window_days * DAY_US - 60_000_000, n)


def _purchases(
    rng: np.random.Generator,
    units: pd.DataFrame,
    bought: np.ndarray,
    when_us: np.ndarray,
    value_mean: np.ndarray,
) -> pd.DataFrame:
    # Lognormal order values with the segment's mean: E = exp(mu + s^2/2).
    sigma = 0.5
    values = value_mean[bought] * rng.lognormal(-sigma**2 / 2, sigma, int(bought.sum()))
    return pd.DataFrame(
        {
            "unit_id": units["unit_id"].to_numpy(dtype=object)[bought],
            "event": "purchase",
            "value": np.round(values, 2),
            "timestamp": pd.to_datetime(when_us[bought], unit="us"),
        }
    )


def _truth(
    experiment: Experiment,
    active: pd.DataFrame,
    propensity: np.ndarray,
    value_mean: np.ndarray,
    uplifts: Mapping[str, Mapping[str, float]],
) -> pd.DataFrame:
    """True uplift per segment × arm × metric, averaged over the segment's campaign customers."""
    rows = []
    segments = active["segment"].to_numpy(dtype=object)
    for campaign in experiment.campaigns:
        mask = segments == campaign.segment
        if not mask.any():
            continue
        p = propensity[mask]
        v = value_mean[mask]
        for arm in campaign.treatments:
            lift = uplifts.get(campaign.segment, {}).get(arm.key, 0.0)
            treated = np.clip(p * (1.0 + lift), 0.0, 1.0)
            for metric in experiment.metrics:
                if metric.kind == "conversion":
                    control_mean, arm_mean = p.mean(), treated.mean()
                else:
                    control_mean, arm_mean = (p * v).mean(), (treated * v).mean()
                rows.append(
                    {
                        "segment": campaign.segment,
                        "arm": arm.key,
                        "metric": metric.key,
                        "true_abs_uplift": arm_mean - control_mean,
                        "true_rel_uplift": arm_mean / control_mean - 1.0 if control_mean else 0.0,
                    }
                )
    return pd.DataFrame(rows)


__all__ = ["CampaignData", "Shop", "simulate_campaign", "simulate_shop"]

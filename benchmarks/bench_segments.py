"""RFM segmentation speed: `segment_customers` vs a plain pandas groupby, integer and text ids.

Run: python benchmarks/bench_segments.py [CUSTOMERS] [ORDERS] [REPEATS]
     (default 1,000,000 customers, 10,000,000 orders, best of 1)

The baseline (issue #15) is what an analyst would write by hand, with no liftlab code in it:
`orders.groupby("customer_id")` taking the latest order date, the order count and the sum of
amounts, then rank-based 1–5 quintile scores for R, F and M. `segment_customers` does more
(checks every input value, applies `as_of`, keeps customers without orders, names the
segment), so a ratio near 1 means the checks and rules cost little.

Rows printed per id type: liftlab seconds, baseline seconds, ratio liftlab / baseline (< 1 is
faster). Targets: integer ids ≤ 1.2, text ids < 1.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from liftlab.lifecycle.rfm import segment_customers

AS_OF = pd.Timestamp("2026-10-01 23:59:59.999999")


def shop(n_customers: int, n_orders: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Distinct integer ids in shuffled order, email flags, and orders as (owner row, date, amount)."""
    rng = np.random.default_rng(seed)
    # Distinct ids spread over a wide range, in no particular order (as a shop's database keys
    # look after deletions and merges), not 0..n-1 in order.
    ids = rng.permutation(np.unique(rng.integers(1, 2**40, int(n_customers * 1.05)))[:n_customers])
    email = rng.random(n_customers) < 0.4
    # Most orders spread over everyone, some piled on a few heavy buyers.
    owner = np.where(rng.random(n_orders) < 0.7, rng.integers(0, n_customers, n_orders),
                     rng.zipf(1.6, n_orders) % n_customers)
    orders = pd.DataFrame({
        "owner": owner,
        "ordered_at": pd.Timestamp("2026-10-01") - pd.to_timedelta(rng.integers(0, 730 * 24, n_orders), unit="h"),
        "amount": rng.lognormal(3.8, 0.7, n_orders).round(2),
    })
    return ids, email, orders


def tables(ids: pd.Series, order_ids: pd.Series, email: np.ndarray,
           orders: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customers and orders tables with `ids` and `order_ids` as customer_id."""
    customers = pd.DataFrame({"customer_id": ids, "email_known": email})
    order_table = pd.DataFrame({
        "customer_id": order_ids,
        "ordered_at": orders["ordered_at"],
        "amount": orders["amount"],
    })
    return customers, order_table


def baseline(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Issue #15's baseline: groupby (max date, count, sum), then rank-based 1–5 quintile scores."""
    rfm = orders.groupby("customer_id").agg(last=("ordered_at", "max"), frequency=("amount", "size"),
                                            monetary=("amount", "sum"))
    recency = (as_of - rfm["last"]) / pd.Timedelta(days=1)
    rfm["r_score"] = np.ceil(recency.rank(pct=True, ascending=False) * 5).clip(1, 5).astype(int)
    rfm["f_score"] = np.ceil(rfm["frequency"].rank(pct=True) * 5).clip(1, 5).astype(int)
    rfm["m_score"] = np.ceil(rfm["monetary"].rank(pct=True) * 5).clip(1, 5).astype(int)
    return rfm


def best_of(repeats: int, run: Callable[[], object]) -> tuple[float, object]:
    """The fastest of `repeats` runs, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(n_customers: int, n_orders: int, repeats: int) -> None:
    start = time.perf_counter()
    ids, email, orders = shop(n_customers, n_orders)
    owner_ids = ids[orders["owner"].to_numpy()]
    text, order_text = [f"C{i:013d}" for i in ids], [f"C{i:013d}" for i in owner_ids]
    # Text ids as a file or a database driver hands them over: one string per cell, in row
    # order — pandas' default string dtype (what pd.read_csv gives) and Python objects.
    kinds = {
        "integer": (pd.Series(ids, dtype="int64"), pd.Series(owner_ids, dtype="int64")),
        "text": (pd.Series(text, dtype="str"), pd.Series(order_text, dtype="str")),
        "text (object)": (pd.Series(text, dtype=object), pd.Series(order_text, dtype=object)),
    }
    del text, order_text
    print(f"generated {n_customers:,} customers and {n_orders:,} orders in {time.perf_counter() - start:.1f} s"
          f" (best of {repeats})")
    print(f"{'customer_id':<14} {'liftlab':>9} {'baseline':>9} {'ratio':>7}")
    for kind, (customer_ids, order_ids) in kinds.items():
        customers, order_table = tables(customer_ids, order_ids, email, orders)
        base_s, _ = best_of(repeats, lambda: baseline(order_table, AS_OF))
        ours_s, result = best_of(repeats, lambda: segment_customers(customers, order_table, as_of="2026-10-01"))
        assert isinstance(result, pd.DataFrame) and len(result) == n_customers
        print(f"{kind:<14} {ours_s:8.2f}s {base_s:8.2f}s {ours_s / base_s:6.2f}x", flush=True)
        del customers, order_table, result


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    main(*(args + [1_000_000, 10_000_000, 1][len(args):]))

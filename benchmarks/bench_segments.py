"""RFM segmentation speed: customers and orders per second, vs a pandas groupby baseline.

Run: python benchmarks/bench_segments.py [CUSTOMERS] [ORDERS]   (default 1,000,000 and 10,000,000)
Target: seconds, not minutes, for a million customers with ten million orders.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from liftlab.lifecycle.rfm import segment_customers


def main(n_customers: int, n_orders: int) -> None:
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    ids = pd.Series([f"C{i:08d}" for i in range(n_customers)], dtype=object)
    customers = pd.DataFrame({"customer_id": ids, "email_known": rng.random(n_customers) < 0.4})
    # Most orders spread over everyone, some piled on a few heavy buyers.
    owner = np.where(rng.random(n_orders) < 0.7, rng.integers(0, n_customers, n_orders),
                     rng.zipf(1.6, n_orders) % n_customers)
    orders = pd.DataFrame({
        "customer_id": ids.to_numpy()[owner],
        "ordered_at": pd.Timestamp("2026-10-01") - pd.to_timedelta(rng.integers(0, 730 * 24, n_orders), unit="h"),
        "amount": rng.lognormal(3.8, 0.7, n_orders).round(2),
    })
    print(f"generated {n_customers:,} customers and {n_orders:,} orders in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    baseline = orders.groupby("customer_id").agg(last=("ordered_at", "max"), n=("amount", "size"), total=("amount", "sum"))
    base_s = time.perf_counter() - start
    del baseline

    start = time.perf_counter()
    result = segment_customers(customers, orders, as_of="2026-10-01")
    took = time.perf_counter() - start
    print(f"  segment_customers          {took:6.2f} s  ({n_orders / took / 1e6:.2f} M orders/s, "
          f"{n_customers / took / 1e6:.2f} M customers/s)")
    print(f"  pandas groupby (R, F, M only, no scores or rules) {base_s:6.2f} s  -> ratio {base_s / took:.2f}x")
    print(result["segment"].value_counts().to_string())


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [1_000_000, 10_000_000][len(args):]))

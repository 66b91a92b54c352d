"""Hashing and assignment speed: liftlab vs a compiled FNV-1a kernel, and vs GrowthBook's SDK.

Run: python benchmarks/bench_assignment.py [N]   (default 10,000,000 ids; assign() uses N/10)

Rows (issue #15), each against a baseline measured in the same run:
- `bucket_many` (hash version 2) on N ASCII ids ("cust-000000042") and N UUID strings, read
  from a pandas `str` column (Arrow-backed), vs a compiled FNV-1a kernel: a few lines of C
  built here with gcc and called through ctypes on the same Arrow data buffer and offsets,
  doing the whole version 2 hash (FNV-1a of salt + id, its decimal text, FNV-1a again,
  % 10000 / 10000). The kernel is also timed "including the conversion from Python strings"
  (ids in a Python list: join, encode, offsets, kernel). No gcc: those rows are skipped.
- `assign()` customers/s on N/10 customers: one experiment, a global holdout and a layer.
- `assign_one` µs per call vs GrowthBook's SDK `GrowthBook.run()` on the same experiment.

Targets: >= 10 M ids/s (ASCII), >= 5 M ids/s (UUIDs), assign() >= 3 M customers/s,
assign_one <= 10 µs.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from liftlab import Arm, Campaign, Experiment, Metric, Project
from liftlab.assignment.arms import assign, assign_one
from liftlab.assignment.hashing import bucket_many, fnv1a32

SALT = "winback-2026q4"

KERNEL = r"""
#include <stdint.h>

/* GrowthBook hash version 2 over ASCII ids: fnv1a32(str(fnv1a32(salt + id))) % 10000 / 10000.
   `prefix` is fnv1a32(salt); `offsets` has n + 1 entries into `data`. */
void bucket_v2(const uint8_t *data, const int64_t *offsets, int64_t n, uint32_t prefix,
               double *out) {
    char digits[12];
    for (int64_t i = 0; i < n; i++) {
        uint32_t h = prefix;
        for (int64_t j = offsets[i]; j < offsets[i + 1]; j++) {
            h ^= data[j];
            h *= 16777619u;
        }
        int k = 0;
        do { digits[k++] = (char)('0' + h % 10); h /= 10; } while (h);
        uint32_t g = 2166136261u;
        while (k) { g ^= (uint8_t)digits[--k]; g *= 16777619u; }
        out[i] = (double)(g % 10000) / 10000.0;
    }
}
"""


def build_kernel(workdir: Path) -> Callable[..., None] | None:
    """The C kernel as a ctypes function, or None (with a message) when gcc is absent."""
    gcc = shutil.which("gcc")
    if gcc is None:
        print("  (gcc not found: the compiled-kernel baseline rows are skipped)")
        return None
    source, library = workdir / "fnv.c", workdir / "fnv.so"
    source.write_text(KERNEL)
    subprocess.run([gcc, "-O3", "-shared", "-fPIC", str(source), "-o", str(library)], check=True)
    function = ctypes.CDLL(str(library)).bucket_v2
    function.restype = None
    function.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint32, ctypes.c_void_p
    ]
    return function


def arrow_column(matrix: np.ndarray) -> pd.Series:
    """Equal-length ASCII ids (rows of a uint8 matrix) as a pandas `str` column over Arrow."""
    n, width = matrix.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    array = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(matrix).tobytes())
    )
    return pd.Series(pd.array(array, dtype="str"))


def ascii_ids(n: int) -> pd.Series:
    """'cust-000000000', 'cust-000000001', …: zero-padded like most customer codes."""
    numbers = np.arange(n, dtype=np.int64)
    digits = (numbers[:, None] // 10 ** np.arange(8, -1, -1)) % 10 + ord("0")
    prefix = np.broadcast_to(np.frombuffer(b"cust-", dtype=np.uint8), (n, 5))
    return arrow_column(np.hstack([prefix, digits.astype(np.uint8)]))


def uuid_ids(n: int, seed: int = 15) -> pd.Series:
    """Random UUID strings, 36 characters: 8-4-4-4-12 lowercase hex digits."""
    nibbles = np.random.default_rng(seed).integers(0, 16, size=(n, 32), dtype=np.uint8)
    hex_digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    parts = [hex_digits[:, :8], hex_digits[:, 8:12], hex_digits[:, 12:16], hex_digits[:, 16:20]]
    pieces = [p for part in parts for p in (part, dash)] + [hex_digits[:, 20:]]
    return arrow_column(np.hstack(pieces))


def kernel_on_arrow(kernel: Callable[..., None], ids: pd.Series) -> np.ndarray:
    array = pa.array(ids.array)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    _, offsets, data = array.buffers()
    out = np.empty(len(array), dtype=np.float64)
    kernel(data.address, offsets.address + 8 * array.offset, len(array), fnv1a32(SALT),
           out.ctypes.data)
    return out


def kernel_from_python(kernel: Callable[..., None], ids: list[str]) -> np.ndarray:
    """The kernel including the conversion from Python strings (ASCII: bytes = characters)."""
    data = "".join(ids).encode("utf-8")
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, ids), dtype=np.int64, count=len(ids)), out=offsets[1:])
    out = np.empty(len(ids), dtype=np.float64)
    kernel(data, offsets.ctypes.data, len(ids), fnv1a32(SALT), out.ctypes.data)
    return out


def timed(function: Callable[[], np.ndarray], repeats: int = 3) -> tuple[float, np.ndarray]:
    """Best wall time of `repeats` runs (the machine is shared and noisy), and the result."""
    best, result = float("inf"), np.empty(0)
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_hashing(name: str, ids: pd.Series, kernel: Callable[..., None] | None) -> float:
    n = len(ids)
    print(f"\n{n:,} {name} ids, pandas {ids.dtype} column (Arrow-backed)")
    ours_s, ours = timed(lambda: bucket_many(SALT, ids))
    rate = n / ours_s
    print(f"  liftlab bucket_many                   {rate / 1e6:7.2f} M ids/s  ({ours_s:.2f} s)")
    if kernel is None:
        return rate
    kernel_s, theirs = timed(lambda: kernel_on_arrow(kernel, ids))
    assert np.array_equal(ours, theirs), "bucket_many differs from the compiled kernel"
    kernel_rate = n / kernel_s
    print(f"  compiled FNV-1a kernel, Arrow buffer  {kernel_rate / 1e6:7.2f} M ids/s  "
          f"({kernel_s:.2f} s)")
    print(f"  ratio liftlab / kernel                {rate / kernel_rate:7.2f}x")
    strings = ids.tolist()
    python_s, theirs = timed(lambda: kernel_from_python(kernel, strings))
    assert np.array_equal(ours, theirs), "bucket_many differs from the compiled kernel"
    python_rate = n / python_s
    print(f"  kernel incl. conversion from Python   {python_rate / 1e6:7.2f} M ids/s  "
          f"({python_s:.2f} s)")
    print(f"  ratio liftlab / that                  {rate / python_rate:7.2f}x")
    list_s, _ = timed(lambda: bucket_many(SALT, strings), repeats=1)
    print(f"  (liftlab bucket_many from that Python list: {n / list_s / 1e6:.2f} M ids/s)")
    del strings
    return rate


def bench_experiment() -> tuple[Experiment, Project]:
    experiment = Experiment(
        key="bench", start=date(2026, 1, 1), layer="email", layer_range=(0.0, 0.5),
        metrics=(Metric("purchase", "conversion"),),
        campaigns=(
            Campaign("at_risk", arms=(Arm("control", 0.2, control=True), Arm("offer", 0.8))),
        ),
    )
    return experiment, Project(holdout_fraction=0.05, holdout_salt="global")


def bench_assign(n: int) -> float:
    experiment, project = bench_experiment()
    customers = pd.DataFrame({"unit_id": ascii_ids(n), "segment": "at_risk"})
    assign(experiment, customers.head(1_000), project)  # warm the caches
    seconds, _ = timed(lambda: assign(experiment, customers, project).assignments)
    rate = n / seconds
    print(f"\nassign(), {n:,} customers, holdout + layer + arms")
    print(f"  liftlab assign()                      {rate / 1e6:7.2f} M customers/s  "
          f"({seconds:.2f} s)")
    return rate


def per_call_us(call: Callable[[str], object], ids: list[str], batches: int = 10) -> float:
    """µs per call: the best of `batches` passes over `ids` (the machine is shared and noisy)."""
    best = float("inf")
    for _ in range(batches):
        start = time.perf_counter()
        for unit_id in ids:
            call(unit_id)
        best = min(best, time.perf_counter() - start)
    return best / len(ids) * 1e6


def bench_assign_one(calls: int = 2_000) -> float:
    experiment, project = bench_experiment()
    ids = [f"cust-{i:09d}" for i in range(calls)]
    ours = per_call_us(lambda unit_id: assign_one(experiment, unit_id, "at_risk", project), ids)
    print(f"\nassign_one, best of 10 passes over {calls:,} ids")
    print(f"  liftlab assign_one                    {ours:7.2f} us per call")
    try:
        from growthbook import Experiment as SdkExperiment
        from growthbook import GrowthBook
    except ImportError:
        print("  (growthbook not installed: the SDK baseline row is skipped)")
        return ours
    sdk_experiment = SdkExperiment(
        key="bench", variations=["control", "offer"], weights=[0.2, 0.8], seed="bench",
        hashVersion=2, namespace=("email", 0.0, 0.5),
    )
    growthbook = GrowthBook(attributes={"id": ids[0]})

    def run(unit_id: str) -> object:
        growthbook.set_attributes({"id": unit_id})
        return growthbook.run(sdk_experiment)

    theirs = per_call_us(run, ids)
    print(f"  GrowthBook SDK GrowthBook.run()       {theirs:7.2f} us per call")
    print(f"  ratio SDK / liftlab                   {theirs / ours:7.2f}x")
    return ours


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        kernel = build_kernel(Path(workdir))
        ascii_rate = bench_hashing("ASCII", ascii_ids(n), kernel)
        uuid_rate = bench_hashing("UUID", uuid_ids(n), kernel)
    assign_rate = bench_assign(max(n // 10, 1))
    one_us = bench_assign_one()
    ok = ascii_rate >= 10e6 and uuid_rate >= 5e6 and assign_rate >= 3e6 and one_us <= 10
    print("\ntargets (ASCII >= 10 M/s, UUID >= 5 M/s, assign() >= 3 M/s, assign_one <= 10 us):",
          "OK" if ok else "MISSED")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)

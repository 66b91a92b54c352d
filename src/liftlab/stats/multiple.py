"""Multiple-comparison corrections across all comparisons in a report.

- `"holm"`: Holm (1979) step-down, controls the family-wise error rate. With p sorted
  ascending, p̃_(i) = max_{j≤i} min(1, (m - j + 1)·p_(j)).
- `"bh"`: Benjamini & Hochberg (1995) step-up, controls the false discovery rate.
  p̃_(i) = min_{j≥i} min(1, m·p_(j)/j).
Both equal statsmodels' `multipletests(..., method="holm" | "fdr_bh")`. nan p-values (e.g.
undefined relative uplifts) are left nan and not counted in m.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from liftlab.errors import LiftlabError


def adjust(
    p_values: Sequence[float] | np.ndarray, method: Literal["holm", "bh"] = "holm"
) -> np.ndarray:
    """Adjusted p-values, same order and shape as the input."""
    p = np.asarray(p_values, dtype=float)
    if method not in ("holm", "bh"):
        raise LiftlabError(f"method must be 'holm' or 'bh', got {method!r}", field="method")
    finite = np.isfinite(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise LiftlabError("p-values must lie between 0 and 1", field="p_values")
    out = np.full(p.shape, np.nan)
    values = p[finite]
    m = values.size
    if m == 0:
        return out
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    rank = np.arange(1, m + 1)
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, (m - rank + 1) * ranked))
    else:
        adjusted = np.minimum.accumulate((m * ranked / rank)[::-1])[::-1]
        adjusted = np.minimum(adjusted, 1.0)
    result = np.empty(m)
    result[order] = adjusted
    out[finite] = result
    return out

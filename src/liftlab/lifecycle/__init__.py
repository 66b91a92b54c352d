"""Stage 2, lifecycle segmentation: RFM scores → 11 segments in 5 stages.

`catalog` names the segments and stages; `rfm` scores customers and applies the rules of
`data/segment_rules.toml`; `keys` matches orders to customers by id. Names load on first use
(`liftlab._lazy`): experiment validation reads the catalog without importing pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from liftlab._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "SEGMENTS": "liftlab.lifecycle.catalog",
    "SEGMENT_NAMES": "liftlab.lifecycle.catalog",
    "STAGES": "liftlab.lifecycle.catalog",
    "load_rules": "liftlab.lifecycle.rfm",
    "segment_customers": "liftlab.lifecycle.rfm",
})

if TYPE_CHECKING:
    from liftlab.lifecycle.catalog import SEGMENT_NAMES, SEGMENTS, STAGES
    from liftlab.lifecycle.rfm import load_rules, segment_customers

__all__ = ["SEGMENTS", "SEGMENT_NAMES", "STAGES", "load_rules", "segment_customers"]

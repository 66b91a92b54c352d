"""Stage 2, lifecycle segmentation: RFM scores → 11 segments in 5 stages.

`catalog` names the segments and stages; `rfm` scores customers and applies the rules of
`data/segment_rules.toml`.
"""

from __future__ import annotations

from liftlab.lifecycle.catalog import SEGMENT_NAMES, SEGMENTS, STAGES
from liftlab.lifecycle.rfm import load_rules, segment_customers

__all__ = ["SEGMENTS", "SEGMENT_NAMES", "STAGES", "load_rules", "segment_customers"]

"""The lifecycle vocabulary: eleven segments in five stages.

This is the single list that segmentation produces and that experiment configs and
`liftlab validate` accept. Order runs from the start of the lifecycle to its end.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """A lifecycle segment: its name, its stage and who is in it."""

    name: str
    stage: str
    description: str


STAGES: tuple[str, ...] = ("acquisition", "retention", "growth", "esteem", "reactivation")

SEGMENTS: tuple[Segment, ...] = (
    Segment("engaged_visitor", "acquisition", "visited, no purchase, no email left"),
    Segment("loyal_visitor", "acquisition", "visited and left an email, no purchase"),
    Segment("first_time", "retention", "exactly one purchase"),
    Segment("recent", "retention", "bought recently but not often"),
    Segment("promising", "growth", "occasional small purchases"),
    Segment("potential_loyalist", "growth", "recent, frequent, larger purchases"),
    Segment("loyal", "esteem", "keeps buying and engaging"),
    Segment("champion", "esteem", "best customers: recent, frequent, high spend"),
    Segment("cant_lose", "reactivation", "great customers who no longer buy"),
    Segment("at_risk", "reactivation", "great customers who recently stopped"),
    Segment("hibernating", "reactivation", "low-value customers drifting away"),
)

SEGMENT_NAMES: tuple[str, ...] = tuple(s.name for s in SEGMENTS)
STAGE_OF: dict[str, str] = {s.name: s.stage for s in SEGMENTS}


def is_segment(name: str) -> bool:
    """True when `name` is one of the eleven lifecycle segments."""
    return name in STAGE_OF

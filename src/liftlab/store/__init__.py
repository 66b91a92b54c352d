"""Stage 4, the event store: experiments, assignments, exposures and conversions in SQL.

`event_store` is the API (`EventStore`); `schema` the tables and first-exposure trigger;
`sqlio` the compiled bulk SQL; `events` the row checks; `ingest` reading event files line by
line.
"""

from __future__ import annotations

from liftlab.store.event_store import EventStore

__all__ = ["EventStore"]

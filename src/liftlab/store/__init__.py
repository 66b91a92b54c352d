"""Stage 4, the event store: experiments, assignments, exposures and conversions in SQL.

`event_store` is the API (`EventStore`); `schema` the tables and first-exposure trigger;
`sqlio` the compiled bulk SQL; `events` the row checks; `ingest` reading event files line by
line; `exposure_dates` the rule that an exposure falls in its version's dates; `shares` the
SRM's expected arm shares across config versions; `versions` the config history; `export` the
send list; `urls` the database URL rules; `records` what the store's calls hand back.
"""

from __future__ import annotations

from liftlab.store.event_store import EventStore, ExperimentVersion
from liftlab.store.export import export_send_list
from liftlab.store.versions import VersionEntry, experiment_history

__all__ = ["EventStore", "ExperimentVersion", "VersionEntry", "experiment_history", "export_send_list"]

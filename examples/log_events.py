"""Logging a campaign's sends and the shop's purchases from files, the way `liftlab log` does.

What the store promises, shown on two small files with mistakes in them:
- good rows are kept and bad ones quarantined with their line and reason — including lines
  that are not records at all (a broken JSON line, a CSV line with too many fields);
- loading the same files again stores nothing twice;
- the analysis reads sufficient statistics straight from SQL.

Run:  python examples/log_events.py
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

from liftlab import Arm, Campaign, EventStore, Experiment, Metric, Project, assign
from liftlab.aggregate.queries import aggregate
from liftlab.store.event_store import LogCounts

EXPERIMENT = Experiment(
    key="reactivation-sms",
    start=date(2026, 10, 1),
    metrics=(Metric("purchase", "conversion", window_days=14),),
    campaigns=(Campaign("hibernating", arms=(Arm("control", 0.5, control=True), Arm("sms", 0.5))),),
)


def write_files(folder: Path, assignments: pd.DataFrame) -> tuple[Path, Path]:
    """A sends CSV and a purchases JSON Lines file, each with a few mistakes."""
    sent = assignments[~assignments["holdout"]]
    lines = ["experiment,unit_id,segment,arm,channel,timestamp"]
    lines += [f"{EXPERIMENT.key},{r.unit_id},{r.segment},{r.arm},sms,2026-10-01T10:00:00Z"
              for r in sent.itertuples()]
    lines[3] = lines[3].replace(",sms,", ",sms,extra,")           # line 4: a field too many
    lines[5] = lines[5].replace("2026-10-01T10:00:00Z", "soon")    # line 6: not a time
    arm = sent.iloc[7]["arm"]
    lines[8] = lines[8].replace(f",{arm},", ",vip,")                # line 9: not its arm
    sends = folder / "sends.csv"
    sends.write_text("\n".join(lines) + "\n")

    buyers = sent["unit_id"].iloc[::3]
    records = [json.dumps({"unit_id": u, "event": "purchase", "value": 25.0,
                           "timestamp": "2026-10-04T18:30:00Z"}) for u in buyers]
    records[2] = records[2][:-10]                                   # line 3: broken JSON
    records[4] = records[4].replace("25.0", "-25.0")                # line 5: negative value
    purchases = folder / "purchases.jsonl"
    purchases.write_text("\n".join(records) + "\n")
    return sends, purchases


def run(url: str, folder: Path) -> dict[str, LogCounts]:
    store = EventStore(url)
    store.register_experiment(EXPERIMENT)
    people = pd.DataFrame({"unit_id": [f"h{i:04d}" for i in range(400)], "segment": "hibernating"})
    assignments = assign(EXPERIMENT, people, Project(holdout_fraction=0.05)).assignments
    store.save_assignments(assignments)
    sends, purchases = write_files(folder, assignments)

    counts = {
        "sends": store.log_file("exposures", sends),          # what `liftlab log exposures` does
        "purchases": store.log_file("conversions", purchases),
        "sends again": store.log_file("exposures", sends),
        "purchases again": store.log_file("conversions", purchases),
    }
    for name, c in counts.items():
        print(f"{name:16} {c.inserted:4} inserted  {c.duplicates:4} duplicates  {c.rejected} rejected")
    print("\nQuarantine (each bad line once, however often the file is loaded):")
    rejected = store.quarantine().sort_values(["source", "line"])
    rejected["source"] = rejected["source"].map(lambda source: Path(source).name)
    print(rejected[["source", "line", "reason"]].to_string(index=False))
    print("\nSufficient statistics per segment x arm, from one SQL query:")
    print(aggregate(store, EXPERIMENT, EXPERIMENT.metrics[0]).to_frame().to_string(index=False))
    return counts


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        run(f"sqlite:///{Path(scratch) / 'events.db'}", Path(scratch))

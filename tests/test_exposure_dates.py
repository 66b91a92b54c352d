"""Events must fit the experiment: an exposure outside [start, end] of the version its unit
was assigned under is quarantined with its reason and line; the rows beside it are stored."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from liftlab import Arm, Campaign, EventStore, Experiment, Metric, assign
from liftlab.cli import cli


def _experiment(start: date, end: date | None) -> Experiment:
    return Experiment("dated", (Campaign("at_risk", (Arm("control", 0.5, control=True), Arm("offer", 0.5))),),
                      (Metric("buy", "conversion"),), start, end)


def _store(tmp_path: Path) -> tuple[EventStore, pd.DataFrame]:
    store = EventStore(f"sqlite:///{tmp_path / 'd.db'}")
    first = _experiment(date(2026, 10, 1), date(2026, 10, 31))
    store.register_experiment(first)
    people = pd.DataFrame({"unit_id": [f"u{i}" for i in range(20)], "segment": "at_risk"})
    store.save_assignments(assign(first, people.iloc[:10]).assignments)
    # Version 2 moves the dates: units assigned under it are judged by its dates.
    second = _experiment(date(2026, 11, 1), None)
    store.register_experiment(second)
    store.save_assignments(assign(second, people).assignments)
    return store, store.assignments("dated")


def _sends(assigned: pd.DataFrame, stamps: list[str]) -> pd.DataFrame:
    rows = assigned.iloc[:len(stamps)]
    return pd.DataFrame({"experiment": rows["experiment"], "unit_id": rows["unit_id"], "segment": rows["segment"],
                         "arm": rows["arm"], "channel": "email", "timestamp": stamps})


def test_an_exposure_outside_the_assigning_versions_dates_is_quarantined(tmp_path: Path) -> None:
    store, assigned = _store(tmp_path)
    v1 = assigned[assigned["version"] == 1].reset_index(drop=True)
    v2 = assigned[assigned["version"] == 2].reset_index(drop=True)
    stamps1 = ["2026-10-01T00:00:00Z", "2026-10-31T23:59:59Z",  # first and last moment: inside
               "2026-11-01T00:00:00Z", "2019-05-01T09:00:00Z", "2026-09-30T23:59:59Z"]
    stamps2 = ["2030-01-01T00:00:00Z", "2026-10-15T00:00:00Z"]  # open end; before v2's start
    counts = store.log_exposures(pd.concat([_sends(v1, stamps1), _sends(v2, stamps2)], ignore_index=True))
    assert (counts.inserted, counts.rejected) == (3, 4)
    quarantined = store.quarantine().set_index("line")
    assert sorted(quarantined.index) == [4, 5, 6, 8]  # DataFrame rows counted from line 2
    assert "outside the experiment's dates [2026-10-01, 2026-10-31] (config version 1" in quarantined.at[5, "reason"]
    assert "exposure at 2019-05-01T09:00:00+00:00" in quarantined.at[5, "reason"]
    assert "[2026-11-01, open] (config version 2" in quarantined.at[8, "reason"]
    assert '"unit_id": "' in quarantined.at[4, "payload"]
    assert store.count("exposures") == 3
    # Loading the same rows again stores and quarantines nothing twice.
    again = store.log_exposures(pd.concat([_sends(v1, stamps1), _sends(v2, stamps2)], ignore_index=True))
    assert (again.inserted, again.duplicates, again.rejected) == (0, 3, 4) and len(store.quarantine()) == 4


def test_cli_log_quarantines_an_exposure_years_before_the_start(tmp_path: Path) -> None:
    store, assigned = _store(tmp_path)
    sends = tmp_path / "sends.csv"
    _sends(assigned[assigned["version"] == 1], ["2026-10-02T09:00:00Z", "2023-10-02T09:00:00Z"]).assign(
        event_id=["e1", "e2"]).to_csv(sends, index=False)
    result = CliRunner().invoke(cli, ["log", "exposures", str(sends), "--db", store.url])
    assert result.exit_code == 1, result.output
    assert "line 3" in result.output and "outside the experiment's dates" in result.output
    assert store.count("exposures") == 1

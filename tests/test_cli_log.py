"""`liftlab log` through CliRunner: summaries, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from liftlab.cli import cli
from liftlab.store.event_store import EventStore


def _conversions(path: Path, bad: bool = False) -> None:
    rows = pd.DataFrame({"unit_id": [f"u{i}" for i in range(100)], "event": "purchase",
                         "value": [str(float(i)) for i in range(100)], "timestamp": "2026-10-02T10:00:00Z"})
    if bad:
        rows.loc[3, "value"] = "lots"
        rows.loc[7, "timestamp"] = "yesterday"
    rows.to_csv(path, index=False)


def test_log_conversions_csv_twice(tmp_path: Path) -> None:
    source, db = tmp_path / "conv.csv", f"sqlite:///{tmp_path / 'x.db'}"
    _conversions(source)
    first = CliRunner().invoke(cli, ["log", "conversions", str(source), "--db", db])
    assert first.exit_code == 0, first.output
    assert "100 inserted, 0 duplicates, 0 rejected" in first.output
    second = CliRunner().invoke(cli, ["log", "conversions", str(source), "--db", db])
    assert "0 inserted, 100 duplicates, 0 rejected" in second.output


def test_rejected_rows_exit_1_with_line_numbers(tmp_path: Path) -> None:
    source, db = tmp_path / "conv.csv", f"sqlite:///{tmp_path / 'x.db'}"
    _conversions(source, bad=True)
    result = CliRunner().invoke(cli, ["log", "conversions", str(source), "--db", db])
    assert result.exit_code == 1
    assert "98 inserted, 0 duplicates, 2 rejected" in result.output
    assert "line 5: field 'value' is not a number" in result.output  # row 3 + header + 1
    assert "line 9: unparseable timestamp" in result.output
    assert EventStore(db).count("quarantine") == 2


def test_jsonl_and_unreadable_files(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    lines = tmp_path / "conv.jsonl"
    lines.write_text("\n".join(json.dumps({"unit_id": f"j{i}", "event": "visit", "value": 1,
                                           "timestamp": "2026-10-02T10:00:00Z"}) for i in range(5)))
    ok = CliRunner().invoke(cli, ["log", "conversions", str(lines), "--db", db])
    assert ok.exit_code == 0 and "5 inserted" in ok.output
    broken = tmp_path / "broken.jsonl"
    good_line = json.dumps({"unit_id": "k", "event": "visit", "value": 1, "timestamp": "2026-10-02T10:00:00Z"})
    broken.write_text('{"unit_id": "a"\nnot json at all\n' + good_line + "\n")
    bad = CliRunner().invoke(cli, ["log", "conversions", str(broken), "--db", db])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "1 inserted, 0 duplicates, 2 rejected" in bad.output  # the good line is kept
    assert "line 1: not valid JSON" in bad.output and "line 2: not valid JSON" in bad.output
    missing = CliRunner().invoke(cli, ["log", "exposures", str(tmp_path / "nope.csv"), "--db", db])
    assert missing.exit_code == 2 and "no such file" in missing.output
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage\n\x89PNG\n")
    unreadable = CliRunner().invoke(cli, ["log", "conversions", str(binary), "--db", db])
    assert unreadable.exit_code == 2 and "bin.csv:1" in unreadable.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert CliRunner().invoke(cli, ["log", "conversions", str(empty), "--db", db]).exit_code == 2


def _registered_store(db: str, n: int) -> pd.DataFrame:
    """A store with one experiment and n assigned customers; returns their non-holdout rows."""
    from datetime import date

    from liftlab import Arm, Campaign, Experiment, Metric, Project, assign

    experiment = Experiment(key="tenth", start=date(2026, 10, 1), metrics=(Metric("purchase", "conversion"),), campaigns=(
        Campaign("at_risk", arms=(Arm("control", 0.5, control=True), Arm("offer", 0.5))),))
    store = EventStore(db)
    store.register_experiment(experiment)
    people = pd.DataFrame({"unit_id": [f"c{i}" for i in range(n)], "segment": "at_risk"})
    assigned = assign(experiment, people, Project(holdout_fraction=0.0)).assignments
    store.save_assignments(assigned)
    return assigned


def test_a_file_with_ten_percent_bad_rows_keeps_every_good_row(tmp_path: Path) -> None:
    """Exposures CSV: missing fields, bad timestamps, unknown arms, wrong segments, blanks."""
    import numpy as np

    db = f"sqlite:///{tmp_path / 'x.db'}"
    assigned = _registered_store(db, 2_000)
    rows = pd.DataFrame({"experiment": "tenth", "unit_id": assigned["unit_id"], "segment": "at_risk",
                         "arm": assigned["arm"], "channel": "email",
                         "timestamp": "2026-10-01T09:00:00Z"}).astype(object)
    rng = np.random.default_rng(3)
    bad_rows = rng.choice(len(rows), 200, replace=False)
    damage = [("unit_id", None, "missing field 'unit_id'"), ("timestamp", "31/31/2026", "unparseable timestamp"),
              ("arm", "bogus", "arm differs"), ("segment", "champion", "segment differs"),
              ("experiment", "  ", "field 'experiment' is blank")]
    expected = {}
    for i, row in enumerate(bad_rows):
        column, value, reason = damage[i % len(damage)]
        rows.at[row, column] = value
        expected[int(row) + 2] = reason  # header is line 1
    source = tmp_path / "sends.csv"
    rows.to_csv(source, index=False)

    result = CliRunner().invoke(cli, ["log", "exposures", str(source), "--db", db])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "1,800 inserted, 0 duplicates, 200 rejected" in result.output
    store = EventStore(db)
    quarantine = store.quarantine().set_index("line")
    assert sorted(quarantine.index) == sorted(expected)
    for line, reason in expected.items():
        assert reason in quarantine.loc[line, "reason"], (line, quarantine.loc[line, "reason"])
    with store.engine.connect() as conn:
        kept = set(pd.read_sql_query("SELECT unit_id FROM exposures", conn)["unit_id"])
    assert kept == set(rows.drop(index=bad_rows)["unit_id"])

    again = CliRunner().invoke(cli, ["log", "exposures", str(source), "--db", db])
    assert "0 inserted, 1,800 duplicates, 200 rejected" in again.output
    assert store.count("exposures") == 1_800 and store.count("quarantine") == 200  # nothing twice


def test_jsonl_with_wrong_types_and_nan_values(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    good = [{"unit_id": f"j{i}", "event": "purchase", "value": 10.0 + i, "timestamp": "2026-10-02T10:00:00Z"}
            for i in range(90)]
    bad = [
        {"unit_id": "b0", "event": "purchase", "value": float("nan"), "timestamp": "2026-10-02T10:00:00Z"},
        {"unit_id": "b1", "event": "purchase", "value": "ten", "timestamp": "2026-10-02T10:00:00Z"},
        {"unit_id": {"id": 7}, "event": "purchase", "value": 1.0, "timestamp": "2026-10-02T10:00:00Z"},
        {"unit_id": True, "event": "purchase", "value": 1.0, "timestamp": "2026-10-02T10:00:00Z"},
        {"unit_id": "b4", "value": 1.0, "timestamp": "2026-10-02T10:00:00Z"},
        {"unit_id": "b5", "event": "purchase", "value": -3.0, "timestamp": "2026-10-02T10:00:00Z"},
        {"unit_id": "b6", "event": "purchase", "value": 1.0, "timestamp": [2026, 10, 2]},
        {"unit_id": "b7", "event": "purchase", "value": 1.0, "timestamp": None},
        {"unit_id": 12.5, "event": "purchase", "value": 1.0, "timestamp": "2026-10-02T10:00:00Z"},
        {"unit_id": "b9", "event": "purchase", "value": float("inf"), "timestamp": "2026-10-02T10:00:00Z"},
    ]
    lines = good[:45] + bad + good[45:]
    source = tmp_path / "orders.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = CliRunner().invoke(cli, ["log", "conversions", str(source), "--db", db])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "90 inserted, 0 duplicates, 10 rejected" in result.output
    quarantine = EventStore(db).quarantine()
    assert sorted(quarantine["line"]) == list(range(46, 56))  # JSON Lines count from line 1
    reasons = dict(zip(quarantine["line"], quarantine["reason"]))
    for line, expected in {46: "NaN", 47: "not a number", 48: "not text", 49: "not text", 50: "missing field 'event'",
                           51: "negative", 52: "timestamp", 53: "missing field 'timestamp'", 54: "not text",
                           55: "not finite"}.items():
        assert expected in reasons[line], (line, reasons[line])


def test_a_csv_without_a_needed_column_is_refused_whole(tmp_path: Path) -> None:
    source, db = tmp_path / "sends.csv", f"sqlite:///{tmp_path / 'x.db'}"
    source.write_text("experiment,customer,segment,arm,timestamp\ne,c1,at_risk,offer,2026-10-01\n")
    result = CliRunner().invoke(cli, ["log", "exposures", str(source), "--db", db])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "sends.csv:1" in result.output and "no column 'unit_id'" in result.output
    assert EventStore(db).count("quarantine") == 0  # not a million identical rejections


def test_day_first_conversions_are_quarantined_unless_a_format_is_named(tmp_path: Path) -> None:
    source, db = tmp_path / "conv.csv", f"sqlite:///{tmp_path / 'x.db'}"
    source.write_text("unit_id,event,value,timestamp\nu1,purchase,5,05/10/2026 10:00\n"
                      "u2,purchase,5,2026-10-05T10:00:00Z\n")
    guessed = CliRunner().invoke(cli, ["log", "conversions", str(source), "--db", db])
    assert guessed.exit_code == 1 and "1 inserted, 0 duplicates, 1 rejected" in guessed.output
    assert "line 2: unparseable timestamp '05/10/2026 10:00': not ISO 8601 or epoch seconds" in guessed.output
    store = EventStore(db)
    quarantined = store.quarantine()
    assert quarantined["line"].tolist() == [2] and "--date-format" in quarantined["reason"][0]
    assert store.count("conversions") == 1
    named = CliRunner().invoke(cli, ["log", "conversions", str(source), "--db", db, "--date-format", "%d/%m/%Y %H:%M"])
    assert named.exit_code == 1 and "1 inserted" in named.output  # u1 read day-first; the ISO row does not match
    assert "line 3: unparseable timestamp '2026-10-05T10:00:00Z': does not match the date format" in named.output
    with store.engine.connect() as conn:
        ts = conn.exec_driver_sql("SELECT ts FROM conversions WHERE unit_id = 'u1'").scalar_one()
    assert ts == pd.Timestamp("2026-10-05 10:00", tz="UTC").value // 1000  # 5 October, naive = UTC
    bad_pattern = CliRunner().invoke(cli, ["log", "conversions", str(source), "--db", db, "--date-format", "%Q"])
    assert bad_pattern.exit_code == 2 and "date format '%Q' is not a valid pattern" in bad_pattern.output


def test_the_api_takes_a_date_format(tmp_path: Path) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'x.db'}")
    rows = pd.DataFrame({"unit_id": ["a", "b"], "event": "purchase", "value": 1.0,
                         "timestamp": ["28.08.2025", "2025-08-28"]})
    assert store.log_conversions(rows).rejected == 1  # the ISO row alone
    counts = store.log_conversions(rows, date_format="%d.%m.%Y")
    assert counts.inserted == 1 and counts.rejected == 1 and "does not match" in counts.reasons[0]


def test_a_directory_is_called_a_directory_and_no_database_is_made(tmp_path: Path) -> None:
    folder = tmp_path / "some_dir"
    folder.mkdir()
    db_file = tmp_path / "x.db"
    result = CliRunner().invoke(cli, ["log", "exposures", str(folder), "--db", f"sqlite:///{db_file}"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "some_dir: is a directory, not a file" in result.output and "no such file" not in result.output
    assert not db_file.exists()

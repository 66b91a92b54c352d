"""`liftlab log` through CliRunner: summaries, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from liftlab.cli import cli
from liftlab.store import EventStore


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
    broken.write_text('{"unit_id": "a"\nnot json at all\n')
    bad = CliRunner().invoke(cli, ["log", "conversions", str(broken), "--db", db])
    assert bad.exit_code == 2 and "broken.jsonl" in bad.output and "Traceback" not in bad.output
    missing = CliRunner().invoke(cli, ["log", "exposures", str(tmp_path / "nope.csv"), "--db", db])
    assert missing.exit_code == 2 and "no such file" in missing.output
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"unit_id,event\n\xff\xfe\x00garbage\n")
    assert CliRunner().invoke(cli, ["log", "conversions", str(binary), "--db", db]).exit_code == 2

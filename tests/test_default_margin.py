"""A project-level default margin (`[defaults] margin` in liftlab.toml) gives ROI to
experiments that declare none; without one, ROI stays null."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from liftlab.cli import cli
from liftlab.config.loading import load_project
from liftlab.config.validation import validate_paths

ROOT = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path, extra: str) -> tuple[Path, str]:
    folder = tmp_path / "experiments"
    folder.mkdir()
    shutil.copy(ROOT / "experiments" / "onboarding.toml", folder / "onboarding.toml")  # no margin
    (folder / "liftlab.toml").write_text(extra)
    rng = np.random.default_rng(3)
    segments = pd.DataFrame({"unit_id": [f"c{i}" for i in range(2_000)],
                             "segment": rng.choice(["first_time", "recent"], 2_000)})
    segments.to_csv(tmp_path / "segments.csv", index=False)
    db = f"sqlite:///{tmp_path / 'm.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["assign", str(folder / "onboarding.toml"), "--segments",
                               str(tmp_path / "segments.csv"), "--db", db]).exit_code == 0
    sends = tmp_path / "sends.csv"
    assert runner.invoke(cli, ["export", "onboarding-series-2026", "--db", db, "--out", str(sends),
                               "--all"]).exit_code == 0
    frame = pd.read_csv(sends)
    frame = frame[frame["role"] != "holdout"].drop(columns="role").assign(timestamp="2026-11-02T10:00:00Z")
    frame.to_csv(sends, index=False)
    assert runner.invoke(cli, ["log", "exposures", str(sends), "--db", db]).exit_code == 0
    buys = frame.sample(frac=0.3, random_state=1)[["unit_id"]].assign(
        event="purchase", value=40.0, timestamp="2026-11-05T10:00:00Z")
    buys.to_csv(tmp_path / "buys.csv", index=False)
    assert runner.invoke(cli, ["log", "conversions", str(tmp_path / "buys.csv"), "--db", db]).exit_code == 0
    return folder, db


def _value_rows(folder: Path, db: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["analyze", str(folder / "onboarding.toml"), "--db", db,
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["value"]


def test_the_project_default_margin_gives_roi(tmp_path: Path) -> None:
    folder, db = _project(tmp_path, "[defaults]\nmargin = 0.4\n")
    assert load_project(folder).default_margin == 0.4
    rows = _value_rows(folder, db)
    assert rows and all(r["margin"] == 0.4 and r["roi"] is not None for r in rows)


def test_without_any_margin_roi_is_null(tmp_path: Path) -> None:
    folder, db = _project(tmp_path, "[holdout]\nfraction = 0.0\n")
    rows = _value_rows(folder, db)
    assert rows and all(r["roi"] is None and r["profit"] is None for r in rows)


def test_a_default_margin_out_of_range_is_a_finding_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "liftlab.toml").write_text("[holdout]\nfraction = 0.05\n\n[defaults]\nmargin = 1.5\n")
    findings = validate_paths([str(tmp_path)])
    bad = [f for f in findings if f.field == "defaults.margin"]
    assert bad and bad[0].line == 5 and "must be in (0, 1]" in bad[0].message

"""`liftlab assign`: writes sticky assignments, reports counts, expected counts and SRM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from liftlab.cli import cli
from liftlab.store.event_store import EventStore

ROOT = Path(__file__).resolve().parents[1]


def test_assign_is_sticky_across_reruns_and_weight_changes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    people = pd.DataFrame({"unit_id": [f"c{i}" for i in range(6_000)],
                           "segment": rng.choice(["first_time", "recent", "champion"], 6_000)})
    people.to_csv(tmp_path / "segments.csv", index=False)
    source = (ROOT / "experiments" / "onboarding.toml").read_text()
    experiment = tmp_path / "onboarding.toml"
    experiment.write_text(source)
    (tmp_path / "liftlab.toml").write_text("[holdout]\nfraction = 0.05\nsalt = \"h\"\n")
    db = f"sqlite:///{tmp_path / 'a.db'}"
    args = ["assign", str(experiment), "--segments", str(tmp_path / "segments.csv"), "--db", db]

    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "first_time" in first.output and "expected" in first.output and "SRM p" in first.output
    stored = EventStore(db).assignments("onboarding-series-2026")
    eligible = people["segment"].isin(["first_time", "recent"]).sum()
    assert len(stored) == eligible
    assert stored["holdout"].mean() < 0.1

    again = CliRunner().invoke(cli, args)
    assert f"0 new, {eligible:,} unchanged" in again.output

    # Move weight from control to treatment, and add new customers: nobody already assigned moves.
    experiment.write_text(source.replace("weight = 0.5\n  control = true", "weight = 0.2\n  control = true")
                          .replace('key = "series_3"\n  weight = 0.5', 'key = "series_3"\n  weight = 0.8'))
    more = pd.concat([people, pd.DataFrame({"unit_id": [f"n{i}" for i in range(500)], "segment": "first_time"})])
    more.to_csv(tmp_path / "segments.csv", index=False)
    changed = CliRunner().invoke(cli, args)
    assert changed.exit_code == 0, changed.output
    assert "config changed" in changed.output and "500 new" in changed.output
    assert "would move under the current config" in changed.output
    after = EventStore(db).assignments("onboarding-series-2026").set_index("unit_id")
    before = stored.set_index("unit_id")
    assert (after.loc[before.index, "arm"].fillna("-") == before["arm"].fillna("-")).all()


def test_assign_bad_segments_file(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("unit_id,segment\na,whales\n")
    result = CliRunner().invoke(cli, ["assign", str(ROOT / "experiments" / "onboarding.toml"),
                                      "--segments", str(tmp_path / "s.csv"), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 2 and "unknown segment" in result.output and "Traceback" not in result.output

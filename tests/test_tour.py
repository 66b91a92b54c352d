"""The README tour runs end to end from a new user's own files: exactly its commands
(validate → segment → assign → export → log → analyze → history), on small generated files."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from liftlab import EventStore
from liftlab.cli import cli
from liftlab.demo.simulate import simulate_shop

ROOT = Path(__file__).resolve().parents[1]
ISO = "%Y-%m-%dT%H:%M:%S"


def tour_commands() -> list[list[str]]:
    """The `liftlab …` lines of README's "The whole flow from the shell" block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### The whole flow from the shell", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True)[1:] for line in block.splitlines() if line.startswith("liftlab ")]


def test_readme_tour_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = tour_commands()
    assert [c[0] for c in commands] == ["validate", "segment", "assign", "export", "export", "log", "log",
                                        "analyze", "history"]
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "experiments", tmp_path / "experiments")
    shop = simulate_shop(4_000, seed=11)
    shop.customers.to_csv("customers.csv", index=False)
    shop.orders.to_csv("orders.csv", index=False, date_format=ISO)
    shop.visits.to_csv("visits.csv", index=False, date_format=ISO)

    for args in commands:
        if args[:2] == ["log", "exposures"]:
            # The one step outside liftlab: the send tool contacts the treated customers and
            # holds the controls out; both are exposures, stamped with the send time.
            audience = pd.read_csv("audience.csv", dtype=str, keep_default_na=False)
            sent = audience[audience["role"] != "holdout"].drop(columns="role")
            sent.assign(timestamp="2026-10-02T09:00:00Z").to_csv("exposures.csv", index=False)
            rng = np.random.default_rng(2)
            buyers = sent.sample(frac=0.3, random_state=1)
            pd.DataFrame({"unit_id": buyers["unit_id"], "event": "purchase",
                          "value": rng.lognormal(3.5, 0.5, len(buyers)).round(2),
                          "timestamp": "2026-10-06T12:00:00Z"}).to_csv("purchases.csv", index=False)
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output

    store = EventStore("sqlite:///liftlab.db")
    stored = store.assignments("winback-2026q4")
    sends = pd.read_csv("sends.csv", dtype=str)
    treated = stored[~stored["holdout"] & (stored["arm"] != "control")]
    assert len(sends) == len(treated) > 0 and set(sends["segment"]) <= {"at_risk", "cant_lose", "hibernating"}
    assert store.count("exposures") == len(stored[~stored["holdout"]]) and store.count("quarantine") == 0
    assert Path("report.html").stat().st_size > 10_000
    assert "winback-2026q4: config versions" in CliRunner().invoke(cli, commands[-1]).output

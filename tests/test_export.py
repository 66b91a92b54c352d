"""`liftlab export`: the send list of a stored experiment, gated, round-tripping into `log`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from liftlab import ConfigError, EventStore, assign, load_experiment, load_project
from liftlab.cli import cli
from liftlab.store.export import export_send_list

ROOT = Path(__file__).resolve().parents[1]
KEY = "winback-2026q4"


@pytest.fixture
def assigned(tmp_path: Path) -> str:
    """A store with the win-back experiment assigned (5% global holdout)."""
    experiment = load_experiment(ROOT / "experiments" / "winback_q4.toml")
    rng = np.random.default_rng(5)
    people = pd.DataFrame({"unit_id": [f"c{i}" for i in range(2_000)],
                           "segment": rng.choice(["at_risk", "cant_lose", "champion"], 2_000)})
    db = f"sqlite:///{tmp_path / 'e.db'}"
    store = EventStore(db)
    store.register_experiment(experiment)
    store.save_assignments(assign(experiment, people, load_project(ROOT / "experiments")).assignments)
    return db


def test_send_list_holds_treatment_customers_only_unless_all(assigned: str) -> None:
    store = EventStore(assigned)
    stored = store.assignments(KEY)
    sends = export_send_list(store, KEY)
    assert list(sends.columns) == ["experiment", "unit_id", "segment", "arm", "channel"]
    treated = stored[~stored["holdout"] & (stored["arm"] != "control")]
    assert sorted(sends["unit_id"]) == sorted(treated["unit_id"])
    assert set(sends["arm"]) == {"voucher_10", "free_shipping"} and set(sends["channel"]) == {"email"}
    everyone = export_send_list(store, KEY, include_all=True)
    assert len(everyone) == len(stored) and set(everyone["role"]) == {"treatment", "control", "holdout"}
    held = everyone[everyone["role"] == "holdout"]
    assert set(held["unit_id"]) == set(stored.loc[stored["holdout"], "unit_id"])
    assert (held["arm"] == "").all() and (held["channel"] == "").all()
    assert (everyone.loc[everyone["role"] == "control", "arm"] == "control").all()


def test_cli_export_csv_jsonl_and_stdout(assigned: str, tmp_path: Path) -> None:
    out = tmp_path / "sends.csv"
    result = CliRunner().invoke(cli, ["export", KEY, "--db", assigned, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr and "treatment" in result.stderr
    csv = pd.read_csv(out, dtype=str)
    lines = tmp_path / "all.jsonl"
    assert CliRunner().invoke(cli, ["export", KEY, "--db", assigned, "--all", "--out", str(lines)]).exit_code == 0
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert {r["role"] for r in records} == {"treatment", "control", "holdout"}
    assert sum(r["role"] == "treatment" for r in records) == len(csv)
    piped = CliRunner().invoke(cli, ["export", KEY, "--db", assigned, "--out", "-"])
    assert piped.exit_code == 0 and piped.stdout == out.read_text()
    bad = CliRunner().invoke(cli, ["export", KEY, "--db", assigned, "--out", str(tmp_path / "x.xlsx")])
    assert bad.exit_code == 2 and ".csv or .jsonl" in bad.output
    unknown = CliRunner().invoke(cli, ["export", "nope", "--db", assigned])
    assert unknown.exit_code == 2 and "not registered" in unknown.output


def test_export_round_trips_into_log_exposures(assigned: str, tmp_path: Path) -> None:
    everyone = tmp_path / "audience.csv"
    assert CliRunner().invoke(cli, ["export", KEY, "--db", assigned, "--all", "--out", str(everyone)]).exit_code == 0
    audience = pd.read_csv(everyone, dtype=str, keep_default_na=False)
    exposures = audience[audience["role"] != "holdout"].drop(columns="role").assign(timestamp="2026-10-02T09:00:00Z")
    exposures.to_csv(tmp_path / "exposures.csv", index=False)
    result = CliRunner().invoke(cli, ["log", "exposures", str(tmp_path / "exposures.csv"), "--db", assigned])
    assert result.exit_code == 0, result.output
    assert EventStore(assigned).count("exposures") == len(exposures) and EventStore(assigned).count("quarantine") == 0


def test_an_experiment_whose_stored_config_fails_validation_is_not_exported(assigned: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    store = EventStore(assigned)
    config = json.loads(json.dumps(store.experiment_config(KEY)))
    config["campaigns"][0]["arms"][0]["weight"] = 0.5  # weights now sum to 1.3
    with store.engine.begin() as conn:  # as a store written before the gate could hold it
        conn.execute(text("UPDATE experiments SET config = :c WHERE key = :k"), {"c": json.dumps(config), "k": KEY})
    with pytest.raises(ConfigError):
        export_send_list(store, KEY)
    out = tmp_path / "sends.csv"
    result = CliRunner().invoke(cli, ["export", KEY, "--db", assigned, "--out", str(out)])
    assert result.exit_code == 1 and "error [weights] campaigns[0].arms" in result.stdout
    assert not out.exists()

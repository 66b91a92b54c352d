"""Validation is a gate: assign, analyze and register run the rules `liftlab validate` runs.

Errors stop before anything is written (exit 1, the validate lines on stdout; ConfigError with
the findings in Python); warnings are printed and the work goes on. Database URLs are checked
before any driver is loaded, and a password is never printed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import liftlab
from liftlab import Arm, Campaign, ConfigError, EventStore, Experiment, Metric, StoreError
from liftlab.cli import cli
from liftlab.config.validation import check_experiment

ROOT = Path(__file__).resolve().parents[1]
ONBOARDING = (ROOT / "experiments" / "onboarding.toml").read_text()


def _experiment(*arms: Arm, segment: str = "at_risk") -> Experiment:
    return Experiment("gate", (Campaign(segment, arms),), (Metric("buy", "conversion"),), date(2026, 10, 1))


def _files(tmp_path: Path, source: str) -> tuple[Path, Path, str]:
    experiment = tmp_path / "onboarding.toml"
    experiment.write_text(source)
    segments = tmp_path / "segments.csv"
    pd.DataFrame({"unit_id": [f"c{i}" for i in range(200)],
                  "segment": ["first_time", "recent"] * 100}).to_csv(segments, index=False)
    return experiment, segments, f"sqlite:///{tmp_path / 'gate.db'}"


def test_library_assign_refuses_weights_that_do_not_sum_to_one() -> None:
    # Before the gate, 0.2 + 0.7 silently gave the last arm 80%.
    experiment = _experiment(Arm("control", 0.2, control=True), Arm("offer", 0.7))
    customers = pd.DataFrame({"unit_id": ["a", "b"], "segment": ["at_risk", "at_risk"]})
    with pytest.raises(ConfigError) as raised:
        liftlab.assign(experiment, customers)
    (finding,) = raised.value.findings
    assert finding.rule == "weights" and "sum to 0.9" in str(raised.value)
    with pytest.raises(ConfigError):
        liftlab.assign_one(experiment, "a", "at_risk")


def test_check_experiment_returns_warnings_and_names_the_file(tmp_path: Path) -> None:
    small = _experiment(Arm("control", 0.02, control=True), Arm("offer", 0.98))
    (warning,) = check_experiment(small)
    assert warning.severity == "warning" and warning.rule == "small_control"
    assert liftlab.assign(small, pd.DataFrame({"unit_id": ["a"], "segment": ["at_risk"]})).warnings == (warning,)
    path = tmp_path / "bad.toml"
    path.write_text(ONBOARDING.replace("weight = 0.7", "weight = 0.9"))
    with pytest.raises(ConfigError) as raised:
        check_experiment(liftlab.load_experiment(path), source=path)
    assert f"{path}:" in str(raised.value.findings[0]) and raised.value.findings[0].line is not None


def test_register_experiment_refuses_an_invalid_config(tmp_path: Path) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(ConfigError):
        store.register_experiment(_experiment(Arm("a", 0.5), Arm("b", 0.5)))
    assert store.count("experiments") == 0


def test_campaign_without_control_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="0 control arms"):
        _ = Campaign("at_risk", (Arm("a", 0.5), Arm("b", 0.5))).control


def test_cli_assign_weights_summing_to_1_2_exit_1_and_store_nothing(tmp_path: Path) -> None:
    experiment, segments, db = _files(tmp_path, ONBOARDING.replace("weight = 0.7", "weight = 0.9"))
    result = CliRunner().invoke(cli, ["assign", str(experiment), "--segments", str(segments), "--db", db])
    assert result.exit_code == 1, result.output
    assert f"{experiment}:" in result.stdout and "error [weights] campaigns[1].arms" in result.stdout
    assert "sum to 1.2" in result.stdout and "Traceback" not in result.output
    assert not (tmp_path / "gate.db").exists()  # nothing written: the store was never opened


def test_cli_assign_unknown_segment_exit_1(tmp_path: Path) -> None:
    experiment, segments, db = _files(tmp_path, ONBOARDING.replace('segment = "recent"', 'segment = "whales"'))
    result = CliRunner().invoke(cli, ["assign", str(experiment), "--segments", str(segments), "--db", db])
    assert result.exit_code == 1, result.output
    assert "error [segment] campaigns[1].segment" in result.stdout and "'whales'" in result.stdout
    assert not (tmp_path / "gate.db").exists()


def test_cli_assign_prints_warnings_and_goes_on(tmp_path: Path) -> None:
    source = ONBOARDING.replace("weight = 0.3\n  control = true", "weight = 0.02\n  control = true") \
                       .replace("weight = 0.7", "weight = 0.98")
    experiment, segments, db = _files(tmp_path, source)
    result = CliRunner().invoke(cli, ["assign", str(experiment), "--segments", str(segments), "--db", db])
    assert result.exit_code == 0, result.output
    assert "warning [small_control]" in result.stdout
    assert EventStore(db).count("assignments") == 200


def test_cli_analyze_without_control_arm_exit_1_no_traceback(tmp_path: Path) -> None:
    experiment, _, db = _files(tmp_path, ONBOARDING.replace("control = true", "control = false"))
    result = CliRunner().invoke(cli, ["analyze", str(experiment), "--db", db])
    assert result.exit_code == 1, result.output
    assert "error [control] campaigns[0].arms" in result.stdout
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_analyze_refuses_an_invalid_stored_config(tmp_path: Path) -> None:
    # A config stored before the gate existed (written straight into the table) is not analysed.
    import json

    from sqlalchemy import text

    db = f"sqlite:///{tmp_path / 'old.db'}"
    store = EventStore(db)
    config = _experiment(Arm("a", 0.5), Arm("b", 0.5)).to_dict()
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO experiments (key, version, config, config_hash, registered_at) "
                          "VALUES ('gate', 1, :c, 'h', '2026-01-01T00:00:00+00:00')"), {"c": json.dumps(config)})
    result = CliRunner().invoke(cli, ["analyze", "gate", "--db", db])
    assert result.exit_code == 1 and "error [control]" in result.stdout


@pytest.mark.parametrize("command", [["analyze", "x"], ["history", "x"], ["export", "x"]])
def test_unsupported_dialect_is_refused_by_name_without_the_password(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--db", "mysql://user:secret@host/db"])
    assert result.exit_code == 2, result.output
    assert "not mysql" in result.output and "secret" not in result.output
    assert "MySQLdb" not in result.output and "Traceback" not in result.output


def test_a_bare_path_gets_the_url_it_meant(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["analyze", "x", "--db", "liftlab.db"])
    assert result.exit_code == 2
    assert "did you mean sqlite:///liftlab.db?" in result.output
    with pytest.raises(StoreError, match=r"did you mean sqlite:///\./x\.sqlite\?"):
        EventStore("./x.sqlite")


def test_a_password_is_masked_in_connection_errors() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError) as raised:
        EventStore("postgresql+psycopg://user:secret@127.0.0.1:1/db")
    assert "secret" not in str(raised.value) and "***" in str(raised.value)


def test_validate_findings_go_to_stdout_so_they_can_be_piped(configs: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(configs / "invalid" / "weight_range.toml")])
    assert result.exit_code == 1
    assert "error [weights]" in result.stdout
    assert "error(s)" in result.stderr and "error [" not in result.stderr


def test_a_rule_overridden_on_purpose_comes_back_as_a_warning(tmp_path: Path) -> None:
    custom = _experiment(Arm("control", 0.5, control=True), Arm("offer", 0.5), segment="spend 0-100")
    with pytest.raises(ConfigError):
        check_experiment(custom)
    (warning,) = check_experiment(custom, allow=("segment",))
    assert warning.rule == "segment" and warning.severity == "warning"
    store = EventStore(f"sqlite:///{tmp_path / 'a.db'}")
    assert store.register_experiment(custom, allow=("segment",)).status == "new"

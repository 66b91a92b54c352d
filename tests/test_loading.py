"""TOML and Python declarations load to the same Experiment; malformed files fail clearly."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from liftlab import Arm, Campaign, ConfigError, Experiment, Metric, load_experiment
from liftlab.config.loading import load_experiments, load_project
from liftlab.config.tomlfile import KeyLocator


def test_toml_and_python_declarations_are_equal(tmp_path: Path) -> None:
    toml = tmp_path / "exp.toml"
    toml.write_text(
        """
key = "twin"
name = "Twin"
owner = "me@example.com"
start = 2026-03-01
end = "2026-04-01"
layer = "email"
layer_range = [0, 0.5]
margin = 0.3
tags = ["a", "b"]

[[metrics]]
key = "purchase"
kind = "conversion"
window_days = 7

[[metrics]]
key = "revenue"
kind = "revenue"
event = "order"

[[campaigns]]
segment = "first_time"
channel = "sms"
cost_per_contact = 0.1
arms = [
  { key = "control", weight = 0.25, control = true },
  { key = "series", weight = 0.75 },
]
"""
    )
    python = Experiment(
        key="twin",
        name="Twin",
        owner="me@example.com",
        start=date(2026, 3, 1),
        end=date(2026, 4, 1),
        layer="email",
        layer_range=(0.0, 0.5),
        margin=0.3,
        tags=("a", "b"),
        metrics=(
            Metric("purchase", "conversion", window_days=7),
            Metric("revenue", "revenue", event="order"),
        ),
        campaigns=(
            Campaign(
                "first_time",
                channel="sms",
                cost_per_contact=0.1,
                arms=(Arm("control", 0.25, control=True), Arm("series", 0.75)),
            ),
        ),
    )
    assert load_experiment(toml) == python


def test_python_file_loads_its_experiment(experiments_dir: Path) -> None:
    experiment = load_experiment(experiments_dir / "champions_vip.py")
    assert experiment.key == "champions-early-access-2026"
    assert experiment.segments == ("champion", "loyal")


def test_repository_experiments_load(experiments_dir: Path) -> None:
    keys = {e.key for e in load_experiments(experiments_dir)}
    assert {"winback-2026q4", "onboarding-series-2026", "champions-early-access-2026"} <= keys
    winback = load_experiment(experiments_dir / "winback_q4.toml")
    assert set(winback.segments) >= {"at_risk", "cant_lose"}
    assert len(winback.campaign("at_risk").treatments) == 2


def test_project_file_holds_the_global_holdout(experiments_dir: Path) -> None:
    project = load_project(experiments_dir)
    assert project.holdout_fraction == pytest.approx(0.05)
    assert project.holdout_salt == "global-holdout-2026"
    assert load_project(None).holdout_fraction == 0.0


@pytest.mark.parametrize(
    ("name", "line", "pattern"),
    [
        ("bad_syntax.toml", 12, "invalid TOML"),
        ("wrong_type.toml", 22, r"campaigns\[0\]\.arms\[1\]\.weight: must be a number"),
        ("unknown_key.toml", 14, "unknown key 'budget'"),
        ("empty.toml", None, "file is empty"),
        ("not_utf8.toml", 21, "not valid UTF-8"),
        ("bad_date.toml", 2, "must be a date"),
        ("broken.py", 3, "missing 3 required positional arguments"),
    ],
)
def test_malformed_files_raise_one_located_error(
    configs: Path, name: str, line: int | None, pattern: str
) -> None:
    with pytest.raises(ConfigError, match=pattern) as raised:
        load_experiment(configs / "malformed" / name)
    assert raised.value.file is not None and raised.value.file.endswith(name)
    assert raised.value.line == line


def test_missing_required_field_raises_on_load(configs: Path) -> None:
    with pytest.raises(ConfigError, match="required field is missing") as raised:
        load_experiment(configs / "invalid" / "required.toml")
    assert raised.value.field == "key"


def test_locator_finds_keys_in_nested_arrays_of_tables() -> None:
    text = (
        'key = "x"\n[[campaigns]]\nsegment = "a"\n  [[campaigns.arms]]\n  weight = 1\n'
        '  [[campaigns.arms]]\n  weight = 2\n[[campaigns]]\nsegment = "b"\n'
        '  [[campaigns.arms]]\n  weight = 3\n'
    )
    locator = KeyLocator(text)
    assert locator.line("key") == 1
    assert locator.line("campaigns[0].arms[1].weight") == 7
    assert locator.line("campaigns[1].segment") == 9
    assert locator.line("campaigns[1].arms[0].weight") == 11
    assert locator.line("campaigns[1].arms[0].key") == 10  # falls back to the table header
    assert locator.line("nothing") is None


def test_experiment_round_trips_through_its_dict(experiments_dir: Path) -> None:
    from liftlab.config.loading import experiment_from_dict

    for experiment in load_experiments(experiments_dir):
        assert experiment_from_dict(experiment.to_dict()) == experiment

"""The experiment model: immutable, typed values with sensible defaults."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

import liftlab
from liftlab import Arm, Campaign, ConfigError, Experiment, Metric


def _experiment(**overrides: object) -> Experiment:
    fields: dict[str, object] = {
        "key": "exp",
        "start": date(2026, 1, 1),
        "metrics": [Metric("purchase", "conversion")],
        "campaigns": [Campaign("at_risk", arms=[Arm("control", 0.5, control=True), Arm("t", 0.5)])],
    }
    fields.update(overrides)
    return Experiment(**fields)  # type: ignore[arg-type]


def test_top_level_names_are_importable() -> None:
    for name in ("Experiment", "Campaign", "Arm", "Metric", "load_experiment"):
        assert hasattr(liftlab, name), name


def test_salt_and_name_default_to_key() -> None:
    experiment = _experiment()
    assert experiment.salt == "exp"
    assert experiment.name == "exp"
    assert _experiment(salt="s").salt == "s"


def test_values_are_frozen_and_sequences_are_tuples() -> None:
    experiment = _experiment()
    assert isinstance(experiment.campaigns, tuple)
    assert isinstance(experiment.campaigns[0].arms, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        experiment.key = "other"  # type: ignore[misc]
    hash(experiment)  # a frozen value is hashable


def test_campaign_control_and_treatments() -> None:
    campaign = _experiment().campaign("at_risk")
    assert campaign.control.key == "control"
    assert [arm.key for arm in campaign.treatments] == ["t"]
    broken = Campaign("at_risk", arms=[Arm("a", 0.5), Arm("b", 0.5)])
    with pytest.raises(ConfigError, match="0 control arms"):
        _ = broken.control


def test_lookups_raise_key_error_naming_the_experiment() -> None:
    experiment = _experiment()
    assert experiment.metric("purchase").kind == "conversion"
    with pytest.raises(KeyError, match="exp"):
        experiment.campaign("champion")
    with pytest.raises(KeyError, match="revenue"):
        experiment.metric("revenue")


def test_to_dict_is_json_ready() -> None:
    import json

    data = _experiment(end=date(2026, 2, 1)).to_dict()
    assert data["start"] == "2026-01-01" and data["end"] == "2026-02-01"
    json.dumps(data)

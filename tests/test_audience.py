"""A campaign's `audience`: the smallest config key that restricts a campaign to a unit list
(what `liftlab target --next` declares). Loaded, validated, kept, honoured by assignment."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from liftlab.assignment.arms import assign, assign_one
from liftlab.config.loading import (
    experiment_from_dict,
    load_experiment,
    load_experiments,
    parse_experiment,
)
from liftlab.config.model import Arm, Campaign, Experiment, Metric
from liftlab.config.validation import validate_experiment, validate_paths
from liftlab.config.writing import experiment_to_toml

ROOT = Path(__file__).resolve().parents[1]


def _experiment(audience: tuple[str, ...] | None) -> Experiment:
    return Experiment(
        key="targeted", start=date(2027, 1, 1), metrics=(Metric("purchase", "conversion"),),
        campaigns=(Campaign("at_risk", (Arm("control", 0.5, control=True), Arm("mail", 0.5)), audience=audience),
                   Campaign("loyal", (Arm("control", 0.5, control=True), Arm("mail", 0.5)))))


def _customers() -> pd.DataFrame:
    return pd.DataFrame({"unit_id": [f"u{i}" for i in range(200)],
                         "segment": ["at_risk"] * 100 + ["loyal"] * 100})


def test_assignment_keeps_only_the_audience_of_a_restricted_campaign() -> None:
    audience = tuple(f"u{i}" for i in range(0, 100, 3))
    result = assign(_experiment(audience), _customers())
    frame = result.assignments
    assert set(frame.loc[frame["segment"] == "at_risk", "unit_id"]) == set(audience)
    assert (frame["segment"] == "loyal").sum() == 100  # an unrestricted campaign: the whole segment
    assert result.skipped == {"not in the campaign's audience": 100 - len(audience)}
    # Same arms as without the restriction, and the real-time path agrees.
    free = assign(_experiment(None), _customers()).assignments.set_index("unit_id")["arm"]
    for row in frame.itertuples():
        assert row.arm == free[row.unit_id]
        assert assign_one(_experiment(audience), row.unit_id, row.segment).arm == row.arm
    assert assign_one(_experiment(audience), "u1", "at_risk") is None


def test_an_arrow_id_column_is_filtered_the_same() -> None:
    customers = _customers().astype({"unit_id": "string[pyarrow]"})
    audience = ("u3", "u4", "u150")
    frame = assign(_experiment(audience), customers).assignments
    assert sorted(frame.loc[frame["segment"] == "at_risk", "unit_id"]) == ["u3", "u4"]


def test_validation_rejects_empty_blank_and_repeated_audiences() -> None:
    messages = {f.message for audience in [(), ("u1", " "), ("u1", "u2", "u1")]
                for f in validate_experiment(_experiment(audience)) if f.rule == "audience"}
    assert any("empty audience" in m for m in messages)
    assert any("1 blank" in m for m in messages)
    assert any("repeated unit id(s), e.g. 'u1'" in m for m in messages)
    assert not [f for f in validate_experiment(_experiment(("u1",))) if f.severity == "error"]


def test_toml_round_trip_and_stored_config(tmp_path: Path) -> None:
    experiment = _experiment(("u1", "naïve \"quoted\"", "u\u007f"))
    file = tmp_path / "targeted.toml"
    file.write_text(experiment_to_toml(experiment), encoding="utf-8")
    assert load_experiment(file) == experiment
    assert experiment_from_dict(experiment.to_dict()) == experiment
    assert validate_paths([file]) == []
    with pytest.raises(Exception, match="must be a list of strings"):
        parse_experiment(tomllib.loads(file.read_text().replace('audience = [', 'audience = [1, ')))


def test_configs_without_an_audience_store_the_same_dict_as_before() -> None:
    for experiment in load_experiments(ROOT / "experiments"):
        assert all("audience" not in c for c in experiment.to_dict()["campaigns"])
        back, _ = parse_experiment(tomllib.loads(experiment_to_toml(experiment)))
        assert back == experiment

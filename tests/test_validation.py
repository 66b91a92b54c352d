"""Every validation rule, each caught by a broken fixture, with its file, field and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from liftlab import Arm, Campaign, Experiment, Metric
from liftlab.config.findings import exit_code
from liftlab.config.validation import validate_experiment, validate_paths

# fixture (file or folder under tests/fixtures/configs/invalid) -> (rule, field, line, severity)
CASES = {
    "required.toml": ("required", "key", None, "error"),
    "weight_range.toml": ("weights", "campaigns[0].arms[1].weight", 22, "error"),
    "weight_sum.toml": ("weights", "campaigns[0].arms", 10, "error"),
    "no_control.toml": ("control", "campaigns[0].arms", 10, "error"),
    "two_controls.toml": ("control", "campaigns[0].arms", 10, "error"),
    "no_treatment.toml": ("control", "campaigns[0].arms", 10, "error"),
    "duplicate_arm.toml": ("unique_arm", "campaigns[0].arms[1].key", 21, "error"),
    "unknown_segment.toml": ("segment", "campaigns[0].segment", 11, "error"),
    "duplicate_segment.toml": ("unique_segment", "campaigns[1].segment", 25, "error"),
    "end_before_start.toml": ("dates", "end", 3, "error"),
    "metric_kind.toml": ("metric_kind", "metrics[0].kind", 7, "error"),
    "metric_window.toml": ("metric_window", "metrics[0].window_days", 8, "error"),
    "duplicate_metric.toml": ("unique_metric", "metrics[1].key", 11, "error"),
    "hash_version.toml": ("hash_version", "hash_version", 4, "error"),
    "layer_range.toml": ("layer_range", "layer_range", 5, "error"),
    "negative_cost.toml": ("cost", "campaigns[0].cost_per_contact", 13, "error"),
    "margin.toml": ("margin", "margin", 4, "error"),
    "small_control.toml": ("small_control", "campaigns[0].arms", 10, "warning"),
    "duplicate_key": ("unique_key", "key", 1, "error"),
    "duplicate_salt": ("unique_salt", "salt", 2, "error"),
    "layer_overlap": ("layer_overlap", "layer", 4, "error"),
    "holdout": ("holdout", "holdout.fraction", 2, "error"),
}


def test_every_fixture_has_a_case(configs: Path) -> None:
    assert {p.name for p in (configs / "invalid").iterdir()} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_rule_is_caught(configs: Path, name: str) -> None:
    rule, field, line, severity = CASES[name]
    findings = validate_paths([configs / "invalid" / name])
    assert len(findings) == 1, [str(f) for f in findings]
    (finding,) = findings
    assert (finding.rule, finding.field, finding.line, finding.severity) == (
        rule, field, line, severity,
    ), str(finding)
    assert finding.file.startswith(str(configs / "invalid" / name))
    assert exit_code(findings) == (0 if severity == "warning" else 1)
    assert exit_code(findings, strict=True) == 1


def test_valid_fixture_and_repository_experiments_are_clean(
    configs: Path, experiments_dir: Path
) -> None:
    assert validate_paths([configs / "valid.toml"]) == []
    assert [f for f in validate_paths([experiments_dir]) if f.severity != "warning"] == []


def test_malformed_files_are_fatal_and_others_still_checked(configs: Path) -> None:
    findings = validate_paths([configs / "malformed", configs / "invalid" / "weight_sum.toml"])
    fatal = [f for f in findings if f.severity == "fatal"]
    assert len(fatal) == len(list((configs / "malformed").iterdir()))
    assert any(f.rule == "weights" for f in findings)
    assert exit_code(findings) == 2


def test_weights_within_tolerance_pass() -> None:
    thirds = Campaign("at_risk", arms=[Arm("c", 1 / 3, control=True), Arm("a", 1 / 3), Arm("b", 1 / 3)])
    experiment = Experiment("e", (thirds,), (Metric("m", "conversion"),), date(2026, 1, 1))
    assert validate_experiment(experiment) == []
    off = Campaign("at_risk", arms=[Arm("c", 0.5, control=True), Arm("a", 0.5 + 2e-9)])
    findings = validate_experiment(
        Experiment("e", (off,), (Metric("m", "conversion"),), date(2026, 1, 1))
    )
    assert [f.rule for f in findings] == ["weights"]


def test_python_declarations_are_validated_too() -> None:
    bad = Experiment(
        "e",
        (Campaign("vip", arms=[Arm("c", 0.5, control=True), Arm("a", 0.6)]),),
        (Metric("m", "clicks", window_days=400),),
        date(2026, 1, 1),
    )
    rules = sorted(f.rule for f in validate_experiment(bad))
    assert rules == ["metric_kind", "metric_window", "segment", "weights"]


def test_layers_with_disjoint_ranges_do_not_overlap(configs: Path, tmp_path: Path) -> None:
    base = (configs / "valid.toml").read_text()
    (tmp_path / "a.toml").write_text(
        base.replace("end = 2026-12-31", 'end = 2026-12-31\nlayer = "l"\nlayer_range = [0, 0.5]')
    )
    (tmp_path / "b.toml").write_text(
        base.replace('key = "fixture-valid"', 'key = "b"').replace(
            "end = 2026-12-31", 'end = 2026-12-31\nlayer = "l"\nlayer_range = [0.5, 1]'
        )
    )
    assert validate_paths([tmp_path]) == []
    # Back to back in time is not an overlap either.
    (tmp_path / "b.toml").write_text(
        base.replace('key = "fixture-valid"', 'key = "b"')
        .replace("end = 2026-12-31", 'end = 2027-03-01\nlayer = "l"')
        .replace("start = 2026-10-01", "start = 2026-12-31")
    )
    assert validate_paths([tmp_path]) == []


def test_missing_path_is_fatal(tmp_path: Path) -> None:
    findings = validate_paths([tmp_path / "nope"])
    assert [f.severity for f in findings] == ["fatal"]
    assert "no such file" in findings[0].message

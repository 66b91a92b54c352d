"""`liftlab validate` through CliRunner: exit codes, one line per problem, JSON for CI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from liftlab.cli import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_help_lists_commands(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "validate" in result.output


def test_valid_folder_exits_0(runner: CliRunner, experiments_dir: Path) -> None:
    result = runner.invoke(cli, ["validate", str(experiments_dir)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_invalid_files_exit_1_with_one_line_per_problem(
    runner: CliRunner, configs: Path, tmp_path: Path
) -> None:
    # A second file with its own key and salt, so the only problems are the planted ones.
    other = tmp_path / "unknown_segment.toml"
    other.write_text(
        (configs / "invalid" / "unknown_segment.toml").read_text().replace("fixture-valid", "other")
    )
    result = runner.invoke(cli, ["validate", str(configs / "invalid" / "weight_range.toml"), str(other)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "error [" in line]
    assert len(lines) == 2
    assert "weight_range.toml:22: error [weights] campaigns[0].arms[1].weight" in lines[0]
    assert "unknown_segment.toml:11: error [segment] campaigns[0].segment" in lines[1]
    assert result.output.splitlines()[-1] == "0 unreadable, 2 error(s), 0 warning(s)"


@pytest.mark.parametrize(
    "name",
    ["bad_syntax.toml", "wrong_type.toml", "unknown_key.toml", "empty.toml", "not_utf8.toml",
     "bad_date.toml", "broken.py"],
)
def test_malformed_file_exits_2_with_one_clear_line(
    runner: CliRunner, configs: Path, name: str
) -> None:
    result = runner.invoke(cli, ["validate", str(configs / "malformed" / name)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    fatal = [line for line in result.output.splitlines() if "fatal [unreadable]" in line]
    assert len(fatal) == 1 and name in fatal[0]


def test_warning_passes_unless_strict(runner: CliRunner, configs: Path) -> None:
    path = str(configs / "invalid" / "small_control.toml")
    assert runner.invoke(cli, ["validate", path]).exit_code == 0
    assert runner.invoke(cli, ["validate", "--strict", path]).exit_code == 1


def test_json_format(runner: CliRunner, configs: Path) -> None:
    result = runner.invoke(
        cli, ["validate", "--format", "json", str(configs / "invalid" / "layer_overlap")]
    )
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["valid"] is False
    assert document["counts"] == {"fatal": 0, "error": 1, "warning": 0}
    (finding,) = document["findings"]
    assert set(finding) == {"file", "line", "field", "message", "rule", "severity"}
    assert finding["rule"] == "layer_overlap"


def test_missing_argument_is_a_usage_error(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["validate"]).exit_code == 2


def test_console_script_main_exits_cleanly(experiments_dir: Path) -> None:
    from liftlab.cli import main

    with pytest.raises(SystemExit) as raised:
        main(["validate", str(experiments_dir)])
    assert raised.value.code == 0

"""`liftlab power` wraps liftlab.stats.power."""

from __future__ import annotations

from click.testing import CliRunner

from liftlab.cli import cli
from liftlab.stats import mde, sample_size


def test_sample_size() -> None:
    result = CliRunner().invoke(cli, ["power", "--baseline", "0.05", "--mde", "0.1"])
    assert result.exit_code == 0, result.output
    size = sample_size(0.05, 0.1)
    assert f"{size.n_control:,} control" in result.output


def test_mde_for_revenue() -> None:
    result = CliRunner().invoke(
        cli, ["power", "--baseline", "3.2", "--kind", "revenue", "--sd", "25", "--n-control", "5000"]
    )
    assert result.exit_code == 0, result.output
    assert f"{mde(5000, 5000, 3.2, kind='revenue', sd=25).relative:+.1%}" in result.output


def test_bad_input_is_one_line_exit_2() -> None:
    result = CliRunner().invoke(cli, ["power", "--baseline", "1.5", "--mde", "0.1"])
    assert result.exit_code == 2
    assert "baseline" in result.output and "Traceback" not in result.output
    both = CliRunner().invoke(cli, ["power", "--baseline", "0.05"])
    assert both.exit_code == 2
    revenue = CliRunner().invoke(cli, ["power", "--baseline", "3", "--kind", "revenue", "--mde", "0.1"])
    assert revenue.exit_code == 2 and "sd" in revenue.output

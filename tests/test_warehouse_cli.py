"""`liftlab analyze EXP --source NAME`: the report from the folder's declared source, every
format; a bad source declaration exits 2 naming its file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("duckdb_engine")

from test_warehouse_equality import _differences  # noqa: E402
from test_warehouse_pushdown import _lake  # noqa: E402

from liftlab.cli import cli  # noqa: E402
from liftlab.config.loading import load_experiment, load_project  # noqa: E402
from liftlab.warehouse import analyze_source  # noqa: E402


@pytest.fixture
def folder(tmp_path: Path, experiments_dir: Path) -> Path:
    """An experiments folder with the win-back experiment and a `[source.lake]` of Parquet."""
    out = tmp_path / "experiments"
    out.mkdir()
    shutil.copy(experiments_dir / "winback_q4.toml", out)
    experiment = load_experiment(out / "winback_q4.toml")
    (tmp_path / "lake").mkdir()
    _lake(tmp_path / "lake", experiment, 3_000, seed=7)
    text = (experiments_dir / "liftlab.toml").read_text(encoding="utf-8") + """
[source.lake]
url = "duckdb:///:memory:"
exposures = "../lake/exposures.parquet"
conversions = "../lake/conversions.parquet"
assignments = "../lake/assignments.parquet"
timestamps = "epoch_us"
"""
    (out / "liftlab.toml").write_text(text, encoding="utf-8")
    return out


def test_analyze_source_json_is_the_library_report(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["analyze", str(folder / "winback_q4.toml"), "--source", "lake",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    source = load_project(folder).source("lake")
    expected = analyze_source(source, load_experiment(folder / "winback_q4.toml")).to_dict()
    printed.pop("generated_at"), expected.pop("generated_at")
    assert _differences(json.loads(json.dumps(expected)), printed) == []  # NaN where NaN
    assert printed["holdout"] and printed["results"]


@pytest.mark.parametrize("fmt", ["table", "markdown", "html"])
def test_analyze_source_every_format(folder: Path, fmt: str, tmp_path: Path) -> None:
    out = tmp_path / f"report.{fmt}"
    result = CliRunner().invoke(cli, ["analyze", str(folder / "winback_q4.toml"), "--source", "lake",
                                      "--format", fmt, "--out", str(out), "--segment", "at_risk"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "at_risk" in text and "voucher_10" in text
    if fmt == "html":
        assert "<html" in text.lower()


def test_bad_source_exits_2_with_file_and_line(folder: Path) -> None:
    project = folder / "liftlab.toml"
    project.write_text(project.read_text(encoding="utf-8").replace('"epoch_us"', '"seconds"'),
                       encoding="utf-8")
    line = project.read_text(encoding="utf-8").splitlines().index('timestamps = "seconds"') + 1
    result = CliRunner().invoke(cli, ["analyze", str(folder / "winback_q4.toml"), "--source", "lake"])
    assert result.exit_code == 2
    assert f"{project}:{line}" in result.output and "timestamps" in result.output


def test_unknown_key_and_unknown_source_exit_2(folder: Path) -> None:
    project = folder / "liftlab.toml"
    runner = CliRunner()
    result = runner.invoke(cli, ["analyze", str(folder / "winback_q4.toml"), "--source", "warehouse"])
    assert result.exit_code == 2 and "no [source.warehouse]" in result.output
    assert str(project) in result.output
    project.write_text(project.read_text(encoding="utf-8") + 'region = "eu"\n', encoding="utf-8")
    result = runner.invoke(cli, ["analyze", str(folder / "winback_q4.toml"), "--source", "lake"])
    lines = project.read_text(encoding="utf-8").splitlines()
    assert result.exit_code == 2 and f"{project}:{len(lines)}" in result.output
    assert "unknown key 'region'" in result.output


def test_source_needs_a_declaration_file(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["analyze", "winback-2026q4", "--source", "lake"])
    assert result.exit_code == 2 and "declaration file" in result.output


def test_analyze_a_spark_source(folder: Path, spark) -> None:  # type: ignore[no-untyped-def]
    """A `spark://local[N]` source through the CLI (the test run's session is the active one,
    so the command runs on it): the JSON equals the DuckDB source's. (The HTML timeline is one
    Spark query per metric and day, minutes on 2 cores: its `until` cut-off is tested in
    test_warehouse_equality.)"""
    project = folder / "liftlab.toml"
    project.write_text(project.read_text(encoding="utf-8") + """
[source.cluster]
url = "spark://local[2]"
exposures = "../lake/exposures.parquet"
conversions = "../lake/conversions.parquet"
assignments = "../lake/assignments.parquet"
timestamps = "epoch_us"
""", encoding="utf-8")
    runner = CliRunner()
    args = ["analyze", str(folder / "winback_q4.toml"), "--format", "json"]
    on_spark = runner.invoke(cli, [*args, "--source", "cluster"])
    on_duckdb = runner.invoke(cli, [*args, "--source", "lake"])
    assert on_spark.exit_code == 0 and on_duckdb.exit_code == 0, on_spark.output + on_duckdb.output
    found, expected = json.loads(on_spark.output), json.loads(on_duckdb.output)
    found.pop("generated_at"), expected.pop("generated_at")
    assert _differences(expected, found) == []


def test_a_missing_engine_exits_2_naming_what_to_install(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No DuckDB dialect, no Java, no pyspark: each is one line saying what to install, exit 2."""
    import builtins

    from sqlalchemy.exc import NoSuchModuleError

    import liftlab.warehouse.analysis as analysis
    import liftlab.warehouse.spark as spark_module
    from liftlab.cli import main
    from liftlab.errors import LiftlabError

    def no_dialect(url: str) -> None:
        raise NoSuchModuleError("Can't load plugin: sqlalchemy.dialects:duckdb")

    monkeypatch.setattr(analysis, "create_engine", no_dialect)
    with pytest.raises(SystemExit) as exited:
        main(["analyze", str(folder / "winback_q4.toml"), "--source", "lake"])
    assert exited.value.code == 2
    with pytest.raises(LiftlabError, match=r"pip install 'liftlab\[duckdb\]'"):
        analysis.source_engine(load_project(folder).source("lake"))

    monkeypatch.setattr(spark_module, "java_missing", lambda: "Spark needs a Java runtime")
    with pytest.raises(LiftlabError, match="Java runtime"):
        spark_module.spark_session("local[1]")
    monkeypatch.setattr(spark_module, "java_missing", lambda: None)
    real_import = builtins.__import__

    def without_pyspark(name: str, *args, **kw):  # type: ignore[no-untyped-def]
        if name.startswith("pyspark"):
            raise ImportError(name)
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", without_pyspark)
    with pytest.raises(LiftlabError, match=r"liftlab\[spark\]"):
        spark_module.spark_session("local[1]")

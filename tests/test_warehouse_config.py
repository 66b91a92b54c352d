"""`[source.NAME]` tables of liftlab.toml: loaded into `Source`s, checked by `liftlab validate`
with file and line like every other key."""

from __future__ import annotations

from pathlib import Path

import pytest

from liftlab.config.loading import load_project, read_project_file
from liftlab.config.sources import Columns, RelationKind, Source, relation_kind
from liftlab.config.validation import check_source, validate_paths
from liftlab.errors import ConfigError

GOOD = """\
[holdout]
fraction = 0.05

[source.lake]
url = "duckdb:///:memory:"
exposures = "lake/exposures/*.parquet"
conversions = "SELECT * FROM read_parquet('/data/orders.parquet')"
assignments = "analytics.assignments"
timestamps = "epoch_us"

[source.lake.columns]
unit_id = "customer_id"
timestamp = "event_time"
"""


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "liftlab.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_source_table_loads_into_a_source(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path, GOOD))
    source = project.source("lake")
    assert source == Source(
        name="lake", url="duckdb:///:memory:",
        exposures=str(tmp_path.resolve() / "lake/exposures/*.parquet"),  # against the file's folder
        conversions="SELECT * FROM read_parquet('/data/orders.parquet')",
        assignments="analytics.assignments", timestamps="epoch_us",
        columns=Columns(unit_id="customer_id", timestamp="event_time"))
    assert project.holdout_fraction == 0.05
    assert validate_paths([tmp_path]) == []
    with pytest.raises(ConfigError, match=r"no \[source.warehouse\].*declared: lake"):
        project.source("warehouse")


def test_relation_kinds() -> None:
    assert relation_kind("events") is RelationKind.TABLE
    assert relation_kind("analytics.events") is RelationKind.TABLE
    assert relation_kind("/lake/events/*.parquet") is RelationKind.PARQUET
    assert relation_kind("  select * from t") is RelationKind.QUERY
    assert relation_kind("WITH x AS (SELECT 1) SELECT * FROM x") is RelationKind.QUERY


def test_unknown_key_is_a_located_finding(tmp_path: Path) -> None:
    _project(tmp_path, GOOD.replace('timestamp = "event_time"', 'timestamp = "event_time"\nuser = "x"'))
    findings = validate_paths([tmp_path])
    assert len(findings) == 1 and findings[0].severity == "fatal"
    assert findings[0].line == 14 and findings[0].field == "source.lake.columns.user"
    assert "unknown key 'user'" in findings[0].message


def test_missing_required_keys_are_findings_with_the_table_line(tmp_path: Path) -> None:
    _project(tmp_path, "[source.half]\nurl = \"duckdb:///:memory:\"\n")
    findings = validate_paths([tmp_path])
    assert {f.field for f in findings} == {"source.half.exposures", "source.half.conversions"}
    assert {f.line for f in findings} == {1} and {f.rule for f in findings} == {"required"}
    with pytest.raises(ConfigError, match="required field is missing"):
        load_project(tmp_path)


def test_semantic_problems_each_name_their_line(tmp_path: Path) -> None:
    _project(tmp_path, """\
[source.bad]
url = "oracle://warehouse"
exposures = "exposures.parquet"
conversions = ""
timestamps = "millis"

[source.pg]
url = "postgresql+psycopg://u@host/db"
exposures = "exposures/*.parquet"
conversions = "conversions"

[source.cluster]
url = "spark://master:7077"
exposures = "exposures"
conversions = "conversions"

[source.blank]
url = "sqlite:///store.db"
exposures = "exposures"
conversions = "conversions"
[source.blank.columns]
arm = " "
""")
    found = {(f.field, f.line, f.rule) for f in validate_paths([tmp_path])}
    assert found == {
        ("source.bad.url", 2, "source_url"),
        ("source.bad.conversions", 4, "required"),
        ("source.bad.timestamps", 5, "source_timestamps"),
        ("source.bad.exposures", 3, "source_relation"),  # Parquet needs DuckDB or Spark
        ("source.pg.exposures", 9, "source_relation"),
        ("source.blank.columns.arm", 22, "required"),
    }


def test_check_source_raises_with_file_and_line(tmp_path: Path) -> None:
    folder = _project(tmp_path, GOOD.replace("duckdb:///:memory:", "not a url"))
    project, missing, _ = read_project_file(folder / "liftlab.toml")
    assert project is not None and missing == []
    with pytest.raises(ConfigError) as raised:
        check_source(project.source("lake"), folder / "liftlab.toml")
    assert raised.value.line == 5 and raised.value.field == "source.lake.url"
    check_source(Source("py", "duckdb:///:memory:", "e.parquet", "c.parquet"))  # a good one passes


def test_project_without_sources_is_unchanged(experiments_dir: Path) -> None:
    assert load_project(experiments_dir).sources == ()


@pytest.mark.parametrize(("url", "expected"), [
    ("duckdb:///lake.duckdb", "duckdb:///{folder}/lake.duckdb"),
    ("sqlite:///data/store.db?timeout=5", "sqlite:///{folder}/data/store.db?timeout=5"),
    ("duckdb:///:memory:", "duckdb:///:memory:"),
    ("duckdb:////abs/lake.duckdb", "duckdb:////abs/lake.duckdb"),
    ("postgresql+psycopg://me@db/shop", "postgresql+psycopg://me@db/shop"),
])
def test_file_database_urls_are_relative_to_the_project_file(tmp_path: Path, url: str, expected: str) -> None:
    _project(tmp_path, GOOD.replace("duckdb:///:memory:", url))
    found = load_project(tmp_path).source("lake").url
    assert found == expected.format(folder=tmp_path.resolve().as_posix())

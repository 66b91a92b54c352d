"""The analysis queries rendered for BigQuery, Snowflake and Databricks/Spark SQL: each
warehouse's epoch-µs function and quoting, nothing another engine's, and SQL that sqlglot
parses in that warehouse's dialect with every function one it knows. The warehouses' own
SQLAlchemy packages are checked too where installed (they are not dev dependencies)."""

from __future__ import annotations

import importlib.util
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlalchemy.engine.default import DefaultDialect
from sqlglot import exp

from liftlab.config.loading import load_experiment
from liftlab.config.model import Experiment
from liftlab.config.sources import Columns, Source
from liftlab.config.validation import source_findings
from liftlab.warehouse.dialects import DIALECTS, RenderedQuery, analysis_queries, render
from liftlab.warehouse.queries import arm_sums
from liftlab.warehouse.relations import relation

ROOT = Path(__file__).resolve().parent.parent
LOOK = datetime(2026, 11, 16, tzinfo=timezone.utc)
SOURCE = Source("w", "x://", "my-project.analytics.exposures", "analytics.purchases",
                "analytics.assignments", Columns(unit_id="customer_id", timestamp="event_time"))

#: engine → (sqlglot dialect, its epoch-µs SQL, its parameter marker for `experiment`).
EXPECTED = {
    "bigquery": ("bigquery", "UNIX_MICROS(CAST(exposures_raw.event_time AS TIMESTAMP))",
                 "@experiment"),
    "snowflake": ("snowflake", "DATE_PART(epoch_microsecond, exposures_raw.event_time)",
                  "%(experiment)s"),
    "spark": ("spark", "unix_micros(exposures_raw.event_time)", ":experiment"),
    "databricks": ("databricks", "unix_micros(exposures_raw.event_time)", ":experiment"),
}
#: Other engines' epoch-µs constructs: none may appear in a warehouse's rendering.
FOREIGN = ("epoch_us", "EXTRACT(EPOCH", "strftime", "UNIX_MICROS", "unix_micros", "DATE_PART")


def _docs_script() -> Any:
    """docs/render_scale_sql.py as a module (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("render_scale_sql",
                                                  ROOT / "docs" / "render_scale_sql.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.fixture(scope="module")
def experiment() -> Experiment:
    return load_experiment(ROOT / "experiments" / "winback_q4.toml")


def _queries(experiment: Experiment, engine: str) -> list[RenderedQuery]:
    """Both queries of every metric of the win-back experiment, at a look (`until`)."""
    return [query for metric in experiment.metrics
            for query in analysis_queries(SOURCE, experiment, metric, engine, until=LOOK)]


def _sql_literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _as_sent(query: RenderedQuery) -> str:
    """The SQL the warehouse receives: the Snowflake connector substitutes `%(name)s`
    parameters client-side (BigQuery and Spark bind `@name` / `:name` server-side)."""
    if query.engine != "snowflake":
        return query.sql
    return query.sql % {name: _sql_literal(value) for name, value in query.params.items()}


def _parse_strictly(sql: str, dialect: str) -> exp.Expression:
    """The statement's syntax tree in `dialect`; fails when sqlglot cannot parse it or meets a
    function it does not know for that dialect (an unsupported construct)."""
    tree = sqlglot.parse_one(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
    unknown = sorted({f.name for f in tree.find_all(exp.Anonymous)})
    assert unknown == [], f"functions {dialect} does not know: {unknown}"
    return tree


@pytest.mark.parametrize("engine", list(EXPECTED))
def test_full_analysis_renders_for_each_warehouse(experiment: Experiment, engine: str) -> None:
    dialect, micros, marker = EXPECTED[engine]
    queries = _queries(experiment, engine)
    assert len(queries) == 2 * len(experiment.metrics)
    for query in queries:
        assert micros in query.sql
        others = [f for f in FOREIGN if f in query.sql and not micros.startswith(f)]
        assert others == [], f"{engine} rendering carries {others}"
        assert marker in query.sql
        if dialect in ("bigquery", "snowflake"):
            assert ":experiment" not in query.sql
        assert query.params["experiment"] == experiment.key
        assert query.params["until"] == int(LOOK.timestamp()) * 1_000_000
        tree = _parse_strictly(_as_sent(query), dialect)
        assert tree.find(exp.UnixMicros if engine != "snowflake" else exp.Extract) is not None
    arms, holdout = queries[2], queries[3]  # the revenue metric
    assert "row_number() OVER (PARTITION BY" in arms.sql and "first_exposure.t0 - " in arms.sql
    assert "UNION ALL" in holdout.sql and "assignments.holdout" in holdout.sql


@pytest.mark.parametrize(("engine", "relation_sql"), [
    ("bigquery", "FROM `my-project`.analytics.exposures AS exposures_raw"),
    ("snowflake", 'FROM "my-project".analytics.exposures AS exposures_raw'),
    ("spark", "FROM `my-project`.analytics.exposures AS exposures_raw"),
])
def test_each_part_of_a_dotted_name_is_quoted_on_its_own(
    experiment: Experiment, engine: str, relation_sql: str
) -> None:
    assert relation_sql in _queries(experiment, engine)[0].sql


def test_reserved_words_are_quoted_in_the_warehouse_s_own_way() -> None:
    source = Source("w", "x://", "events.select", "events.window", columns=Columns(arm="group"))
    statement = arm_sums(relation(source, "exposures"), relation(source, "conversions"), "revenue")
    assert "FROM events.`select` AS exposures_raw" in render(statement, "bigquery").sql
    assert "exposures_raw.`group` AS arm" in render(statement, "spark").sql
    assert 'exposures_raw."group" AS arm' in render(statement, "snowflake").sql
    params = {"experiment": "e", "event": "purchase", "window_us": 1, "until": 2}
    for engine, (dialect, _, _) in EXPECTED.items():
        _parse_strictly(_as_sent(render(statement, engine, params)), dialect)


def test_spark_parameters_are_the_named_markers_spark_sql_binds(experiment: Experiment) -> None:
    """Every `:name` in the Spark rendering has a value, and no value is left unused:
    `spark.sql(query.sql, args=query.params)` is the whole call."""
    for query in _queries(experiment, "spark"):
        markers = set(re.findall(r"(?<![\w:]):([A-Za-z_]\w*)", query.sql))
        assert markers == set(query.params)


def test_an_engine_without_a_rendering_dialect_is_named() -> None:
    statement = arm_sums(relation(SOURCE, "exposures"), relation(SOURCE, "conversions"), "revenue")
    with pytest.raises(ValueError, match="'oracle'"):
        render(statement, "oracle")
    with pytest.raises(NotImplementedError, match="only renders SQL"):
        DIALECTS["bigquery"].import_dbapi()


@pytest.mark.parametrize(("module", "engine"), [
    ("sqlalchemy_bigquery", "bigquery"),
    ("snowflake.sqlalchemy", "snowflake"),
    ("databricks.sqlalchemy", "databricks"),
])
def test_the_warehouse_s_own_sqlalchemy_package_renders_the_same_construct(
    module: str, engine: str
) -> None:
    """Where the warehouse's package is installed, its dialect compiles our epoch-µs construct
    (registered by dialect name) and the SQL parses in that warehouse's dialect."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        pytest.skip(f"{module} is not installed (a warehouse package, not a dev dependency)")
    from sqlalchemy.dialects import registry

    dialect: DefaultDialect = registry.load(engine)()
    statement = arm_sums(relation(SOURCE, "exposures"), relation(SOURCE, "conversions"), "revenue")
    sql = str(statement.compile(dialect=dialect))
    assert EXPECTED[engine][1].split("(")[0] in sql and "epoch_us" not in sql


def test_docs_scale_shows_what_the_renderer_gives() -> None:
    """docs/scale.md's SQL is generated (`python docs/render_scale_sql.py`), never edited."""
    script = _docs_script()
    document = (ROOT / "docs" / "scale.md").read_text(encoding="utf-8")
    assert script.BEGIN in document and script.END in document
    assert script.updated(document, script.rendered_sections()) == document, \
        "docs/scale.md is stale: run python docs/render_scale_sql.py"


def test_a_warehouse_source_validates_as_coming_not_as_unknown() -> None:
    """The documented `[source]` tables are well formed: the one finding is that running
    on the warehouse is coming."""
    script = _docs_script()
    for _, _, source in script.EXAMPLES:
        findings = source_findings(source)
        assert [f.rule for f in findings] == ["source_url"]
        assert f"the {source.engine_name} engine is coming" in str(findings[0])

"""Writes the rendered SQL of docs/scale.md: `python docs/render_scale_sql.py`.

The SQL in the document is what `liftlab.warehouse.dialects.analysis_queries` renders for
the win-back experiment's revenue metric on each warehouse's example source, so it is never
hand-written; tests/test_warehouse_dialects.py fails when the document and the renderer differ.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from liftlab.config.loading import load_experiment
from liftlab.config.sources import Columns, Source
from liftlab.warehouse.dialects import analysis_queries

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "scale.md"
BEGIN, END = "<!-- rendered SQL: begin -->", "<!-- rendered SQL: end -->"
#: A look at the end of 2026-11-15 (UTC): what the timeline asks for one day.
LOOK = datetime(2026, 11, 16, tzinfo=timezone.utc)
_COLUMNS = Columns(unit_id="customer_id", timestamp="event_time")

#: One example source per warehouse: (title, rendering engine, the source as declared).
EXAMPLES = (
    ("BigQuery", "bigquery", Source(
        "bq", "bigquery://my-project/analytics", "my-project.analytics.exposures",
        "my-project.analytics.purchases", "my-project.analytics.assignments", _COLUMNS)),
    ("Snowflake", "snowflake", Source(
        "snow", "snowflake://analyst@my-account/SHOP/ANALYTICS?warehouse=REPORTING",
        "analytics.exposures", "analytics.purchases", "analytics.assignments", _COLUMNS)),
    ("Databricks SQL / Spark SQL", "spark", Source(
        "lakehouse", "databricks://token:...@my-workspace.cloud.databricks.com"
        "?http_path=/sql/1.0/warehouses/abc&catalog=main&schema=analytics",
        "main.analytics.exposures", "main.analytics.purchases", "main.analytics.assignments",
        _COLUMNS)),
)


def _toml(source: Source) -> str:
    lines = [f"[source.{source.name}]", f'url = "{source.url}"']
    lines += [f'{role} = "{relation}"' for role, relation in source.relations().items()]
    lines += ["", f"[source.{source.name}.columns]",
              f'unit_id = "{source.columns.unit_id}"', f'timestamp = "{source.columns.timestamp}"']
    return "\n".join(lines)


def rendered_sections(experiments_dir: Path = ROOT / "experiments") -> str:
    """The generated part of docs/scale.md: per warehouse its `[source]` table, both queries
    and their parameters."""
    experiment = load_experiment(experiments_dir / "winback_q4.toml")
    metric = next(m for m in experiment.metrics if m.kind == "revenue")
    parts: list[str] = []
    for title, engine, source in EXAMPLES:
        arms, holdout = analysis_queries(source, experiment, metric, engine, until=LOOK)
        parts += [
            f"### {title}", "",
            "```toml", _toml(source), "```", "",
            "Per segment × arm sums, with the pre-period:", "",
            "```sql", arms.sql, "```", "",
            f"its parameters: `{json.dumps(arms.params, sort_keys=True)}`", "",
            "Campaigned vs global holdout:", "",
            "```sql", holdout.sql, "```", "",
            f"its parameters: `{json.dumps(holdout.params, sort_keys=True)}`", "",
        ]
    return "\n".join(parts)


def updated(document: str, sections: str) -> str:
    """`document` with the text between the markers replaced by `sections`."""
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{sections}\n{END}{tail}"


def main() -> int:
    DOCUMENT.write_text(updated(DOCUMENT.read_text(encoding="utf-8"), rendered_sections()),
                        encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

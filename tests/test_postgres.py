"""The whole analysis on PostgreSQL equals the analysis on SQLite, report for report.

Runs when LIFTLAB_TEST_POSTGRES_URL names a server on which databases may be created (.ci/run
starts one when the machine has PostgreSQL's programs); skipped otherwise.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from scratch_pg import POSTGRES_URL, scratch_database

from liftlab.cli import cli
from liftlab.config.loading import load_experiments
from liftlab.store.event_store import EventStore


@pytest.mark.skipif(not POSTGRES_URL, reason="LIFTLAB_TEST_POSTGRES_URL is not set")
def test_demo_reports_are_identical_on_postgresql(demo_run, experiments_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with scratch_database() as url:
        lite, pg = EventStore(demo_run.database_url), EventStore(url)
        experiments = load_experiments(experiments_dir)
        for experiment in experiments:
            pg.register_experiment(experiment)
            pg.save_assignments(lite.assignments(experiment.key))
        with lite.engine.connect() as conn:
            for table, log in (("exposures", pg.log_exposures), ("conversions", pg.log_conversions)):
                rows = pd.read_sql_query(f"SELECT * FROM {table}", conn)
                rows["timestamp"] = pd.to_datetime(rows.pop("ts"), unit="us", utc=True)
                assert log(rows).inserted == len(rows)
        for experiment in experiments:
            reports = []
            for store_url in (demo_run.database_url, url):
                result = CliRunner().invoke(cli, ["analyze", experiment.key, "--db", store_url, "--format", "json"])
                assert result.exit_code == 0, result.output
                report = json.loads(result.output)
                report.pop("generated_at")
                reports.append(report)
            assert _same(reports[0], reports[1]), experiment.key
        pg.engine.dispose()


def _same(a: object, b: object) -> bool:
    """Equal, numbers within 1e-9 relative (the two databases may add in different orders)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b

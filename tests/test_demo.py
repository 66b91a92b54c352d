"""`liftlab demo` end to end: planted uplifts recovered, reports written, CLI readable."""

from __future__ import annotations

import base64
import json
import re
from importlib.resources import files
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from liftlab.cli import cli
from liftlab.demo.run import DEMO_UPLIFTS, truth_check
from liftlab.report import Verdict


def test_intervals_contain_the_planted_uplifts(demo_run) -> None:  # type: ignore[no-untyped-def]
    check = truth_check(demo_run)
    planted_segments = set(DEMO_UPLIFTS)
    assert planted_segments <= set(check["segment"])
    missed = check[~check["covered"]]
    assert missed.empty, missed.to_string()
    # The planted signs show through: a clear winner, a zero and a loser are all present.
    verdicts = {(r.segment, r.arm, r.metric): r.verdict for rep in demo_run.reports for r in rep.results}
    assert verdicts[("first_time", "series_3", "second_order")] is Verdict.WINS
    assert verdicts[("recent", "sms_nudge", "second_order")] not in (Verdict.WINS, Verdict.LOSES)


def test_every_segment_campaign_is_reported_without_srm(demo_run) -> None:  # type: ignore[no-untyped-def]
    for report in demo_run.reports:
        assert not any(s.flagged for s in report.srm), report.experiment
        assert report.holdout, "the global holdout comparison is missing"


def test_json_and_html_reports(demo_run) -> None:  # type: ignore[no-untyped-def]
    schema = json.loads(files("liftlab").joinpath("data/report.schema.json").read_text())
    for report in demo_run.reports:
        jsonschema.validate(json.loads(report.to_json()), schema)
    for page in demo_run.html_files:
        text = Path(page).read_text(encoding="utf-8")
        images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
        # forest plot per metric, incremental revenue, cumulative uplift per metric
        assert len(images) >= 4, page
        assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
        assert "<table>" in text and "Uplift per segment campaign" in text


def test_analyze_cli_formats(demo_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    experiment = str(Path(__file__).resolve().parents[1] / "experiments" / "onboarding.toml")
    runner = CliRunner()
    for fmt in ("table", "markdown", "json"):
        result = runner.invoke(cli, ["analyze", experiment, "--db", demo_run.database_url, "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "first_time" in result.output
    out = tmp_path / "report.html"
    result = runner.invoke(cli, ["analyze", experiment, "--db", demo_run.database_url,
                                 "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_demo_cli_runs_small(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path), "--customers", "6000"])
    assert result.exit_code == 0, result.output
    assert "Planted truth" in result.output and "HTML report" in result.output
    assert (tmp_path / "liftlab.db").exists()


def test_analyze_by_registered_key(demo_run) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["analyze", "winback-2026q4", "--db", demo_run.database_url, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["experiment"] == "winback-2026q4"
    unknown = CliRunner().invoke(cli, ["analyze", "no-such-experiment", "--db", demo_run.database_url])
    assert unknown.exit_code == 2 and "not registered" in unknown.output


def test_timeline_ends_where_a_cut_off_on_its_last_day_ends(demo_run, experiments_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Each day's point is the Welch interval on the data as it stood at that day's end."""
    import math
    from datetime import UTC, datetime, time, timedelta

    from liftlab.aggregate.queries import aggregate
    from liftlab.config.loading import load_experiments
    from liftlab.report.timeline import timeline
    from liftlab.stats import Sample, frequentist
    from liftlab.store.event_store import EventStore

    store = EventStore(demo_run.database_url)
    experiment = next(e for e in load_experiments(experiments_dir) if e.key == demo_run.reports[0].experiment)
    daily = timeline(store, experiment).to_frame()
    assert daily["day"].is_monotonic_increasing and set(daily["metric"]) == {m.key for m in experiment.metrics}
    for day in sorted(daily["day"].unique())[::4]:
        cut = datetime.combine(day.date() + timedelta(days=1), time.min, tzinfo=UTC)
        for metric in experiment.metrics:
            table = aggregate(store, experiment, metric, until=cut).to_frame().set_index(["segment", "arm"])
            for row in daily[(daily["day"] == day) & (daily["metric"] == metric.key)].itertuples():
                campaign = next(c for c in experiment.campaigns if c.segment == row.segment)
                control = Sample(*table.loc[(row.segment, campaign.control.key), ["n", "sum", "sum_sq"]])
                treated = Sample(*table.loc[(row.segment, row.arm), ["n", "sum", "sum_sq"]])
                expected = frequentist(control, treated)
                if control.sum == 0 and treated.sum == 0:  # nothing converted yet: no point
                    assert math.isnan(row.abs_uplift)
                    continue
                assert abs(row.abs_uplift - expected.abs_uplift) <= 1e-9 * max(1.0, abs(expected.abs_uplift))
                assert abs(row.low - expected.abs_ci[0]) <= 1e-9 * max(1.0, abs(expected.abs_ci[0]))

"""`liftlab target` on the demo store: the policy file, the HTML page, and bad input (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from liftlab.cli import cli


@pytest.fixture(scope="module")
def customers(demo_run, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """The features file the demo writes (its segmented customers), under the name a user would give."""
    path = tmp_path_factory.mktemp("target") / "customers.csv"
    path.write_bytes((demo_run.directory / "segments.csv").read_bytes())
    return path


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["target", *args], catch_exceptions=False)


def test_policy_file_and_html_on_the_demo_store(demo_run, customers: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, page, follow_up = tmp_path / "policy.csv", tmp_path / "targeting.html", tmp_path / "next.toml"
    result = _run("winback-2026q4", "--db", demo_run.database_url, "--features", str(customers),
                  "--out", str(out), "--html", str(page), "--estimator", "linear", "--replicates", "100",
                  "--next", str(follow_up))
    assert result.exit_code == 0, result.output
    assert "Qini area" in result.output and "at_risk · voucher_10" in result.output
    policy = pd.read_csv(out, dtype={"unit_id": str, "send": str}, keep_default_na=False)
    assert list(policy.columns) == ["unit_id", "segment", "arm", "predicted_uplift", "send"]
    # yes / no under a recommended policy; empty for a campaign without one (its line says why).
    for (segment, arm), sends in policy.groupby(["segment", "arm"])["send"]:
        decided = set(sends) <= {"yes", "no"}
        assert decided or set(sends) == {""}
        assert (f"{segment} · {arm}: no targeted policy" in " ".join(result.output.split())) != decided
    campaigns = set(map(tuple, policy[["segment", "arm"]].drop_duplicates().to_numpy()))
    assert campaigns == {("at_risk", "voucher_10"), ("at_risk", "free_shipping"), ("cant_lose", "voucher_10"),
                         ("cant_lose", "free_shipping"), ("hibernating", "voucher_10")}
    # Every exposed customer of the segment gets one decision per campaign of that segment.
    store_counts = policy.groupby(["segment", "arm"]).size()
    segments = demo_run.segments.set_index("customer_id")["segment"]
    assert (policy["unit_id"].map(segments) == policy["segment"]).all()
    assert store_counts[("at_risk", "voucher_10")] == store_counts[("at_risk", "free_shipping")]
    assert policy["predicted_uplift"].notna().all()
    text = page.read_text(encoding="utf-8")
    assert text.count("<figcaption>Cross-fitted Qini curve") == 5
    assert text.count("<figcaption>Expected profit of sending") == 5
    assert "data:image/png;base64," in text
    assert text.count("added by the top 30%") == 5
    # The demo plants one uplift per segment (no heterogeneity): a targeted follow-up is
    # written only for a campaign whose ranking beat chance, and must then pass validation.
    recommended = {tuple(r) for r in policy.loc[policy["send"] == "yes", ["segment", "arm"]].to_numpy()}
    if recommended:
        from liftlab.config.validation import validate_paths

        assert follow_up.exists() and validate_paths([follow_up]) == []
    else:
        assert not follow_up.exists() and "not written" in result.output


def test_bad_input_names_the_file_and_column(demo_run, customers: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    common = ["winback-2026q4", "--db", demo_run.database_url, "--out", str(tmp_path / "p.csv")]
    missing_column = _run(*common, "--features", str(customers), "--feature", "tenure")
    assert missing_column.exit_code == 2
    assert "customers.csv" in missing_column.output and "'tenure'" in missing_column.output

    partial = tmp_path / "partial.csv"
    pd.read_csv(customers).iloc[::2].to_csv(partial, index=False)
    lacking = _run(*common, "--features", str(partial))
    assert lacking.exit_code == 2 and "partial.csv" in lacking.output and "have no row" in lacking.output

    absent = _run(*common, "--features", str(tmp_path / "none.csv"))
    assert absent.exit_code == 2 and "none.csv: no such file" in absent.output

    unknown = _run(*common, "--features", str(customers), "--metric", "clicks")
    assert unknown.exit_code == 2 and "no metric 'clicks'" in unknown.output
    assert not (tmp_path / "p.csv").exists()


def test_the_analysis_html_report_gains_a_targeting_section(demo_run, customers: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "report.html"
    args = ["analyze", "winback-2026q4", "--db", demo_run.database_url, "--format", "html", "--out", str(page)]
    result = CliRunner().invoke(cli, [*args, "--features", str(customers)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert "<h2>Targeting</h2>" in text and text.index("<h2>Charts</h2>") < text.index("<h2>Targeting</h2>")
    assert text.count("<figcaption>Cross-fitted Qini curve") == 5
    assert "<figcaption>Expected profit of sending to the top k%" in text
    wrong = CliRunner().invoke(cli, ["analyze", "winback-2026q4", "--db", demo_run.database_url,
                                     "--features", str(customers)])
    assert wrong.exit_code == 2 and "--features" in wrong.output

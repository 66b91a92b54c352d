"""build_report: both engines per segment × arm × metric, SRM, corrections, value, totals."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from liftlab import Arm, Campaign, Experiment, Metric
from liftlab.report import Verdict, build_report
from liftlab.stats import Sample, bayesian, frequentist

EXPERIMENT = Experiment(
    key="rep",
    start=date(2026, 10, 1),
    margin=0.4,
    metrics=(Metric("purchase", "conversion"), Metric("revenue", "revenue")),
    campaigns=(
        Campaign("at_risk", cost_per_contact=0.05,
                 arms=(Arm("control", 0.2, control=True), Arm("a", 0.4), Arm("b", 0.4))),
        Campaign("champion", cost_per_contact=0.1,
                 arms=(Arm("control", 0.5, control=True), Arm("vip", 0.5))),
    ),
)
RATES = {("at_risk", "control"): 0.05, ("at_risk", "a"): 0.07, ("at_risk", "b"): 0.05,
         ("champion", "control"): 0.2, ("champion", "vip"): 0.2}


def _units(seed: int = 0, n: int = 20_000, with_pre: bool = True, skew: dict | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for campaign in EXPERIMENT.campaigns:
        weights = np.array([a.weight for a in campaign.arms])
        if skew and campaign.segment in skew:
            weights = np.array(skew[campaign.segment])
        arms = rng.choice([a.key for a in campaign.arms], size=n, p=weights / weights.sum())
        propensity = np.clip(rng.lognormal(-0.3, 0.8, n), 0, 5)
        rate = np.array([RATES[(campaign.segment, a)] for a in arms]) * propensity
        converted = rng.random(n) < np.clip(rate, 0, 1)
        revenue = converted * rng.lognormal(4, 0.5, n)
        pre_conv = rng.random(n) < np.clip(rate / RATES[(campaign.segment, arms[0])] * 0.05 * propensity, 0, 1)
        frames.append(pd.DataFrame({
            "segment": campaign.segment, "arm": arms, "purchase": converted.astype(float),
            "revenue": revenue, "pre_purchase": pre_conv.astype(float),
            "pre_revenue": pre_conv * rng.lognormal(4, 0.5, n),
        }))
    return pd.concat(frames, ignore_index=True)


def _tables(units: pd.DataFrame, with_pre: bool = True) -> dict[str, pd.DataFrame]:
    tables = {}
    for metric in ("purchase", "revenue"):
        u = units.assign(y=units[metric], x=units[f"pre_{metric}"])
        u = u.assign(y2=u.y**2, x2=u.x**2, xy=u.x * u.y)
        g = u.groupby(["segment", "arm"], as_index=False).agg(
            n=("y", "size"), sum=("y", "sum"), sum_sq=("y2", "sum"),
            x_sum=("x", "sum"), x_sum_sq=("x2", "sum"), xy_sum=("xy", "sum"))
        tables[metric] = g if with_pre else g[["segment", "arm", "n", "sum", "sum_sq"]]
    return tables


def test_numbers_match_direct_engine_calls() -> None:
    units = _units()
    report = build_report(EXPERIMENT, _tables(units, with_pre=False), use_cuped=False)
    assert len(report.results) == 2 * 3  # (2 + 1 treatment arms) × 2 metrics
    for r in report.results:
        c = units[(units.segment == r.segment) & (units.arm == r.control_arm)][r.metric]
        t = units[(units.segment == r.segment) & (units.arm == r.arm)][r.metric]
        f = frequentist(Sample.from_values(c), Sample.from_values(t))
        b = bayesian(Sample.from_values(c), Sample.from_values(t), kind=r.metric_kind)
        assert r.n_control == len(c) and r.n_treatment == len(t)
        assert r.mean_control == pytest.approx(c.mean(), rel=1e-12)
        assert r.abs_uplift == pytest.approx(f.abs_uplift, rel=1e-9)
        assert r.abs_ci == pytest.approx(f.abs_ci, rel=1e-9)
        assert r.p_value == pytest.approx(f.p_value, rel=1e-9)
        assert r.prob_beat_control == pytest.approx(b.prob_beat_control, rel=1e-9)
        assert r.incremental == pytest.approx(f.abs_uplift * len(t), rel=1e-9)
        assert r.incremental_ci == pytest.approx((f.abs_ci[0] * len(t), f.abs_ci[1] * len(t)), rel=1e-9)
        assert not r.cuped


def test_p_values_are_adjusted_across_the_whole_report() -> None:
    report = build_report(EXPERIMENT, _tables(_units(), with_pre=False), correction="holm")
    raw = [r.p_value for r in report.results]
    expected = multipletests(raw, method="holm")[1]
    assert [r.p_value_adjusted for r in report.results] == pytest.approx(expected, rel=1e-9)
    bh = build_report(EXPERIMENT, _tables(_units(), with_pre=False), correction="bh")
    assert [r.p_value_adjusted for r in bh.results] == pytest.approx(
        multipletests(raw, method="fdr_bh")[1], rel=1e-9)


def test_cuped_is_used_when_a_pre_period_exists_and_said_so() -> None:
    report = build_report(EXPERIMENT, _tables(_units()))
    assert all(r.cuped for r in report.results)
    assert any("CUPED" in note for note in report.notes)
    assert all(any("CUPED" in n for n in r.notes) for r in report.results)


def test_srm_failure_withholds_the_verdict() -> None:
    units = _units(skew={"champion": [0.6, 0.4]})
    report = build_report(EXPERIMENT, _tables(units))
    flagged = {s.segment: s.flagged for s in report.srm}
    assert flagged == {"at_risk": False, "champion": True}
    for r in report.results:
        if r.segment == "champion":
            assert r.verdict is Verdict.SRM
        else:
            assert r.verdict is not Verdict.SRM


def test_verdicts_winner_and_underpowered() -> None:
    report = build_report(EXPERIMENT, _tables(_units(n=60_000)), use_cuped=False)
    by = {(r.segment, r.arm, r.metric): r for r in report.results}
    assert by[("at_risk", "a", "purchase")].verdict is Verdict.WINS
    small = build_report(EXPERIMENT, _tables(_units(n=400)), use_cuped=False)
    assert any(r.verdict is Verdict.UNDERPOWERED and r.mde_relative > 0.10 for r in small.results)


def test_value_and_roi() -> None:
    report = build_report(EXPERIMENT, _tables(_units(), with_pre=False), use_cuped=False)
    rev = {(r.segment, r.arm): r for r in report.results if r.metric == "revenue"}
    for v in report.value:
        r = rev[(v.segment, v.arm)]
        cost_per = 0.05 if v.segment == "at_risk" else 0.1
        assert v.treated == r.n_treatment
        assert v.cost == pytest.approx(cost_per * r.n_treatment)
        assert v.incremental_revenue == pytest.approx(r.incremental)
        assert v.profit == pytest.approx(r.incremental * 0.4 - v.cost)
        assert v.roi == pytest.approx(v.profit / v.cost)
        assert v.roi_ci[0] <= v.roi <= v.roi_ci[1]


def test_totals_add_strata_with_the_shared_control() -> None:
    report = build_report(EXPERIMENT, _tables(_units(), with_pre=False), use_cuped=False)
    rows = [r for r in report.results if r.metric == "purchase" and r.segment != "all"]
    total = next(t for t in report.totals if t.metric == "purchase")
    assert total.incremental == pytest.approx(sum(r.incremental for r in rows))
    # Variance: each arm's (n_T·se)² plus 2·n_a·n_b·Var(control mean) within at_risk.
    units = _units()

    def sample(segment: str, arm: str) -> Sample:
        return Sample.from_values(units[(units.segment == segment) & (units.arm == arm)]["purchase"])

    se = {(r.segment, r.arm): frequentist(sample(r.segment, "control"), sample(r.segment, r.arm)).abs_se
          for r in rows}
    a, b = [r for r in rows if r.segment == "at_risk"]
    control_se = sample("at_risk", "control").standard_error
    var = sum((se[(r.segment, r.arm)] * r.n_treatment) ** 2 for r in rows) + 2 * a.n_treatment * b.n_treatment * control_se**2
    half = 1.959963984540054 * math.sqrt(var)
    assert total.incremental_ci == pytest.approx((total.incremental - half, total.incremental + half))


def test_totals_interval_covers_in_simulation() -> None:
    """Coverage of the stratified total over 300 seeded replicates of a null experiment."""
    covered = 0
    runs = 300
    for seed in range(runs):
        units = _units(seed=seed, n=3_000)
        units["purchase"] = (np.random.default_rng(seed + 10_000).random(len(units)) < 0.1).astype(float)
        report = build_report(EXPERIMENT, _tables(units, with_pre=False), use_cuped=False)
        low, high = next(t for t in report.totals if t.metric == "purchase").incremental_ci
        covered += low <= 0.0 <= high
    # 95% nominal; binomial sd over 300 runs is about 1.3 points.
    assert 0.91 <= covered / runs <= 0.99


def test_json_is_plain_and_has_the_contract_fields() -> None:
    report = build_report(EXPERIMENT, _tables(_units(n=200)))
    document = json.loads(report.to_json())
    assert {"experiment", "generated_at", "srm", "results"} <= set(document)
    contract = {"segment", "arm", "control_arm", "metric", "n_control", "n_treatment",
                "mean_control", "mean_treatment", "abs_uplift", "abs_ci", "rel_uplift", "rel_ci",
                "p_value", "p_value_adjusted", "prob_beat_control", "expected_loss",
                "credible_interval", "incremental", "incremental_ci"}
    for result in document["results"]:
        assert contract <= set(result)
        assert isinstance(result["abs_ci"], list) and len(result["abs_ci"]) == 2


def test_empty_arm_gives_a_clear_result_not_a_crash() -> None:
    tables = _tables(_units(n=500), with_pre=False)
    tables = {k: v[~((v.segment == "champion") & (v.arm == "vip"))] for k, v in tables.items()}
    report = build_report(EXPERIMENT, tables)
    r = next(r for r in report.results if r.segment == "champion" and r.metric == "purchase")
    assert r.n_treatment == 0
    assert any("no units" in n for n in r.notes)
    json.loads(report.to_json())  # NaNs become null


def test_renderings_show_the_same_results(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import base64
    import re

    from liftlab.report.render import render

    report = build_report(EXPERIMENT, _tables(_units(n=5_000)))
    table = render(report, "table")
    markdown = render(report, "markdown")
    page = render(report, "html")
    for text in (table, markdown, page):
        assert "at_risk" in text and "champion" in text and "vip" in text
    # rows: results (4 + 2), value (2 + 1) and one SRM check per segment
    assert markdown.count("\n| at_risk") + markdown.count("\n| champion") == 7 + 4
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3  # forest plot per metric + incremental revenue
    for image in images:
        assert base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads(render(report, "json"))["experiment"] == "rep"


def test_segment_discussion_names_every_segment_and_arm() -> None:
    from liftlab.report.discussion import segment_discussion

    report = build_report(EXPERIMENT, _tables(_units(n=20_000)))
    paragraphs = segment_discussion(report)
    assert set(paragraphs) == {"at_risk", "champion"}
    assert "a vs control on purchase" in paragraphs["at_risk"]
    assert "vip added" in paragraphs["champion"] and "ROI" in paragraphs["champion"]
    skewed = build_report(EXPERIMENT, _tables(_units(skew={"champion": [0.6, 0.4]})))
    assert "SRM" in segment_discussion(skewed)["champion"]


def test_json_validates_against_the_published_schema() -> None:
    from importlib.resources import files

    import jsonschema

    schema = json.loads(files("liftlab").joinpath("data/report.schema.json").read_text())
    report = build_report(EXPERIMENT, _tables(_units(n=2_000)))
    jsonschema.validate(json.loads(report.to_json()), schema)
    with pytest.raises(jsonschema.ValidationError):
        broken = json.loads(report.to_json())
        del broken["results"][0]["p_value_adjusted"]
        jsonschema.validate(broken, schema)

"""Examples and notebooks are executed, so they cannot rot."""

from __future__ import annotations

import json
import os
import runpy
import sys
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        return runpy.run_path(str(ROOT / "examples" / name), run_name="example")
    finally:
        sys.path.pop(0)


def test_python_declaration_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = _load("declare_in_python.py")
    report = example["run"](f"sqlite:///{tmp_path / 'ex.db'}", customers=15_000)
    assert {r.segment for r in report.results} == {"at_risk", "cant_lose", "all"}  # "all": pooled
    assert "Planted truth" in capsys.readouterr().out


def test_hillstrom_example_reproduces_direct_pandas_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _load("hillstrom_email.py")
    reports = example["run"](f"sqlite:///{tmp_path / 'h.db'}", "json")
    # --format json is one document (it was two back to back), each report valid on its own.
    printed = json.loads(capsys.readouterr().out)
    assert list(printed) == ["hillstrom-overall", "hillstrom-by-history", "hillstrom-by-newbie"]
    schema = json.loads(files("liftlab").joinpath("data/report.schema.json").read_text())
    for document in printed.values():
        jsonschema.validate(document, schema)
        assert document["holdout"] == []  # no global holdout in this experiment: no programme line
    data = example["load_hillstrom"]()
    arm_of = {v: k for k, v in example["ARMS"].items()}
    # The first question: each e-mail against no e-mail over all customers.
    overall = {(r.arm, r.metric): r for r in reports["hillstrom-overall"].results if r.segment != "all"}
    assert {arm for arm, _ in overall} == {"mens_email", "womens_email"}
    whole = data.groupby("segment")[["conversion", "spend", "visit"]].mean()
    for (arm, metric), r in overall.items():
        assert r.mean_treatment == pytest.approx(whole.loc[arm_of[arm], metric], rel=1e-9)
        assert r.mean_control == pytest.approx(whole.loc["No E-Mail", metric], rel=1e-9)
    assert overall[("mens_email", "visit")].verdict.value == "wins"
    for key, column in (("hillstrom-by-history", "history_segment"), ("hillstrom-by-newbie", "newbie_segment")):
        report = reports[key]
        direct = data.groupby([column, "segment"])[["conversion", "spend", "visit"]].agg(["mean", "size"])
        rows = [r for r in report.results if r.segment != "all"]
        assert len(rows) == data[column].nunique() * 2 * 3
        for r in rows:
            source = "conversion" if r.metric == "conversion" else r.metric
            treated = direct.loc[(r.segment, arm_of[r.arm])]
            control = direct.loc[(r.segment, arm_of[r.control_arm])]
            assert r.n_treatment == treated[(source, "size")]
            assert r.n_control == control[(source, "size")]
            assert r.mean_treatment == pytest.approx(treated[(source, "mean")], rel=1e-9)
            assert r.mean_control == pytest.approx(control[(source, "mean")], rel=1e-9)
            # Incremental spend is (mean_T - mean_C) x n_T, checked against pandas directly.
            expected = (treated[(source, "mean")] - control[(source, "mean")]) * treated[(source, "size")]
            assert r.incremental == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_review_notebook_executes_against_the_demo_store(demo_run) -> None:  # type: ignore[no-untyped-def]
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "notebooks" / "post_campaign_review.ipynb", as_version=4)
    os.environ["LIFTLAB_DB"] = demo_run.database_url
    os.environ["LIFTLAB_EXPERIMENT"] = str(ROOT / "experiments" / "winback_q4.toml")
    try:
        client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                         resources={"metadata": {"path": str(ROOT / "notebooks")}})
        client.execute()
    finally:
        os.environ.pop("LIFTLAB_DB")
        os.environ.pop("LIFTLAB_EXPERIMENT")
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "text/html" in o.get("data", {}) and "data:image/png" in o["data"]["text/html"]]
    assert len(images) >= 3
    text = " ".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert "at_risk" in text and "cant_lose" in text


def test_event_logging_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = _load("log_events.py")
    counts = example["run"](f"sqlite:///{tmp_path / 'ev.db'}", tmp_path)
    assert counts["sends"].rejected == 3 and counts["purchases"].rejected == 2
    assert counts["sends again"].inserted == 0 and counts["sends again"].duplicates == counts["sends"].inserted
    assert counts["purchases again"].duplicates == counts["purchases"].inserted
    out = capsys.readouterr().out
    for expected in ("expected 6 fields", "unparseable timestamp", "arm differs", "not valid JSON", "negative"):
        assert expected in out

"""README's "When you outgrow SQLite" runs as written: its DuckDB block (a demo store turned
into a Parquet lake, a `[source.lake]`, validate, analyze) and its Spark block (the same lake
as a `spark://local[2]` source, through the CLI in its own process), in a fresh folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_warehouse_equality import _differences

from liftlab.warehouse.spark import java_missing

ROOT = Path(__file__).resolve().parents[1]


def readme_blocks() -> list[str]:
    """The ```bash blocks of the section, without their `pip install` lines (the test runs in
    the project's own environment)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### When you outgrow SQLite", 1)[1].split("\n### ", 1)[0]
    blocks = [part.split("```", 1)[0] for part in section.split("```bash\n")[1:]]
    return ["\n".join(line for line in block.splitlines() if not line.startswith("pip install "))
            for block in blocks]


def _run(script: str, folder: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.skipif(java_missing() is not None, reason=java_missing() or "")
def test_readme_duckdb_then_spark_blocks_give_one_report(tmp_path: Path) -> None:
    pytest.importorskip("duckdb_engine")
    pytest.importorskip("pyspark")
    blocks = readme_blocks()
    duckdb_block = next(b for b in blocks if "--source lake" in b)
    spark_block = next(b for b in blocks if "spark://local[2]" in b)
    assert blocks.index(duckdb_block) < blocks.index(spark_block)  # the lake comes first
    shown = _run(duckdb_block, tmp_path)
    assert "win-back" in shown.lower() or "winback" in shown.lower()
    on_spark = json.loads(_run(spark_block, tmp_path))
    on_duckdb = json.loads(_run("liftlab analyze experiments/winback_q4.toml --source lake "
                                "--format json", tmp_path))
    for report in (on_spark, on_duckdb):
        report.pop("generated_at")
    assert on_spark["results"] and on_spark["holdout"]
    assert _differences(on_duckdb, on_spark) == []  # to 1e-9: engines sum in their own order

"""The DuckDB examples run, and give the reports their store-based twins give."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("duckdb_engine")

from test_examples_and_notebooks import _load  # noqa: E402
from test_warehouse_equality import _differences  # noqa: E402


def test_hillstrom_on_duckdb_from_the_csv_equals_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_duckdb = _load("hillstrom_duckdb.py")["run"]("markdown")
    in_store = _load("hillstrom_email.py")["run"](f"sqlite:///{tmp_path / 'h.db'}", "markdown")
    assert list(on_duckdb) == list(in_store) == ["hillstrom-overall", "hillstrom-by-history",
                                                 "hillstrom-by-newbie"]
    for key, report in in_store.items():
        assert _differences(report.to_dict(), on_duckdb[key].to_dict()) == [], key
    # Each e-mail arm with the no-e-mail control: every one of the 64,000 customers counted.
    overall = in_store["hillstrom-overall"].results
    assert {r.n_treatment + r.n_control for r in overall if r.segment == "everyone"} == {42_613, 42_693}
    assert "hillstrom-by-newbie" in capsys.readouterr().out

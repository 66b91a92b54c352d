"""`liftlab segment` on a user's own files: dates read not guessed, every bad column named by
its file line, each warning once, no traceback for any input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liftlab import DataError
from liftlab.cli import cli
from liftlab.lifecycle.rfm import segment_customers

CUSTOMERS = "customer_id,email_known\na,True\nb,False\nc,True\n"


def _segment(tmp_path: Path, orders: str, *extra: str, customers: str = CUSTOMERS):  # type: ignore[no-untyped-def]
    (tmp_path / "customers.csv").write_text(customers)
    (tmp_path / "orders.csv").write_text(orders)
    out = tmp_path / "segments.csv"
    if out.exists():
        out.unlink()
    args = ["segment", "--customers", str(tmp_path / "customers.csv"), "--orders", str(tmp_path / "orders.csv"),
            "--out", str(out), *extra]
    return CliRunner().invoke(cli, args), out


DAY_FIRST = "customer_id,ordered_at,amount\na,28.08.2025,10\nb,03.09.2025,20\na,01.09.2025,5\n"


def test_day_first_orders_are_refused_without_a_format(tmp_path: Path) -> None:
    result, out = _segment(tmp_path, DAY_FIRST)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "orders.csv: 3 bad values: ordered_at: 3 not ISO 8601 or epoch seconds (lines 2, 3, 4; e.g. '28.08.2025')" \
        in result.output
    assert "--date-format" in result.output
    assert not out.exists()  # nothing written


def test_day_first_orders_are_read_with_the_named_format(tmp_path: Path) -> None:
    result, out = _segment(tmp_path, DAY_FIRST, "--date-format", "%d.%m.%Y", "--as-of", "2025-09-10")
    assert result.exit_code == 0, result.output
    segments = pd.read_csv(out).set_index("customer_id")
    # a's last order is 1 September (not 9 January), b's 3 September (not 9 March).
    assert segments.loc["a", "recency_days"] == pytest.approx(10, abs=1)
    assert segments.loc["b", "recency_days"] == pytest.approx(8, abs=1)
    assert segments.loc["a", "frequency"] == 2
    iso, _ = _segment(tmp_path, DAY_FIRST.replace("28.08.2025", "2025-08-28"), "--date-format", "%d.%m.%Y")
    assert iso.exit_code == 2 and "does not match the date format '%d.%m.%Y' (line 2: '2025-08-28')" in iso.output


def test_every_bad_column_is_reported_at_once_with_lines_and_counts(tmp_path: Path) -> None:
    rows = ["customer_id,ordered_at,amount"]
    rows += [f"a,2025-09-{day:02d},-{day}" for day in range(1, 6)]          # lines 2-6: negative
    rows += ["b,2025-09-10,", "b,soon,7", "c,2025-09-11,many", "c,,3"]       # lines 7-10
    result, out = _segment(tmp_path, "\n".join(rows) + "\n")
    assert result.exit_code == 2 and "Traceback" not in result.output
    message = " ".join(result.output.split())  # the console may wrap
    assert "orders.csv: 9 bad values:" in message
    assert "amount: 1 missing (line 7), 1 not a number (line 9: 'many'), 5 negative (first at line 2: '-1')" in message
    assert "ordered_at: 1 missing (line 10), 1 not ISO 8601 or epoch seconds (line 8: 'soon')" in message
    assert "row " not in message and not out.exists()


def test_a_blank_line_keeps_the_line_count(tmp_path: Path) -> None:
    result, _ = _segment(tmp_path, "customer_id,ordered_at,amount\na,2025-09-01,1\n\nb,2025-09-02,-1\n")
    assert result.exit_code == 2 and "negative (line 4" in result.output


def test_a_quoted_field_spanning_lines_keeps_the_line_numbers_true(tmp_path: Path) -> None:
    orders = ('customer_id,ordered_at,amount,note\na,2025-09-01,1,"two\nlines"\n\n'
              'b,2025-09-02,-1,plain\nc,2025-09-03,2,"three\n\nlines"\nc,2025-09-04,-5,x\n')
    result, _ = _segment(tmp_path, orders)
    assert result.exit_code == 2
    assert "2 negative (lines 5, 9" in " ".join(result.output.split())


def test_customer_problems_name_their_lines(tmp_path: Path) -> None:
    result, _ = _segment(tmp_path, "customer_id,ordered_at,amount\na,2025-09-01,1\n",
                         customers="customer_id,email_known\na,1\nb,0\na,1\n,0\n")
    assert result.exit_code == 2
    assert "customers.csv: 2 bad values: customer_id: 1 missing (line 5), 1 duplicate (line 4: 'a')" in result.output


def test_the_unknown_customer_warning_prints_once(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "orders.csv").write_text("customer_id,ordered_at,amount\na,2025-09-01,1\nghost,2025-09-02,5\n")
    run = subprocess.run(
        [sys.executable, "-c", "from liftlab.cli import main; main()", "segment", "--customers", "customers.csv", "--orders", "orders.csv",
         "--out", "segments.csv"],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    assert run.returncode == 0, run.stderr
    both = run.stdout + run.stderr
    assert both.count("not in customers were left out") == 1, both
    assert "UserWarning" not in both and "warnings.warn" not in both
    # In Python the same note is a warning, and it stays in the result's attrs.
    with pytest.warns(UserWarning, match="1 order"):
        result = segment_customers(pd.read_csv(tmp_path / "customers.csv"), pd.read_csv(tmp_path / "orders.csv"))
    assert len(result.attrs["warnings"]) == 1


def test_directories_and_unwritable_outputs_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "orders_dir"
    folder.mkdir()
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    result = CliRunner().invoke(cli, ["segment", "--customers", str(tmp_path / "customers.csv"), "--orders", str(folder),
                                      "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 2 and "orders_dir: is a directory, not a file" in result.output
    nowhere, _ = _segment(tmp_path, "customer_id,ordered_at,amount\na,2025-09-01,1\n")
    bad_out = CliRunner().invoke(cli, ["segment", "--customers", str(tmp_path / "customers.csv"), "--orders",
                                       str(tmp_path / "orders.csv"), "--out", str(tmp_path / "no" / "s.csv")])
    assert nowhere.exit_code == 0 and bad_out.exit_code == 2 and "cannot write" in bad_out.output
    bad_as_of, _ = _segment(tmp_path, "customer_id,ordered_at,amount\na,2025-09-01,1\n", "--as-of", "soon")
    assert bad_as_of.exit_code == 2 and "--as-of: 'soon': not ISO 8601" in bad_as_of.output
    assert "Traceback" not in bad_out.output + bad_as_of.output


def test_the_library_names_lines_too() -> None:
    customers = pd.DataFrame({"customer_id": ["a", "b"]})
    orders = pd.DataFrame({"customer_id": ["a", "b"], "ordered_at": ["2025-09-01", "05/10/2026"], "amount": [1, 2]})
    with pytest.raises(DataError, match=r"ordered_at: 1 not ISO 8601 or epoch seconds \(line 3: '05/10/2026'\)") as raised:
        segment_customers(customers, orders)
    assert raised.value.field == "orders"
    day_first = segment_customers(customers, orders.assign(ordered_at=["01/09/2025", "05/10/2026"]),
                                  date_format="%d/%m/%Y")
    assert day_first.attrs["as_of"].startswith("2026-10-05")


# -- fuzzing: bad cells of every kind give exit 2 and one line, never a traceback -----------

bad_dates = st.one_of(
    st.sampled_from(["28.08.2025", "05/10/2026", "5 October 2026", "yesterday", "2026-13-01", "2026-02-30",
                     "20261005", "2026", "Mon, 05 Oct 2026", "1e9", "-1791201600", "NaT", "null", "\"", "'", ";"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), min_size=1, max_size=12).filter(
        lambda t: not t.strip().replace(".", "").isdigit()),
)
bad_amounts = st.sampled_from(["-1", "-0.01", "abc", "inf", "-inf", "1,5", "€5", "--2", "1e999"])
any_cell = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=10)


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(date=bad_dates, amount=st.one_of(st.none(), bad_amounts), noise=st.lists(any_cell, min_size=3, max_size=3))
def test_fuzzed_bad_cells_exit_2_without_a_traceback(tmp_path: Path, date: str, amount: str | None,
                                                     noise: list[str]) -> None:
    lines = ["customer_id,ordered_at,amount", "a,2025-09-01,10",
             f"b,{_csv_cell(date)},{_csv_cell(amount) if amount is not None else '3'}",
             f"{_csv_cell(noise[0])},{_csv_cell(noise[1])},{_csv_cell(noise[2])}"]
    result, out = _segment(tmp_path, "\n".join(lines) + "\n",
                           customers=f"customer_id\na\nb\n{_csv_cell(noise[0])}\n")
    assert result.exit_code == 2, (lines, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "error: " in result.output
    assert not out.exists()

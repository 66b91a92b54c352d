"""The Hillstrom e-mail experiment analysed by DuckDB straight from the shipped CSV.

The same three views as `hillstrom_email.py` (overall, by spend band, by newbie), but nothing
is loaded into a liftlab store: a declared `Source` says how the CSV reads as exposures (one
per customer at the nominal send time, control included) and conversions (purchases with
their spend, visits), as SQL queries that DuckDB runs over the file. Only the per segment ×
arm sums come back to Python; the reports equal the store's.

Run:  python examples/hillstrom_duckdb.py [--format table|markdown|json]
Needs the DuckDB extra: pip install 'liftlab[duckdb]'.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hillstrom_email import ARMS, DATA, OVERALL, experiment_for

from liftlab import Report
from liftlab.report.render import render
from liftlab.warehouse import Columns, Source, analyze_source

SEND = "TIMESTAMP '2008-03-03 09:00:00'"  # the data has no dates: a nominal send time, as in the store example
# Each customer once, with hillstrom_email's unit ids (h00000 … in file order) and arm keys.
CUSTOMERS = """
    SELECT *, 'h' || lpad(CAST(row_number() OVER () - 1 AS VARCHAR), 5, '0') AS unit_id,
           CASE segment {arms} END AS arm,
           CASE WHEN newbie = 1 THEN 'newbie' ELSE 'returning' END AS newbie_segment
    FROM read_csv('{csv}')
"""


def hillstrom_source(csv: Path = DATA) -> Source:
    """Exposures of the three views and the customers' purchases and visits, over the CSV."""
    arms = " ".join(f"WHEN '{label}' THEN '{key}'" for label, key in ARMS.items())
    customers = CUSTOMERS.format(arms=arms, csv=str(csv).replace("'", "''"))
    views = {"hillstrom-overall": f"'{OVERALL}'", "hillstrom-by-history": "history_segment",
             "hillstrom-by-newbie": "newbie_segment"}
    exposures = f"WITH customers AS ({customers}) " + " UNION ALL ".join(
        f"SELECT unit_id, {SEND} AS sent_at, '{key}' AS experiment, {column} AS stratum, arm "
        f"FROM customers" for key, column in views.items())
    conversions = (
        f"WITH customers AS ({customers}) "
        f"SELECT unit_id, {SEND} + INTERVAL 3 DAY AS sent_at, 'purchase' AS event, spend AS value "
        "FROM customers WHERE conversion = 1 UNION ALL "
        f"SELECT unit_id, {SEND} + INTERVAL 1 DAY, 'visit', 1.0 FROM customers WHERE visit = 1")
    return Source("hillstrom", "duckdb:///:memory:", exposures, conversions,
                  columns=Columns(timestamp="sent_at", segment="stratum"))


def run(fmt: str = "table") -> dict[str, Report]:
    """Analyse the three views on DuckDB; print and return their reports."""
    import duckdb

    source = hillstrom_source()
    histories = sorted(r[0] for r in duckdb.sql(
        f"SELECT DISTINCT history_segment FROM read_csv('{DATA}')").fetchall())
    experiments = (experiment_for("overall", [OVERALL]), experiment_for("history", histories),
                   experiment_for("newbie", ["newbie", "returning"]))
    # Spend bands and newbie flags are not lifecycle segments: that rule is overridden on purpose.
    reports = {e.key: analyze_source(source, e, allow=("segment",)) for e in experiments}
    if fmt == "json":
        print(json.dumps({key: report.to_dict() for key, report in reports.items()}, indent=2))
    else:
        for report in reports.values():
            print(render(report, fmt))
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="table", choices=["table", "markdown", "json"])
    run(parser.parse_args().format)


if __name__ == "__main__":
    main()

"""`liftlab segment`: RFM lifecycle segments for every customer."""

from __future__ import annotations

from pathlib import Path

import click

from liftlab.cli._common import console as make_console
from liftlab.cli._common import friendly_errors, read_table


@click.command()
@click.option("--customers", "customers_file", type=click.Path(path_type=Path), required=True,
              help="CSV with customer_id (and optionally email_known).")
@click.option("--orders", "orders_file", type=click.Path(path_type=Path), required=True,
              help="CSV with customer_id, ordered_at, amount.")
@click.option("--visits", "visits_file", type=click.Path(path_type=Path), default=None,
              help="CSV with customer_id, visited_at.")
@click.option("--as-of", "as_of", default=None, help="Date to segment as of (default: latest event).")
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), default=None,
              help="TOML rule table overriding the default segment map.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Where to write one row per customer (.csv, or .parquet with pyarrow).")
@friendly_errors
def segment(customers_file: Path, orders_file: Path, visits_file: Path | None, as_of: str | None,
            rules_file: Path | None, out: Path) -> None:
    """Score recency, frequency and monetary value, and name each customer's lifecycle segment."""
    from rich.table import Table

    from liftlab.errors import DataError
    from liftlab.lifecycle.rfm import load_rules, segment_customers, summary

    tables = {}
    for name, path in (("customers", customers_file), ("orders", orders_file), ("visits", visits_file)):
        tables[name] = read_table(path) if path is not None else None
    try:
        result = segment_customers(
            tables["customers"], tables["orders"], tables["visits"], as_of=as_of,
            rules=load_rules(rules_file) if rules_file else None,
        )
    except DataError as exc:
        table = (exc.field or "").split(".")[0]
        source = {"customers": customers_file, "orders": orders_file, "visits": visits_file}.get(table)
        raise DataError(exc.message, file=source, field=exc.field) from None
    if out.suffix.lower() == ".parquet":
        result.to_parquet(out, index=False)
    else:
        result.to_csv(out, index=False)

    console = make_console()
    overview = Table(title=f"Lifecycle segments as of {result.attrs['as_of'][:10]}", header_style="bold")
    for column in ("segment", "stage", "customers", "share", "recency (days)", "frequency", "monetary"):
        overview.add_column(column, justify="left" if column in ("segment", "stage") else "right")
    for row in summary(result).itertuples(index=False):
        overview.add_row(row.segment, row.stage, f"{row.customers:,}", f"{row.share:.1%}",
                         "–" if row.recency_days != row.recency_days else f"{row.recency_days:,.0f}",
                         f"{row.frequency:.1f}",
                         "–" if row.monetary != row.monetary else f"{row.monetary:,.2f}")
    console.print(overview)
    for note in result.attrs.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {note}")
    console.print(f"wrote {len(result):,} customers to {out}")

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
@click.option("--as-of", "as_of", default=None,
              help="ISO 8601 date or time to segment as of (default: the latest order or visit).")
@click.option("--date-format", "date_format", default=None, metavar="PATTERN",
              help="strptime pattern of ordered_at / visited_at, e.g. '%d.%m.%Y' (default: ISO 8601 "
                   "or epoch seconds only; naive times are UTC).")
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), default=None,
              help="TOML rule table overriding the default segment map.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Where to write one row per customer (.csv, or .parquet with pyarrow).")
@friendly_errors
def segment(customers_file: Path, orders_file: Path, visits_file: Path | None, as_of: str | None,
            date_format: str | None, rules_file: Path | None, out: Path) -> None:
    """Score recency, frequency and monetary value, and name each customer's lifecycle segment.

    A bad value is named by its file and line (line 1 is the header); every bad column of a
    file is reported at once. Exit 2 on bad input.
    """
    import warnings

    from rich.table import Table

    from liftlab.errors import DataError
    from liftlab.lifecycle.rfm import SegmentationWarning, load_rules, segment_customers, summary

    files = {"customers": customers_file, "orders": orders_file, "visits": visits_file}
    tables = {name: read_table(path, keep_blank_lines=True) if path is not None else None
              for name, path in files.items()}
    rules = load_rules(rules_file) if rules_file else None
    # The library warns (the Python way); here each warning becomes one line of our output.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SegmentationWarning)
        try:
            result = segment_customers(tables["customers"], tables["orders"], tables["visits"], as_of=as_of,
                                       rules=rules, date_format=date_format)
        except DataError as exc:
            if exc.field in files:
                raise DataError(exc.message, file=files[exc.field]) from None
            option = {"as_of": "--as-of", "date_format": "--date-format"}.get(exc.field or "", exc.field)
            raise DataError(exc.message, field=option) from None
    for other in caught:
        if not issubclass(other.category, SegmentationWarning):
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    try:
        if out.suffix.lower() == ".parquet":
            result.to_parquet(out, index=False)
        else:
            result.to_csv(out, index=False)
    except (OSError, ImportError, ValueError) as exc:
        raise DataError(f"cannot write: {exc}", file=out) from None

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
    for warning in caught:
        if issubclass(warning.category, SegmentationWarning):
            console.print(f"[yellow]warning:[/yellow] {warning.message}", markup=True, highlight=False)
    console.print(f"wrote {len(result):,} customers to {out}")

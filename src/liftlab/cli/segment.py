"""`liftlab segment`: RFM lifecycle segments for every customer."""

from __future__ import annotations

from pathlib import Path

import click

from liftlab.cli._common import console as make_console
from liftlab.cli._common import friendly_errors, read_table


@click.command()
@click.option("--customers", "customers_file", type=click.Path(path_type=Path), default=None,
              help="CSV with customer_id (and optionally email_known).")
@click.option("--orders", "orders_file", type=click.Path(path_type=Path), default=None,
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
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where to write one row per customer (.csv, or .parquet with pyarrow).")
@click.option("--source", "source_name", default=None, metavar="NAME",
              help="Segment in the engine of the project's [source.NAME] (its orders and customers "
                   "relations) instead of from files; needs --into.")
@click.option("--into", default=None, metavar="TABLE_OR_PARQUET",
              help="With --source: a new table, or a .parquet path (DuckDB, Spark), the rows are "
                   "written to inside the engine.")
@click.option("--project", "project_path", type=click.Path(path_type=Path), default=Path("."),
              show_default=True, help="With --source: the folder of the liftlab.toml declaring it.")
@friendly_errors
def segment(customers_file: Path | None, orders_file: Path | None, visits_file: Path | None,
            as_of: str | None, date_format: str | None, rules_file: Path | None, out: Path | None,
            source_name: str | None, into: str | None, project_path: Path) -> None:
    """Score recency, frequency and monetary value, and name each customer's lifecycle segment.

    A bad value is named by its file and line (line 1 is the header); every bad column of a
    file is reported at once. With --source NAME --into TARGET the segmentation runs where the
    orders live and only the counts per segment come back. Exit 2 on bad input.
    """
    if source_name is not None or into is not None:
        _segment_source(source_name, into, project_path, as_of, rules_file,
                        {"--customers": customers_file, "--orders": orders_file, "--visits": visits_file,
                         "--out": out, "--date-format": date_format})
        return
    for option, value in (("--customers", customers_file), ("--orders", orders_file), ("--out", out)):
        if value is None:
            from liftlab.errors import LiftlabError

            raise LiftlabError("is required (or segment a declared source: --source NAME --into TARGET)",
                               field=option)
    assert customers_file is not None and orders_file is not None and out is not None
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


def _segment_source(source_name: str | None, into: str | None, project_path: Path, as_of: str | None,
                    rules_file: Path | None, file_options: dict[str, object]) -> None:
    """`segment --source NAME --into TARGET`: the rows written in the engine, the counts shown."""
    from rich.markup import escape
    from rich.table import Table

    from liftlab.config.loading import PROJECT_FILE, load_project
    from liftlab.errors import ConfigError, DataError, LiftlabError
    from liftlab.lifecycle.rfm import load_rules
    from liftlab.warehouse.segmentation import segment_source

    if source_name is None or into is None:
        missing, other = ("--source", "--into") if source_name is None else ("--into", "--source")
        raise LiftlabError(f"is required with {other}", field=missing)
    for option, value in file_options.items():
        if value is not None:
            raise LiftlabError("reads files; a --source segments in its engine (drop one of them)",
                               field=option)
    folder = project_path if project_path.is_dir() else project_path.parent
    project_file = folder / PROJECT_FILE
    if not project_file.is_file():
        raise ConfigError(f"no {PROJECT_FILE} declaring [source.{source_name}] in {str(folder)!r}",
                          field="--project")
    try:
        source = load_project(folder).source(source_name)
    except ConfigError as exc:
        raise ConfigError(exc.message, file=exc.file or project_file, line=exc.line, field=exc.field) from None
    rules = load_rules(rules_file) if rules_file else None
    try:
        written = segment_source(source, as_of=as_of, rules=rules, into=into, project_file=project_file)
    except ConfigError as exc:
        option = {"into": "--into", "as_of": "--as-of"}.get(exc.field or "", exc.field)
        raise ConfigError(exc.message, file=exc.file, line=exc.line, field=option) from None
    except DataError as exc:
        option = {"as_of": "--as-of"}.get(exc.field or "", exc.field)
        raise DataError(exc.message, field=option) from None
    except _engine_errors() as exc:  # the engine refused: a table that exists, a bad relation
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LiftlabError(f"the engine refused the segmentation: {first}", field=f"source.{source_name}") from None

    console = make_console()
    overview = Table(title=escape(f"Lifecycle segments of [source.{source_name}] as of {written.as_of:%Y-%m-%d}"),
                     header_style="bold")
    for column in ("segment", "stage", "customers", "share"):
        overview.add_column(column, justify="left" if column in ("segment", "stage") else "right")
    for row in written.to_frame().itertuples(index=False):
        overview.add_row(row.segment, row.stage, f"{row.customers:,}", f"{row.share:.1%}")
    console.print(overview)
    console.print(f"wrote {written.customers:,} customers to {into}")


def _engine_errors() -> tuple[type[BaseException], ...]:
    """The exceptions an engine raises for a statement it refuses (SQLAlchemy's, and Spark's
    when pyspark is installed)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        from pyspark.errors import PySparkException
    except ImportError:
        return (SQLAlchemyError,)
    return (SQLAlchemyError, PySparkException)

"""RFM segmentation in the engine equals `segment_customers`, column for column, bit for bit.

One generated shop with many ties (whole-unit amounts, repeated order times, single-order
buyers, non-buyers with and without a known email, orders after the cut-off, orders of
customers not in the customers table), with integer and with text ids, segmented on DuckDB
over Parquet, SQLite, PostgreSQL (when LIFTLAB_TEST_POSTGRES_URL names a server) and Spark
(the shared local session), as of the latest order and as of an explicit date; a hypothesis
property on DuckDB; and `into` a table or Parquet giving the same rows and their counts.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("duckdb_engine")

from scratch_pg import POSTGRES_URL, scratch_database  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from liftlab.config.sources import Columns, Source  # noqa: E402
from liftlab.errors import ConfigError  # noqa: E402
from liftlab.lifecycle.rfm import SegmentRule, segment_customers  # noqa: E402
from liftlab.warehouse.segmentation import SegmentedTable, segment_frame, segment_source  # noqa: E402

#: The shop's own column names, mapped onto liftlab's.
COLUMNS = Columns(unit_id="customer_id", timestamp="ordered_at", value="amount", email_known="email_known")
START = pd.Timestamp("2026-01-01")
AS_OF = "2026-03-10"  # a date: the end of that day; the shop's orders run to the end of March


def shop(seed: int, text_ids: bool, customers: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers (customer_id, email_known) and orders (customer_id, ordered_at, amount)."""
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(customers) + 1000
    ids: np.ndarray = (np.array([f"c-{n}" if n % 7 else f"kunde-{n}-é" for n in numbers], dtype=object)
                       if text_ids else numbers.astype(np.int64))
    people = pd.DataFrame({"customer_id": ids, "email_known": rng.random(customers) < 0.5})
    buyers = ids[: int(customers * 0.75)]  # the rest never ordered: visitors
    counts = np.where(rng.random(len(buyers)) < 0.4, 1, rng.integers(2, 7, len(buyers)))
    who = np.repeat(buyers, counts)
    strangers = np.array(["nobody-1", "nobody-2"], dtype=object) if text_ids else np.array([1, 2])
    who = np.concatenate([who, rng.choice(strangers, 25)])
    days = rng.integers(0, 90, len(who))  # few distinct times: ties in recency
    hours = rng.choice([0, 12], len(who))
    orders = pd.DataFrame({
        "customer_id": who,
        "ordered_at": START + pd.to_timedelta(days, unit="D") + pd.to_timedelta(hours, unit="h"),
        "amount": rng.choice([0.0, 5.0, 10.0, 20.0, 50.0, 125.0], len(who)),  # ties in monetary
    }).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    orders["ordered_at"] = orders["ordered_at"].astype("datetime64[us]")
    return people, orders


def expected(customers: pd.DataFrame, orders: pd.DataFrame, as_of: str | None = None,
             rules: tuple[SegmentRule, ...] | None = None) -> pd.DataFrame:
    """`segment_customers`' answer, ordered by customer_id."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the strangers' orders are left out, and said so
        result = segment_customers(customers, orders, as_of=as_of, rules=rules)
    return _ordered(result)


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    ordered = frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
    ordered.attrs = {}
    return ordered


def assert_same(found: pd.DataFrame, wanted: pd.DataFrame) -> None:
    """Equal column for column and exactly (the ids compared as values, whatever their type)."""
    found = _ordered(found)
    assert list(found.columns) == list(wanted.columns)
    assert found["customer_id"].tolist() == wanted["customer_id"].tolist()
    pd.testing.assert_frame_equal(found.drop(columns="customer_id"), wanted.drop(columns="customer_id"),
                                  check_exact=True)


def _parquet_source(folder: Path, customers: pd.DataFrame, orders: pd.DataFrame,
                    url: str = "duckdb:///:memory:") -> Source:
    customers.to_parquet(folder / "customers.parquet")
    orders.to_parquet(folder / "orders.parquet")
    return Source("lake", url, "unused.parquet", "unused.parquet", columns=COLUMNS,
                  orders=str(folder / "orders.parquet"), customers=str(folder / "customers.parquet"))


def test_the_shop_has_every_kind_of_tie() -> None:
    customers, orders = shop(1, text_ids=False)
    result = expected(customers, orders, AS_OF)
    buyers = result[result["frequency"] > 0]
    assert (buyers["frequency"] == 1).sum() > 50 and buyers["monetary"].duplicated().sum() > 50
    assert buyers["recency_days"].duplicated().sum() > 100
    assert set(result.loc[result["frequency"] == 0, "segment"]) == {"loyal_visitor", "engaged_visitor"}
    assert (orders["ordered_at"] > pd.Timestamp(AS_OF) + pd.Timedelta(days=1)).sum() > 100
    assert not orders["customer_id"].isin(customers["customer_id"]).all()


@pytest.mark.parametrize("text_ids", [False, True], ids=["integer ids", "text ids"])
@pytest.mark.parametrize("as_of", [None, AS_OF], ids=["latest order", "explicit"])
def test_duckdb_over_parquet(tmp_path: Path, text_ids: bool, as_of: str | None) -> None:
    customers, orders = shop(2, text_ids)
    found = segment_source(_parquet_source(tmp_path, customers, orders), as_of=as_of)
    assert_same(found, expected(customers, orders, as_of))
    latest = orders["ordered_at"].max().isoformat()  # a stranger's order counts here too, as in pandas
    assert found.attrs["as_of"] == ("2026-03-10T23:59:59.999999" if as_of else latest)


@pytest.mark.parametrize("text_ids", [False, True], ids=["integer ids", "text ids"])
def test_sqlite_tables(tmp_path: Path, text_ids: bool) -> None:
    customers, orders = shop(3, text_ids)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = create_engine(url)
    customers.to_sql("shop_customers", engine, index=False)
    orders.to_sql("shop_orders", engine, index=False)
    engine.dispose()
    source = Source("shop", url, "unused", "unused", columns=COLUMNS, orders="shop_orders",
                    customers="shop_customers")
    for as_of in (None, AS_OF):
        assert_same(segment_source(source, as_of=as_of), expected(customers, orders, as_of))


@pytest.mark.skipif(not POSTGRES_URL, reason="LIFTLAB_TEST_POSTGRES_URL is not set (no PostgreSQL server)")
@pytest.mark.parametrize("text_ids", [False, True], ids=["integer ids", "text ids"])
def test_postgresql_tables(text_ids: bool) -> None:
    customers, orders = shop(4, text_ids)
    with scratch_database() as url:
        engine = create_engine(url)
        customers.to_sql("shop_customers", engine, index=False)
        orders.to_sql("shop_orders", engine, index=False)
        source = Source("shop", url, "unused", "unused", columns=COLUMNS, orders="shop_orders",
                        customers="shop_customers")
        for as_of in (None, AS_OF):
            assert_same(segment_source(source, as_of=as_of, engine=engine), expected(customers, orders, as_of))
        engine.dispose()


def test_spark_over_parquet(tmp_path: Path, spark: Any) -> None:
    """Text ids, as of an explicit date here; integer ids as of the latest order in the `into`
    test below (each Spark run costs seconds)."""
    customers, orders = shop(5, text_ids=True)
    source = _parquet_source(tmp_path, customers, orders, url="spark://local[2]")
    assert_same(segment_source(source, as_of=AS_OF, spark=spark), expected(customers, orders, AS_OF))


def test_rules_are_data(tmp_path: Path) -> None:
    """A rule table of one's own becomes the CASE chain: first match wins, frequency ranges too."""
    rules = (SegmentRule("champion", r=(4, 5), f=(4, 5)), SegmentRule("loyal", frequency=(3, 4)),
             SegmentRule("at_risk", r=(1, 2), m=(3, 5)), SegmentRule("hibernating"))
    customers, orders = shop(6, text_ids=False)
    found = segment_source(_parquet_source(tmp_path, customers, orders), rules=rules)
    assert_same(found, expected(customers, orders, rules=rules))
    assert set(found["segment"]) == {"champion", "loyal", "at_risk", "hibernating", "loyal_visitor",
                                     "engaged_visitor"}


def test_without_an_email_column_every_visitor_is_engaged(tmp_path: Path) -> None:
    customers, orders = shop(7, text_ids=False)
    source = _parquet_source(tmp_path, customers.drop(columns="email_known"), orders)
    plain = Columns(unit_id="customer_id", timestamp="ordered_at", value="amount")  # email_known None
    found = segment_source(Source(**{**source.__dict__, "columns": plain}))
    assert_same(found, expected(customers.drop(columns="email_known"), orders))
    assert set(found.loc[found["frequency"] == 0, "segment"]) == {"engaged_visitor"}


def test_visits_can_set_the_default_cut_off(tmp_path: Path) -> None:
    """The latest visit, when later than every order, is the default cut-off (the visits and
    orders relations share the timestamp column's name)."""
    customers, orders = shop(8, text_ids=False)
    visits = pd.DataFrame({"customer_id": customers["customer_id"].iloc[:3],
                           "visited_at": pd.to_datetime(["2026-04-02 08:00", "2026-04-05 17:30", "2026-01-01 00:00"])})
    customers.to_parquet(tmp_path / "customers.parquet")
    orders.rename(columns={"ordered_at": "ts"}).to_parquet(tmp_path / "orders.parquet")
    visits.rename(columns={"visited_at": "ts"}).to_parquet(tmp_path / "visits.parquet")
    source = Source("lake", "duckdb:///:memory:", "unused.parquet", "unused.parquet",
                    columns=Columns(unit_id="customer_id", timestamp="ts", value="amount",
                                    email_known="email_known"),
                    orders=str(tmp_path / "orders.parquet"), customers=str(tmp_path / "customers.parquet"),
                    visits=str(tmp_path / "visits.parquet"))
    found = segment_source(source)
    assert found.attrs["as_of"] == "2026-04-05T17:30:00"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wanted = segment_customers(customers, orders, visits)
    assert_same(found, _ordered(wanted))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    frequencies=st.lists(st.integers(0, 4), min_size=1, max_size=12),
    days=st.lists(st.integers(0, 3), min_size=40, max_size=40),
    amounts=st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0]), min_size=40, max_size=40),
    emails=st.lists(st.booleans(), min_size=12, max_size=12),
    cut=st.sampled_from([None, "2026-01-02"]),
)
def test_property_duckdb_equals_pandas(tmp_path: Path, frequencies: list[int], days: list[int],
                                       amounts: list[float], emails: list[bool], cut: str | None) -> None:
    """Small shops with heavy ties: the engine and pandas agree on every customer."""
    customers = pd.DataFrame({"customer_id": np.arange(len(frequencies), dtype=np.int64),
                              "email_known": emails[: len(frequencies)]})
    who = np.repeat(customers["customer_id"].to_numpy(), frequencies)
    orders = pd.DataFrame({"customer_id": who,
                           "ordered_at": (START + pd.to_timedelta(days[: len(who)], unit="D")).astype("datetime64[us]"),
                           "amount": amounts[: len(who)]})
    found = segment_source(_parquet_source(tmp_path, customers, orders), as_of=cut)
    assert_same(found, expected(customers, orders, cut))


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame["segment"].value_counts().items()}


def test_into_parquet_and_a_table_on_duckdb(tmp_path: Path) -> None:
    customers, orders = shop(9, text_ids=True)
    wanted = expected(customers, orders, AS_OF)
    source = _parquet_source(tmp_path, customers, orders, url=f"duckdb:///{tmp_path / 'lake.duckdb'}")
    written = segment_source(source, as_of=AS_OF, into=str(tmp_path / "segments.parquet"))
    assert isinstance(written, SegmentedTable)
    assert {s.segment: s.customers for s in written.segments} == _counts(wanted)
    assert written.customers == len(customers) and written.as_of.isoformat() == "2026-03-10T23:59:59.999999"
    assert_same(_typed(pd.read_parquet(tmp_path / "segments.parquet")), wanted)

    table = segment_source(source, as_of=AS_OF, into="segments")
    assert table.segments == written.segments
    engine = create_engine(source.url)
    with engine.connect() as conn:
        assert_same(_typed(pd.read_sql_query("SELECT * FROM segments", conn)), wanted)
    engine.dispose()
    assert list(table.to_frame().columns) == ["segment", "stage", "customers", "share"]


def test_into_a_table_on_sqlite_and_bad_targets(tmp_path: Path) -> None:
    customers, orders = shop(10, text_ids=False)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = create_engine(url)
    customers.to_sql("shop_customers", engine, index=False)
    orders.to_sql("shop_orders", engine, index=False)
    source = Source("shop", url, "unused", "unused", columns=COLUMNS, orders="shop_orders",
                    customers="shop_customers")
    written = segment_source(source, into="main.segments")
    with engine.connect() as conn:
        found = pd.read_sql_query("SELECT * FROM segments", conn)
    engine.dispose()
    assert_same(_typed(found), expected(customers, orders))
    assert {s.segment: s.customers for s in written.segments} == _counts(found)
    with pytest.raises(ConfigError, match="needs a duckdb:// or spark:// engine") as raised:
        segment_source(source, into=str(tmp_path / "out.parquet"))
    assert raised.value.field == "into"
    with pytest.raises(ConfigError, match="table name or a .parquet path"):
        segment_source(source, into="SELECT 1")
    with pytest.raises(ConfigError, match="declares no orders") as raised:
        segment_source(Source("bare", url, "unused", "unused"))
    assert raised.value.field == "source.bare.orders"


def test_into_parquet_and_a_catalog_table_on_spark(tmp_path: Path, spark: Any) -> None:
    customers, orders = shop(11, text_ids=False)
    wanted = expected(customers, orders)
    source = _parquet_source(tmp_path, customers, orders, url="spark://local[2]")
    written = segment_source(source, into=str(tmp_path / "segments.parquet"), spark=spark)
    assert written.as_of.isoformat() == orders["ordered_at"].max().isoformat()
    assert {s.segment: s.customers for s in written.segments} == _counts(wanted)
    assert_same(_typed(pd.read_parquet(tmp_path / "segments.parquet")), wanted)
    # A catalog table, written from the text-id shop of the test above, as of its date.
    customers, orders = shop(5, text_ids=True)
    (tmp_path / "text").mkdir()
    source = _parquet_source(tmp_path / "text", customers, orders, url="spark://local[2]")
    spark.sql(f"CREATE DATABASE IF NOT EXISTS rfm_test LOCATION '{tmp_path / 'catalog'}'")
    try:
        table = segment_source(source, as_of=AS_OF, into="rfm_test.segments", spark=spark)
        wanted = expected(customers, orders, AS_OF)
        assert {s.segment: s.customers for s in table.segments} == _counts(wanted)
        assert_same(_typed(spark.table("rfm_test.segments").toPandas()), wanted)
    finally:
        spark.sql("DROP DATABASE IF EXISTS rfm_test CASCADE")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """A written table read back, typed as `segment_customers` types its result (an engine's
    INTEGER scores read as int32, a missing value as None)."""
    return segment_frame(frame.to_dict("records"))


SEGMENTED = """\
[source.shop]
url = "duckdb:///:memory:"
exposures = "exposures.parquet"
conversions = "conversions.parquet"
orders = "shop/orders.parquet"
customers = "SELECT id, has_email FROM read_parquet('/data/customers.parquet')"
visits = "shop/visits.parquet"

[source.shop.columns]
unit_id = "id"
value = "amount"
email_known = "has_email"
"""


def test_orders_customers_and_visits_load_from_the_project_file(tmp_path: Path) -> None:
    from liftlab.config.loading import load_project
    from liftlab.config.validation import validate_paths

    (tmp_path / "liftlab.toml").write_text(SEGMENTED, encoding="utf-8")
    source = load_project(tmp_path).source("shop")
    assert source.orders == str(tmp_path.resolve() / "shop/orders.parquet")  # against the file's folder
    assert source.visits == str(tmp_path.resolve() / "shop/visits.parquet")
    assert source.customers is not None and source.customers.startswith("SELECT")
    assert source.columns == Columns(unit_id="id", value="amount", email_known="has_email")
    assert set(source.relations()) == {"exposures", "conversions", "orders", "customers", "visits"}
    assert validate_paths([tmp_path]) == []


def test_segmentation_keys_are_checked_with_their_lines(tmp_path: Path) -> None:
    from liftlab.config.validation import validate_paths

    (tmp_path / "liftlab.toml").write_text("""\
[source.half]
url = "duckdb:///:memory:"
exposures = "e.parquet"
conversions = "c.parquet"
orders = "orders.parquet"

[source.pg]
url = "postgresql+psycopg://u@host/db"
exposures = "exposures"
conversions = "conversions"
orders = "orders"
customers = "customers.parquet"
[source.pg.columns]
email_known = ""
""", encoding="utf-8")
    found = {(f.field, f.line, f.rule) for f in validate_paths([tmp_path])}
    assert found == {
        ("source.half.customers", 1, "required"),  # orders without customers: the table's line
        ("source.pg.customers", 12, "source_relation"),  # Parquet needs DuckDB or Spark
        ("source.pg.columns.email_known", 14, "required"),
    }
    (tmp_path / "liftlab.toml").write_text(SEGMENTED.replace("orders = ", "orderz = "), encoding="utf-8")
    [unknown] = validate_paths([tmp_path])
    assert unknown.field == "source.shop.orderz" and unknown.line == 5


def _project_with_shop(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    customers, orders = shop(12, text_ids=True, customers=120)
    (tmp_path / "shop").mkdir()
    customers.to_parquet(tmp_path / "shop" / "customers.parquet")
    orders.to_parquet(tmp_path / "shop" / "orders.parquet")
    (tmp_path / "liftlab.toml").write_text(f"""\
[source.shop]
url = "duckdb:///{tmp_path / 'lake.duckdb'}"
exposures = "unused.parquet"
conversions = "unused.parquet"
orders = "shop/orders.parquet"
customers = "shop/customers.parquet"

[source.shop.columns]
unit_id = "customer_id"
timestamp = "ordered_at"
value = "amount"
email_known = "email_known"
""", encoding="utf-8")
    return customers, orders


def test_cli_segments_a_source_into_parquet_and_a_table(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from liftlab.cli import cli

    customers, orders = _project_with_shop(tmp_path)
    wanted = expected(customers, orders, AS_OF)
    out = tmp_path / "segments.parquet"
    result = CliRunner().invoke(cli, ["segment", "--source", "shop", "--into", str(out), "--as-of", AS_OF,
                                      "--project", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "of [source.shop] as of 2026-03-10" in result.output and "wrote 120 customers to" in result.output
    assert_same(_typed(pd.read_parquet(out)), wanted)
    result = CliRunner().invoke(cli, ["segment", "--source", "shop", "--into", "segments", "--as-of", AS_OF,
                                      "--project", str(tmp_path / "liftlab.toml")])
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(cli, ["segment", "--source", "shop", "--into", "segments",
                                     "--project", str(tmp_path)])
    assert again.exit_code == 2 and "Traceback" not in again.output
    assert "source.shop: the engine refused the segmentation" in again.output  # the table exists


@pytest.mark.parametrize(("args", "message"), [
    (["--source", "shop"], "--into: is required with --source"),
    (["--into", "x.parquet"], "--source: is required with --into"),
    (["--source", "shop", "--into", "t", "--out", "x.csv"], "--out: reads files; a --source"),
    (["--source", "shop", "--into", "SELECT 1"], "--into: must be a table name or a .parquet path"),
    (["--source", "nowhere", "--into", "t"], "no [source.nowhere] in the project file (declared: shop)"),
    (["--source", "shop", "--into", "t", "--as-of", "someday"], "--as-of"),
    ([], "--customers: is required (or segment a declared source"),
])
def test_cli_bad_input_names_the_option(tmp_path: Path, args: list[str], message: str) -> None:
    from click.testing import CliRunner

    from liftlab.cli import cli

    _project_with_shop(tmp_path)
    result = CliRunner().invoke(cli, ["segment", *args, "--project", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert message in result.output

"""Assignment on Spark and DuckDB equals `assign`, bucket for bucket; the send list written back.

One million ids (ASCII, integer-like text, emoji, CJK, accented, Cyrillic and Arabic, all
lifecycle segments) through the three demo experiments (layers, global holdout), once per
engine; smaller tables for a layer slice with an audience and the skipped counts, integer and
UUID ids, the send list and the input errors.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from liftlab import EventStore, assign, load_experiments, load_project
from liftlab.config.model import Experiment, Project
from liftlab.errors import DataError
from liftlab.lifecycle.catalog import SEGMENT_NAMES
from liftlab.store.export import SEND_COLUMNS, export_send_list
from liftlab.warehouse.assignment import (
    assign_duckdb,
    assign_spark,
    check_customers_duckdb,
    skipped_duckdb,
    skipped_spark,
)
from liftlab.warehouse.send_list import send_list, write_send_list

duckdb = pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parents[1]
MILLION = 1_000_000
DEMO_SEGMENTS = (("champion", "loyal"), ("first_time", "recent"), ("at_risk", "cant_lose", "hibernating"))
COLUMNS = ["experiment", "unit_id", "segment", "arm", "bucket", "holdout"]


def customer_ids(n: int, start: int = 0) -> list[str]:
    """Distinct ids of many scripts: every hash path (ASCII, BMP, astral surrogate pairs)."""
    shapes = ("c{:07d}", "{}", "😀{}", "顧客{}", "José-{}", "клиент{}🎉", "مشتری{}", "00{}")
    return [shapes[i % len(shapes)].format(i) for i in range(start, start + n)]


def customers(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"customer_id": pd.array(customer_ids(n), dtype="str"),
                         "segment": pd.array(rng.choice(SEGMENT_NAMES, n), dtype="str")})


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(ROOT / "experiments")


@pytest.fixture(scope="module")
def experiments() -> list[Experiment]:
    """The three demo experiments: each in a layer, under the project's 5% global holdout."""
    return load_experiments(ROOT / "experiments")


@pytest.fixture(scope="module")
def million(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, str]:
    frame = customers(MILLION)
    path = str(tmp_path_factory.mktemp("million") / "customers.parquet")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return frame, path


@pytest.fixture(scope="module")
def expected(million: tuple[pd.DataFrame, str], experiments: list[Experiment],
             project: Project) -> pd.DataFrame:
    """`assign` in process: the reference every engine must equal."""
    frame, _ = million
    return _sorted(pd.concat([assign(e, frame, project).assignments for e in experiments]))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[COLUMNS].astype({"experiment": "str", "unit_id": "str", "segment": "str",
                                   "arm": "str", "bucket": "float64", "holdout": "bool"})
    return frame.sort_values(["experiment", "unit_id"]).reset_index(drop=True)


def test_reference_covers_every_case(expected: pd.DataFrame) -> None:
    """The million reach every experiment, held-out and assigned customers of every script."""
    assert set(expected["experiment"]) == {"champions-early-access-2026", "onboarding-series-2026",
                                           "winback-2026q4"}
    held = expected[expected["holdout"]]
    assert held["arm"].isna().all() and 0.03 < len(held) / len(expected) < 0.07
    for marker in ("😀", "顧客", "José", "клиент", "مشتری"):
        assert expected["unit_id"].str.contains(marker).any()
    assert set(expected["segment"]) == {s for e in DEMO_SEGMENTS for s in e}


def test_spark_equals_assign_on_a_million_ids(spark: Any, million: tuple[pd.DataFrame, str],
                                              experiments: list[Experiment], project: Project,
                                              expected: pd.DataFrame, tmp_path: Path) -> None:
    _, path = million
    table = spark.read.parquet(path)
    # The whole-table check is a shuffle of the million: the smaller tests below run it.
    assigned = [assign_spark(e, table, project, check_customers=False) for e in experiments]
    union = assigned[0]
    for frame in assigned[1:]:
        union = union.unionByName(frame)
    union.write.parquet(str(tmp_path / "assigned"))
    got = _sorted(pd.read_parquet(tmp_path / "assigned"))
    pd.testing.assert_frame_equal(got, expected)


def test_duckdb_equals_assign_on_a_million_ids(million: tuple[pd.DataFrame, str],
                                               experiments: list[Experiment], project: Project,
                                               expected: pd.DataFrame) -> None:
    _, path = million
    connection = duckdb.connect()
    connection.sql(f"CREATE TABLE customers AS SELECT * FROM read_parquet('{path}')")
    check_customers_duckdb(experiments[0], connection.table("customers"))
    assigned = [assign_duckdb(connection, e, "customers", project, check_customers=False)
                for e in experiments]
    union = assigned[0]
    for relation in assigned[1:]:
        union = union.union(relation)
    pd.testing.assert_frame_equal(_sorted(union.df()), expected)


# ---------------------------------------------------------------------------------------------
# Skipped counts, integer ids, the send list: smaller tables


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return customers(30_000, seed=11)


@pytest.fixture(scope="module")
def audience_experiment(experiments: list[Experiment], small: pd.DataFrame) -> Experiment:
    """The win-back experiment sliced to part of its layer, with an audience on one campaign:
    all three reasons to skip a customer occur."""
    winback = next(e for e in experiments if e.key == "winback-2026q4")
    sliced = dataclasses.replace(winback, key="winback-slice", salt="winback-slice",
                                 layer_range=(0.25, 0.7))
    at_risk = small.loc[small["segment"] == "at_risk", "customer_id"].tolist()
    campaigns = tuple(dataclasses.replace(c, audience=tuple(at_risk[::2])) if c.segment == "at_risk"
                      else c for c in sliced.campaigns)
    return dataclasses.replace(sliced, campaigns=campaigns)


def test_layer_slice_and_audience_equal_assign_skipped_counts_too(spark: Any, small: pd.DataFrame, audience_experiment: Experiment,
                                     project: Project) -> None:
    reference = assign(audience_experiment, small, project)
    assert len(reference.skipped) == 3, reference.skipped
    table = spark.createDataFrame(pa.Table.from_pandas(small, preserve_index=False))
    assert skipped_spark(audience_experiment, table, project) == reference.skipped
    connection = duckdb.connect()
    relation = connection.from_arrow(pa.Table.from_pandas(small, preserve_index=False))
    assert skipped_duckdb(connection, audience_experiment, relation, project, batch_rows=7_000) \
        == reference.skipped
    got = _sorted(assign_duckdb(connection, audience_experiment, relation, project,
                                check_customers=False).df())
    pd.testing.assert_frame_equal(got, _sorted(reference.assignments))
    got = _sorted(assign_spark(audience_experiment, table, project, check_customers=False).toPandas())
    pd.testing.assert_frame_equal(got, _sorted(reference.assignments))


def test_duckdb_uuid_ids_hash_as_their_text(experiments: list[Experiment], project: Project) -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"unit_id": [str(uuid.UUID(int=int(i))) for i in rng.integers(0, 2**62, 5_000)],
                          "segment": rng.choice(["at_risk", "cant_lose", "hibernating"], 5_000)})
    connection = duckdb.connect()
    connection.register("frame", frame)
    relation = connection.sql("SELECT CAST(unit_id AS UUID) AS unit_id, segment FROM frame")
    got = assign_duckdb(connection, experiments[2], relation, project).df()
    pd.testing.assert_frame_equal(_sorted(got), _sorted(assign(experiments[2], frame, project).assignments))


def test_integer_ids_hash_as_their_decimal_text(spark: Any, experiments: list[Experiment],
                                                project: Project) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"unit_id": np.arange(10**12, 10**12 + 20_000, dtype=np.int64),
                          "segment": rng.choice(["at_risk", "champion", "first_time"], 20_000)})
    reference = _sorted(pd.concat([assign(e, frame, project).assignments for e in experiments[:3]]))
    connection = duckdb.connect()
    relation = connection.from_df(frame)
    assert str(relation.types[0]) == "BIGINT"
    got = pd.concat([assign_duckdb(connection, e, relation, project).df()
                     for e in experiments[:3]])
    pd.testing.assert_frame_equal(_sorted(got), reference)
    table = spark.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False))
    assert dict(table.dtypes)["unit_id"] == "bigint"
    got = assign_spark(experiments[0], table, project).toPandas()
    pd.testing.assert_frame_equal(_sorted(got), _sorted(assign(experiments[0], frame, project).assignments))


@pytest.fixture(scope="module")
def stored_send_lists(tmp_path_factory: pytest.TempPathFactory, small: pd.DataFrame,
                      experiments: list[Experiment], project: Project) -> dict[bool, pd.DataFrame]:
    """What `liftlab export` writes for the win-back experiment: the send-list reference."""
    winback = next(e for e in experiments if e.key == "winback-2026q4")
    store = EventStore(f"sqlite:///{tmp_path_factory.mktemp('store') / 'e.db'}")
    store.register_experiment(winback)
    store.save_assignments(assign(winback, small, project).assignments)
    return {include_all: _by_id(export_send_list(store, winback.key, include_all=include_all))
            for include_all in (False, True)}


def _by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(str).sort_values("unit_id").reset_index(drop=True)


@pytest.mark.parametrize("include_all", [False, True])
def test_duckdb_send_list_written_back_equals_export(small: pd.DataFrame, experiments: list[Experiment],
                                                     project: Project, tmp_path: Path, include_all: bool,
                                                     stored_send_lists: dict[bool, pd.DataFrame]) -> None:
    winback = next(e for e in experiments if e.key == "winback-2026q4")
    connection = duckdb.connect(str(tmp_path / "lake.duckdb"))
    connection.register("small_frame", small)
    connection.sql("CREATE TABLE customers AS SELECT * FROM small_frame")
    assigned = assign_duckdb(connection, winback, "customers", project)
    reference = stored_send_lists[include_all]
    parquet = tmp_path / "sends.parquet"
    written = write_send_list(winback, assigned, parquet, include_all=include_all)
    assert written.customers == len(reference)
    got = pd.read_parquet(parquet)
    assert list(got.columns) == list(SEND_COLUMNS) + (["role"] if include_all else [])
    pd.testing.assert_frame_equal(_by_id(got), reference)
    assert write_send_list(winback, assigned, "sends", include_all=include_all).customers == len(reference)
    pd.testing.assert_frame_equal(_by_id(connection.table("sends").df()), reference)
    with pytest.raises(DataError, match="exists"):
        write_send_list(winback, assigned, parquet)
    assert write_send_list(winback, assigned, parquet, replace=True, include_all=False).customers \
        == len(stored_send_lists[False])


def test_spark_send_list_written_back_equals_export(spark: Any, small: pd.DataFrame,
                                                    experiments: list[Experiment], project: Project,
                                                    tmp_path: Path,
                                                    stored_send_lists: dict[bool, pd.DataFrame]) -> None:
    winback = next(e for e in experiments if e.key == "winback-2026q4")
    table = spark.createDataFrame(pa.Table.from_pandas(small, preserve_index=False))
    assigned = assign_spark(winback, table, project)
    parquet = tmp_path / "sends.parquet"
    written = write_send_list(winback, assigned, parquet)
    assert written.customers == len(stored_send_lists[False])
    got = pd.read_parquet(parquet)
    assert list(got.columns) == list(SEND_COLUMNS)
    pd.testing.assert_frame_equal(_by_id(got), stored_send_lists[False])
    spark.sql(f"CREATE DATABASE IF NOT EXISTS liftlab_sends LOCATION '{tmp_path / 'db'}'")
    everyone = write_send_list(winback, assigned, "liftlab_sends.winback", include_all=True)
    assert everyone.customers == len(stored_send_lists[True])
    pd.testing.assert_frame_equal(_by_id(spark.table("liftlab_sends.winback").toPandas()),
                                  stored_send_lists[True])
    spark.sql("DROP DATABASE liftlab_sends CASCADE")


# ---------------------------------------------------------------------------------------------
# Bad input: the DataError `assign` raises, naming the field, found across batches


def _bad_tables() -> dict[str, tuple[pd.DataFrame, str, str]]:
    """(customers, field at fault, words of the message) per problem; each bad row sits far
    from its twin or alone in 12 000 good ones, so no single batch holds the whole story."""
    good = customers(12_000, seed=5)
    duplicate = good.copy()
    duplicate.loc[11_999, "customer_id"] = duplicate.loc[0, "customer_id"]
    missing = good.astype({"customer_id": object})
    missing.loc[6_000, "customer_id"] = None
    blank = good.copy()
    blank.loc[7_000, "customer_id"] = " \u3000\x1c\u2029\t"  # all whitespace to str.strip
    unknown = good.copy()
    unknown.loc[8_000, "segment"] = "vip"
    return {
        "duplicate": (duplicate, "customer_id", "1 duplicate unit id"),
        "missing": (missing, "customer_id", "1 empty unit id"),
        "blank": (blank, "customer_id", "1 blank unit id"),
        "unknown segment": (unknown, "segment", "1 customer(s) with an unknown segment"),
        "decimal ids": (good.assign(customer_id=np.arange(12_000) + 0.5), "customer_id", "not decimals"),
        "no id column": (good.rename(columns={"customer_id": "who"}), "unit_id", "unit id column"),
        "no segment column": (good.drop(columns="segment"), "segment", "'segment' column"),
    }


BAD = _bad_tables()


@pytest.mark.parametrize("problem", list(BAD))
def test_bad_input_raises_the_data_error_assign_raises(problem: str, experiments: list[Experiment],
                                                       project: Project) -> None:
    frame, field, words = BAD[problem]
    winback = experiments[2]
    with pytest.raises(DataError) as in_process:
        assign(winback, frame, project)
    assert in_process.value.field in (field, "unit_id")
    connection = duckdb.connect()
    relation = connection.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    with pytest.raises(DataError, match=re.escape(words)) as caught:
        assign_duckdb(connection, winback, relation, project)
    assert caught.value.field == field


@pytest.mark.parametrize("problem", ["duplicate", "missing", "blank", "unknown segment", "decimal ids"])
def test_bad_input_raises_on_spark_before_any_assignment(spark: Any, problem: str,
                                                         experiments: list[Experiment],
                                                         project: Project) -> None:
    frame, field, words = BAD[problem]
    table = spark.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False)).repartition(3)
    with pytest.raises(DataError, match=re.escape(words)) as caught:
        assign_spark(experiments[2], table, project)
    assert caught.value.field == field



def test_send_list_keeps_quotes_braces_and_backslashes_in_channels(spark: Any, experiments: list[Experiment],
                                                                   project: Project) -> None:
    """Channel names are free text: each engine's literal quoting keeps them as written."""
    channel = "it's {push} \\ 'now'"
    winback = next(e for e in experiments if e.key == "winback-2026q4")
    odd = dataclasses.replace(winback, campaigns=tuple(dataclasses.replace(c, channel=channel)
                                                       for c in winback.campaigns))
    frame = customers(3_000, seed=2)
    table = spark.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False))
    on_spark = send_list(odd, assign_spark(odd, table, project), include_all=True).toPandas()
    connection = duckdb.connect()
    relation = connection.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    on_duckdb = send_list(odd, assign_duckdb(connection, odd, relation, project), include_all=True).df()
    for got in (on_spark, on_duckdb):
        assert set(got.loc[got["role"] != "holdout", "channel"]) == {channel}
        assert set(got.loc[got["role"] == "holdout", "channel"]) == {""}


def test_a_spark_batch_with_no_one_assigned_yields_no_rows(audience_experiment: Experiment,
                                                           project: Project) -> None:
    """What runs on a Spark worker, without Spark: a batch whose customers are all left out
    (outside the audience or the layer slice) gives no rows, not an error."""
    from liftlab.warehouse.assignment import _assign_batches

    left_out = pd.DataFrame({"customer_id": customer_ids(400, start=10**8), "segment": "at_risk"})
    assert assign(audience_experiment, left_out, project).assignments.empty
    batch = pa.RecordBatch.from_pandas(left_out.rename(columns={"customer_id": "unit_id"}),
                                       preserve_index=False)
    assert sum(b.num_rows for b in _assign_batches(audience_experiment, project, iter([batch]))) == 0

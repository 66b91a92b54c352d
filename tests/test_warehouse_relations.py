"""A source's relations in liftlab's names: timestamps become epoch µs inside each engine,
and the CLI and `liftlab validate` never import the database libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import column, create_engine, select, table, text
from sqlalchemy.dialects import mssql

from liftlab.warehouse.relations import EpochMicros

MOMENT = datetime(2026, 11, 3, 14, 25, 7, 123000, tzinfo=UTC)
MICROS = 1_793_715_907_123_000
POSTGRES_URL = os.environ.get("LIFTLAB_TEST_POSTGRES_URL")


def test_the_expected_micros_are_right() -> None:
    assert int(MOMENT.timestamp() * 1_000_000) == MICROS


def test_sqlite_iso_text_to_micros_to_the_millisecond() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (ts TEXT)")
        conn.exec_driver_sql("INSERT INTO t VALUES ('2026-11-03 14:25:07.123'), ('2026-11-03T14:25:07')")
        found = [r[0] for r in conn.execute(select(EpochMicros(table("t", column("ts")).c.ts)))]
    assert found == [MICROS, MICROS - 123_000]


def test_duckdb_timestamp_and_timestamptz_to_micros() -> None:
    pytest.importorskip("duckdb_engine")
    engine = create_engine("duckdb:///:memory:")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (naive TIMESTAMP, aware TIMESTAMPTZ)"))
        conn.execute(text("INSERT INTO t VALUES ('2026-11-03 14:25:07.123', "
                          "'2026-11-03 15:25:07.123+01:00')"))
        t = table("t", column("naive"), column("aware"))
        row = conn.execute(select(EpochMicros(t.c.naive), EpochMicros(t.c.aware))).one()
    assert tuple(row) == (MICROS, MICROS)  # a naive TIMESTAMP is read as UTC


@pytest.mark.skipif(not POSTGRES_URL, reason="LIFTLAB_TEST_POSTGRES_URL is not set (no PostgreSQL server)")
def test_postgresql_timestamptz_to_micros() -> None:
    assert POSTGRES_URL is not None
    engine = create_engine(POSTGRES_URL)
    with engine.connect() as conn:
        value = conn.execute(select(EpochMicros(text("TIMESTAMPTZ '2026-11-03 15:25:07.123+01'")))).scalar()
    engine.dispose()
    assert value == MICROS


def test_an_engine_without_a_construct_says_so() -> None:
    with pytest.raises(NotImplementedError, match="mssql"):
        str(select(EpochMicros(column("ts"))).compile(dialect=mssql.dialect()))


@pytest.mark.parametrize("code", [
    "import liftlab.cli",
    "from liftlab.config.loading import load_project",
    "from liftlab.config.sources import Source",
])
def test_declaring_and_the_cli_import_no_database_library(code: str) -> None:
    probe = (f"{code}\nimport json, sys\n"
             "print(json.dumps(sorted(m for m in ('duckdb', 'duckdb_engine', 'sqlalchemy', 'sqlglot')"
             " if m in sys.modules)))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []

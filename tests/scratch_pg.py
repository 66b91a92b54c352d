"""A throwaway database on the test PostgreSQL server (LIFTLAB_TEST_POSTGRES_URL), for the
store, refresh, demo and warehouse tests that run on PostgreSQL as well as SQLite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

POSTGRES_URL = os.environ.get("LIFTLAB_TEST_POSTGRES_URL")


@contextmanager
def scratch_database() -> Iterator[str]:
    """The URL of a new, empty database; dropped afterwards even while a store still holds a
    connection to it (WITH (FORCE))."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    assert POSTGRES_URL is not None, "LIFTLAB_TEST_POSTGRES_URL is not set"
    name = f"liftlab_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

"""Shared fixtures: paths to the repository's example configs and test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def configs() -> Path:
    """Folder of valid, invalid (one per rule) and malformed experiment files."""
    return FIXTURES / "configs"


@pytest.fixture
def experiments_dir() -> Path:
    """The repository's own `experiments/` folder."""
    return ROOT / "experiments"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One seeded `liftlab demo` run shared by the demo, notebook and CLI tests."""
    from liftlab.demo.run import run_demo

    folder = tmp_path_factory.mktemp("demo")
    return run_demo(folder, customers=DEMO_CUSTOMERS, seed=DEMO_SEED, experiments_dir=ROOT / "experiments")


DEMO_CUSTOMERS = 40_000
DEMO_SEED = 2026


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One local Spark session for the whole test run (starting one takes ~10 s); the Spark
    tests skip, saying why, only where no Java runtime is installed. Its catalog's tables go
    to a temporary folder, not the working directory."""
    pytest.importorskip("pyspark", reason="pyspark is in the dev extras: pip install -e '.[dev]'")
    from liftlab.warehouse.spark import java_missing, spark_session

    problem = java_missing()
    if problem is not None:
        pytest.skip(problem)
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = spark_session("local[2]", app_name="liftlab-tests",
                            config={"spark.sql.warehouse.dir": str(warehouse)})
    yield session
    session.stop()

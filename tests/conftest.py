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

"""Import hygiene: the CLI and `import liftlab` start without the heavy libraries, and every
public name still resolves (lazily, PEP 562)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import liftlab

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "scipy", "sqlalchemy", "sqlmodel", "statsmodels", "matplotlib")


def _loaded_after(code: str) -> list[str]:
    """The heavy libraries a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("statement", ["import liftlab.cli", "import liftlab",
                                       "from liftlab import Arm, Campaign, Experiment, Metric, Project"])
def test_importing_loads_no_heavy_library(statement: str) -> None:
    assert _loaded_after(statement) == []


def test_validate_loads_no_heavy_library() -> None:
    # What `liftlab validate experiments/` runs, Python experiment files included.
    folder = str(ROOT / "experiments")
    code = f"from liftlab.config.validation import validate_paths\nfindings = validate_paths([{folder!r}])"
    assert _loaded_after(code + "\nassert findings == [], findings") == []


def test_the_probe_would_see_a_heavy_import() -> None:
    assert "pandas" in _loaded_after("import liftlab\nliftlab.segment_customers")


def test_every_public_name_resolves() -> None:
    for name in liftlab.__all__:
        assert getattr(liftlab, name) is not None, name
    assert set(liftlab.__all__) <= set(dir(liftlab))
    namespace: dict[str, object] = {}
    exec("from liftlab import *", namespace)
    assert set(liftlab.__all__) <= set(namespace)


def test_lazy_names_are_the_defining_modules_objects() -> None:
    from liftlab.config.model import Experiment
    from liftlab.lifecycle import SEGMENTS, segment_customers
    from liftlab.lifecycle.rfm import segment_customers as defined
    from liftlab.report.analysis import analyze

    assert liftlab.Experiment is Experiment and liftlab.analyze is analyze
    assert segment_customers is defined and liftlab.SEGMENTS is SEGMENTS
    assert liftlab.stats.srm is not None  # a subpackage read as an attribute still loads
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        liftlab.nonexistent  # noqa: B018

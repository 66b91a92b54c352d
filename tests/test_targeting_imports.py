"""scikit-learn is loaded only when a model is fitted: `import liftlab`, the CLI and the
targeting package stay free of it."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _sklearn_loaded_after(code: str) -> bool:
    probe = f"{code}\nimport sys\nprint('sklearn' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return run.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize("statement", ["import liftlab", "import liftlab.cli", "import liftlab.targeting",
                                       "import liftlab.targeting.experiment",
                                       "from liftlab.targeting import Learner; Learner('x', 'linear')"])
def test_no_sklearn_until_a_model_is_fitted(statement: str) -> None:
    assert not _sklearn_loaded_after(statement)


def test_the_probe_would_see_sklearn() -> None:
    code = ("import numpy as np\nfrom liftlab.targeting import Learner\n"
            "Learner('t', 'linear').fit_predict(np.zeros((4, 1)), np.array([1, 0, 1, 0]), np.zeros(4), np.zeros((1, 1)))")
    assert _sklearn_loaded_after(code)

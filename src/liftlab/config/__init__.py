"""Stage 1, declaration: the experiment model, reading it from TOML or Python, and its rules.

`model` holds the frozen types a team declares; `loading` reads them from files (with line
numbers for every key, `tomlfile`); `validation` is the rule set `liftlab validate` runs and
every other stage runs first; `findings` is one located problem.
"""

from __future__ import annotations

from liftlab.config.findings import Finding, exit_code
from liftlab.config.loading import load_experiment, load_experiments, load_project
from liftlab.config.model import Arm, Campaign, Experiment, Metric, Project
from liftlab.config.validation import validate_experiment, validate_paths

__all__ = [
    "Arm",
    "Campaign",
    "Experiment",
    "Finding",
    "Metric",
    "Project",
    "exit_code",
    "load_experiment",
    "load_experiments",
    "load_project",
    "validate_experiment",
    "validate_paths",
]

"""liftlab: customer-lifecycle campaign experiments with honest uplift.

The public names below are loaded on first use (`liftlab._lazy`): `import liftlab` and the
CLI's start stay free of pandas, SciPy and SQLAlchemy until a command needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from liftlab._lazy import lazy_exports

__version__ = "0.1.0"

#: Each public name and the module that defines it.
_EXPORTS: dict[str, str] = {
    "Assignment": "liftlab.assignment.arms",
    "AssignmentResult": "liftlab.assignment.arms",
    "assign": "liftlab.assignment.arms",
    "assign_one": "liftlab.assignment.arms",
    "bucket": "liftlab.assignment.hashing",
    "bucket_many": "liftlab.assignment.hashing",
    "load_experiment": "liftlab.config.loading",
    "load_experiments": "liftlab.config.loading",
    "load_project": "liftlab.config.loading",
    "Arm": "liftlab.config.model",
    "Campaign": "liftlab.config.model",
    "Experiment": "liftlab.config.model",
    "Metric": "liftlab.config.model",
    "Project": "liftlab.config.model",
    "validate_experiment": "liftlab.config.validation",
    "validate_paths": "liftlab.config.validation",
    "ConfigError": "liftlab.errors",
    "DataError": "liftlab.errors",
    "LiftlabError": "liftlab.errors",
    "StoreError": "liftlab.errors",
    "SEGMENT_NAMES": "liftlab.lifecycle.catalog",
    "SEGMENTS": "liftlab.lifecycle.catalog",
    "STAGES": "liftlab.lifecycle.catalog",
    "segment_customers": "liftlab.lifecycle.rfm",
    "analyze": "liftlab.report.analysis",
    "build_report": "liftlab.report.build",
    "Report": "liftlab.report.records",
    "Verdict": "liftlab.report.records",
    "EventStore": "liftlab.store.event_store",
    "target_experiment": "liftlab.targeting.experiment",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what static type checkers and IDEs see: the same names, eagerly
    from liftlab.assignment.arms import Assignment, AssignmentResult, assign, assign_one
    from liftlab.assignment.hashing import bucket, bucket_many
    from liftlab.config.loading import load_experiment, load_experiments, load_project
    from liftlab.config.model import Arm, Campaign, Experiment, Metric, Project
    from liftlab.config.validation import validate_experiment, validate_paths
    from liftlab.errors import ConfigError, DataError, LiftlabError, StoreError
    from liftlab.lifecycle.catalog import SEGMENT_NAMES, SEGMENTS, STAGES
    from liftlab.lifecycle.rfm import segment_customers
    from liftlab.report.analysis import analyze
    from liftlab.report.build import build_report
    from liftlab.report.records import Report, Verdict
    from liftlab.store.event_store import EventStore
    from liftlab.targeting.experiment import target_experiment

__all__ = [
    "SEGMENTS",
    "SEGMENT_NAMES",
    "STAGES",
    "Arm",
    "Assignment",
    "AssignmentResult",
    "Campaign",
    "ConfigError",
    "DataError",
    "EventStore",
    "Experiment",
    "LiftlabError",
    "Metric",
    "Project",
    "Report",
    "StoreError",
    "Verdict",
    "__version__",
    "analyze",
    "assign",
    "assign_one",
    "bucket",
    "bucket_many",
    "build_report",
    "load_experiment",
    "load_experiments",
    "load_project",
    "segment_customers",
    "target_experiment",
    "validate_experiment",
    "validate_paths",
]

"""liftlab: customer-lifecycle campaign experiments with honest uplift."""

from __future__ import annotations

__version__ = "0.1.0"

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
    "validate_experiment",
    "validate_paths",
]

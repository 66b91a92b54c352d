"""Stage 3, assignment: GrowthBook-compatible hashing and sticky arms, global holdout first.

`hashing` is the hash (scalar and vectorised); `arms` turns buckets into holdout, layer and
arm for each customer.
"""

from __future__ import annotations

from liftlab.assignment.arms import Assignment, AssignmentResult, assign, assign_one
from liftlab.assignment.hashing import bucket, bucket_many

__all__ = ["Assignment", "AssignmentResult", "assign", "assign_one", "bucket", "bucket_many"]

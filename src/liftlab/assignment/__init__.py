"""Stage 3, assignment: GrowthBook-compatible hashing and sticky arms, global holdout first.

`hashing` is the hash (scalar, several salts at once, and vectorised); `id_buffers` reads ids
as UTF-16 code units straight from Arrow buffers (`utf16` decodes UTF-8 with numpy);
`unit_ids` checks the id column; `arms` turns buckets into holdout, layer and arm for each
customer.
"""

from __future__ import annotations

from liftlab.assignment.arms import Assignment, AssignmentResult, assign, assign_one
from liftlab.assignment.hashing import bucket, bucket_many

__all__ = ["Assignment", "AssignmentResult", "assign", "assign_one", "bucket", "bucket_many"]

"""nbgrader configuration of the course (read by `nbgrader ...` and the JupyterLab formgrader).

All settings live in hepcourse.grading.course.course_config, shared with the course's own
autograder. Submissions, autograded notebooks and feedback live under _build/nbgrader/. Instructors grading a class set NBGRADER_DB to keep the gradebook elsewhere; every
nbgrader command must see the same gradebook path.
"""

import os
from pathlib import Path

from hepcourse.grading.course import course_config

c = get_config()  # noqa: F821  (injected by nbgrader)
_db = os.environ.get("NBGRADER_DB")
c.merge(course_config(Path(__file__).resolve().parent, Path(_db) if _db else None, work="_build/nbgrader"))

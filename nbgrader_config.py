"""nbgrader configuration of the course (read by `nbgrader ...` and the JupyterLab formgrader).

All settings come from hepcourse.grading.course, shared with the course's own autograder
(`hepcourse grade ...`), so both use the same gradebook and folders: submissions, autograded
notebooks, feedback and the gradebook live in grading/ at the course root, or in
$HEPCOURSE_GRADING_DIR when set ($NBGRADER_DB moves the gradebook alone). Every nbgrader command
and the formgrader must see the same values: export them in each shell that grades.

nbgrader's own autograde (the formgrader's Autograde button, `nbgrader autograde`) would run student
code WITHOUT a sandbox, with your rights: it is switched off here and says what to run instead,
`hepcourse grade autograde ASSIGNMENT` (the bubblewrap sandbox), whose grades the formgrader shows.
HEPCOURSE_ALLOW_UNSANDBOXED=1 switches it back on, for notebooks you trust. See book/instructor.md.
"""

import os

from hepcourse.grading.course import instructor_course

c = get_config()  # noqa: F821  (injected by nbgrader)
# release = the committed exercises/, so `nbgrader release_assignment` hands them out through the exchange
c.merge(instructor_course(release="exercises"))
if os.environ.get("HEPCOURSE_ALLOW_UNSANDBOXED", "") != "1":
    c.Autograde.autograde_preprocessors = ["hepcourse.grading.grader.RefuseUnsandboxed"]

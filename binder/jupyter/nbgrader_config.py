"""System-wide nbgrader settings of a JupyterHub that teaches this course.

Copy this file to /etc/jupyter/nbgrader_config.py in the hub's single-user image (the Containerfile
beside it does): every user, students and instructors, reads it, so nobody edits ~/.jupyter.
The values can be set per hub in the spawner's environment:

* NBGRADER_EXCHANGE    the exchange folder shared by all users (default /srv/nbgrader/exchange:
                       a volume mounted into every user's server, writable by all, sticky bit set);
* HEPCOURSE_COURSE_ID  the course id (default hepcourse; the instructor's course uses the same one).

The instructor's course settings (source, release, gradebook, grading folder) come from the
course's own nbgrader_config.py in the instructor's checkout; see book/hub.md.
"""

import os

c = get_config()  # noqa: F821  (injected by nbgrader)
c.CourseDirectory.course_id = os.environ.get("HEPCOURSE_COURSE_ID", "hepcourse")
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")

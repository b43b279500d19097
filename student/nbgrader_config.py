"""nbgrader's settings for students of this course: the Validate button, `nbgrader validate`
and the Assignments panel read this file from the course folder (where `make lab` starts)."""

import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "kfor-in-numbers"

# On the course's JupyterHub, the hub says where nbgrader's exchange is (the folder the
# Assignments panel fetches from and submits to); on your own computer it is not used.
if os.environ.get("COURSEKIT_EXCHANGE"):
    c.Exchange.root = os.environ["COURSEKIT_EXCHANGE"]

# Validate runs your notebook in a fresh kernel, top to bottom; a cell that runs longer
# than this is stopped (grading has a time limit per cell too).
c.ExecutePreprocessor.timeout = 60
c.Execute.timeout = 60

# Validate prints each failing test's message whole (nbgrader alone cuts lines at 90 columns).
from coursekit import validate  # noqa: E402

validate.install()

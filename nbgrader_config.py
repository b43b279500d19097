"""nbgrader's settings for this course: instructor notebooks in solutions/, student
versions in exercises/, and everything grading produces under build/ (never committed)."""

import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

HERE = os.path.dirname(os.path.abspath(__file__))
# nbgrader opens the gradebook in build/; on a fresh clone (make lab, formgrader) that
# folder does not exist yet, and every formgrader page would fail.
os.makedirs(os.path.join(HERE, "build"), exist_ok=True)

c.CourseDirectory.course_id = "kfor-in-numbers"
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = os.path.join("build", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("build", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("build", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "build", "gradebook.db")

# Feedback shows each test's result and message, never hidden test code (coursekit.feedback).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "coursekit.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# A cell that runs longer than this is stopped and its test scores zero.
c.ExecutePreprocessor.timeout = 60
c.Execute.timeout = 60

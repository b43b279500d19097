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

# nbgrader's exchange (release_assignment, collect, release_feedback), when the course runs
# on a JupyterHub: the hub's config sets COURSEKIT_EXCHANGE for the instructor's server
# (`make hub`, hub/jupyterhub_config.py; docs/deploy.md). Without it, nbgrader's default.
if os.environ.get("COURSEKIT_EXCHANGE"):
    c.Exchange.root = os.environ["COURSEKIT_EXCHANGE"]

# Student code runs in SafeExecute (coursekit.grader.execution): nbgrader's Execute with
# the time and output limits below, crash recovery, the guard against patched test helpers
# and the tamper scan. Chosen here, so `nbgrader autograde`, formgrader and `coursekit
# grade` all use it, with or without the sandbox. The rest is nbgrader's own list.
c.Autograde.autograde_preprocessors = [
    "coursekit.grader.execution.safe_execute.SafeExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Due dates, extensions and late work (docs/instructor-guide.md, "Due dates, extensions and
# late work"). `coursekit grade` writes the due dates and each hand-in's extension and time
# (its timestamp.txt) into the gradebook before autograde; nbgrader's AssignLatePenalties
# (above) then asks coursekit's LatePenalty what a late hand-in costs. Days late are started
# 24-hour periods after the student's (extended) due date. By default nothing is due and
# late work costs nothing.
c.AssignLatePenalties.plugin_class = "coursekit.grader.late.LatePenalty"
# c.LatePolicy.due = {
#     "01-reading-the-source": "2026-10-05 23:59:00 Europe/London",  # a time zone is required
#     "02-extracting-claims": "2026-10-12 23:59:00 Europe/London",
# }
# c.LatePolicy.extensions = "extensions.csv"  # beside this file: student_id,assignment,days|hours|due
# c.LatePolicy.canvas_late_days = 1           # a Canvas "late" hand-in (no time given) counts as 1 day late
# c.LatePenalty.penalty_method = "per_day"    # "none" (default), "zero" or "per_day"
# c.LatePenalty.percent_per_day = 10          # % of the earned score per started day late
# c.LatePenalty.max_percent = 50              # at most this % is lost

# Feedback shows each test's result and message, never hidden test code.
c.GenerateFeedback.preprocessors = [
    "coursekit.grader.feedback.FeedbackGrades",  # nbgrader's GetGrades, and which answers wait for a grader
    "coursekit.grader.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# No script from a student runs for anyone (coursekit.grader.sanitize, docs/security.md):
# every HTML page nbgrader makes of a submission (feedback, and formgrader's view in the
# instructor's server) is sanitized (outputs, markdown cells) and carries a
# Content-Security-Policy. Set on HTMLExporter, which both use; feedback gets its own template.
from coursekit.grader import sanitize  # noqa: E402

c.HTMLExporter.preprocessors = ["coursekit.grader.sanitize.SanitizeStudentHTML"]
c.HTMLExporter.filters = {"markdown2html": "coursekit.grader.sanitize.markdown2html"}
c.HTMLExporter.extra_template_basedirs = [str(sanitize.TEMPLATES), str(sanitize.NBGRADER_TEMPLATES)]
c.HTMLExporter.extra_template_paths = [str(sanitize.NBGRADER_TEMPLATES)]
c.HTMLExporter.template_name = "coursekit_formgrade"
c.GenerateFeedback.HTMLExporter.template_name = "coursekit_feedback"
c.GenerateFeedback.HTMLExporter.extra_template_paths = [str(sanitize.NBGRADER_TEMPLATES), str(sanitize.BOOTSTRAP_CSS)]

# Validate in JupyterLab runs nbgrader's plain Execute: a cell that runs longer than this
# is stopped there. Grading (SafeExecute) uses c.Sandbox.cell_timeout below.
c.ExecutePreprocessor.timeout = 60
c.Execute.timeout = 60

# Every limit on student code, set once (the defaults; see docs/security.md). The time and
# output limits bind SafeExecute wherever it runs; `coursekit grade` and `coursekit check`
# also run every student kernel in a sandbox (no network, only its own submission and the
# seeds visible, a user of its own) with the kernel limits. Plain `nbgrader autograde` does not.
# c.Sandbox.enabled = True
# c.Sandbox.cell_timeout = 60       # s, wall clock per cell
# c.Sandbox.notebook_timeout = 300  # s, wall clock per notebook
# c.Sandbox.memory_mb = 3072        # address space of a kernel
# c.Sandbox.cpu_seconds = 300       # CPU time of a kernel
# c.Sandbox.processes = 64          # processes and threads of a kernel
# c.Sandbox.file_size_mb = 64       # largest file a kernel may write
# c.Sandbox.open_files = 256
# c.Sandbox.tmp_mb = 64             # a kernel's private /tmp
# c.Sandbox.output_kb = 1024        # output kept per notebook
# c.Sandbox.notebook_mb = 20        # largest notebook accepted
# c.Sandbox.json_depth = 64         # deepest nesting in a notebook's JSON
# c.Sandbox.number_digits = 100     # longest number literal in a notebook's JSON

# `nbgrader validate` prints each message whole: nbgrader's Validator cuts every line at
# c.Validator.width (90) columns, and width also draws its ===== rules, so it is left as
# it is and the cut is taken out instead (coursekit.validate, also in the student edition).
from coursekit import validate  # noqa: E402

validate.install()

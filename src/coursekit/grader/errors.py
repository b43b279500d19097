"""The grader's errors: each a CoursekitError, so the CLI ends it in one line and an exit code.

| error | exit code | raised when |
|---|---|---|
| `CourseError` | 1 | the course folder, an assignment or a submissions folder is not as it should be |
| `NbgraderFailed` | 1 | an nbgrader command exited non-zero (its log is named) |
| `ReportError` | 1 | there is nothing to report on, or a report cannot be written |
| `SampleClassError` | 1 | the sample class cannot be built from its answers files |
| `ExportError` | 1 | grades cannot be exported: no gradebook, an assignment it does not hold, a bad roster |
| `WorkersFailed` | 1 | grading worker processes end before they start a hand-in, or on every hand-in |
"""

from __future__ import annotations

from coursekit.errors import CoursekitError


class CourseError(CoursekitError, RuntimeError):
    """The course folder, an assignment or an nbgrader step is not as it should be."""


class NbgraderFailed(CourseError):
    """An nbgrader command exited with a non-zero status."""


class ReportError(CourseError, ValueError):
    """Nothing to report on, or the report cannot be written."""


class SampleClassError(CourseError, ValueError):
    """The sample class's answers do not fit the release."""


class ExportError(CourseError, ValueError):
    """Grades cannot be exported: no gradebook, an assignment it does not hold, a bad roster."""


class WorkersFailed(CourseError):
    """Grading workers end before they start a hand-in, or on every hand-in they try: the
    machine or the environment is the likely cause, not a submission (the grades made are kept)."""

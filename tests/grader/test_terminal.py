"""What the instructor reads: does the grade table show points and pending hand-grading, and
does the summary list refused, failed and flagged hand-ins with where the files went?"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from coursekit.grader.collect import Rejected
from coursekit.grader.gradebook import AssignmentScore
from coursekit.grader.pipeline import GradeReport
from coursekit.grader.reasons import Reason
from coursekit.grader.terminal import print_grades
from coursekit.grader.worker import Outcome, Task


def _report(tmp_path: Path) -> GradeReport:
    return GradeReport(
        scores=[AssignmentScore("ann", "01-a", 3.0, 4.0, 2.0, True),
                AssignmentScore("bob", "01-a", 4.0, 4.0, 2.0, False)],
        rejected=[Rejected(Path("/x/cyd/01-a/a.ipynb"), "empty file", "cyd", "01-a")],
        failed=[Outcome(Task("dee", "01-a", "d"), False, 1.0, "nbgrader broke")],
        graded=3, skipped=1, grades_csv=tmp_path / "grades.csv", feedback_dir=tmp_path / "feedback",
        reasons=[Reason("ann", "01-a", 3.0, 4.0, flags=("kernel died in cell f",)),
                 Reason("", "", None, None, flags=("refused a.ipynb: empty file",), refused=True)],
        protections="sandbox: all protections on (network)",
    )


def test_the_summary_names_everything_once(tmp_path):
    console = Console(width=200, record=True)
    print_grades(_report(tmp_path), console=console)
    text = console.export_text()
    assert "3 / 4" in text and "2 pts to grade" in text and "done" in text
    assert "rejected /x/cyd/01-a/a.ipynb: empty file" in text
    assert "not graded dee/01-a: nbgrader broke" in text
    assert "flagged ann/01-a (3.0 / 4.0): kernel died in cell f" in text
    assert "refused a.ipynb" not in text.split("flagged")[-1]  # refusals are listed as rejected, not flagged
    assert "3 submissions autograded, 1 unchanged since last time" in text
    assert f"reasons:  {tmp_path / 'reasons.csv'}" in text

"""The class report: is the item analysis right on a gradebook whose scores we set, and
does the page show the charts, the table and the flagged hand-ins?"""

from __future__ import annotations

import nbformat
import pytest
from nbgrader.api import Gradebook

from coursekit.grader.course import scratch_workspace
from coursekit.grader.errors import ReportError
from coursekit.grader.reasons import Reason, write_reasons
from coursekit.grader.report import item_analysis, write_report

# nbgrader's own add_submission trips SQLAlchemy's autoflush warning; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

# student -> (score of test_a, score of test_b); each test is worth 2 points
SCORES = {"ann": (2, 2), "bob": (2, 0), "cyd": (0, 0), "dee": (2, 1)}


@pytest.fixture
def workspace(tmp_path):
    """A workspace whose gradebook holds one assignment, two tests and four students, and
    whose autograded notebooks show the error each failing test raised."""
    ws = scratch_workspace(tmp_path / "ws")
    ws.root.mkdir(parents=True)
    with Gradebook(f"sqlite:///{ws.gradebook}") as gb:
        gb.add_assignment("hw")
        gb.update_or_create_notebook("hw", "hw")
        for test in ("test_a", "test_b"):
            gb.update_or_create_grade_cell(test, "hw", "hw", max_score=2, cell_type="code")
        for student, scores in SCORES.items():
            gb.add_student(student)
            gb.add_submission("hw", student)
            for test, score in zip(("test_a", "test_b"), scores, strict=True):
                gb.find_grade(test, "hw", "hw", student).auto_score = score
            gb.db.commit()
            _autograded(ws, student, scores)
    return ws


def _autograded(ws, student: str, scores) -> None:
    cells = []
    for test, score in zip(("test_a", "test_b"), scores, strict=True):
        cell = nbformat.v4.new_code_cell("assert f()", metadata={"nbgrader": {"grade_id": test, "grade": True}})
        if score == 0:
            cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=f"{test} wrong",
                                                   traceback=[])]
        cells.append(cell)
    path = ws.autograded / student / "hw" / "my notebook.ipynb"  # any name, as collect accepts
    path.parent.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def test_item_analysis_counts_who_fails_each_test_and_why(workspace):
    """Is the share failing each test right, with the commonest error and partial credit named?"""
    items = item_analysis(workspace=workspace, assignments=["hw"]).set_index("test")
    assert items.loc["test_a", "failing"] == 1 and items.loc["test_a", "share_failing"] == 0.25
    assert items.loc["test_b", "failing"] == 3 and items.loc["test_b", "share_failing"] == 0.75
    assert items.loc["test_a", "common_failures"] == "AssertionError: test_a wrong (1)"
    assert items.loc["test_b", "common_failures"] == "AssertionError: test_b wrong (2); partial credit (1)"


def test_the_report_page_has_charts_table_and_flags(workspace):
    """Does the page embed both charts, the item table and the flagged hand-ins from reasons.csv?"""
    write_reasons([Reason("cyd", "hw", 0.0, 4.0, flags=("kernel died in cell a",)),
                   Reason("", "", None, None, flags=("refused x.ipynb: empty file",), refused=True)],
                  workspace.reasons_csv)
    written = write_report(workspace=workspace, assignments=["hw"])
    page = written.html.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2
    assert "Flagged submissions" in page and "kernel died in cell a" in page and "refused x.ipynb" in page
    assert written.distribution.stat().st_size > 1000 and written.items.stat().st_size > 1000
    assert written.items_csv.read_text().startswith("assignment,test,points,students,failing")
    assert written.grades_csv.read_text().count("\n") == 1 + len(SCORES)


def test_an_empty_gradebook_is_one_clear_error(tmp_path):
    """Does a report with nothing graded say so, as a ReportError the CLI prints in one line?"""
    ws = scratch_workspace(tmp_path)
    with Gradebook(f"sqlite:///{ws.gradebook}") as gb:
        gb.add_assignment("hw")
    with pytest.raises(ReportError, match="no graded submissions to report on"):
        write_report(workspace=ws, assignments=["hw"])

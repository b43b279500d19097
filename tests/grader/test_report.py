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


LAPTOP_WIDTH = 1200  # px: what a laptop screen shows without scrolling or scaling


def _scores(assignments: list[str]):
    import pandas as pd

    rows = [{"student": f"s{n}", "assignment": a, "autograded": float(n % 5), "autograded_max": 4.0,
             "written_max": 6.0, "needs_manual_grade": n % 2 == 0} for a in assignments for n in range(12)]
    scores = pd.DataFrame(rows)
    scores["percent"] = 100 * scores["autograded"] / scores["autograded_max"]
    return scores


def _texts(fig) -> set[str]:
    texts = {t.get_text() for ax in fig.axes for t in ax.texts + [ax.title, ax.xaxis.label, ax.yaxis.label]}
    for ax in fig.axes:
        legend = ax.get_legend()
        texts |= {t.get_text() for t in legend.get_texts()} if legend else set()
    texts |= {t.get_text() for legend in fig.legends for t in legend.get_texts()}
    return texts | ({fig._suptitle.get_text()} if fig._suptitle else set())


def test_the_charts_fit_a_laptop_screen_with_readable_labels(tmp_path):
    """Are the saved PNGs at most 1200 px wide with four assignments and the overall panel,
    and do the legend and axes say "needs hand grading" / "autograded only", never a
    column name such as needs_manual_grade or True/False?"""
    from matplotlib.image import imread

    from coursekit.grader.report import distribution_figure, save_chart

    assignments = ["01-reading-the-source", "02-extracting-claims", "03-charting-troop-numbers",
                   "04-tracing-claims"]
    fig = distribution_figure(_scores(assignments), assignments)
    path = save_chart(fig, tmp_path / "grade_distribution.png")
    height, width = imread(path).shape[:2]
    assert width <= LAPTOP_WIDTH and height <= 1000, (width, height)
    texts = _texts(fig)
    assert {"needs hand grading", "autograded only"} <= texts, texts
    assert not any("needs_manual_grade" in t or t in {"True", "False"} for t in texts), texts


def test_the_report_page_uses_readable_column_names(workspace):
    """Does the page's score table say "hand grading" in words, not needs_manual_grade True/False?"""
    page = write_report(workspace=workspace, assignments=["hw"]).html.read_text(encoding="utf-8")
    scores = page.split("<h2>Scores</h2>")[1]
    assert "needs_manual_grade" not in scores and ">True<" not in scores and ">False<" not in scores
    assert "<th>hand grading</th>" in scores and ("autograded only" in scores or "needs hand grading" in scores)

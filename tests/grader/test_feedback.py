"""Feedback without hidden tests: is every hidden region replaced, and is a failed test's
traceback cut to its error and message? And is the page readable: tests named by their
question, written answers "to be graded" until graded, no path of the grading machine?"""

from __future__ import annotations

import nbformat
import pytest
from conftest import ROOT
from nbconvert.exporters import HTMLExporter
from nbgrader.api import Gradebook
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory

from coursekit.grader.config import load_config
from coursekit.grader.course import Course
from coursekit.grader.feedback import PLACEHOLDER, FeedbackGrades, HideHiddenTests, hide_hidden_region, strip_paths

TEST_SOURCE = """assert f(1) == 1
    ### BEGIN HIDDEN TESTS
    assert f(2) == 'secret'
    ### END HIDDEN TESTS
assert f(3) == 3
### BEGIN HIDDEN TESTS
assert f(4) == 'also secret'
### END HIDDEN TESTS"""


def test_every_hidden_region_becomes_one_indented_placeholder():
    """Are both regions gone, each replaced in place by one line at its indentation?"""
    shown, hidden = hide_hidden_region(TEST_SOURCE)
    assert hidden and "secret" not in shown
    assert shown.splitlines() == ["assert f(1) == 1", "    " + PLACEHOLDER, "assert f(3) == 3", PLACEHOLDER]


def test_a_cell_without_hidden_tests_is_unchanged():
    assert hide_hidden_region("assert True") == ("assert True", False)


def _cell(grade: bool, solution: bool):
    cell = nbformat.v4.new_code_cell(TEST_SOURCE, metadata={"nbgrader": {"grade": grade, "solution": solution,
                                                                          "grade_id": "t"}})
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="f(2) is wrong",
                                           traceback=["  File <cell>, line 3", "    assert f(2) == 'secret'"])]
    return cell


def test_a_test_cell_loses_its_hidden_code_and_traceback():
    """Does the student see which test failed and why, never how the hidden test reads?"""
    cell, _ = HideHiddenTests().preprocess_cell(_cell(grade=True, solution=False), {}, 0)
    assert "secret" not in cell.source
    assert cell.outputs[0]["traceback"] == ["AssertionError: f(2) is wrong"]


def test_a_student_answer_cell_is_left_alone():
    """Is an answer cell (solution), which is the student's own code, shown as it is?"""
    cell, _ = HideHiddenTests().preprocess_cell(_cell(grade=False, solution=True), {}, 0)
    assert cell.source == TEST_SOURCE and len(cell.outputs[0]["traceback"]) == 2


# --- what the page says: questions, written answers waiting for a grader, no grader paths ---------

PATHS_TRACEBACK = [
    "\x1b[0;31mValueError\x1b[0m  Traceback (most recent call last)",
    "File \x1b[0;32m/root/.pyenv/versions/3.11.9/lib/python3.11/site-packages/pandas/core/frame.py:4102\x1b[0m, in "
    "\x1b[0;36mDataFrame.__getitem__\x1b[0m",
    f"File {ROOT}/src/coursekit/seeds.py:120, in read_seed(name)",
    "File /usr/lib/python3.11/json/decoder.py:337, in decode",
    "ValueError: see https://example.org/a/b/c.html",
]


def _notebook():
    """A hand-in as autograde leaves it: a question, the student's code (which raised, deep in
    pandas), its test (failed), and a written answer not yet hand-graded."""
    def nbg(**kw):
        return {"nbgrader": {"schema_version": 3, "locked": False, "solution": False, "grade": False, **kw}}

    answer = nbformat.v4.new_code_cell("def paragraphs(text): ...", metadata=nbg(grade_id="paragraphs",
                                                                                solution=True))
    answer.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="see https://example.org/a/b/c.html",
                                             traceback=PATHS_TRACEBACK)]
    test = nbformat.v4.new_code_cell("assert paragraphs('a') == ['a']",
                                     metadata=nbg(grade_id="test_paragraphs", grade=True, points=3, locked=True))
    test.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])]
    written = nbformat.v4.new_markdown_cell("YOUR ANSWER HERE", metadata=nbg(grade_id="date_the_article", grade=True,
                                                                              solution=True, points=6))
    written.metadata["coursekit"] = {"question": "<b>forged</b>"}  # a student's own metadata: never trusted
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## Question 1 — `paragraphs` (3 points, autograder)"), answer, test,
        nbformat.v4.new_markdown_cell("## Question 5 — Date the article (6 points, graded by hand)"), written])
    nb.metadata["language_info"] = {"name": "python"}
    return nb


@pytest.fixture
def gradebook(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("hw")
        gb.update_or_create_notebook("nb", "hw")
        gb.update_or_create_grade_cell("test_paragraphs", "nb", "hw", max_score=3, cell_type="code")
        gb.update_or_create_grade_cell("date_the_article", "nb", "hw", max_score=6, cell_type="markdown")
        for solution in ("paragraphs", "date_the_article"):
            gb.update_or_create_solution_cell(solution, "nb", "hw")
        gb.add_student("ann")
        gb.add_submission("hw", "ann")
        test = gb.find_grade("test_paragraphs", "nb", "hw", "ann")
        test.auto_score, test.needs_manual_grade = 0.0, False
        written = gb.find_grade("date_the_article", "nb", "hw", "ann")
        written.auto_score, written.needs_manual_grade = None, True  # SaveAutoGrades: an answer to read
        gb.db.commit()
    return url


def _page(url: str) -> str:
    """The feedback page as generate_feedback makes it, with the course's nbgrader_config.py."""
    resources = {"nbgrader": {"notebook": "nb", "assignment": "hw", "student": "ann", "db_url": url}}
    nb, resources = FeedbackGrades().preprocess(_notebook(), resources)
    nb, resources = HideHiddenTests().preprocess(nb, resources)
    config = load_config(Course.at(ROOT))
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    return HTMLExporter(parent=converter, config=converter.config).from_notebook_node(nb, resources=resources)[0]


def _text(html: str) -> str:
    import re

    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_a_written_answer_waits_to_be_graded_and_every_test_is_named_by_its_question(gradebook):
    """Before hand-grading, does the written answer say "to be graded" (not 0.0 / 6.0), is each
    test labelled by its question (never "Test cell"), and is forged metadata ignored?"""
    page = _page(gradebook)
    text = _text(page)
    assert "0.0 / 6.0" not in text and "Written response — Question 5 — Date the article" in text
    assert text.count("to be graded") >= 2  # the contents list and the answer's own heading
    assert "Test cell" not in text and "Grade cell" not in text
    assert "Question 1 — paragraphs (3 points, autograder) (Score: 0.0 / 3.0)" in text
    assert "Test: Question 1 — paragraphs (3 points, autograder)" in text
    assert "forged" not in page
    with Gradebook(gradebook) as gb:
        gb.find_grade("date_the_article", "nb", "hw", "ann").manual_score = 4.0
        gb.db.commit()
    text = _text(_page(gradebook))
    assert "to be graded" not in text and "Score: 4.0 / 6.0" in text


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_a_traceback_shows_no_path_of_the_grading_machine(gradebook):
    """Are the grader's Python, its site-packages and the course's absolute path gone from
    the traceback, leaving base names or <grader>, while a URL in the message is kept?"""
    page = _page(gradebook)
    for path in ("/root/.pyenv", "site-packages", str(ROOT), "/usr/lib/python3.11"):
        assert path not in page, path
    assert "&lt;grader&gt;" in page and "seeds.py:120" in page and "https://example.org/a/b/c.html" in page
    assert strip_paths(f"open {ROOT}/build/x.csv and /tmp/a/b.txt") == "open x.csv and b.txt"
    assert strip_paths("/usr/lib/python3.11/json/decoder.py:337") == "<grader>/decoder.py:337"


def test_the_course_generates_feedback_with_these_preprocessors():
    """Does nbgrader_config.py run FeedbackGrades (not the stock GetGrades) then HideHiddenTests?"""
    chain = load_config(Course.at(ROOT)).GenerateFeedback.preprocessors
    assert chain[:2] == ["coursekit.grader.feedback.FeedbackGrades", "coursekit.grader.feedback.HideHiddenTests"]

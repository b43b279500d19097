"""Feedback without hidden tests: is every hidden region replaced, and is a failed test's
traceback cut to its error and message?"""

from __future__ import annotations

import nbformat

from coursekit.grader.feedback import PLACEHOLDER, HideHiddenTests, hide_hidden_region

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

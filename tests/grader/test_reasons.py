"""Reasons: does each hand-in's row say, in one line, why it scored what it did, and does the
CSV keep the columns an instructor's scripts read?"""

from __future__ import annotations

import csv

import nbformat

from coursekit.grader.reasons import COLUMNS, Reason, failure_message, write_reasons


def test_a_reason_lists_flags_then_details_and_full_marks_when_nothing_is_wrong():
    reason = Reason("ann", "hw", 3.0, 4.0, flags=("kernel died in cell a",), details=("test_b: AssertionError",))
    assert reason.text == "kernel died in cell a; test_b: AssertionError" and reason.flagged
    assert Reason("bob", "hw", 4.0, 4.0).text == "full marks"
    refused = Reason("", "", None, None, flags=("refused x.ipynb: empty file",), refused=True)
    assert not refused.flagged and refused.row()["score"] == ""


def test_the_csv_has_the_documented_columns(tmp_path):
    path = write_reasons([Reason("ann", "hw", 3.0, 4.0, flags=("a", "b"))], tmp_path / "reasons.csv")
    with path.open(encoding="utf-8") as rows:
        (row,) = list(csv.DictReader(rows))
    assert tuple(row) == COLUMNS
    assert row == {"student": "ann", "assignment": "hw", "score": "3.0", "max_score": "4.0", "flags": "a; b",
                   "reason": "a; b"}


def test_failure_message_finds_the_test_in_any_notebook_of_the_hand_in():
    """Is the first line of the error found whatever the notebook is called, and are the
    other cases (partial credit, no error, missing cell, nothing read) named?"""
    failing = nbformat.v4.new_code_cell("assert f()", metadata={"nbgrader": {"grade_id": "test_f", "grade": True}})
    failing.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad\nmore", traceback=[])]
    silent = nbformat.v4.new_code_cell("assert g()", metadata={"nbgrader": {"grade_id": "test_g", "grade": True}})
    graded = [nbformat.v4.new_notebook(cells=[]), nbformat.v4.new_notebook(cells=[failing, silent])]
    assert failure_message(graded, "test_f") == "ValueError: bad"
    assert failure_message(graded, "test_g", score=0.5) == "partial credit"
    assert failure_message(graded, "test_g") == "no points, no error shown"
    assert failure_message(graded, "test_h") == "test cell missing"
    assert failure_message([], "test_f") == "notebook unreadable"

"""Reasons: does each hand-in's row say, in one line, why it scored what it did, and does the
CSV keep the columns an instructor's scripts read?"""

from __future__ import annotations

import csv

import nbformat

from coursekit.grader.reasons import COLUMNS, Reason, failure_message, write_reasons
from coursekit.grader.text import clip


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


def _test_cell(grade_id: str, ename: str = "AssertionError", evalue: str = ""):
    cell = nbformat.v4.new_code_cell("assert f()", metadata={"nbgrader": {"grade_id": grade_id, "grade": True}})
    cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])]
    return cell


LONG = ("paragraphs(ARTICLE) gives a new list each time, but the third paragraph of the article is split in two "
        "where the dateline ends, so the count is one too many and every paragraph after it moves along by one")


def test_a_long_message_is_kept_whole_in_the_csv_and_cut_at_a_word_for_the_terminal(tmp_path):
    """Is the reason never cut mid-word: whole in the CSV, capped at a word with '…' in its short form?"""
    graded = [nbformat.v4.new_notebook(cells=[_test_cell("test_f", evalue=LONG)])]
    message = failure_message(graded, "test_f")
    assert message == f"AssertionError: {LONG}"
    reason = Reason("ann", "hw", 0.0, 4.0, details=(f"test_f: {message}",))
    with write_reasons([reason], tmp_path / "reasons.csv").open(encoding="utf-8") as rows:
        assert next(csv.DictReader(rows))["reason"] == f"test_f: AssertionError: {LONG}"
    short = reason.short(80)
    assert len(short) <= 80 and short.endswith("…")
    assert f"test_f: AssertionError: {LONG}".startswith(short[:-1].rstrip())
    assert short[:-1].rstrip().split()[-1] in LONG.split()  # the last word shown is a whole word
    assert clip("short enough", 80) == "short enough"
    assert clip("averyveryverylongwordwithoutspaces and more", 10) == "averyvery…"


def test_an_empty_message_is_replaced_by_the_question_the_test_checks():
    """Does 'AssertionError:' with nothing after it become the question: the heading above the
    test cell, or its grade_id in words when there is none?"""
    heading = nbformat.v4.new_markdown_cell("## Question 2 — `dateline` (3 points, autograder)\n\nA dateline opens…")
    answer = nbformat.v4.new_code_cell("def dateline(text): ...",
                                       metadata={"nbgrader": {"grade_id": "dateline", "solution": True}})
    graded = [nbformat.v4.new_notebook(cells=[heading, answer, _test_cell("test_dateline"),
                                              _test_cell("test_quote_balance", evalue="  ")])]
    assert failure_message(graded, "test_dateline") == (
        "AssertionError with no message, in Question 2 — dateline (3 points, autograder)")
    lone = [nbformat.v4.new_notebook(cells=[_test_cell("test_quote_balance", evalue="  ")])]
    assert failure_message(lone, "test_quote_balance") == "AssertionError with no message, in test quote balance"


def test_every_failing_test_of_a_hand_in_is_listed(tmp_path):
    """Are all four failing tests named in the hand-in's reason, not the first three?"""
    from coursekit.grader.gradebook import TestScore
    from coursekit.grader.reasons import _graded_reason

    class Workspace:
        def autograded_notebooks(self, student, assignment):
            return []

    key = ("ann", "hw")
    tests = {key: [TestScore("ann", "hw", f"test_{n}", 0.0, 1.0) for n in "abcd"]}
    reason = _graded_reason(Workspace(), key, {}, tests, {}, {})
    assert [d.split(":")[0] for d in reason.details] == ["test_a", "test_b", "test_c", "test_d"]

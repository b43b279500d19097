"""Cell predicates, in one place: does each kind of nbgrader cell answer as it should, from a
NotebookNode or from a plain dict read as JSON?"""

from __future__ import annotations

import nbformat
import pytest

from coursekit.grader import cells


def _meta(**flags):
    return {"nbgrader": {"grade_id": "x", "schema_version": 3, **flags}}


CASES = [
    # cell, is_answer, is_test, is_written_answer, written_by_student
    (nbformat.v4.new_code_cell("def f(): ...", metadata=_meta(solution=True, grade=False, locked=False)),
     True, False, False, True),
    (nbformat.v4.new_code_cell("assert f()", metadata=_meta(solution=False, grade=True, locked=True, points=1)),
     False, True, False, False),
    (nbformat.v4.new_markdown_cell("An answer", metadata=_meta(solution=True, grade=True, points=2)),
     False, False, True, False),
    (nbformat.v4.new_code_cell("import pandas as pd", metadata=_meta(solution=False, grade=False, locked=True)),
     False, False, False, False),
    (nbformat.v4.new_code_cell("x = 1"), False, False, False, True),
]


@pytest.mark.parametrize("as_dict", [False, True])
@pytest.mark.parametrize(("cell", "answer", "test", "written", "student"), CASES)
def test_each_kind_of_cell(cell, answer, test, written, student, as_dict):
    if as_dict:
        cell = dict(cell)
    assert (cells.is_answer(cell), cells.is_test(cell), cells.is_written_answer(cell),
            cells.written_by_student(cell)) == (answer, test, written, student)


def test_a_cell_without_metadata_is_an_ordinary_cell():
    assert cells.written_by_student({"cell_type": "code", "source": "x"})
    assert not cells.is_test({"cell_type": "code", "source": "x"})
    assert cells.grade_id({"cell_type": "code"}) is None

"""What kind of cell this is, decided in one place, on top of nbgrader's own predicates.

nbgrader marks cells in `metadata.nbgrader`: an autograded answer is a `solution` cell
with code, its test a `grade` cell that is not a solution, a written answer a `solution`
and `grade` markdown cell. Everything in the grader that asks "is this a test cell?" asks
here, so the answer cannot drift between the executor, the tamper scan, the feedback and
the gate.
"""

from __future__ import annotations

from collections.abc import Mapping

from nbformat import NotebookNode, from_dict
from nbgrader import utils

from coursekit.grader.text import words
from coursekit.notebooks import grade_id

__all__ = ["grade_id", "is_answer", "is_solution", "is_test", "is_written_answer", "question", "written_by_student"]


def _node(cell: Mapping) -> NotebookNode | None:
    """nbgrader's predicates read `cell.metadata`; a plain dict (a hand-in read as JSON)
    or a cell without metadata is taken as it is."""
    if "metadata" not in cell:
        return None
    return cell if isinstance(cell, NotebookNode) else from_dict(dict(cell))


def is_answer(cell: Mapping) -> bool:
    """An autograded answer: code the student writes (nbgrader `solution`)."""
    node = _node(cell)
    return node is not None and node.get("cell_type") == "code" and bool(utils.is_solution(node))


def is_solution(cell: Mapping) -> bool:
    """Any cell the student answers in: code or written (nbgrader `solution`)."""
    node = _node(cell)
    return node is not None and bool(utils.is_solution(node))


def is_test(cell: Mapping) -> bool:
    """A test cell: graded and not written by the student (nbgrader `grade`, not `solution`)."""
    node = _node(cell)
    return node is not None and bool(utils.is_grade(node)) and not utils.is_solution(node)


def is_written_answer(cell: Mapping) -> bool:
    """A manually graded written answer (markdown, `solution` and `grade`)."""
    node = _node(cell)
    return (node is not None and node.get("cell_type") == "markdown"
            and bool(utils.is_solution(node)) and bool(utils.is_grade(node)))


def written_by_student(cell: Mapping) -> bool:
    """Code a student could have written: answers and unmarked cells, never locked or test
    cells (nbgrader restores those from the release before grading)."""
    if cell.get("cell_type") != "code":
        return False
    node = _node(cell)
    if node is None or not (node.metadata.get("nbgrader") or {}):
        return True
    return bool(utils.is_solution(node)) or not (utils.is_locked(node) or utils.is_grade(node))


def _heading(cell: Mapping) -> str | None:
    """The last heading line of a markdown cell, without its #s, backticks and bold marks."""
    found = None
    for line in str(cell.get("source", "")).splitlines():
        if line.startswith("#") and line.lstrip("#").strip():
            found = line.lstrip("#").replace("`", "").replace("**", "").strip()
    return found


def question(notebook_cells: list, index: int) -> str:
    """What the test cell at `index` checks, in words: the nearest heading above it (in a
    markdown cell, not a student's written answer, and after the previous test cell), else
    its grade_id in words."""
    for cell in reversed(notebook_cells[:index]):
        if is_test(cell):
            break
        if cell.get("cell_type") == "markdown" and not is_solution(cell):
            heading = _heading(cell)
            if heading:
                return heading
    return words(grade_id(notebook_cells[index]) or "test")

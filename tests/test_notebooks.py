"""Are the committed notebooks clean, and do the assignments keep the public contracts?"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from conftest import ROOT, assignment_ids, committed_notebooks

from coursekit import notebooks

NOTEBOOKS = committed_notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_committed_clean(path):
    """No outputs, no execution counts, nbformat 4.5, cell ids, kernelspec python3?"""
    assert notebooks.problems(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_in_normal_form(path):
    """Is the file byte for byte what `coursekit tidy` would write (so tidy makes no diff)?"""
    text = path.read_text(encoding="utf-8")
    assert text == notebooks.dumps(notebooks.normalized(notebooks.read(path)))


def _cells(assignment_id):
    (path,) = sorted((ROOT / "solutions" / assignment_id).glob("*.ipynb"))
    return path, notebooks.read(path).cells


@pytest.mark.parametrize("assignment_id", assignment_ids())
def test_each_answer_cell_defines_the_function_it_is_named_after(assignment_id):
    """Public contract: an autograded answer cell's grade_id is the name of its one function."""
    path, cells = _cells(assignment_id)
    answers = [c for c in cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    assert answers, f"{path}: no answer cells"
    for cell in answers:
        tree = ast.parse(cell.source)
        functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert functions == [notebooks.grade_id(cell)], f"{path}: cell {cell.id}"


@pytest.mark.parametrize("assignment_id", assignment_ids())
def test_every_graded_function_has_a_test_cell_with_points_and_hidden_tests(assignment_id):
    """Is there a locked test_<name> cell, worth points, with hidden tests, after each answer?"""
    path, cells = _cells(assignment_id)
    grade_ids = [notebooks.grade_id(c) for c in cells]
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        name = meta["grade_id"]
        assert f"test_{name}" in grade_ids, f"{path}: no test_{name}"
        test = cells[grade_ids.index(f"test_{name}")]
        test_meta = test.metadata["nbgrader"]
        assert grade_ids.index(f"test_{name}") > grade_ids.index(name)
        assert test_meta["grade"] and test_meta["locked"] and not test_meta["solution"]
        assert test_meta["points"] > 0
        assert "### BEGIN HIDDEN TESTS" in test.source and "### END HIDDEN TESTS" in test.source


@pytest.mark.parametrize("assignment_id", assignment_ids())
def test_assignment_has_hand_graded_written_answers_with_a_rubric(assignment_id):
    """At least one manually graded markdown answer, each with a rubric for the grader?"""
    path, cells = _cells(assignment_id)
    written = [
        c for c in cells
        if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")
        and c.metadata["nbgrader"].get("grade")
    ]
    assert written, f"{path}: no manually graded answers"
    for cell in written:
        assert cell.metadata["nbgrader"]["points"] > 0
        assert "Rubric" in cell.source, f"{path}: {notebooks.grade_id(cell)} has no rubric"


@pytest.mark.parametrize("assignment_id", assignment_ids())
def test_points_are_shown_to_students(assignment_id):
    """Does each question's text tell the student what it is worth, matching nbgrader's points?"""
    path, cells = _cells(assignment_id)
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            points = meta["points"]
            assert f"{points:g} point" in text, f"{path}: {meta['grade_id']} ({points} points) not shown"


def test_notebooks_pass_ruff():
    """Do code and notebooks pass the linter?"""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "benchmarks", "tools",
         "lessons", "solutions", "exercises"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr

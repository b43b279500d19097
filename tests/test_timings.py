"""Do the course's stated times add up: each lesson's header to its sections, each assignment's
header to its question table, and lesson 00's course total to the lessons' and assignments'
own headers? Do the assignments' stated points match the points nbgrader grades?"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest
from conftest import ROOT

LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))

# A lesson's header: "**Teaching:** 55 min · **Exercises:** 40 min".
HEADER = re.compile(r"\*\*Teaching:\*\*\s*(\d+)\s*min\s*·\s*\*\*Exercises:\*\*\s*(\d+)\s*min")
# Section times come in two written forms; both are counted.
# "*Teaching: 10 min · Exercises: 5 min*" under a section heading ...
SECTION_BOTH = re.compile(r"^\*Teaching:\s*(\d+)\s*min\s*·\s*Exercises:\s*(\d+)\s*min\*\s*$", re.MULTILINE)
# ... or "## 3. Title (teaching: 8 min)" and "### Challenge 1: … (exercise: 5 min)" in headings.
SECTION_TEACHING = re.compile(r"^#+ .*\(teaching:\s*(\d+)\s*min\)\s*$", re.MULTILINE)
SECTION_EXERCISE = re.compile(r"^#+ .*\(exercises?:\s*(\d+)\s*min\)\s*$", re.MULTILINE)


def _markdown(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def _header(path):
    for text in _markdown(path):
        found = HEADER.search(text)
        if found:
            return int(found.group(1)), int(found.group(2))
    raise AssertionError(f"{path.name}: no '**Teaching:** N min · **Exercises:** M min' header")


def _section_sums(path):
    teaching = exercises = 0
    for text in _markdown(path):
        for t, e in SECTION_BOTH.findall(text):
            teaching, exercises = teaching + int(t), exercises + int(e)
        teaching += sum(int(t) for t in SECTION_TEACHING.findall(text))
        exercises += sum(int(e) for e in SECTION_EXERCISE.findall(text))
    return teaching, exercises


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_header_is_the_sum_of_its_sections(path):
    """Is a lesson's 'Teaching: N min · Exercises: M min' the sum of its sections' stated times?"""
    sums = _section_sums(path)
    assert sums != (0, 0), f"{path.name}: no section states its time"
    assert _header(path) == sums, f"{path.name}: header {_header(path)} but sections add up to {sums}"


def _assignment_header(path):
    """(points, minutes) from the sentence 'N points in all: … About M minutes in all'."""
    text = "\n".join(_markdown(path))
    points = re.search(r"\*\*(\d+) points in all:", text)
    minutes = re.search(r"About (\d+) minutes in all", text)
    assert points and minutes, f"{path.name}: the header states no total points or minutes"
    return int(points.group(1)), int(minutes.group(1)), text


def _question_table(text):
    """(points, minutes) of each row of the question table: '| 1 | task | 3 … | … | 15 min |'."""
    rows = re.findall(r"^\|\s*\d+\s*\|[^|]*\|\s*(\d+)(?: points?)?\s*\|[^|]*\|\s*(\d+) min\s*\|\s*$", text,
                      flags=re.MULTILINE)
    return [(int(p), int(m)) for p, m in rows]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.parent.name)
def test_assignment_totals_add_up(path):
    """Are an assignment's stated total points and minutes the sums of its question table, and
    are those points the ones nbgrader grades?"""
    points, minutes, text = _assignment_header(path)
    rows = _question_table(text)
    assert rows, f"{path.name}: no question table with points and minutes"
    assert sum(p for p, _ in rows) == points, f"{path.name}: questions give {sum(p for p, _ in rows)} points"
    assert sum(m for _, m in rows) == minutes, f"{path.name}: questions take {sum(m for _, m in rows)} min"
    graded = sum(
        c.metadata.get("nbgrader", {}).get("points", 0)
        for c in nbformat.read(path, as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("grade")
    )
    assert graded == points, f"{path.name}: nbgrader grades {graded} points, the header says {points}"


def test_course_total_in_lesson_00_uses_the_headers():
    """Does lesson 00's sum of the course's time use each lesson's and assignment's current header?"""
    nb = nbformat.read(ROOT / "lessons" / "00-getting-started.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "lesson_minutes" in c.source)
    namespace: dict = {}
    tree = ast.parse(cell.source)
    assigns = [node for node in tree.body if isinstance(node, ast.Assign)
               and getattr(node.targets[0], "id", "") in ("lesson_minutes", "assignment_minutes")]
    exec(compile(ast.Module(body=assigns, type_ignores=[]), "<lesson 00>", "exec"), namespace)
    lessons = {p.stem: sum(_header(p)) for p in LESSONS}
    assignments = {p.parent.name: _assignment_header(p)[1] for p in SOLUTIONS}
    assert namespace["lesson_minutes"] == lessons
    assert namespace["assignment_minutes"] == assignments


def test_a_wrong_header_is_caught(tmp_path):
    """Would the lesson check notice a header that does not add up?"""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("**Teaching:** 20 min · **Exercises:** 5 min"),
        nbformat.v4.new_markdown_cell("## 1. One (teaching: 10 min)\n"),
        nbformat.v4.new_markdown_cell("### Challenge 1: two (exercise: 5 min)\n"),
    ]
    path = tmp_path / "99-test.ipynb"
    nbformat.write(nb, path)
    assert _section_sums(path) == (10, 5)
    with pytest.raises(AssertionError):
        test_lesson_header_is_the_sum_of_its_sections(path)

"""Answers as data: the instructor's code answers read from a solution, the known-right and
known-wrong variants of tests/fixtures/variants/, and a student notebook made by filling
answers into the release (the gate, the sample class)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import nbformat

from coursekit.grader import cells
from coursekit.grader.errors import SampleClassError

SOLUTION_DELIMITERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_answers(solution: nbformat.NotebookNode) -> dict[str, str]:
    """The instructor's code answers, delimiter lines removed, by grade_id."""
    answers = {}
    for cell in solution.cells:
        if cells.is_answer(cell):
            lines = [line for line in cell.source.splitlines() if line.strip() not in SOLUTION_DELIMITERS]
            answers[cells.grade_id(cell)] = "\n".join(lines)
    return answers


def fill_answers(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of a student notebook with the answer cells named in `answers` replaced.

    This is how the test fixtures turn the release into a student's submission: every
    key must be the grade_id of an answer cell (nbgrader `solution: true`).
    """
    nb = copy.deepcopy(nb)
    answer_cells = {cells.grade_id(cell): cell for cell in nb.cells if cells.is_solution(cell)}
    unknown = sorted(set(answers) - set(answer_cells))
    if unknown:
        raise SampleClassError(f"no answer cell with grade_id {', '.join(unknown)}")
    for key, source in answers.items():
        answer_cells[key].source = source.rstrip("\n")
    return nb


@dataclass(frozen=True)
class Variant:
    """One answer to one graded function, known to be right or wrong."""

    path: Path
    function: str  # the answer cell's grade_id; its test is test_<function>
    right: bool

    @property
    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def why(self) -> str:
        first = self.source.splitlines()[0] if self.source else ""
        return first.lstrip("# ").split(":", 1)[-1].strip()


def load_variants(folder: Path) -> dict[str, list[Variant]]:
    """`<folder>/<function>/{right,wrong}_*.py`, by function."""
    found: dict[str, list[Variant]] = {}
    if not folder.is_dir():
        return found
    for function_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(function_dir.glob("*.py")):
            if path.name.startswith(("right_", "wrong_")):
                found.setdefault(function_dir.name, []).append(
                    Variant(path=path, function=function_dir.name, right=path.name.startswith("right_"))
                )
    return found

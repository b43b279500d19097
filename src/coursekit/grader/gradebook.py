"""nbgrader's gradebook read as tables: one row per test cell, one per hand-in."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook

from coursekit.grader.course import GRADEBOOK_LOCK_TIMEOUT


@dataclass(frozen=True)
class TestScore:
    __test__ = False  # a gradebook row, not a pytest test class

    student: str
    assignment: str
    test: str
    score: float
    max_score: float

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


@dataclass(frozen=True)
class AssignmentScore:
    student: str
    assignment: str
    autograded: float
    autograded_max: float
    written_max: float
    needs_manual_grade: bool
    written_blank: bool = False  # every written answer left as released (nothing to hand-grade, 0 points)


def read_test_scores(gradebook: Path, assignment_id: str) -> list[TestScore]:
    """Every autograded test cell's score for every student of one assignment."""
    rows = []
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for submission in gb.assignment_submissions(assignment_id):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type != "code":
                        continue
                    rows.append(TestScore(
                        student=submission.student.id, assignment=assignment_id, test=grade.name,
                        score=float(grade.score or 0.0), max_score=float(grade.max_score or 0.0),
                    ))
    return sorted(rows, key=lambda r: (r.student, r.test))


def read_assignment_scores(gradebook: Path, assignment_ids: Iterable[str]) -> list[AssignmentScore]:
    """Each hand-in's autograded points, and whether written answers wait for a grader."""
    rows = []
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for assignment_id in assignment_ids:
            for submission in gb.assignment_submissions(assignment_id):
                rows.append(AssignmentScore(
                    student=submission.student.id, assignment=assignment_id,
                    autograded=float(submission.code_score or 0.0),
                    autograded_max=float(submission.max_code_score or 0.0),
                    written_max=float(submission.max_written_score or 0.0),
                    needs_manual_grade=bool(submission.needs_manual_grade),
                    written_blank=_written_blank(submission),
                ))
    return sorted(rows, key=lambda r: (r.student, r.assignment))


def students(gradebook: Path) -> list[str]:
    """The ids of every student the gradebook holds (none, and no file made, if it is missing)."""
    if not gradebook.exists():
        return []
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        return sorted(student.id for student in gb.students)


def _written_blank(submission) -> bool:
    """Were all written answers left as released? nbgrader's SaveAutoGrades scores an
    unchanged answer 0 with nothing for a grader to do; a grader's own 0 is a manual score."""
    written = [grade for notebook in submission.notebooks for grade in notebook.grades
               if grade.cell_type == "markdown"]
    return bool(written) and all(grade.manual_score is None and grade.auto_score == 0
                                 and not grade.needs_manual_grade for grade in written)


def prepare(gradebook: Path) -> None:
    """WAL journal: workers read while one writes (the setting persists in the file)."""
    if gradebook.exists():
        with sqlite3.connect(gradebook, timeout=GRADEBOOK_LOCK_TIMEOUT) as db:
            db.execute("PRAGMA journal_mode=WAL")

"""nbgrader's gradebook read as tables: one row per test cell, one per hand-in."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, Student

from coursekit.grader.course import GRADEBOOK_LOCK_TIMEOUT
from coursekit.grader.late import days_late


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
    days_late: int = 0  # started 24-hour periods after the (extended) due date (coursekit.grader.late)
    late_penalty: float = 0.0  # points nbgrader's AssignLatePenalties took off (not taken off `autograded`)


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
                    days_late=days_late(submission.total_seconds_late),
                    late_penalty=float(submission.late_submission_penalty or 0.0),
                ))
    return sorted(rows, key=lambda r: (r.student, r.assignment))


@dataclass(frozen=True)
class StudentRecord:
    """A student as the gradebook knows them (names, email and LMS id are optional there)."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""


@dataclass(frozen=True)
class SubmissionScore:
    """One hand-in's points, split the way a grade export needs them: the points awarded so
    far, and apart from them the points of answers still waiting for a grader (never 0)."""

    student: str
    assignment: str
    autograded: float  # code cells' points (nbgrader's code_score, less cells waiting for a grader)
    autograded_max: float
    written: float  # hand-graded cells' points awarded so far
    written_max: float
    pending: float  # the points of every cell that still needs a manual grade
    late_penalty: float  # nbgrader's SubmittedAssignment.late_submission_penalty (0 when none)
    autograded_ok: bool = True  # False: a test cell nbgrader never scored (its autograde failed)

    @property
    def awarded(self) -> float:
        """Points awarded so far, before the late penalty."""
        return self.autograded + self.written

    @property
    def total(self) -> float:
        """The points after the late penalty, floored at 0 as nbgrader's own export does."""
        return max(0.0, self.awarded - self.late_penalty)


@dataclass(frozen=True)
class GradeSheet:
    """Everything a grade export reads from the gradebook, in one pass."""

    max_scores: dict[str, float]  # assignment id -> points possible, in assignment order
    students: list[StudentRecord]
    submissions: list[SubmissionScore]


def read_grade_sheet(gradebook: Path, assignment_ids: Iterable[str] | None = None) -> GradeSheet:
    """The assignments (all in the gradebook, or those named), every student and every hand-in.

    Points are added up per grade cell rather than taken from nbgrader's submission totals,
    because those count an answer still waiting for a grader as 0: a cell that needs a manual
    grade goes to `pending` instead, whatever score it holds."""
    wanted = None if assignment_ids is None else set(assignment_ids)
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        assignments = sorted((a for a in gb.assignments if wanted is None or a.name in wanted), key=lambda a: a.name)
        max_scores = {a.name: float(a.max_score or 0.0) for a in assignments}
        students = [StudentRecord(id=s.id, first_name=s.first_name or "", last_name=s.last_name or "",
                                  email=s.email or "", lms_user_id=s.lms_user_id or "")
                    for s in sorted(gb.students, key=lambda s: s.id)]
        submissions = [_submission_score(submission, a.name)
                       for a in assignments for submission in gb.assignment_submissions(a.name)]
    return GradeSheet(max_scores=max_scores, students=students,
                      submissions=sorted(submissions, key=lambda s: (s.student, s.assignment)))


def _submission_score(submission, assignment_id: str) -> SubmissionScore:
    points = {"code": 0.0, "written": 0.0}
    maxima = {"code": 0.0, "written": 0.0}
    pending = 0.0
    never_scored = False
    for notebook in submission.notebooks:
        answers = {cell.name for cell in notebook.notebook.solution_cells}
        for grade in notebook.grades:
            kind = "code" if grade.cell_type == "code" else "written"  # markdown answers and tasks
            # SaveAutoGrades scores every test cell (a code grade cell that is no answer); one
            # without any score was never autograded: nbgrader records the hand-in, then fails
            never_scored |= (kind == "code" and grade.name not in answers
                             and grade.auto_score is None and grade.manual_score is None)
            maxima[kind] += float(grade.max_score or 0.0)
            if grade.needs_manual_grade:
                pending += float(grade.max_score or 0.0)
            else:
                points[kind] += float(grade.score or 0.0)
    return SubmissionScore(
        student=submission.student.id, assignment=assignment_id,
        autograded=points["code"], autograded_max=maxima["code"],
        written=points["written"], written_max=maxima["written"], pending=pending,
        late_penalty=float(submission.late_submission_penalty or 0.0), autograded_ok=not never_scored,
    )


def students(gradebook: Path) -> list[str]:
    """The ids of every student the gradebook holds (none, and no file made, if it is missing)."""
    if not gradebook.exists():
        return []
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        return sorted(student.id for student in gb.students)


def add_students(gradebook: Path, ids: Iterable[str]) -> list[str]:
    """Create every student of `ids` the gradebook does not hold yet, in one transaction, and
    return their ids. Run before grading workers start.

    nbgrader's autograde creates a hand-in's student itself when it is missing
    (`Autograde.create_student`, on by default): it looks the student up, and adds them if
    not found. Two workers grading two assignments of the same new student at once can both
    miss and both add; the second add fails on the table's unique id and that hand-in is not
    graded ("There was an error processing assignment"). The row made here is the one
    nbgrader would make (an id and nothing else: nbgrader 0.9 passes no other field)."""
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        known = {row.id for row in gb.db.query(Student.id)}
        missing = sorted(set(ids) - known)
        for student_id in missing:
            gb.db.add(Student(id=student_id))
        gb.db.commit()
    return missing


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

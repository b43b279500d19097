"""The gradebook read as tables, from a real nbgrader gradebook: is a hand-in whose written
answers were all left as released told apart from one whose answers were graded?"""

from __future__ import annotations

import pytest
from nbgrader.api import Gradebook

from coursekit.grader.gradebook import add_students, read_assignment_scores

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


def test_written_answers_left_blank_are_told_apart(tmp_path):
    """SaveAutoGrades scores an unchanged written answer 0 with nothing to grade by hand: that
    is "blank", unlike an answer a grader marked 0 or one that waits for a grader."""
    path = tmp_path / "gradebook.db"
    with Gradebook(f"sqlite:///{path}") as gb:
        gb.add_assignment("hw")
        gb.update_or_create_notebook("nb", "hw")
        for cell in ("q1", "q2"):
            gb.update_or_create_grade_cell(cell, "nb", "hw", max_score=3, cell_type="markdown")
            gb.update_or_create_solution_cell(cell, "nb", "hw")
        states = {"blank": [(0.0, None, False), (0.0, None, False)],  # auto, manual, needs manual grade
                  "graded": [(0.0, None, False), (None, 0.0, False)],
                  "waiting": [(0.0, None, False), (None, None, True)]}
        for student, grades in states.items():
            gb.add_student(student)
            gb.add_submission("hw", student)
            for cell, (auto, manual, needs) in zip(("q1", "q2"), grades, strict=True):
                grade = gb.find_grade(cell, "nb", "hw", student)
                grade.auto_score, grade.manual_score, grade.needs_manual_grade = auto, manual, needs
            gb.db.commit()
    blank = {s.student: s.written_blank for s in read_assignment_scores(path, ["hw"])}
    assert blank == {"blank": True, "graded": False, "waiting": False}


def test_students_are_added_once_and_known_ones_are_left_as_they_are(tmp_path):
    """Grading creates a run's new students before any worker starts (two workers creating the
    same new student at once fail one hand-in): only the missing ones are added, as nbgrader
    adds them (an id, nothing else), and a student already there keeps every field."""
    path = tmp_path / "gradebook.db"
    with Gradebook(f"sqlite:///{path}") as gb:
        gb.add_student("ada", first_name="Ada", email="ada@example.org")
    assert add_students(path, ["ada", "bo", "cy", "bo"]) == ["bo", "cy"]
    assert add_students(path, ["ada", "bo"]) == []
    with Gradebook(f"sqlite:///{path}") as gb:
        rows = {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students}
    assert rows == {"ada": ("Ada", None, "ada@example.org", None),
                    "bo": (None, None, None, None), "cy": (None, None, None, None)}

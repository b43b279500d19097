"""Grades an LMS can import, from a real nbgrader gradebook (rows made with nbgrader's own
Gradebook API, no kernel): are answers still waiting for a grader kept apart instead of
counted as 0, is a hand-in never made told apart from a real 0, does a roster add the students
the gradebook never saw, is nbgrader's late penalty subtracted, and does each file have the
columns its LMS documents? The control shows what nbgrader's own export says of the same class."""

from __future__ import annotations

import csv
import shutil

import pytest
from nbgrader.api import Gradebook
from nbgrader.plugins.export import CsvExportPlugin

from coursekit.grader.cli import main
from coursekit.grader.errors import ExportError
from coursekit.grader.export import (
    CANVAS_STUDENT_COLUMNS,
    MOODLE_STUDENT_COLUMNS,
    PENDING_COLUMNS,
    TIDY_COLUMNS,
    export_grades,
)

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

# hw: two autograded tests (6 points each) and one written answer (10 points): 12 + 10 = 22.
# hw2: one autograded test (4 points).
CLASS = {
    # student: {assignment: (test scores, written: None = waiting for a grader, else the manual score)}
    "ann": {"hw": ((6, 6), None), "hw2": ((4,), None)},  # full autograded marks, written not yet graded
    "bob": {"hw": ((6, 6), 7), "hw2": ((0,), None)},  # fully graded; a real 0 on hw2
    "cat": {"hw": ((0, 0), 0)},  # handed in, scored 0 everywhere: a real zero
    "dan": {},  # in the gradebook, handed in nothing
    "eve": {"hw": ((6, 6), 8)},  # fully graded, 20 points, late: nbgrader's penalty of 5
}
LATE = {("eve", "hw"): 5.0}
NEVER_AUTOGRADED = ("gus", "hw")  # nbgrader recorded the hand-in, then its autograde failed (a kernel timeout)
STUDENTS = sorted([*CLASS, NEVER_AUTOGRADED[0]])


@pytest.fixture(scope="module")
def class_gradebook(tmp_path_factory):
    """The class's gradebook, made once (nbgrader commits every row: seconds on a busy disk)."""
    path = tmp_path_factory.mktemp("class") / "gradebook.db"
    with Gradebook(f"sqlite:///{path}") as gb:
        for assignment, tests, written in (("hw", ("test_a", "test_b"), "explain"), ("hw2", ("test_c",), None)):
            gb.add_assignment(assignment)
            gb.update_or_create_notebook("nb", assignment)
            for test in tests:
                gb.update_or_create_grade_cell(test, "nb", assignment, max_score=6 if assignment == "hw" else 4,
                                               cell_type="code")
            if written:
                gb.update_or_create_grade_cell(written, "nb", assignment, max_score=10, cell_type="markdown")
                gb.update_or_create_solution_cell(written, "nb", assignment)
        for student, handed_in in CLASS.items():
            gb.add_student(student, first_name=student.title(), last_name="Doe")
            for assignment, (tests, written) in handed_in.items():
                gb.add_submission(assignment, student)
                names = ("test_a", "test_b") if assignment == "hw" else ("test_c",)
                for name, score in zip(names, tests, strict=True):
                    grade = gb.find_grade(name, "nb", assignment, student)
                    grade.auto_score, grade.needs_manual_grade = float(score), False
                if assignment == "hw":  # SaveAutoGrades leaves an edited answer waiting for a grader
                    grade = gb.find_grade("explain", "nb", assignment, student)
                    grade.auto_score, grade.needs_manual_grade = None, written is None
                    grade.manual_score = None if written is None else float(written)
                if (student, assignment) in LATE:
                    notebook = gb.find_submission_notebook("nb", assignment, student)
                    notebook.late_submission_penalty = LATE[(student, assignment)]
                gb.db.commit()
        gb.add_student(NEVER_AUTOGRADED[0])
        gb.add_submission(NEVER_AUTOGRADED[1], NEVER_AUTOGRADED[0])  # every grade as add_submission leaves it
    return path


@pytest.fixture
def gradebook(class_gradebook, tmp_path):
    """A copy of the class's gradebook in a course's build/, for one test."""
    path = tmp_path / "build" / "gradebook.db"
    path.parent.mkdir()
    shutil.copyfile(class_gradebook, path)
    return path


def _rows(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _dicts(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _canvas(gradebook, tmp_path, **kwargs):
    out = tmp_path / "canvas.csv"
    written = export_grades(gradebook=gradebook, to="canvas", out=out, **kwargs)
    rows = _rows(out)
    by_login = {row[3]: dict(zip(rows[0], row, strict=True)) for row in rows[2:]}
    return written, rows, by_login


def test_control_nbgrader_export_counts_pending_and_missing_as_zero(gradebook, tmp_path):
    """The control: nbgrader's own export (build/grades.csv) of the same gradebook gives ann
    12 of 22 for full autograded marks, dan 0.0 for nothing handed in, as cat's real 0."""
    out = tmp_path / "grades.csv"
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        CsvExportPlugin(to=str(out)).export(gb)
    rows = {(r["student_id"], r["assignment"]): r for r in _dicts(out)}
    assert (rows[("ann", "hw")]["score"], rows[("ann", "hw")]["max_score"]) == ("12.0", "22.0")
    assert rows[("dan", "hw")]["score"] == rows[("cat", "hw")]["score"] == "0.0"
    assert rows[("eve", "hw")]["score"] == "15.0"  # raw 20, penalty 5
    assert rows[NEVER_AUTOGRADED]["score"] == "0.0"  # a failed autograde: 0 as well
    assert list(_dicts(out)[0]) == ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                                    "email", "raw_score", "late_submission_penalty", "score", "max_score"]


def test_canvas_has_its_documented_header_and_points_possible_row(gradebook, tmp_path):
    """Student, ID, SIS User ID, SIS Login ID, Section, then one column per assignment; the
    second row is Canvas's Points Possible row with each assignment's maximum."""
    _, rows, _ = _canvas(gradebook, tmp_path)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "hw", "hw2"]
    assert rows[0][:5] == CANVAS_STUDENT_COLUMNS
    assert rows[1][0].strip() == "Points Possible" and rows[1][1:] == ["", "", "", "", "22", "4"]
    assert sorted(row[3] for row in rows[2:]) == STUDENTS  # one row per student, none twice


def test_pending_hand_grading_is_an_empty_cell_listed_apart_never_12_of_22(gradebook, tmp_path):
    """ann's written answer waits for a grader: her hw cell is empty (not 12, which an LMS
    would read as 55%) and the pending file says 12 so far, 10 to grade; hw2 is final."""
    written, _, canvas = _canvas(gradebook, tmp_path)
    assert canvas["ann"]["hw"] == "" and canvas["ann"]["hw2"] == "4"
    pending = {(r["student"], r["assignment"]): r for r in _dicts(written.pending_path)}
    assert written.pending_path == tmp_path / "canvas-pending.csv"
    assert list(_dicts(written.pending_path)[0]) == PENDING_COLUMNS
    ann = pending[("ann", "hw")]
    assert (ann["status"], ann["points_so_far"], ann["pending_points"], ann["max"], ann["in_file"]) == (
        "pending hand-grading", "12", "10", "22", "empty")
    assert written.pending == 1 and "1 waiting for hand-grading (left empty)" in written.summary()


def test_fully_graded_a_real_zero_and_nothing_handed_in(gradebook, tmp_path):
    """bob's 12 + 7 = 19 is exported; cat's real 0 stays 0 and bob's 0 on hw2 too; dan, who
    handed in nothing, is an empty cell listed as not handed in, not a 0."""
    written, _, canvas = _canvas(gradebook, tmp_path)
    assert canvas["bob"]["hw"] == "19" and canvas["bob"]["hw2"] == "0"
    assert canvas["cat"]["hw"] == "0" and canvas["cat"]["hw2"] == ""
    assert canvas["dan"]["hw"] == canvas["dan"]["hw2"] == ""
    listed = {(r["student"], r["assignment"]): r["status"] for r in _dicts(written.pending_path)}
    assert listed[("dan", "hw")] == listed[("cat", "hw2")] == "not handed in"
    assert ("cat", "hw") not in listed and ("bob", "hw2") not in listed  # real zeros are grades
    assert (written.graded, written.pending, written.missing, written.not_autograded) == (5, 1, 5, 1)


def test_late_penalty_is_subtracted_as_nbgrader_does(gradebook, tmp_path):
    """eve: 20 points, penalty 5: Canvas gets 15 (nbgrader's export says 15.0 too) and the
    tidy table shows the penalty and the parts."""
    _, _, canvas = _canvas(gradebook, tmp_path)
    assert canvas["eve"]["hw"] == "15"
    export_grades(gradebook=gradebook, to="csv", out=tmp_path / "tidy.csv")
    eve = next(r for r in _dicts(tmp_path / "tidy.csv") if (r["student"], r["assignment"]) == ("eve", "hw"))
    assert (eve["autograded"], eve["written"], eve["late_penalty"], eve["total"], eve["max"]) == (
        "12", "8", "5", "15", "22")


def test_roster_adds_students_with_nothing_handed_in_and_gives_lms_ids(gradebook, tmp_path):
    """fay's hand-in was refused, so the gradebook never saw her: the roster adds her row
    (empty, listed as not handed in); its ids and names fill the LMS columns."""
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,sis_id,email,section,lms_id\n"
                      "ann,\"Doe, Ann\",S001,ann@example.org,A,1001\n"
                      "fay,\"Roe, Fay\",S006,fay@example.org,B,1006\n", encoding="utf-8")
    written, rows, canvas = _canvas(gradebook, tmp_path, roster=roster)
    assert rows[2][3] == "ann" and rows[3][3] == "fay"  # the roster's order first
    assert [canvas["fay"][c] for c in CANVAS_STUDENT_COLUMNS] == ["Roe, Fay", "1006", "S006", "fay", "B"]
    assert canvas["fay"]["hw"] == canvas["fay"]["hw2"] == ""
    assert canvas["bob"]["Student"] == "Doe, Bob"  # not in the roster: the gradebook's name
    listed = {(r["student"], r["assignment"]): r["status"] for r in _dicts(written.pending_path)}
    assert listed[("fay", "hw")] == "not handed in"
    assert written.students == len(STUDENTS) + 1 and any("not in" in note for note in written.notes)


def test_without_a_roster_the_nbgrader_id_is_the_login_and_it_says_so(gradebook, tmp_path):
    written, _, canvas = _canvas(gradebook, tmp_path)
    assert canvas["ann"]["SIS Login ID"] == "ann" and canvas["ann"]["ID"] == ""
    assert any(note.startswith("no roster") for note in written.notes)


def test_include_pending_exports_the_points_so_far_and_says_they_are_not_final(gradebook, tmp_path):
    written, _, canvas = _canvas(gradebook, tmp_path, include_pending=True)
    assert canvas["ann"]["hw"] == "12" and canvas["dan"]["hw"] == ""  # nothing handed in stays empty
    assert "NOT final" in written.summary()
    ann = next(r for r in _dicts(written.pending_path) if (r["student"], r["assignment"]) == ("ann", "hw"))
    assert ann["in_file"] == "points so far"


def test_moodle_has_an_identifier_column_and_one_column_per_grade_item(gradebook, tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,sis_id,email\nann,S001,ann@example.org\n", encoding="utf-8")
    out = tmp_path / "moodle.csv"
    written = export_grades(gradebook=gradebook, to="moodle", out=out, roster=roster)
    rows = _rows(out)
    assert rows[0] == MOODLE_STUDENT_COLUMNS + ["hw", "hw2"] == ["Username", "ID number", "Email address", "hw", "hw2"]
    moodle = {row[0]: row for row in rows[1:]}
    assert len(rows) == 1 + len(STUDENTS)  # no Points Possible row: Moodle would read it as a user
    assert moodle["ann"] == ["ann", "S001", "ann@example.org", "", "4"]
    assert moodle["bob"][3:] == ["19", "0"] and moodle["eve"][3] == "15" and moodle["dan"][3:] == ["", ""]
    assert written.pending_path == tmp_path / "moodle-pending.csv" and written.pending_path.exists()


def test_tidy_csv_has_one_row_per_student_and_assignment_with_a_status(gradebook, tmp_path):
    out = tmp_path / "tidy.csv"
    written = export_grades(gradebook=gradebook, to="csv", out=out)
    rows = _dicts(out)
    assert list(rows[0]) == TIDY_COLUMNS and len(rows) == len(STUDENTS) * 2 and written.pending_path is None
    by = {(r["student"], r["assignment"]): r for r in rows}
    ann = by[("ann", "hw")]
    assert (ann["status"], ann["autograded"], ann["autograded_max"], ann["written"], ann["written_max"],
            ann["pending"], ann["total"]) == ("pending hand-grading", "12", "12", "0", "10", "10", "")
    assert (by[("bob", "hw")]["status"], by[("bob", "hw")]["total"]) == ("graded", "19")
    assert (by[("cat", "hw")]["status"], by[("cat", "hw")]["total"]) == ("graded", "0")
    dan = by[("dan", "hw")]
    assert (dan["status"], dan["total"], dan["autograded"], dan["max"]) == ("not handed in", "", "", "22")


def test_a_hand_in_nbgrader_never_autograded_is_neither_0_nor_waiting_for_a_grader(gradebook, tmp_path):
    """gus's autograde failed after nbgrader recorded his hand-in: nbgrader's export gives 0.0;
    here the cell is empty even with --include-pending, and listed as not autograded."""
    written, _, canvas = _canvas(gradebook, tmp_path, include_pending=True)
    assert canvas["gus"]["hw"] == ""
    gus = next(r for r in _dicts(written.pending_path) if (r["student"], r["assignment"]) == NEVER_AUTOGRADED)
    assert (gus["status"], gus["in_file"]) == ("not autograded", "empty")
    assert written.not_autograded == 1 and "1 not autograded" in written.summary()


def test_only_the_assignments_asked_for(gradebook, tmp_path):
    _, rows, _ = _canvas(gradebook, tmp_path, assignments=["hw2"])
    assert rows[0][5:] == ["hw2"] and rows[1][5:] == ["4"]


def test_errors_name_the_file_and_the_cause(gradebook, tmp_path):
    with pytest.raises(ExportError, match="no gradebook"):
        export_grades(gradebook=tmp_path / "none.db", to="canvas", out=tmp_path / "c.csv")
    assert not (tmp_path / "none.db").exists()  # nbgrader would have made an empty one
    with pytest.raises(ExportError, match="holds no grades of hw9"):
        export_grades(gradebook=gradebook, to="canvas", out=tmp_path / "c.csv", assignments=["hw9"])
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\nann,Ann\n", encoding="utf-8")
    with pytest.raises(ExportError, match="student_id column"):
        export_grades(gradebook=gradebook, to="canvas", out=tmp_path / "c.csv", roster=bad)


def test_the_command_writes_the_file_and_prints_the_summary(gradebook, tmp_path, capsys, monkeypatch):
    """`coursekit export --to canvas FILE` on a course folder reads build/gradebook.db."""
    course = gradebook.parent.parent
    monkeypatch.setattr("coursekit.grader.cli.Course.at", classmethod(lambda cls, root=None: cls(course)))
    out = tmp_path / "out" / "canvas.csv"
    assert main(["--course", str(course), "export", "--to", "canvas", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "canvas-pending.csv" in printed and "note: no roster" in printed
    assert _rows(out)[0][:5] == CANVAS_STUDENT_COLUMNS

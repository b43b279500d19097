"""The demo grades the sample class in build/demo/, its own workspace: a later
`coursekit grade FOLDER` in build/ never sees the sample students. And grading warns when
the gradebook already holds students that are not in the folder being graded."""

from __future__ import annotations

import csv
import logging
import shutil
from pathlib import Path

import pytest
from conftest import ROOT
from nbgrader.api import Gradebook

from coursekit.grader import cli, gradebook, pipeline
from coursekit.grader.course import Course, demo_workspace

ASSIGNMENT = "01-reading-the-source"


def _students(table: Path, column: str) -> set[str]:
    with table.open(encoding="utf-8") as rows:
        return {r[column] for r in csv.DictReader(rows)}


def test_students_not_in_this_run_are_named(tmp_path):
    db = tmp_path / "gradebook.db"
    assert pipeline.other_students(db, {"ada"}) == []  # no gradebook yet: none, and none made
    assert not db.exists()
    with Gradebook(f"sqlite:///{db}") as gb:
        for student in ("ada", "ben", "zed"):
            gb.add_student(student)
    assert pipeline.other_students(db, {"ben"}) == ["ada", "zed"]
    assert gradebook.students(db) == ["ada", "ben", "zed"]


@pytest.mark.slow
def test_demo_grades_in_build_demo_and_leaves_nothing_for_a_later_grade(course_copy, tmp_path, caplog):
    sample = course_copy / "tests" / "fixtures" / "submissions"
    for student in sample.iterdir():  # keep it fast: the demo's class is ada alone
        if student.name != "ada":
            shutil.rmtree(student)
    build = course_copy / "build"
    assert cli.main(["--course", str(course_copy), "demo", "--assignment", ASSIGNMENT]) == cli.EXIT_OK
    demo = demo_workspace(Course.at(course_copy))
    assert demo.root == build / "demo"
    assert _students(demo.grades_csv, "student_id") == {"ada"}
    assert (demo.feedback / "ada" / ASSIGNMENT).is_dir() and (demo.report_dir / "report.html").is_file()
    assert not (build / "gradebook.db").exists() and not (build / "submitted").exists()

    folder = tmp_path / "class"
    shutil.copytree(ROOT / "tests" / "fixtures" / "submissions" / "chloe" / ASSIGNMENT,
                    folder / "chloe" / ASSIGNMENT)
    with caplog.at_level(logging.WARNING, logger="coursekit"):
        assert cli.main(["--course", str(course_copy), "grade", "--assignment", ASSIGNMENT,
                         "--workers", "1", str(folder)]) == cli.EXIT_OK
    assert _students(build / "grades.csv", "student_id") == {"chloe"}
    assert _students(build / "reasons.csv", "student") == {"chloe"}
    assert {s.student for s in gradebook.read_assignment_scores(build / "gradebook.db", [ASSIGNMENT])} == {"chloe"}
    assert not [r for r in caplog.records if "make clean" in r.getMessage()]  # nothing else in the gradebook

    # The warning's control: a student left in build/'s gradebook by an earlier run is named.
    with Gradebook(f"sqlite:///{build / 'gradebook.db'}") as gb:
        gb.add_student("leftover")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coursekit"):
        assert cli.main(["--course", str(course_copy), "grade", "--assignment", ASSIGNMENT,
                         "--workers", "1", str(folder)]) == cli.EXIT_OK
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "leftover" in warned and "make clean" in warned and "chloe" not in warned

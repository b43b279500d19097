"""Does a zip downloaded from an LMS become the <student>/<assignment>/ layout nbgrader needs,
with unsafe or unknown entries named and skipped?"""

from __future__ import annotations

import zipfile

import pytest
from conftest import ROOT

from coursekit.grader import collect
from coursekit.grader.course import Course, instructor_workspace
from coursekit.grader.errors import CourseError


@pytest.fixture
def lms_zip(tmp_path):
    ada = (ROOT / "tests/fixtures/submissions/ada/01-reading-the-source/01-reading-the-source.ipynb").read_bytes()
    ben = (ROOT / "tests/fixtures/submissions/ben/02-extracting-claims/02-extracting-claims.ipynb").read_bytes()
    path = tmp_path / "download.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ada_12345_678901_01-reading-the-source.ipynb", ada)  # Canvas style
        archive.writestr("chloe_late_12345_678902_01-reading-the-source-1.ipynb", ada)  # re-submitted
        archive.writestr("dev/02-extracting-claims/02-extracting-claims.ipynb", ben)  # already laid out
        archive.writestr("eve_1_2_my-homework.ipynb", ada)  # not an assignment notebook
        archive.writestr("../../escape.ipynb", ada)  # path traversal
        archive.writestr("notes.txt", b"hello")
    return path


def test_lms_zip_is_laid_out_per_student_and_assignment(lms_zip, tmp_path):
    """Are Canvas-style names, re-submissions and laid-out folders all sorted correctly?"""
    course = Course.at(ROOT)
    folder, rejected = collect.unpack_lms_zip(course=course, archive=lms_zip, target=tmp_path / "out")
    found = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.ipynb"))
    assert found == [
        "ada/01-reading-the-source/01-reading-the-source.ipynb",
        "chloe/01-reading-the-source/01-reading-the-source.ipynb",
        "dev/02-extracting-claims/02-extracting-claims.ipynb",
    ]
    reasons = {r.path.name: r.reason for r in rejected}
    assert "not the notebook of any assignment" in reasons["eve_1_2_my-homework.ipynb"]
    assert "safe place" in reasons["escape.ipynb"]
    assert "safe place" in reasons["notes.txt"]
    assert not (tmp_path / "escape.ipynb").exists() and not (tmp_path.parent / "escape.ipynb").exists()


def test_collect_accepts_the_zip_directly(lms_zip, course_copy):
    """Does collect() take the zip itself and put the notebooks where nbgrader looks?"""
    course = Course.at(course_copy)
    workspace = instructor_workspace(course)
    collected = collect.collect(course=course, submissions=lms_zip, workspace=workspace)
    assert set(collected.accepted) == {("ada", "01-reading-the-source"), ("chloe", "01-reading-the-source"),
                                       ("dev", "02-extracting-claims")}
    assert len(collected.rejected) == 3
    assert (workspace.submitted / "chloe" / "01-reading-the-source" / "01-reading-the-source.ipynb").is_file()


def test_a_broken_zip_is_one_clear_error(tmp_path):
    """Is a file that is not a zip named, with the cause?"""
    bad = tmp_path / "download.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CourseError, match=r"download.zip: not a readable zip file"):
        collect.unpack_lms_zip(course=Course.at(ROOT), archive=bad, target=tmp_path / "out")

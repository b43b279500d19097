"""Does a zip downloaded from an LMS become the <student>/<assignment>/ layout nbgrader needs,
with unsafe or unknown entries named and skipped?"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from coursekit.grader import collect, limits
from coursekit.grader.course import Course, instructor_workspace
from coursekit.grader.errors import CourseError
from coursekit.grader.limits import Sandbox


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


# --- one file never ends the run (issue 14) ----------------------------------------------

A01 = "01-reading-the-source"
ADA = ROOT / "tests/fixtures/submissions/ada" / A01 / f"{A01}.ipynb"


def _ada() -> dict:
    return json.loads(ADA.read_text(encoding="utf-8"))


def _with(change) -> bytes:
    nb = _ada()
    change(nb)
    return json.dumps(nb).encode()


def _set(path: str, value):
    def change(nb):
        *head, last = path.split(".")
        node = nb
        for key in head:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
    return change


HOSTILE = {
    "deep": (b"[" * 100_000 + b"]" * 100_000, r"nested too deeply|nested more than"),
    "deep-but-readable": (b'{"cells": ' + b"[" * 200 + b"]" * 200 + b', "nbformat": 4}', r"nested more than 64 levels"),
    "huge-int": (_with(_set("metadata.x", 0)).replace(b'"x": 0', b'"x": ' + b"9" * 100_000),
                 r"number 100000 characters long"),
    "nbgrader-list": (_with(_set("cells.3.metadata.nbgrader", ["grade_id"])), r"cell 3: metadata.nbgrader is a list"),
    "nbgrader-str": (_with(_set("cells.3.metadata.nbgrader", "x")), r"metadata.nbgrader is a str"),
    "grade-id-number": (_with(_set("cells.3.metadata.nbgrader.grade_id", 7)), r"grade_id is not text"),
    "cell-string": (_with(_set("cells.2", "print(1)")), r"cell 2 is a str, not a cell"),
    "source-number": (_with(_set("cells.3.source", 42)), r"cell 3: source is not text"),
    "source-list-of-numbers": (_with(_set("cells.3.source", [1, 2])), r"cell 3: source is not text"),
    "outputs-string": (_with(_set("cells.3.outputs", "x")), r"outputs are not a list"),
    "output-number": (_with(_set("cells.3.outputs", [1])), r"outputs are not a list"),
    "metadata-list": (_with(_set("metadata", [])), r"metadata is not an object"),
    "not-a-notebook": (b'{"hello": "world"}', r"JSON but not a notebook"),
    "a-list": (b"[1, 2]", r"JSON but not a notebook"),
    "not-utf8": (b'{"cells": [], "x": "\xff\xfe"}', r"not UTF-8"),
    "empty": (b"", r"empty file"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_refused_by_name_and_the_class_goes_on(name, course_copy, tmp_path):
    """Is each malformed notebook refused with the student's name, the file and the cause,
    while the honest student beside it is collected?"""
    data, pattern = HOSTILE[name]
    course = Course.at(course_copy)
    folder = tmp_path / "class"
    (folder / "mallory" / A01).mkdir(parents=True)
    (folder / "mallory" / A01 / ADA.name).write_bytes(data)
    shutil.copytree(ADA.parent, folder / "ada" / A01)
    collected = collect.collect(course=course, submissions=folder, workspace=instructor_workspace(course))
    assert set(collected.accepted) == {("ada", A01)}
    [refused] = collected.rejected
    assert (refused.student, refused.assignment, refused.path.name) == ("mallory", A01, ADA.name)
    assert re.search(pattern, refused.reason), refused.reason


def test_control_the_hostile_files_crash_the_unguarded_readers():
    """The control: these inputs do raise outside collect's own error type, so the test above
    would fail if collect let them through (the pre-issue-14 path: notebooks.read, then mend_clashes)."""
    with pytest.raises(RecursionError):
        json.loads(HOSTILE["deep"][0])
    with pytest.raises(ValueError, match="integer string conversion"):
        json.loads(HOSTILE["huge-int"][0])
    for name in ("nbgrader-list", "cell-string"):
        with pytest.raises((AttributeError, TypeError)):
            collect.mend_clashes(json.loads(HOSTILE[name][0]))


def test_the_caps_are_configurable_and_named(course_copy, tmp_path):
    """Do c.Sandbox.json_depth and number_digits bind collect (a cap lowered refuses an honest file)?"""
    course = Course.at(course_copy)
    folder = tmp_path / "class"
    shutil.copytree(ADA.parent, folder / "ada" / A01)
    collected = collect.collect(course=course, submissions=folder, workspace=instructor_workspace(course),
                                max_json_depth=3)
    assert not collected.accepted and "c.Sandbox.json_depth" in collected.rejected[0].reason
    assert Sandbox().json_depth == limits.JSON_DEPTH and Sandbox().number_digits == limits.NUMBER_DIGITS


def _special_class(folder: Path, course: Course) -> None:
    """ada honest; links and special files where notebooks and folders should be."""
    shutil.copytree(ADA.parent, folder / "ada" / A01)
    for student in ("to-passwd", "to-solutions", "fifo", "socket"):
        (folder / student / A01).mkdir(parents=True)
    (folder / "to-passwd" / A01 / ADA.name).symlink_to("/etc/passwd")
    (folder / "to-solutions" / A01 / ADA.name).symlink_to(course.solutions / A01 / ADA.name)
    os.mkfifo(folder / "fifo" / A01 / ADA.name)
    here = os.getcwd()
    os.chdir(folder / "socket" / A01)  # a socket's path must be short
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(ADA.name)
    finally:
        os.chdir(here)
    (folder / "linked-student").symlink_to(folder / "ada")  # a student folder that is a link
    (folder / "linked-assignment").mkdir()
    (folder / "linked-assignment" / A01).symlink_to(folder / "ada" / A01)


def test_links_pipes_and_sockets_are_refused_never_followed_or_opened(course_copy, tmp_path):
    """Are symbolic links (to /etc/passwd, to the solutions, as student or assignment folders),
    a FIFO and a socket named as notebooks refused with a reason, and does collect finish
    (a FIFO opened for reading would block it forever)?"""
    course = Course.at(course_copy)
    folder = tmp_path / "class"
    _special_class(folder, course)
    workspace = instructor_workspace(course)
    done: list = []
    worker = threading.Thread(target=lambda: done.append(
        collect.collect(course=course, submissions=folder, workspace=workspace)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert done, "collect blocked (a FIFO was opened)"
    collected = done[0]
    assert set(collected.accepted) == {("ada", A01)}
    reasons = {(r.student, r.assignment): r.reason for r in collected.rejected}
    assert reasons == {
        ("to-passwd", A01): "a symbolic link; not followed",
        ("to-solutions", A01): "a symbolic link; not followed",
        ("fifo", A01): "a named pipe (FIFO); not opened",
        ("socket", A01): "a socket; not opened",
        ("linked-student", ""): "a symbolic link; not followed",
        ("linked-assignment", A01): "a symbolic link; not followed",
    }
    assert sorted(p.name for p in workspace.submitted.iterdir()) == ["ada"]


def test_control_an_unguarded_walk_follows_the_links(course_copy, tmp_path):
    """The control: Path.is_dir and open follow links, as collect did before issue 14."""
    course = Course.at(course_copy)
    folder = tmp_path / "class"
    _special_class(folder, course)
    assert (folder / "linked-student").is_dir()
    assert (folder / "to-passwd" / A01 / ADA.name).read_text().startswith("root:")


def test_a_vanished_file_is_refused_not_raised(tmp_path):
    assert collect._readable(tmp_path / f"{A01}.ipynb", {f"{A01}.ipynb"}, None) == "vanished before it could be read"


def test_collect_never_writes_through_a_link_in_submitted(course_copy, tmp_path):
    """A link left in build/submitted (by a previous run, or anyone) is replaced, not followed."""
    course = Course.at(course_copy)
    workspace = instructor_workspace(course)
    outside = tmp_path / "outside"
    (outside / A01).mkdir(parents=True)
    (outside / A01 / "keep.txt").write_text("keep")
    workspace.submitted.mkdir(parents=True, exist_ok=True)
    (workspace.submitted / "ada").symlink_to(outside)
    folder = tmp_path / "class"
    shutil.copytree(ADA.parent, folder / "ada" / A01)
    collected = collect.collect(course=course, submissions=folder, workspace=workspace)
    assert set(collected.accepted) == {("ada", A01)}
    assert not (workspace.submitted / "ada").is_symlink()
    assert (workspace.submitted / "ada" / A01 / ADA.name).read_bytes() == ADA.read_bytes()
    assert sorted(p.name for p in (outside / A01).iterdir()) == ["keep.txt"]


def test_a_symlink_entry_in_a_zip_is_refused(course_copy, tmp_path):
    """A zip entry recorded as a symbolic link is not unpacked."""
    course = Course.at(course_copy)
    path = tmp_path / "download.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ada_1_2_01-reading-the-source.ipynb", ADA.read_bytes())
        link = zipfile.ZipInfo("eve_1_2_01-reading-the-source.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    folder, rejected = collect.unpack_lms_zip(course=course, archive=path, target=tmp_path / "out")
    assert [r.reason for r in rejected] == ["a symbolic link in the archive; not unpacked"]
    assert sorted(p.parent.parent.name for p in folder.rglob("*.ipynb")) == ["ada"]


# --- layouts (issue 16): every common layout read, or refused by name ---------------------

A02 = "02-extracting-claims"
BEN = ROOT / "tests/fixtures/submissions/ben" / A02 / f"{A02}.ipynb"


def _collect(course_copy, folder):
    course = Course.at(course_copy)
    workspace = instructor_workspace(course)
    return collect.collect(course=course, submissions=folder, workspace=workspace), workspace


def _graded(workspace) -> dict[str, bytes]:
    return {str(p.relative_to(workspace.submitted)): p.read_bytes() for p in workspace.submitted.rglob("*.ipynb")}


def test_a_flat_folder_of_student_notebook_files_is_read(course_copy, tmp_path):
    """FOLDER/<student>_<notebook>.ipynb: each file placed by its name."""
    folder = tmp_path / "flat"
    folder.mkdir()
    shutil.copy(ADA, folder / f"ada_{A01}.ipynb")
    shutil.copy(BEN, folder / f"ben_{A02}.ipynb")
    collected, workspace = _collect(course_copy, folder)
    assert collected.layout == "a flat folder of notebooks"
    assert set(collected.accepted) == {("ada", A01), ("ben", A02)}
    assert _graded(workspace) == {f"ada/{A01}/{A01}.ipynb": ADA.read_bytes(),
                                  f"ben/{A02}/{A02}.ipynb": BEN.read_bytes()}
    assert collected.rejected == []


def test_an_unzipped_canvas_download_is_read_and_the_latest_resubmission_graded(course_copy, tmp_path):
    """The Canvas zip's names, unzipped by hand: late marker, ids, "-1" re-submissions."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(ADA, folder / f"ada_12345_678901_{A01}.ipynb")
    shutil.copy(BEN, folder / f"chloe_late_12345_678902_{A02}.ipynb")
    (folder / f"chloe_late_12345_678903_{A02}-1.ipynb").write_bytes(ADA.read_bytes())  # later, graded
    (folder / "eve_1_2_my-homework.ipynb").write_bytes(ADA.read_bytes())
    collected, workspace = _collect(course_copy, folder)
    assert set(collected.accepted) == {("ada", A01), ("chloe", A02)}
    assert _graded(workspace)[f"chloe/{A02}/{A02}.ipynb"] == ADA.read_bytes()
    assert any("replaced by the later re-submission" in note for note in collected.notes[("chloe", A02)])
    reasons = {r.path.name: r.reason for r in collected.rejected}
    assert reasons == {"eve_1_2_my-homework.ipynb": "'my-homework.ipynb' is not the notebook of any assignment"}


def test_student_folders_holding_the_notebooks_directly_are_read(course_copy, tmp_path):
    """FOLDER/<student>/<notebook>.ipynb: the notebook's name says which assignment."""
    folder = tmp_path / "class"
    (folder / "ada").mkdir(parents=True)
    (folder / "ben").mkdir()
    shutil.copy(ADA, folder / "ada" / ADA.name)
    shutil.copy(BEN, folder / "ben" / BEN.name)
    (folder / "ben" / "scratch.ipynb").write_bytes(ADA.read_bytes())
    collected, workspace = _collect(course_copy, folder)
    assert set(collected.accepted) == {("ada", A01), ("ben", A02)}
    assert [(r.path.name, r.student) for r in collected.rejected] == [("scratch.ipynb", "ben")]


def test_assignment_folders_holding_student_folders_are_read(course_copy, tmp_path):
    """FOLDER/<assignment>/<student>/…: the other way round from nbgrader's."""
    folder = tmp_path / "class"
    shutil.copytree(ADA.parent, folder / A01 / "ada")
    shutil.copytree(BEN.parent, folder / A02 / "ben")
    collected, workspace = _collect(course_copy, folder)
    assert collected.layout.startswith("per-assignment")
    assert set(collected.accepted) == {("ada", A01), ("ben", A02)}
    assert collected.rejected == []


def test_one_students_folder_is_refused_saying_what_to_point_at(course_copy, tmp_path):
    folder = tmp_path / "ada"
    shutil.copytree(ADA.parent, folder / A01)
    with pytest.raises(CourseError, match=r"ada: this is one student's folder .*01-reading-the-source"
                                          r".*one folder per student"):
        _collect(course_copy, folder)


def test_a_notebook_beside_the_student_folders_is_refused_not_ignored(course_copy, tmp_path):
    folder = tmp_path / "class"
    shutil.copytree(ADA.parent, folder / "ada" / A01)
    shutil.copy(BEN, folder / BEN.name)
    collected, _ = _collect(course_copy, folder)
    assert set(collected.accepted) == {("ada", A01)}
    assert [r.path.name for r in collected.rejected] == [BEN.name]
    assert "beside the student folders" in collected.rejected[0].reason


@pytest.mark.parametrize("layout", ["empty", "unrelated files", "all refused"])
def test_nothing_to_grade_is_an_error_naming_what_was_found_and_the_layouts_read(layout, course_copy, tmp_path):
    """Before issue 16 each of these "graded" 0 submissions and exited 0."""
    from coursekit.grader.pipeline import Run, grade_class

    folder = tmp_path / "class"
    folder.mkdir()
    if layout == "unrelated files":
        (folder / "notes").mkdir()
        (folder / "notes" / "todo.txt").write_text("x")
    if layout == "all refused":
        (folder / f"ada_{A01}.ipynb").write_text("{")
    course = Course.at(course_copy)
    with pytest.raises(CourseError) as raised:
        grade_class(course=course, submissions=folder, assignments=[A01], run=Run(workers=1))
    message = str(raised.value)
    assert f"{folder}: nothing to grade" in message
    assert "FOLDER/<student>/<assignment>/<notebook>.ipynb" in message and "Canvas" in message
    if layout == "all refused":
        assert f"refused {folder / f'ada_{A01}.ipynb'}: not valid JSON" in message
        assert instructor_workspace(course).rejected_csv.is_file()


def test_hand_ins_only_of_other_assignments_is_nothing_to_grade(course_copy, tmp_path):
    from coursekit.grader.pipeline import Run, grade_class

    folder = tmp_path / "class"
    shutil.copytree(BEN.parent, folder / "ben" / A02)
    with pytest.raises(CourseError, match=rf"hand-ins of {A02}, none of {A01}"):
        grade_class(course=Course.at(course_copy), submissions=folder, assignments=[A01], run=Run(workers=1))

"""The grading worker's own checks on folders it hands to nbgrader, which copies and
chmods there as the grader, following links (coursekit.grader.worker)."""

from __future__ import annotations

import os
from types import SimpleNamespace

from nbgrader.coursedir import CourseDirectory

from coursekit.grader import worker
from coursekit.grader.worker import Task


def _api(root):
    coursedir = CourseDirectory(root=str(root), submitted_directory="submitted", autograded_directory="autograded",
                                release_directory="release")
    return SimpleNamespace(coursedir=coursedir)


def test_a_folder_with_a_link_pipe_or_device_is_refused_naming_it(tmp_path):
    task = Task("ann", "a1", "")
    folder = tmp_path / "autograded" / "ann" / "a1"
    (folder / "sub").mkdir(parents=True)
    (folder / "a1.ipynb").write_text("{}")
    api = _api(tmp_path)
    assert worker._special_files(api, "autograded_directory", task) == ""
    (folder / "sub" / "zeros.bin").symlink_to("/dev/zero")
    message = worker._special_files(api, "autograded_directory", task)
    assert message.startswith(os.path.join("autograded", "ann", "a1", "sub", "zeros.bin") + ":"), message
    (folder / "sub" / "zeros.bin").unlink()
    os.mkfifo(folder / "kernel.log")
    assert "kernel.log" in worker._special_files(api, "autograded_directory", task)


def test_feedback_copies_only_what_the_release_holds(tmp_path):
    """Every non-notebook file of the autograded folder that the release does not hold is
    ignored while feedback is written (nbgrader's GenerateFeedback copies the rest)."""
    task = Task("ann", "a1", "")
    folder = tmp_path / "autograded" / "ann" / "a1"
    folder.mkdir(parents=True)
    (tmp_path / "release" / "a1").mkdir(parents=True)
    (tmp_path / "release" / "a1" / "data.csv").write_text("1")
    for name in ("a1.ipynb", "data.csv", "answers[1].txt"):
        (folder / name).write_text("x")
    api = _api(tmp_path)
    before = list(api.coursedir.ignore)
    with worker._release_files_only(api, task):
        during = list(api.coursedir.ignore)
    assert during == [*before, "answers[[]1].txt"]
    assert api.coursedir.ignore == before


def test_an_instructor_file_left_out_of_the_release_never_reaches_feedback(course_copy, tmp_path):
    """nbgrader's autograde copies every file of solutions/<assignment> into the autograded
    folder, and its feedback step copies every one of those on to the student. A file
    the instructor keeps out of the release (here removed from it after generating it)
    is there in the autograded folder (what stock feedback copies) but not in the feedback."""
    import shutil

    from conftest import ROOT

    from coursekit.grader.build import generate_release
    from coursekit.grader.course import Course, instructor_workspace
    from coursekit.grader.pipeline import Run, grade_class

    course = Course.at(course_copy)
    assignment_id = "01-reading-the-source"
    (course.solutions / assignment_id / "answer-key.txt").write_text("THE KEY")
    workspace = instructor_workspace(course)
    release = generate_release(course, workspace, assignment_id)
    (release / "answer-key.txt").unlink(missing_ok=True)
    (release / "data.txt").write_text("released")
    (course.solutions / assignment_id / "data.txt").write_text("released")
    folder = tmp_path / "class"
    shutil.copytree(ROOT / "tests" / "fixtures" / "submissions" / "ada" / assignment_id, folder / "ada" / assignment_id)
    result = grade_class(course=course, submissions=folder, assignments=[assignment_id],
                         run=Run(release=False, export=False))
    assert not result.failed, result.failed
    autograded = workspace.autograded / "ada" / assignment_id
    feedback = workspace.feedback / "ada" / assignment_id
    assert (autograded / "answer-key.txt").read_text() == "THE KEY"  # what stock feedback would copy
    assert not (feedback / "answer-key.txt").exists()
    assert (feedback / "data.txt").read_text() == "released"


def test_the_reasons_never_read_an_autograded_notebook_through_a_link_or_pipe(tmp_path):
    from coursekit.grader.reasons import read_graded

    secret = tmp_path / "solutions.ipynb"
    secret.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    (tmp_path / "a.ipynb").symlink_to(secret)
    os.mkfifo(tmp_path / "b.ipynb")
    graded, unreadable = read_graded([tmp_path / "a.ipynb", tmp_path / "b.ipynb"])  # returns: never blocks
    assert graded == [] and len(unreadable) == 2 and all("not a regular file" in u for u in unreadable)
    assert read_graded([secret])[0]  # control: the same notebook, as a regular file, is read

"""The course model: is a folder that is not a course named as such, and does a workspace
name every path it owns, for nbgrader as flags and as a Config alike?"""

from __future__ import annotations

import pytest
from conftest import ROOT

from coursekit.grader.course import GRADEBOOK_LOCK_TIMEOUT, Course, instructor_workspace, scratch_workspace
from coursekit.grader.errors import CourseError


def test_a_folder_without_solutions_is_not_a_course(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("")
    with pytest.raises(CourseError, match=r"solutions: missing, so .* is not a course folder"):
        Course.at(tmp_path)


def test_an_unknown_assignment_is_named_with_the_known_ones():
    with pytest.raises(CourseError, match="no such assignment .*01-reading-the-source"):
        Course.at(ROOT).wanted(["99-nothing"])


def test_the_workspace_settings_agree_as_flags_and_as_config(tmp_path):
    course = Course.at(ROOT)
    workspace = scratch_workspace(tmp_path)
    flags = dict(flag.removeprefix("--CourseDirectory.").split("=", 1) for flag in workspace.overrides(course))
    config = workspace.config(course).CourseDirectory
    assert flags["autograded_directory"] == config.autograded_directory == str(tmp_path / "autograded")
    assert config.db_url == f"{flags['db_url']}?timeout={GRADEBOOK_LOCK_TIMEOUT}"  # workers wait for the lock
    assert instructor_workspace(course).reasons_csv == ROOT / "build" / "reasons.csv"

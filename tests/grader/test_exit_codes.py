"""coursekit's exit codes for grading: 0 all graded, 3 graded but some hand-ins refused or
not graded (a result, not an error), 1 an error."""

from __future__ import annotations

import shutil

import pytest

from coursekit.grader import cli

ASSIGNMENT = "01-reading-the-source"


def test_the_exit_codes_are_distinct_and_documented():
    assert (cli.EXIT_OK, cli.EXIT_ERROR, cli.EXIT_PARTIAL) == (0, 1, 3)
    assert len({cli.EXIT_OK, cli.EXIT_ERROR, cli.EXIT_USAGE, cli.EXIT_PARTIAL, cli.EXIT_INTERRUPTED}) == 5
    assert "3 graded, but some hand-ins were refused or not graded" in " ".join(cli.__doc__.split())


@pytest.mark.slow
def test_grade_exits_0_when_all_graded_3_when_some_refused_1_on_error(course_copy, tmp_path, capsys):
    folder = tmp_path / "class"
    shutil.copytree(course_copy / "tests" / "fixtures" / "submissions" / "ada" / ASSIGNMENT,
                    folder / "ada" / ASSIGNMENT)
    argv = ["--course", str(course_copy), "grade", "--assignment", ASSIGNMENT, "--workers", "1"]
    assert cli.main([*argv, str(folder)]) == cli.EXIT_OK

    (folder / "xia" / ASSIGNMENT).mkdir(parents=True)
    (folder / "xia" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text("", encoding="utf-8")
    assert cli.main([*argv, str(folder)]) == cli.EXIT_PARTIAL
    out = " ".join(capsys.readouterr().out.split())
    assert f"xia/{ASSIGNMENT}/{ASSIGNMENT}.ipynb: empty file" in out

    assert cli.main([*argv, str(tmp_path / "nowhere")]) == cli.EXIT_ERROR

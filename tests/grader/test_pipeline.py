"""Does grading the sample class give every student the expected score, with feedback and a
CSV, and does a broken submission get a clear reason without disturbing anyone else?"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, coursekit

from coursekit.grader import gradebook, sampleclass
from coursekit.grader.course import Course


def test_committed_sample_class_matches_its_answers():
    """Are tests/fixtures/submissions exactly the release filled with the answers files?"""
    course = Course.at(ROOT)
    expected = sampleclass.sample_submissions(
        course=course, answers_dir=ROOT / "tests" / "fixtures" / "answers"
    )
    assert len(expected) >= 6
    submissions = ROOT / "tests" / "fixtures" / "submissions"
    committed = {p.relative_to(submissions) for p in submissions.rglob("*.ipynb")}
    assert committed == set(expected)
    for relative, text in expected.items():
        assert (submissions / relative).read_text(encoding="utf-8") == text, relative


@pytest.mark.slow
def test_sample_class_gets_the_expected_grades_and_bad_files_are_named(course_copy):
    """Graded with nbgrader, does each student get exactly the expected autograded score,
    a feedback page and a CSV row, while broken hand-ins are reported and skipped?"""
    submissions = course_copy / "tests" / "fixtures" / "submissions"
    expected = sampleclass.expected_scores(course_copy / "tests" / "fixtures" / "answers")
    assert len({student for student, _ in expected}) >= 6
    # Three broken hand-ins beside the honest ones.
    assignment_id = sorted({a for _, a in expected})[0]
    (submissions / "zed" / assignment_id).mkdir(parents=True)
    (submissions / "zed" / assignment_id / f"{assignment_id}.ipynb").write_text("{ not json", encoding="utf-8")
    (submissions / "yan" / assignment_id).mkdir(parents=True)
    (submissions / "yan" / assignment_id / "my homework.ipynb").write_text(
        (submissions / "ada" / assignment_id / f"{assignment_id}.ipynb").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    (submissions / "xia" / assignment_id).mkdir(parents=True)
    (submissions / "xia" / assignment_id / f"{assignment_id}.ipynb").write_text("", encoding="utf-8")

    done = coursekit("grade", str(submissions), course=course_copy)
    assert done.returncode == 3, done.stderr  # graded, but some hand-ins were rejected
    out = " ".join(done.stdout.split())
    assert f"zed/{assignment_id}/{assignment_id}.ipynb: not valid JSON" in out
    assert "my homework.ipynb: unexpected file name" in out
    assert f"xia/{assignment_id}/{assignment_id}.ipynb: empty file" in out
    with (course_copy / "build" / "rejected.csv").open(encoding="utf-8") as rows:
        assert {Path(r["path"]).parent.parent.name for r in csv.DictReader(rows)} == {"zed", "yan", "xia"}

    scores = {
        (s.student, s.assignment): s.autograded
        for s in gradebook.read_assignment_scores(
            course_copy / "build" / "gradebook.db", sorted({a for _, a in expected})
        )
    }
    assert scores == expected
    for student, graded in expected:
        assert (course_copy / "build" / "feedback" / student / graded / f"{graded}.html").is_file()
    assert_feedback_hides_hidden_tests(course_copy)
    assert_test_cells_were_judged(course_copy, expected)
    with (course_copy / "build" / "grades.csv").open(encoding="utf-8") as rows:
        exported = {(r["student_id"], r["assignment"]): float(r["raw_score"]) for r in csv.DictReader(rows)}
    assert set(exported) == set(expected)


def assert_test_cells_were_judged(course_root: Path, graded) -> None:
    """Did every test cell of every graded notebook run in the judge (c.SafeExecute.judge),
    with nothing going wrong there, and never in the kernel (no execution count)?"""
    for student, assignment in graded:
        for path in (course_root / "build" / "autograded" / student / assignment).glob("*.ipynb"):
            nb = json.loads(path.read_text(encoding="utf-8"))
            tests = [c for c in nb["cells"] if c["cell_type"] == "code"
                     and (c["metadata"].get("nbgrader") or {}).get("grade")
                     and not c["metadata"]["nbgrader"].get("solution")]
            judge = nb["metadata"]["coursekit"]["judge"]
            assert tests and sorted(judge["judged"]) == sorted(c["metadata"]["nbgrader"]["grade_id"] for c in tests)
            assert judge["incidents"] == [] and judge["calls"] > 0, (path, judge)
            assert all(c["execution_count"] is None for c in tests), path


def test_missing_course_folder_is_one_clear_line(tmp_path):
    """Does pointing coursekit at a folder that does not exist say so in one line?"""
    done = coursekit("build", "--check", course=tmp_path / "nowhere")
    assert done.returncode == 1
    assert done.stderr.strip() == f"coursekit: error: {tmp_path / 'nowhere'}: course folder not found"


def test_folder_that_is_not_a_course_is_named(tmp_path):
    """Does a folder without nbgrader_config.py get named as not a course?"""
    done = coursekit("demo", course=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().endswith("is not a course folder")


def test_malformed_solution_notebook_is_named(course_copy):
    """Does a solution notebook that is not JSON stop the build with its path and the cause?"""
    (notebook,) = sorted((course_copy / "solutions").glob("*/*.ipynb"))[:1]
    notebook.write_text(json.dumps({"cells": [], "nbformat": 3}), encoding="utf-8")
    done = coursekit("build", "--check", course=course_copy)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [f"coursekit: error: {notebook}: nbformat 3, this course needs 4"]


def test_missing_submissions_folder_is_named(course_copy):
    """Does `grade` with a folder that does not exist say which folder?"""
    done = coursekit("grade", str(course_copy / "nope"), course=course_copy)
    assert done.returncode == 1
    assert done.stderr.strip() == f"coursekit: error: {course_copy / 'nope'}: submissions folder not found"


def _hidden_test_lines(course) -> list[str]:
    """Distinctive lines of every hidden-test region in the instructor notebooks."""
    from coursekit import notebooks

    found = []
    for path in sorted((course / "solutions").glob("*/*.ipynb")):
        for cell in notebooks.read(path).cells:
            inside = False
            for line in cell.source.splitlines():
                if "### BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "### END HIDDEN TESTS" in line:
                    inside = False
                elif inside and len(line.strip()) >= 25 and not line.strip().startswith(("#", "import", "from")):
                    found.append(" ".join(line.split()))
    return found


def _visible_text(html_text: str) -> str:
    import html
    import re

    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", html_text)).split())


def assert_feedback_hides_hidden_tests(course) -> None:
    """Feedback shows results and messages but no hidden test code (jupyter/nbgrader#917);
    the autograded notebooks it is made from do contain that code, so the check bites."""
    hidden = _hidden_test_lines(course)
    assert len(hidden) > 50
    autograded = " ".join(
        " ".join(p.read_text(encoding="utf-8").split()) for p in (course / "build" / "autograded").rglob("*.ipynb")
    )
    assert sum(line.replace('"', '\\"') in autograded or line in autograded for line in hidden) > 10
    pages = sorted((course / "build" / "feedback").rglob("*.html"))
    assert pages
    for page in pages:
        text = _visible_text(page.read_text(encoding="utf-8"))
        shown = [line for line in hidden if line in text]
        assert shown == [], f"{page}: hidden test code shown"
        assert "hidden tests ran here" in text


@pytest.mark.slow
def test_grading_a_folder_grades_that_folder_only(course_copy, tmp_path):
    """`coursekit grade B` after `coursekit grade A`: the table, reasons.csv and grades.csv
    cover B's students only; A's hand-ins are neither regraded nor changed in the gradebook;
    grading B again finds its hand-ins already graded and unchanged."""
    from coursekit.grader import autograde
    from coursekit.grader.course import instructor_workspace
    from coursekit.grader.pipeline import grade

    course = Course.at(course_copy)
    assignment_id = "01-reading-the-source"
    expected = sampleclass.expected_scores(course_copy / "tests" / "fixtures" / "answers")
    folders = {}
    for name, students in (("A", ["ada", "ben"]), ("B", ["chloe", "dev"])):
        for student in students:
            source = course_copy / "tests" / "fixtures" / "submissions" / student / assignment_id
            (tmp_path / name / student).mkdir(parents=True)
            shutil.copytree(source, tmp_path / name / student / assignment_id)
        folders[name] = tmp_path / name
    first = grade(course=course, submissions=folders["A"], assignments=[assignment_id], workers=2)
    assert first.graded == 2
    before = _graded_state(course)

    second = grade(course=course, submissions=folders["B"], assignments=[assignment_id], workers=2)
    assert second.graded == 2 and second.skipped == 0  # A's two were not even counted
    assert {s.student for s in second.scores} == {"chloe", "dev"}
    assert {r.student for r in second.reasons} == {"chloe", "dev"}
    with (course.build_dir / "reasons.csv").open(encoding="utf-8") as rows:
        assert {r["student"] for r in csv.DictReader(rows)} == {"chloe", "dev"}
    with (course.build_dir / "grades.csv").open(encoding="utf-8") as rows:
        assert {r["student_id"] for r in csv.DictReader(rows)} == {"chloe", "dev"}
    after = _graded_state(course)
    for student in ("ada", "ben"):  # not regraded, not damaged
        assert after[student] == before[student]
    scores = {(s.student, s.assignment): s.autograded
              for s in gradebook.read_assignment_scores(course.gradebook, [assignment_id])}
    four = ("ada", "ben", "chloe", "dev")
    assert scores == {k: v for k, v in expected.items() if k[1] == assignment_id and k[0] in four}

    again = grade(course=course, submissions=folders["B"], assignments=[assignment_id], workers=2)
    assert (again.graded, again.skipped) == (0, 2)  # resumable: the same folder is unchanged

    # The control: planned over everything in submitted/ (as before issue 14), A's hand-ins count too.
    state = autograde.State(instructor_workspace(course).state_db)
    try:
        _, skipped = autograde.plan(workspace=instructor_workspace(course), assignments=[assignment_id],
                                    state=state, force=False)
    finally:
        state.close()
    assert skipped == 4


def _graded_state(course: Course) -> dict[str, tuple]:
    """Per student: the autograded notebook's bytes and modification time, and the gradebook score."""
    scores = {s.student: s.autograded for s in gradebook.read_assignment_scores(course.gradebook,
                                                                                ["01-reading-the-source"])}
    state = {}
    for notebook in (course.build_dir / "autograded").glob("*/01-reading-the-source/*.ipynb"):
        student = notebook.parent.parent.name
        state[student] = (notebook.read_bytes(), notebook.stat().st_mtime_ns, scores.get(student))
    return state


def test_the_status_line_claims_the_judge_and_sanitized_pages_only_when_configured():
    """"all protections on" names the judge and the page sanitizer, read from the course's
    configuration; turning either off makes the line say MISSING and why (its control)."""
    from coursekit.grader.config import load_config
    from coursekit.grader.pipeline import isolation

    config = load_config(Course.at(ROOT))
    _, line = isolation(config, sandbox_on=True)
    assert line.startswith("sandbox: all protections on (") and line.endswith(", judge, pages)"), line

    config.SafeExecute.judge = False
    _, line = isolation(config, sandbox_on=True)
    assert "all protections on" not in line and "MISSING judge" in line and "forge" in line, line

    config = load_config(Course.at(ROOT))
    config.Autograde.autograde_preprocessors = ["nbgrader.preprocessors.Execute"]  # a config that did not load
    _, line = isolation(config, sandbox_on=True)
    assert "all protections on" not in line and "MISSING judge" in line and "does nbgrader_config.py load" in line

    config = load_config(Course.at(ROOT))
    config.HTMLExporter.preprocessors = []
    _, line = isolation(config, sandbox_on=False)
    assert line.startswith("sandbox: OFF") and "MISSING pages" in line and "scripts run" in line, line

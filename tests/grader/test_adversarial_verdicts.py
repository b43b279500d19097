"""The control for the forged-verdict and hidden-test-leak cases (issue 14, "verdicts
outside"): tests/fixtures/adversarial/cases-verdicts.json.

tests/grader/test_adversarial.py grades those cases with every protection on (test cells in
the judge) and checks their scores, reasons and that no hidden test text is shown. Here the
same hand-ins are graded with `c.SafeExecute.judge = False` (test cells in the kernel, the
guard and the tamper scan still on, the sandbox off): every forgery must then earn more than
its expected score, and every leak must show the hidden tests -- so the suite fails if the
judge stops doing its work.
"""

from __future__ import annotations

import json

import pytest
from builders import adversarial_cases, adversarial_class, shown_text
from conftest import ROOT

from coursekit.grader.course import Course
from coursekit.grader.gradebook import read_assignment_scores
from coursekit.grader.pipeline import grade

FIXTURES = ROOT / "tests" / "fixtures"
CASES = json.loads((FIXTURES / "adversarial" / "cases-verdicts.json").read_text(encoding="utf-8"))

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]


def test_the_verdict_cases_are_in_the_adversarial_class():
    """Does the adversarial suite's loader read cases-verdicts.json (so they are graded there)?"""
    students = {c["student"] for c in adversarial_cases(FIXTURES)}
    assert {c["student"] for c in CASES} <= students
    assert len(CASES) >= 6


def test_without_the_judge_forged_verdicts_score_and_hidden_tests_leak(course_copy, tmp_path):
    with (course_copy / "nbgrader_config.py").open("a", encoding="utf-8") as config:
        config.write("\nc.SafeExecute.judge = False  # the control: test cells in the kernel\n")
    course = Course.at(course_copy)
    mine = {c["student"] for c in CASES}
    folder = tmp_path / "class"
    for relative, data in adversarial_class(course=course, fixtures=FIXTURES).items():
        if relative.parts[0] in mine:
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(data)
    grade(course=course, submissions=folder, sandbox=False)

    scores = {(s.student, s.assignment): s.autograded
              for s in read_assignment_scores(course.gradebook, course.assignments())}
    worked, failed = [], []
    for case in CASES:
        key = (case["student"], case["assignment"])
        shown = shown_text(course.build_dir, *key)
        notebooks = list((course.build_dir / "autograded").glob(f"{case['student']}/{case['assignment']}/*.ipynb"))
        assert notebooks and all("judge" not in json.loads(p.read_text(encoding="utf-8"))["metadata"].get(
            "coursekit", {}) for p in notebooks), f"{key}: graded with the judge in the control"
        if case.get("never_shown"):
            leaked = [m for m in case["never_shown"] if m in shown]
            (worked if leaked else failed).append(f"{case['student']}: leaked {leaked}")
        else:
            (worked if scores[key] > case["expected_score"] else failed).append(
                f"{case['student']}: scored {scores[key]} in the kernel, {case['expected_score']} under the judge")
    assert not failed, "forgeries that do not work without the judge (the suite could not fail):\n" + "\n".join(failed)
    assert len(worked) == len(CASES)

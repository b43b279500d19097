"""Does the release gate pass the real assignments and catch weak or over-strict tests?"""

from __future__ import annotations

import shutil

import pytest
from conftest import ROOT, assignment_ids

from coursekit.grader import answers, gate
from coursekit.grader.course import Course


@pytest.mark.parametrize("assignment_id", assignment_ids())
def test_every_graded_function_has_enough_variants(assignment_id):
    """At least three known-wrong and two known-right answers for every graded function?"""
    variants = answers.load_variants(ROOT / "tests" / "fixtures" / "variants" / assignment_id)
    (solution,) = (ROOT / "solutions" / assignment_id).glob("*.ipynb")
    from coursekit import notebooks

    functions = set(answers.solution_answers(notebooks.read(solution)))
    assert set(variants) == functions
    for function, found in variants.items():
        assert sum(not v.right for v in found) >= 3, function
        assert sum(v.right for v in found) >= 2, function
        for variant in found:
            first = variant.source.splitlines()[0]
            assert first.startswith("# right:" if variant.right else "# wrong:"), variant.path


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", assignment_ids())
def test_release_gate_passes(course_copy, assignment_id):
    """Solution full marks, blank zero, every wrong variant loses, every right one keeps?"""
    (report,) = gate.check(course=Course.at(course_copy), assignments=[assignment_id])
    assert report.failures == []
    variants = answers.load_variants(course_copy / "tests" / "fixtures" / "variants" / assignment_id)
    assert report.checked >= 2 + 3 + 2
    assert variants


@pytest.mark.slow
def test_release_gate_names_weak_and_overstrict_tests(course_copy):
    """Does a right answer filed as wrong make the gate name that test as weak, and vice versa?"""
    assignment_id = assignment_ids()[0]
    folder = course_copy / "tests" / "fixtures" / "variants" / assignment_id
    functions = sorted(p.name for p in folder.iterdir() if p.is_dir())
    weak, strict = functions[0], functions[1]
    impostor_wrong = folder / weak / "wrong_zz_actually_right.py"
    shutil.copy(sorted((folder / weak).glob("right_*.py"))[0], impostor_wrong)
    impostor_right = folder / strict / "right_zz_actually_wrong.py"
    shutil.copy(sorted((folder / strict).glob("wrong_*.py"))[0], impostor_right)

    (report,) = gate.check(course=Course.at(course_copy), assignments=[assignment_id])
    assert not report.passed
    assert any(f"test_{weak} is weak" in f and str(impostor_wrong) in f for f in report.failures)
    assert any(f"test_{strict} gives" in f and "rejects a right answer" in f for f in report.failures)

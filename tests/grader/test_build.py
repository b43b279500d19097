"""Are the committed student versions exactly what nbgrader generates from solutions/?"""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, assignment_ids, coursekit


@pytest.mark.slow
def test_committed_exercises_are_in_sync():
    """Does `coursekit build --check` find nothing to change in the repository?"""
    done = coursekit("build", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "in sync" in done.stdout


@pytest.mark.slow
def test_a_hand_edit_of_an_exercise_is_caught_and_repaired(course_copy):
    """Does --check name an edited exercise, and does build then restore it?"""
    assignment_id = assignment_ids()[0]
    (notebook,) = (course_copy / "exercises" / assignment_id).glob("*.ipynb")
    original = notebook.read_text(encoding="utf-8")
    nb = json.loads(original)
    nb["cells"][0]["source"] = "edited by hand"
    notebook.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")

    done = coursekit("build", "--check", course=course_copy)
    assert done.returncode == 1
    assert f"{notebook}: differs from what solutions/ generates" in done.stdout
    assert notebook.read_text(encoding="utf-8") != original  # --check writes nothing

    done = coursekit("build", course=course_copy)
    assert done.returncode == 0, done.stderr
    assert notebook.read_text(encoding="utf-8") == original


def test_every_solution_has_a_committed_release():
    """Is there an exercises/<id>/ for each solutions/<id>/ with the same notebook names?"""
    for assignment_id in assignment_ids():
        solution = sorted(p.name for p in (ROOT / "solutions" / assignment_id).glob("*.ipynb"))
        release = sorted(p.name for p in (ROOT / "exercises" / assignment_id).glob("*.ipynb"))
        assert release == solution == [f"{assignment_id}.ipynb"]

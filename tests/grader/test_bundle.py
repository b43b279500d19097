"""Does the student bundle carry the student toolkit and nothing of the grader?"""

from __future__ import annotations

import tomllib
import zipfile

from conftest import ROOT

from coursekit.grader.bundle import student_bundle, student_pyproject
from coursekit.grader.course import Course


def test_the_bundle_holds_no_grader_module(tmp_path):
    """Is every coursekit module in the zip a student toolkit module, and all of them there?"""
    out = student_bundle(course=Course.at(ROOT), out=tmp_path / "bundle.zip")
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        pyproject = tomllib.loads(bundle.read("kfor-in-numbers/pyproject.toml").decode())
    modules = {n.removeprefix("kfor-in-numbers/src/") for n in names if n.startswith("kfor-in-numbers/src/")}
    toolkit = {"coursekit/seeds.py", "coursekit/charts/__init__.py", "coursekit/claims.py", "coursekit/notebooks.py"}
    assert toolkit <= modules
    assert not [m for m in modules if m.startswith("coursekit/grader") or m == "coursekit/cli.py"]
    assert "grader" not in " ".join(names)
    # installing the bundle installs the toolkit, with no entry point into the missing grader
    assert "scripts" not in pyproject["project"] and "entry-points" not in pyproject["project"]
    assert pyproject["project"]["name"] == "coursekit"


def test_the_student_pyproject_drops_only_the_grader_sections():
    """Are exactly the sections naming grader modules left out of the bundle's pyproject.toml?"""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    kept = student_pyproject(text)
    assert "coursekit.grader" in text and "coursekit.grader" not in kept
    full, student = tomllib.loads(text), tomllib.loads(kept)
    assert student["project"]["dependencies"] == full["project"]["dependencies"]
    # the grader's page templates are package data of coursekit.grader, which the bundle leaves out
    assert set(full["tool"]["setuptools"]["package-data"]) == {"coursekit.grader"}
    del full["tool"]["setuptools"]["package-data"]
    assert student["tool"] == full["tool"]

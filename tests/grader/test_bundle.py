"""The student edition (`coursekit bundle`): the student toolkit and nothing of the grader,
with its own README, Makefile, nbgrader_config.py and a lean environment; and a student who
unpacks it in an empty folder can set it up with one command and Validate there."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from coursekit.grader.bundle import (
    GRADER_ONLY_DEPENDENCIES,
    STUDENT_FILES,
    student_bundle,
    student_environment,
    student_pyproject,
)
from coursekit.grader.course import Course

TOP = "kfor-in-numbers/"
STUDENT_TARGETS = {"help", "setup", "lab", "validate", "check-seeds", "clean"}


@pytest.fixture(scope="module")
def bundle_zip(tmp_path_factory) -> Path:
    return student_bundle(course=Course.at(ROOT), out=tmp_path_factory.mktemp("bundle") / "bundle.zip")


def _read(bundle_zip: Path, name: str) -> str:
    with zipfile.ZipFile(bundle_zip) as bundle:
        return bundle.read(TOP + name).decode("utf-8")


def test_the_bundle_holds_no_grader_module(bundle_zip):
    """Is every coursekit module in the zip a student toolkit module, and all of them there?"""
    with zipfile.ZipFile(bundle_zip) as bundle:
        names = bundle.namelist()
    assert all(n.startswith(TOP) for n in names)
    modules = {n.removeprefix(TOP + "src/") for n in names if n.startswith(TOP + "src/")}
    toolkit = {"coursekit/seeds.py", "coursekit/charts/__init__.py", "coursekit/claims.py", "coursekit/notebooks.py",
               "coursekit/validate.py"}
    assert toolkit <= modules
    assert not [m for m in modules if m.startswith(("coursekit/grader", "coursekit/judge")) or m == "coursekit/cli.py"]
    assert not [n for n in names if "grader/" in n or "judge" in n]
    for instructor in ("solutions/", "tests/", "docs/", "benchmarks/", "tools/", ".ci/", "build/"):
        assert not [n for n in names if n.startswith(TOP + instructor)], instructor
    # installing the bundle installs the toolkit, with no entry point into the missing grader
    pyproject = tomllib.loads(_read(bundle_zip, "pyproject.toml"))
    assert "scripts" not in pyproject["project"] and "entry-points" not in pyproject["project"]
    assert pyproject["project"]["name"] == "coursekit"


def test_the_student_pyproject_is_lean():
    """No test tools, no grader-only dependency, no instructor settings; every other dependency kept."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    kept = student_pyproject(text)
    assert "coursekit.grader" in text and "coursekit.grader" not in kept
    full, student = tomllib.loads(text), tomllib.loads(kept)
    assert "optional-dependencies" not in student["project"]  # pytest, ruff, playwright, …
    # the toolkit's package, and the seeds installed with it (coursekit.seeds.installed_seeds_dir)
    assert student["tool"] == {"setuptools": {"packages": {"find": full["tool"]["setuptools"]["packages"]["find"]},
                                              "data-files": full["tool"]["setuptools"]["data-files"]}}
    assert student["build-system"] == full["build-system"]
    names = [re.split(r"[<>=!~]", d)[0] for d in full["project"]["dependencies"]]
    assert set(GRADER_ONLY_DEPENDENCIES) < set(names)
    assert student["project"]["dependencies"] == [
        d for d, n in zip(full["project"]["dependencies"], names, strict=True) if n not in GRADER_ONLY_DEPENDENCIES]
    assert "#" not in kept and "grading" not in kept


def test_the_student_environment_yml_lists_the_student_pyprojects_packages():
    kept = student_pyproject((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    environment = student_environment(kept)
    listed = re.findall(r"^  - ([a-z0-9_-]+) (.+)$", environment, re.M)
    expected = [(re.split(r"[<>=!~]", d)[0], d[len(re.split(r"[<>=!~]", d)[0]):])
                for d in tomllib.loads(kept)["project"]["dependencies"]]
    assert [(n, b) for n, b in listed if n != "python"] == expected
    assert "name: kfor-in-numbers" in environment and "- -e ." in environment


def _imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_nothing_in_the_student_edition_imports_the_grader_or_a_grader_only_package(bundle_zip, tmp_path):
    """The lean environment leaves out distributed, nh3 and rich: nothing a student runs may import them."""
    with zipfile.ZipFile(bundle_zip) as bundle:
        bundle.extractall(tmp_path)
    imported: dict[str, set[str]] = {}
    for path in (tmp_path / TOP).rglob("*"):
        if path.suffix == ".py":
            imported[str(path)] = _imports(path.read_text(encoding="utf-8"))
        elif path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
            code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
            imported[str(path)] = _imports(code)
    assert len(imported) > 15
    forbidden = {"coursekit.grader", "coursekit.judge", "dask", *GRADER_ONLY_DEPENDENCIES}
    bad = {where: sorted(m for m in modules if m.split(".")[0] in forbidden or any(
        m == f or m.startswith(f + ".") for f in forbidden)) for where, modules in imported.items()}
    assert {where: m for where, m in bad.items() if m} == {}
    # control: the grader's own modules do import them
    assert "rich" in {m.split(".")[0] for m in _imports((ROOT / "src/coursekit/grader/terminal.py").read_text())}


def test_the_student_readme_and_makefile_are_for_students(bundle_zip):
    readme = _read(bundle_zip, "README.md")
    makefile = _read(bundle_zip, "Makefile")
    assert readme == (ROOT / "student/README.md").read_text(encoding="utf-8")
    assert "kfor-in-numbers/" in readme and "make lab" in readme
    for topic in ("Validate", "Submit", "When something goes wrong", "lessons/00-getting-started.ipynb"):
        assert topic in readme, topic
    for instructor in ("make demo", "make test", "make grade", "formgrader", "solutions/", "docs/", "screenshots",
                       ".png", "coursekit grade"):
        assert instructor not in readme, instructor
    # every make command the README names is a target of the student Makefile, and only student targets exist
    targets = set(re.findall(r"^([a-z-]+):.*## ", makefile, re.M))
    assert targets == STUDENT_TARGETS
    assert set(re.findall(r"make ([a-z][a-z-]*)", readme)) <= targets
    # every lesson and exercise the README lists is in the zip
    with zipfile.ZipFile(bundle_zip) as bundle:
        names = set(bundle.namelist())
    for path in re.findall(r"`((?:lessons|exercises)/[^`]+\.ipynb)`", readme):
        assert TOP + path in names, path
    assert set(STUDENT_FILES) == {"README.md", "Makefile", "nbgrader_config.py"}


def _make(folder: Path, *args: str, user_id: str | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if ".venv" not in p)  # not the instructor's venv
    if user_id is not None:
        args = (*args, f"USER_ID={user_id}")
    return subprocess.run(["make", "-C", str(folder), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_a_student_unpacks_the_zip_sets_up_with_one_command_and_validates(bundle_zip, tmp_path):
    """In an empty folder: unzip, `make setup` (a real pip install of the lean environment),
    then Validate an exercise; the instructor's extensions are off and `make lab` is root-safe."""
    with zipfile.ZipFile(bundle_zip) as bundle:
        bundle.extractall(tmp_path)
    folder = tmp_path / "kfor-in-numbers"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kfor-in-numbers"]

    helped = _make(folder, "help")
    assert helped.returncode == 0 and set(re.findall(r"make (\S+)", helped.stdout)) == STUDENT_TARGETS

    setup = _make(folder, "setup")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    venv = folder / ".venv"
    installed = {p.name.split("-")[0].lower() for p in venv.glob("lib/python*/site-packages/*.dist-info")}
    assert {"nbgrader", "jupyterlab", "pandas", "matplotlib", "coursekit"} <= installed
    assert not installed & {"pytest", "ruff", "playwright", "distributed", "dask", "nh3", "rich"}

    lab = subprocess.run([str(venv / "bin/jupyter"), "labextension", "list"], cwd=folder, capture_output=True,
                         text=True, timeout=120)
    listing = lab.stdout + lab.stderr
    for extension in ("formgrader", "create-assignment", "course-list"):
        assert f"@jupyter/nbgrader:{extension}" in listing.split("Disabled extensions:")[-1], listing
    assert "@jupyter/nbgrader:validate-assignment" not in listing.split("Disabled extensions:")[-1]
    server = subprocess.run([str(venv / "bin/jupyter"), "server", "extension", "list"], cwd=folder,
                            capture_output=True, text=True, timeout=120)
    states = dict(re.findall(r"(nbgrader\.server_extensions\.\w+) \S*?(enabled|disabled)",
                             server.stdout + server.stderr))
    assert states == {"nbgrader.server_extensions.formgrader": "disabled",
                      "nbgrader.server_extensions.course_list": "disabled",
                      "nbgrader.server_extensions.validate_assignment": "enabled",
                      "nbgrader.server_extensions.assignment_list": "enabled"}, server.stdout + server.stderr

    # Validate the untouched assignment 01: its answer cells raise NotImplementedError
    notebook = "exercises/01-reading-the-source/01-reading-the-source.ipynb"
    validated = _make(folder, "validate", f"NOTEBOOK={notebook}")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "VALIDATION FAILED ON" in validated.stdout and "NotImplementedError" in validated.stdout
    assert "No nbgrader_config.py" not in validated.stdout + validated.stderr
    seeds_ok = _make(folder, "check-seeds")
    assert seeds_ok.returncode == 0 and "seed files intact" in seeds_ok.stdout

    assert "--allow-root" in _make(folder, "-n", "lab", user_id="0").stdout
    assert "--allow-root" not in _make(folder, "-n", "lab", user_id="1000").stdout
    size = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True).stdout.split()[0]
    print(f"student .venv: {size} MB")

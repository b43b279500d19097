"""The student edition: a zip of exactly what students may have, made for students.

Lessons, exercises, seeds and the student toolkit (`coursekit` without its grader), with
the student edition's own README, Makefile and nbgrader_config.py from `student/`, and a
pyproject.toml and environment.yml that install only what a student needs. Never
solutions/, tests/ (answer keys, variants, sample class), docs/ (grading guides), the
gradebook, or the grader (`coursekit.grader`, whose tamper scan explains how to evade it,
and `coursekit.judge`, which runs the hidden tests).
"""

from __future__ import annotations

import re
import tomllib
import zipfile
from pathlib import Path

from coursekit.grader.course import Course

TOP = Path("kfor-in-numbers")  # the folder the zip unpacks into (the student README names it)
# From the course, as they are.
STUDENT_BUNDLE = ("LICENSE", "lessons", "exercises", "seeds", "src")
# The student edition's own files, in student/ of the course: they replace the instructor's.
STUDENT_FILES = ("README.md", "Makefile", "nbgrader_config.py")
# Inside src/: what only instructors run.
GRADER_PARTS = (Path("src/coursekit/grader"), Path("src/coursekit/judge"), Path("src/coursekit/cli.py"))
# pyproject.toml sections a student's install keeps; the rest (test extras, the grader's
# entry points and page templates, pytest and ruff settings) is the instructor's.
STUDENT_SECTIONS = ("[build-system]", "[project]", "[tool.setuptools.packages.find]", "[tool.setuptools.data-files]")
# Distributions only the grader imports (tests/grader/test_bundle.py checks that nothing in
# the student edition imports them).
GRADER_ONLY_DEPENDENCIES = ("distributed", "nh3", "rich")
STUDENT_DESCRIPTION = ('description = "Reading the Source - KFOR in numbers: '
                       'the students\' toolkit (seeds, charts, claims)"\n')


def _is_grader(relative: Path) -> bool:
    return any(relative == part or part in relative.parents for part in GRADER_PARTS)


def _skipped(relative: Path) -> bool:
    return ({"__pycache__", ".ipynb_checkpoints"} & set(relative.parts) or relative.suffix == ".pyc"
            or (relative.parts[0] == "src" and ".egg-info" in str(relative)) or _is_grader(relative))


def _distribution(requirement: str) -> str:
    return re.split(r"[<>=!~; \[]", requirement.strip(), maxsplit=1)[0].lower()


def student_pyproject(text: str) -> str:
    """pyproject.toml with the student's sections only, and without grader-only dependencies."""
    kept, keeping = [], True
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            keeping = line.strip() in STUDENT_SECTIONS
        if not keeping or line.lstrip().startswith("#"):  # comments speak to instructors
            continue
        if line.startswith("description ="):
            line = STUDENT_DESCRIPTION
        quoted = re.fullmatch(r'\s*"([^"]+)",?\s*', line)
        if quoted and _distribution(quoted.group(1)) in GRADER_ONLY_DEPENDENCIES:
            continue
        kept.append(line)
    return "".join(kept).rstrip("\n") + "\n"


def student_environment(pyproject: str) -> str:
    """environment.yml for conda users, from the student pyproject's dependencies."""
    project = tomllib.loads(pyproject)["project"]
    lines = ["# conda-forge environment for the student edition (the same packages as pyproject.toml).",
             "name: kfor-in-numbers", "channels:", "  - conda-forge", "dependencies:",
             f"  - python {project['requires-python']}", "  - pip"]
    for requirement in project["dependencies"]:
        name = _distribution(requirement)
        bounds = requirement.strip()[len(name):].strip()
        lines.append(f"  - {name} {bounds}".rstrip())
    lines += ["  - pip:", "      - -e ."]
    return "\n".join(lines) + "\n"


def student_bundle(*, course: Course, out: Path) -> Path:
    """Write the zip to `out`; return it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    pyproject = student_pyproject((course.root / "pyproject.toml").read_text(encoding="utf-8"))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name in STUDENT_FILES:
            bundle.write(course.root / "student" / name, str(TOP / name))
        bundle.writestr(str(TOP / "pyproject.toml"), pyproject)
        bundle.writestr(str(TOP / "environment.yml"), student_environment(pyproject))
        for part in STUDENT_BUNDLE:
            source = course.root / part
            if not source.exists():
                continue
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
            for path in files:
                relative = path.relative_to(course.root)
                if not _skipped(relative):
                    bundle.write(path, str(TOP / relative))
    return out
